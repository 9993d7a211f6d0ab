"""Auto-close: resolved incidents close by themselves after the tenant's period, once, with a
system event; beat fans the job out as one task per active tenant."""

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Incident, IncidentEvent, IncidentSettings
from incidents.tasks import close_resolved_incidents_task, schedule_incident_auto_close_task
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Tenant
from tests.factories import IncidentFactory, MembershipFactory, TenantFactory
from tests.incidents.conftest import make_incident

pytestmark = pytest.mark.django_db


def _resolved_ago(tenant: Tenant, incident: Incident, age: timedelta) -> None:
    """Pretend the incident was resolved `age` ago (incident rows are updatable)."""
    with rls.tenant_scope(tenant.pk):
        Incident.objects.filter(pk=incident.pk).update(resolved_at=timezone.now() - age)


def _state(tenant: Tenant, incident: Incident) -> tuple[str, int]:
    with rls.tenant_scope(tenant.pk):
        status = Incident.objects.values_list("status", flat=True).get(pk=incident.pk)
        events = IncidentEvent.objects.filter(incident=incident).count()
    return status, events


def _resolved_incident_of_another_tenant(slug: str, age: timedelta, **tenant_fields: Any):
    """A tenant with one incident resolved `age` ago, through the services."""
    tenant = TenantFactory(slug=slug, name=slug.title(), **tenant_fields)
    admin = MembershipFactory(tenant=tenant, role=MembershipRole.TENANT_ADMIN).user
    incident = IncidentFactory(tenant=tenant, reported_by=admin)
    with rls.tenant_scope(tenant.pk):
        ids = {"tenant": tenant, "incident_id": incident.pk, "actor": admin}
        services.incident_acknowledge(**ids)
        services.incident_resolve(**ids, resolution_code="fixed", resolution_notes="Done.")
    _resolved_ago(tenant, incident, age)
    return tenant, incident


def test_an_incident_resolved_longer_ago_than_the_period_closes(desk):
    # Given an incident resolved three days and a minute ago (the default period is 3 days)
    incident = make_incident(desk, "resolved")
    _resolved_ago(desk.tenant, incident, timedelta(days=3, minutes=1))
    _status, events_before = _state(desk.tenant, incident)

    # When the auto-close task runs for the tenant
    closed = close_resolved_incidents_task(tenant_id=desk.tenant.pk)

    # Then the incident is closed by the system, with one public status event
    assert closed == 1
    with rls.tenant_scope(desk.tenant.pk):
        incident.refresh_from_db()
        event = IncidentEvent.objects.filter(incident=incident).latest("id")
        events_after = IncidentEvent.objects.filter(incident=incident).count()
    assert (incident.status, incident.version) == ("closed", 4)
    assert incident.closed_at is not None
    assert events_after == events_before + 1
    assert (event.kind, event.actor, event.is_public) == ("status", None, True)
    assert (event.from_status, event.to_status) == ("resolved", "closed")
    assert (event.body, event.data) == (
        "Closed automatically after resolution.",
        {"automatic": True},
    )


def test_an_incident_resolved_more_recently_stays_resolved(desk):
    # Given incidents resolved 2 days ago and 2 minutes short of 3 days ago
    recent = make_incident(desk, "resolved")
    almost = make_incident(desk, "resolved")
    _resolved_ago(desk.tenant, recent, timedelta(days=2))
    _resolved_ago(desk.tenant, almost, timedelta(days=3) - timedelta(minutes=2))
    before = [_state(desk.tenant, recent), _state(desk.tenant, almost)]

    closed = close_resolved_incidents_task(tenant_id=desk.tenant.pk)

    assert closed == 0
    assert [_state(desk.tenant, recent), _state(desk.tenant, almost)] == before
    assert before[0][0] == before[1][0] == "resolved"


def test_open_and_finished_incidents_are_left_alone(desk):
    # Given old incidents in every state but resolved
    incidents = [make_incident(desk, state) for state in ("new", "in_progress", "on_hold")]
    incidents += [make_incident(desk, state) for state in ("closed", "cancelled")]
    for incident in incidents:
        _resolved_ago(desk.tenant, incident, timedelta(days=30))
    before = [_state(desk.tenant, incident) for incident in incidents]

    closed = close_resolved_incidents_task(tenant_id=desk.tenant.pk)

    assert closed == 0
    assert [_state(desk.tenant, incident) for incident in incidents] == before


def test_running_twice_closes_nothing_more(desk):
    # Given two due incidents and one that is not
    due = [make_incident(desk, "resolved") for _ in range(2)]
    fresh = make_incident(desk, "resolved")
    for incident in due:
        _resolved_ago(desk.tenant, incident, timedelta(days=4))

    # When the task runs twice
    first = close_resolved_incidents_task(tenant_id=desk.tenant.pk)
    after_first = [_state(desk.tenant, incident) for incident in (*due, fresh)]
    second = close_resolved_incidents_task(tenant_id=desk.tenant.pk)

    # Then the first run closed the two, and the second changed nothing
    assert (first, second) == (2, 0)
    assert [_state(desk.tenant, incident) for incident in (*due, fresh)] == after_first
    assert [status for status, _events in after_first] == ["closed", "closed", "resolved"]


def test_the_tenants_own_period_is_honoured(desk):
    # Given acme closes resolved incidents after one hour
    with rls.tenant_scope(desk.tenant.pk):
        IncidentSettings.objects.create(tenant=desk.tenant, auto_close_after=timedelta(hours=1))
    due = make_incident(desk, "resolved")
    fresh = make_incident(desk, "resolved")
    _resolved_ago(desk.tenant, due, timedelta(hours=2))
    _resolved_ago(desk.tenant, fresh, timedelta(minutes=30))
    # and another tenant, on the default period, has one resolved two hours ago
    globex, theirs = _resolved_incident_of_another_tenant("globex", timedelta(hours=2))

    # When the task runs for each tenant
    closed_in_acme = close_resolved_incidents_task(tenant_id=desk.tenant.pk)
    closed_in_globex = close_resolved_incidents_task(tenant_id=globex.pk)

    # Then only acme's incident older than an hour closes
    assert (closed_in_acme, closed_in_globex) == (1, 0)
    assert _state(desk.tenant, due)[0] == "closed"
    assert _state(desk.tenant, fresh)[0] == "resolved"
    assert _state(globex, theirs)[0] == "resolved"


def test_the_task_only_touches_its_own_tenant(desk):
    mine = make_incident(desk, "resolved")
    _resolved_ago(desk.tenant, mine, timedelta(days=4))
    globex, theirs = _resolved_incident_of_another_tenant("globex", timedelta(days=4))
    theirs_before = _state(globex, theirs)

    closed = close_resolved_incidents_task(tenant_id=desk.tenant.pk)

    assert closed == 1
    assert _state(desk.tenant, mine)[0] == "closed"
    assert _state(globex, theirs) == theirs_before


def test_the_task_is_a_no_op_for_an_inactive_or_missing_tenant(desk):
    # Given a deactivated tenant with a due incident
    dormant, incident = _resolved_incident_of_another_tenant("dormant", timedelta(days=4))
    Tenant.objects.filter(pk=dormant.pk).update(is_active=False)
    before = _state(dormant, incident)

    # When the task runs for it, and for a tenant that does not exist
    assert close_resolved_incidents_task(tenant_id=dormant.pk) is None
    assert close_resolved_incidents_task(tenant_id=dormant.pk + 1000) is None

    # Then nothing changed
    assert _state(dormant, incident) == before


def test_beat_enqueues_one_task_per_active_tenant(desk):
    # Given acme, globex, and an inactive tenant
    globex = TenantFactory(slug="globex")
    TenantFactory(slug="dormant", is_active=False)

    # When the beat entry point runs
    with mock.patch.object(close_resolved_incidents_task, "delay") as delay:
        enqueued = schedule_incident_auto_close_task()

    # Then one task is enqueued per active tenant, with just its id
    assert enqueued == 2
    assert sorted(delay.call_args_list, key=lambda call: call.kwargs["tenant_id"]) == sorted(
        [mock.call(tenant_id=desk.tenant.pk), mock.call(tenant_id=globex.pk)],
        key=lambda call: call.kwargs["tenant_id"],
    )


def test_beat_with_eager_tasks_closes_due_incidents_of_every_active_tenant(desk, settings):
    # Given due incidents in acme, globex and an inactive tenant, and a fresh one in acme
    settings.CELERY_TASK_ALWAYS_EAGER = True
    mine = make_incident(desk, "resolved")
    fresh = make_incident(desk, "resolved")
    _resolved_ago(desk.tenant, mine, timedelta(days=4))
    globex, theirs = _resolved_incident_of_another_tenant("globex", timedelta(days=5))
    dormant, asleep = _resolved_incident_of_another_tenant("dormant", timedelta(days=5))
    Tenant.objects.filter(pk=dormant.pk).update(is_active=False)

    # When beat runs and the tasks run at once
    enqueued = schedule_incident_auto_close_task()

    # Then each active tenant's due incident is closed; the rest are as they were
    assert enqueued == 2
    assert _state(desk.tenant, mine)[0] == "closed"
    assert _state(globex, theirs)[0] == "closed"
    assert _state(desk.tenant, fresh)[0] == "resolved"
    assert _state(dormant, asleep)[0] == "resolved"
    with rls.tenant_scope(globex.pk):
        event = IncidentEvent.objects.filter(incident=theirs).latest("id")
    assert (event.kind, event.actor, event.to_status, event.data) == (
        "status",
        None,
        "closed",
        {"automatic": True},
    )
