"""The schedule timer: a reminder before a scheduled change starts and a warning when an
implementing change overruns, each once, by the real sweep."""

from datetime import timedelta

import pytest
from django.utils import timezone

from changes.models import Change, ChangeEvent
from changes.timers import arm_schedule_timer
from itsm.notifications.models import Notification
from itsm.tenancy import rls
from itsm.timers.models import Timer
from itsm.timers.sweep import sweep
from tests.changes.schedule_fixtures import (  # noqa: F401  (fixtures, re-exported)
    make_change,
    sched,
)
from tests.markers import platform_db

pytestmark = platform_db


def _told(sched, change, kind: str) -> tuple[int, int]:  # noqa: F811
    """(notifications, timeline events) of `kind` about the change."""
    with rls.tenant_scope(sched.tenant.pk):
        notifications = Notification.objects.filter(
            event_type=f"change.{kind}", reference=change.reference
        ).count()
        events = ChangeEvent.objects.filter(change=change, kind=kind).count()
    return notifications, events


def _planned(sched, status: str, start, end):  # noqa: F811
    change = make_change(
        sched, start, end, status=status, owner=sched.change_manager, implementer=sched.agent
    )
    return _move(sched, change, status=status)


def _move(sched, change, **fields):  # noqa: F811
    """Change the status or window and re-arm, as the services do."""
    with rls.tenant_scope(sched.tenant.pk):
        change = Change.objects.select_related("schedule_timer").get(pk=change.pk)
        for name, value in fields.items():
            setattr(change, name, value)
        change.save(update_fields=list(fields))
        arm_schedule_timer(change)
    return change


def _timer(sched, change) -> Timer:  # noqa: F811
    with rls.tenant_scope(sched.tenant.pk):
        change = Change.objects.get(pk=change.pk)
        return Timer.objects.get(pk=change.schedule_timer_id or 0)


def test_a_scheduled_change_reminds_once_before_it_starts(sched, settings):  # noqa: F811
    # Given a change scheduled to start in three hours, reminders an hour ahead
    settings.CHANGE_REMINDER_BEFORE = timedelta(hours=1)
    start = timezone.now() + timedelta(hours=3)
    change = _planned(sched, "scheduled", start, start + timedelta(hours=1))
    assert _timer(sched, change).fire_at == start - timedelta(hours=1)

    # When the sweep runs now, nothing is due; 90 minutes before the start, the reminder fires
    assert sweep().fired == 0
    assert sweep(now=start - timedelta(minutes=90)).fired == 0
    assert sweep(now=start - timedelta(minutes=59)).fired == 1

    # Then the owner and the implementer are told once, however often it sweeps or re-arms
    assert sweep(now=start - timedelta(minutes=30)).fired == 0
    _move(sched, change, title="Patch the mail relay, again")
    assert sweep(now=start - timedelta(minutes=10)).fired == 0
    assert _told(sched, change, "reminder") == (1, 1)
    with rls.tenant_scope(sched.tenant.pk):
        notification = Notification.objects.get(event_type="change.reminder")
        assert {d.user for d in notification.deliveries.all()} == {
            sched.change_manager,
            sched.agent,
        }
    assert not _timer(sched, change).is_armed


def test_a_rescheduled_change_reminds_again_for_its_new_window(sched):  # noqa: F811
    start = timezone.now() + timedelta(hours=3)
    change = _planned(sched, "scheduled", start, start + timedelta(hours=1))
    assert sweep(now=start - timedelta(minutes=30)).fired == 1

    # When the window moves a day later, its reminder fires once more, then never again
    later = start + timedelta(days=1)
    _move(sched, change, planned_start=later, planned_end=later + timedelta(hours=1))
    assert sweep(now=later - timedelta(minutes=30)).fired == 1
    assert sweep(now=later - timedelta(minutes=20)).fired == 0
    assert _told(sched, change, "reminder") == (2, 2)


def test_an_implementing_change_past_its_end_warns_once(sched):  # noqa: F811
    # Given a scheduled change whose reminder has fired, started and implementing
    start = timezone.now() + timedelta(hours=2)
    end = start + timedelta(hours=1)
    change = _planned(sched, "scheduled", start, end)
    assert sweep(now=start - timedelta(minutes=30)).fired == 1
    _move(sched, change, status="implementing")
    assert _timer(sched, change).fire_at == end

    # When the sweep runs before the end nothing fires; after it, the overrun, once
    assert sweep(now=end - timedelta(minutes=1)).fired == 0
    assert sweep(now=end + timedelta(minutes=1)).fired == 1
    assert sweep(now=end + timedelta(hours=2)).fired == 0
    assert _told(sched, change, "overrun") == (1, 1)
    assert _told(sched, change, "reminder") == (1, 1)


def test_a_change_completed_in_time_does_not_overrun(sched):  # noqa: F811
    start = timezone.now() + timedelta(hours=2)
    end = start + timedelta(hours=1)
    change = _planned(sched, "implementing", start, end)

    _move(sched, change, status="review")

    assert not _timer(sched, change).is_armed
    assert sweep(now=end + timedelta(minutes=1)).fired == 0
    assert _told(sched, change, "overrun") == (0, 0)


@pytest.mark.parametrize("rearmed", [True, False])
def test_a_cancelled_change_is_told_nothing(sched, rearmed):  # noqa: F811
    # Given a scheduled change, then cancelled (re-armed by the service, or not: a stale timer)
    start = timezone.now() + timedelta(hours=3)
    change = _planned(sched, "scheduled", start, start + timedelta(hours=1))
    if rearmed:
        _move(sched, change, status="cancelled")
    else:
        with rls.tenant_scope(sched.tenant.pk):
            Change.objects.filter(pk=change.pk).update(status="cancelled")

    # Then the sweep tells nobody anything
    sweep(now=start + timedelta(hours=5))
    assert _told(sched, change, "reminder") == (0, 0)
    assert _told(sched, change, "overrun") == (0, 0)
    assert not _timer(sched, change).is_armed


def test_a_change_without_a_window_gets_no_timer(sched):  # noqa: F811
    change = _planned(sched, "scheduled", None, None)

    with rls.tenant_scope(sched.tenant.pk):
        assert Change.objects.get(pk=change.pk).schedule_timer_id is None
