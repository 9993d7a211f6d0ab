"""The schedule timer kind: a reminder before a scheduled change starts, a warning when an
implementing change overruns its window. Each is a timeline event and a notification to the
change's owner and implementer.

Registered at start-up (the timer engine loads every app's timers.py). One timer per change
(`Change.schedule_timer`), armed by `arm_schedule_timer`, which the change services call
whenever the status or the planned window changes. Steps are numbered as they are armed, odd for
reminders and even for overruns, so each new window reminds once and the engine's unique (timer,
step) firing makes a repeated or concurrent sweep tell nobody twice; re-arming for a window whose
step has already fired arms nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.utils import timezone

from changes import timeline
from changes.choices import SCHEDULE_TIMER_KIND, ChangeEventKind, ChangeStatus
from changes.models import Change
from itsm.notifications.choices import EMAIL, IN_APP
from itsm.notifications.registry import register_event_type
from itsm.notifications.services import NotificationDraft, notification_publish_many
from itsm.tenancy.models import Tenant
from itsm.timers.kinds import Firing, TimerKind, register
from itsm.timers.models import Timer, TimerFiring
from itsm.timers.services import timer_arm, timer_new

REMINDER: Final = "reminder"
OVERRUN: Final = "overrun"

# --- Notifications -------------------------------------------------------------------------------

REMINDER_EVENT: Final = "change.reminder"
OVERRUN_EVENT: Final = "change.overrun"

EVENT_TYPE_LABELS: Final[dict[str, str]] = {
    REMINDER_EVENT: "A change I own or implement is about to start",
    OVERRUN_EVENT: "A change I own or implement has overrun its window",
}
for _name, _label in EVENT_TYPE_LABELS.items():
    register_event_type(_name, label=_label, default_channels=(EMAIL, IN_APP))


def step_meaning(step: int) -> str:
    """What a step of a schedule timer is: odd steps remind, even steps warn of an overrun."""
    return REMINDER if step % 2 else OVERRUN


def reminder_before() -> Any:
    return settings.CHANGE_REMINDER_BEFORE


def _meaning_now(change: Change) -> str | None:
    """What the change's timer is for in its status: a reminder, an overrun, or nothing."""
    if change.planned_start is None or change.planned_end is None:
        return None
    if change.status == ChangeStatus.SCHEDULED:
        return REMINDER
    if change.status == ChangeStatus.IMPLEMENTING:
        return OVERRUN
    return None


def _next_due(change: Change, now: datetime) -> tuple[str, datetime] | None:
    """What the change's timer should fire next, and when; None: nothing."""
    meaning = _meaning_now(change)
    if meaning == REMINDER and change.planned_start is not None and change.planned_start > now:
        return REMINDER, change.planned_start - reminder_before()
    if meaning == OVERRUN and change.planned_end is not None:
        return OVERRUN, change.planned_end
    return None


def arm_schedule_timer(change: Change) -> None:
    """Arm the change's timer for what comes next (the reminder while scheduled, the overrun
    while implementing), or leave it idle. Saves the timer, and the change if it had none.

    Call it, with the change locked, whenever its status or planned window changes; calling it
    again for the same window arms nothing new once that step has fired.
    """
    due = _next_due(change, timezone.now())
    timer: Timer | None = change.schedule_timer
    if timer is None:
        if due is None:
            return
        timer = timer_new(tenant_id=change.tenant_id, kind=SCHEDULE_TIMER_KIND)
        timer.save(force_insert=True)
        change.schedule_timer = timer
        change.save(update_fields=["schedule_timer"])
    _arm(timer, due, _fired(timer))
    timer.updated_at = timezone.now()
    timer.save(update_fields=["step", "fire_at", "updated_at"])


def _fired(timer: Timer) -> dict[int, datetime]:
    """The steps of the timer that have fired, with the time each was due."""
    if timer.pk is None:
        return {}
    return dict(
        TimerFiring.objects.for_tenant(timer.tenant_id)
        .filter(timer_id=timer.pk)
        .values_list("step", "due_at")
    )


def _arm(timer: Timer, due: tuple[str, datetime] | None, fired: dict[int, datetime]) -> None:
    if due is None:
        timer_arm(timer, step=None, at=None)
        return
    meaning, at = due
    if any(step_meaning(step) == meaning and due_at == at for step, due_at in fired.items()):
        timer_arm(timer, step=None, at=None)  # this window's step has been told already
        return
    last = max([*fired, timer.step or 0], default=0)
    step = last + 1
    if step_meaning(step) != meaning:
        step += 1
    if timer.step is not None and step_meaning(timer.step) == meaning and timer.step not in fired:
        step = timer.step  # the step armed is still to fire: move it, do not number a new one
    timer_arm(timer, step=step, at=at)


class ChangeSchedule(TimerKind):
    """Reminders before the planned start and overruns after the planned end."""

    name = SCHEDULE_TIMER_KIND

    def claim(self, timers: Sequence[Timer]) -> dict[int, Any]:
        # A change manager editing the change holds it: skip it rather than wait with timers
        # held (lock order is change → timer in the services). Only the change row is locked.
        changes = (
            Change.objects.filter(schedule_timer_id__in=[timer.pk for timer in timers])
            .select_related("tenant", "owner", "implementer")
            .select_for_update(skip_locked=True, of=("self",))
        )
        return {
            change.schedule_timer_id: change
            for change in changes
            if change.schedule_timer_id is not None
        }

    def fire(self, firings: Sequence[Firing], *, now: datetime) -> None:
        reminders: dict[int, list[Change]] = defaultdict(list)
        overruns: dict[int, list[Change]] = defaultdict(list)
        for firing in firings:
            change: Change = firing.subject
            meaning = step_meaning(firing.step)
            # The status moved on without the timer (the services re-arm it, but a step armed
            # before is checked again): act only on what still holds.
            if not firing.is_new or _meaning_now(change) != meaning:
                continue
            target = reminders if meaning == REMINDER else overruns
            target[change.tenant_id].append(change)
        for changes in reminders.values():
            _record(changes, ChangeEventKind.REMINDER, "planned_start")
            notify_reminder(changes[0].tenant, changes)
        for changes in overruns.values():
            _record(changes, ChangeEventKind.OVERRUN, "planned_end")
            notify_overrun(changes[0].tenant, changes)


def _record(changes: Sequence[Change], kind: ChangeEventKind, when: str) -> None:
    timeline.record_many(
        [
            timeline.event(change, kind, None, data={when: getattr(change, when).isoformat()})
            for change in changes
        ]
    )


def _people(change: Change) -> list[Any]:
    people = [change.owner, change.implementer]
    return list({person.pk: person for person in people if person is not None}.values())


def notify_reminder(tenant: Tenant, changes: Sequence[Change]) -> None:
    """Tell each change's owner and implementer that it is about to start."""
    drafts = [
        NotificationDraft(
            event_type=REMINDER_EVENT,
            title=f"Change starting soon: [{change.reference}] {change.title}",
            body=(
                f"{change.reference} is scheduled from {change.planned_start:%Y-%m-%d %H:%M} to "
                f"{change.planned_end:%Y-%m-%d %H:%M} UTC.\n\n{change.description}\n"
            ),
            link=f"/t/{tenant.slug}/changes/{change.reference}/",
            reference=change.reference,
            users=_people(change),
        )
        for change in changes
        if _people(change)
    ]
    if drafts:
        notification_publish_many(tenant=tenant, drafts=drafts)


def notify_overrun(tenant: Tenant, changes: Sequence[Change]) -> None:
    """Tell each change's owner and implementer that it is still implementing past its end."""
    drafts = [
        NotificationDraft(
            event_type=OVERRUN_EVENT,
            title=f"Change overran its window: [{change.reference}] {change.title}",
            body=(
                f"{change.reference} was planned to end at {change.planned_end:%Y-%m-%d %H:%M} "
                "UTC and is still being implemented.\n"
            ),
            link=f"/t/{tenant.slug}/changes/{change.reference}/",
            reference=change.reference,
            users=_people(change),
        )
        for change in changes
        if _people(change)
    ]
    if drafts:
        notification_publish_many(tenant=tenant, drafts=drafts)


register(ChangeSchedule())
