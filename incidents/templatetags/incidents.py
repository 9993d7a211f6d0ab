from datetime import datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timeuntil

from incidents.choices import BREACH
from incidents.models import SlaClock

register = template.Library()

NO_CLOCK = mark_safe('<span class="muted">—</span>')


@register.filter
def label_of(labels: dict[int, str], priority: int) -> str:
    """The tenant's label for a priority level."""
    return labels.get(priority, f"SEV{priority}")


@register.simple_tag
def sla_countdown(clock: SlaClock | None) -> str:
    """A clock's live countdown (app.js ticks it): due time, and when its colour turns.

    The warning colour starts exactly when the server fires the policy's first warning: the
    clock's timer holds the wall-clock time of its next threshold (business calendars make it
    anything but a fixed share of the wall-clock span), so the page is told that time.
    Built in Python rather than a sub-template: a queue renders fifty of them.
    """
    if clock is None:
        return NO_CLOCK
    if clock.stopped_at is not None:
        state, text = ("breached", "breached") if clock.breached_at else ("ok", "met")
        return format_html('<span class="sla sla-{}">{}</span>', state, text)
    if clock.is_paused:
        remaining = int((clock.target - clock.elapsed).total_seconds())
        return format_html(
            '<time class="sla sla-paused" datetime="{}" data-paused data-remaining="{}" '
            'tabindex="0"><span class="sla-text">paused</span></time>',
            _iso(clock.due_at),
            remaining,
        )
    warn_at = _warning_starts(clock)
    return format_html(
        '<time class="sla" datetime="{}"{} data-kind="{}" tabindex="0">'
        '<span class="sla-text">{} left</span></time>',
        _iso(clock.due_at),
        format_html(' data-warn-at="{}"', _iso(warn_at)) if warn_at else "",
        clock.kind,
        timeuntil(clock.due_at) if clock.due_at else "",
    )


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _warning_starts(clock: SlaClock) -> datetime | None:
    warnings = [threshold for threshold in clock.policy.thresholds() if threshold < BREACH]
    step = clock.timer.step
    if not warnings or step is None:
        return None
    if step == warnings[0]:
        return clock.timer.fire_at  # the first warning is still ahead
    return clock.started_at  # a warning already fired: warn from the start
