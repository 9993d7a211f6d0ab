from datetime import datetime
from typing import Any

from django import template

from incidents.choices import BREACH
from incidents.models import SlaClock

register = template.Library()


@register.filter
def label_of(labels: dict[int, str], priority: int) -> str:
    """The tenant's label for a priority level."""
    return labels.get(priority, f"SEV{priority}")


@register.inclusion_tag("incidents/sla_countdown.html")
def sla_countdown(clock: SlaClock | None) -> dict[str, Any]:
    """A clock's live countdown (app.js ticks it): due time, and when its colour turns.

    The warning colour starts exactly when the server fires the policy's first warning: the
    clock's timer holds the wall-clock time of its next threshold (business calendars make it
    anything but a fixed share of the wall-clock span), so the page is told that time.
    """
    if clock is None:
        return {"clock": None}
    return {
        "clock": clock,
        "warn_at": _warning_starts(clock),
        "remaining": int((clock.target - clock.elapsed).total_seconds()),
    }


def _warning_starts(clock: SlaClock) -> datetime | None:
    warnings = [threshold for threshold in clock.policy.thresholds() if threshold < BREACH]
    step = clock.timer.step
    if not warnings or step is None:
        return None
    if step == warnings[0]:
        return clock.timer.fire_at  # the first warning is still ahead
    return clock.started_at  # a warning already fired: warn from the start
