"""The review date: when it passes, the problem manager is told once, by the timer sweep."""

from datetime import timedelta

import pytest
from django.utils import timezone

from itsm.notifications.models import Notification
from itsm.tenancy import rls
from itsm.timers.models import Timer
from itsm.timers.sweep import sweep
from problems.models import ProblemEvent
from tests.markers import platform_db
from tests.problems.conftest import make_problem


def _reviews(pdesk, problem) -> tuple[int, int]:
    with rls.tenant_scope(pdesk.tenant.pk):
        notifications = Notification.objects.filter(
            event_type="problem.review_due", reference=problem.reference
        ).count()
        events = ProblemEvent.objects.filter(problem=problem, kind="review_due").count()
    return notifications, events


@platform_db
def test_a_passed_review_date_tells_the_manager_once(pdesk, api_client):
    # Given a problem whose review date is tomorrow
    problem = make_problem(pdesk, "under_investigation")
    client = api_client(pdesk.manager)
    tomorrow = timezone.now() + timedelta(days=1)
    patched = client.patch(
        pdesk.url(f"{problem.reference}/"), {"review_at": tomorrow.isoformat()}, format="json"
    )
    assert patched.status_code == 200, patched.content

    # When the sweep runs today, nothing is due
    assert sweep().fired == 0
    assert _reviews(pdesk, problem) == (0, 0)

    # When it runs after the date, the manager is told, once, however often it sweeps
    later = tomorrow + timedelta(minutes=1)
    assert sweep(now=later).fired == 1
    assert sweep(now=later).fired == 0
    assert sweep(now=later + timedelta(days=3)).fired == 0
    assert _reviews(pdesk, problem) == (1, 1)
    with rls.tenant_scope(pdesk.tenant.pk):
        notification = Notification.objects.get(event_type="problem.review_due")
        assert {d.user for d in notification.deliveries.all()} == {pdesk.manager}
        assert not Timer.objects.get(pk=problem.review_timer_id or 0).is_armed

    # When the manager sets a new review date, that one reminds once too
    again = later + timedelta(days=7)
    url = pdesk.url(f"{problem.reference}/")
    client.patch(url, {"review_at": again.isoformat()}, format="json")
    assert sweep(now=again + timedelta(minutes=1)).fired == 1
    assert sweep(now=again + timedelta(minutes=2)).fired == 0
    assert _reviews(pdesk, problem) == (2, 2)


@platform_db
@pytest.mark.parametrize("state", ["closed", "cancelled"])
def test_a_closed_or_cancelled_problem_is_not_reviewed(pdesk, state):
    # Given an open problem and a closed (or cancelled) one, both with a review date ahead
    problem = make_problem(pdesk, review_at=timezone.now() + timedelta(hours=1))
    done = make_problem(pdesk, state, review_at=timezone.now() + timedelta(hours=1))
    with rls.tenant_scope(pdesk.tenant.pk):
        assert Timer.objects.get(pk=problem.review_timer_id or 0).is_armed
        assert not Timer.objects.get(pk=done.review_timer_id or 0).is_armed

    # Then only the open one is reviewed
    assert sweep(now=timezone.now() + timedelta(hours=2)).fired == 1  # only the open one
    assert _reviews(pdesk, done) == (0, 0)
    assert _reviews(pdesk, problem) == (1, 1)
