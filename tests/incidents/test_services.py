"""Incident services against the database: priority matrix, metrics, concurrency, timeline."""

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from incidents import services
from incidents.choices import DEFAULT_PRIORITY_MATRIX, EventKind
from incidents.errors import InvalidTransitionError
from incidents.models import Incident, IncidentEvent, PriorityMatrixCell
from itsm.tenancy import rls
from tests.factories import TenantOwnedFactory
from tests.incidents.conftest import make_incident

DEFAULT_CELLS = [
    # impact, urgency, priority
    (1, 1, 1), (1, 2, 2), (1, 3, 3),
    (2, 1, 2), (2, 2, 3), (2, 3, 4),
    (3, 1, 3), (3, 2, 4), (3, 3, 4),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("impact", "urgency", "priority"), DEFAULT_CELLS)
def test_default_matrix_gives_the_severity_of_every_cell(desk, impact, urgency, priority):
    incident = make_incident(desk, impact=impact, urgency=urgency)
    assert incident.priority == priority
    assert DEFAULT_PRIORITY_MATRIX[(impact, urgency)] == priority


class PriorityMatrixCellFactory(TenantOwnedFactory[PriorityMatrixCell]):
    class Meta:
        model = PriorityMatrixCell


@pytest.mark.django_db
@pytest.mark.parametrize(("impact", "urgency", "default"), DEFAULT_CELLS)
def test_a_tenant_matrix_overrides_each_cell(desk, tenant_b, impact, urgency, default):
    # Given a tenant that rates this cell one level more severe (SEV4 stays SEV3 at worst)
    custom = max(1, default - 1) if default > 1 else 4
    PriorityMatrixCellFactory(tenant=desk.tenant, impact=impact, urgency=urgency, priority=custom)
    incident = make_incident(desk, impact=impact, urgency=urgency)
    assert incident.priority == custom
    # Another tenant keeps the default.
    with rls.tenant_scope(tenant_b.pk):
        other = services.incident_create(
            tenant=tenant_b,
            actor=None,
            data={"title": "x", "reported_by": desk.admin, "impact": impact, "urgency": urgency},
        )
    assert other.priority == default


@pytest.mark.django_db
def test_a_priority_change_recomputes_and_keeps_the_reason(desk):
    incident = make_incident(desk, "in_progress", impact=3, urgency=3)
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_change_priority(
            tenant=desk.tenant,
            incident_id=incident.pk,
            actor=desk.l1_agent,
            impact=1,
            urgency=1,
            reason="The whole company is affected.",
        )
        incident.refresh_from_db()
        event = IncidentEvent.objects.filter(incident=incident, kind=EventKind.PRIORITY).get()
    assert (incident.impact, incident.urgency, incident.priority) == (1, 1, 1)
    assert event.body == "The whole company is affected."
    assert event.data == {
        "from": {"impact": 3, "urgency": 3, "priority": 4},
        "to": {"impact": 1, "urgency": 1, "priority": 1},
    }


@pytest.mark.django_db
def test_metrics_over_an_escalated_reassigned_reopened_incident(desk):
    """Scripted: L1 takes it, reassigns within L1, escalates to L2, L2 resolves, the reporter
    reopens, L2 resolves again, the reporter closes."""
    t, ids = desk.tenant, {"tenant": desk.tenant}
    with rls.tenant_scope(t.pk):
        incident = services.incident_create(
            tenant=t, actor=desk.requester, data={"title": "VPN drops every hour"}
        )
        ids["incident_id"] = incident.pk
        assert (incident.status, incident.first_assigned_at, incident.acknowledged_at) == (
            "new",
            None,
            None,
        )
        services.incident_assign(**ids, actor=desk.l1_agent, team=desk.l1)
        services.incident_acknowledge(**ids, actor=desk.l1_agent)
        services.incident_escalate(
            **ids, actor=desk.l1_agent, kind="functional", reason="Needs network skills."
        )
        services.incident_assign(**ids, actor=desk.l2_agent, assignee=desk.l2_agent)
        services.incident_resolve(
            **ids,
            actor=desk.l2_agent,
            resolution_code="fixed",
            resolution_notes="Raised the tunnel's idle timeout.",
        )
        first_resolution = Incident.objects.get(pk=incident.pk)
        services.incident_reopen(**ids, actor=desk.requester, reason="Dropped again at 3pm.")
        services.incident_resolve(
            **ids,
            actor=desk.l2_agent,
            resolution_code="fixed",
            resolution_notes="Replaced the faulty concentrator.",
        )
        services.incident_close(**ids, actor=desk.requester, note="Works now, thanks.")
        incident.refresh_from_db()
        kinds = list(
            IncidentEvent.objects.filter(incident=incident).values_list("kind", "to_status")
        )

    assert incident.status == "closed"
    assert incident.assignment_team_id == desk.l2.pk
    assert incident.assignee_id == desk.l2_agent.pk
    assert (incident.escalation_count, incident.reassignment_count, incident.reopen_count) == (
        1,
        0,
        1,
    )
    assert incident.first_contact_resolution is False
    assert first_resolution.first_contact_resolution is False  # escalated to L2
    created = incident.created_at
    assert incident.first_assigned_at is not None
    assert incident.acknowledged_at is not None
    assert first_resolution.resolved_at is not None
    assert incident.resolved_at is not None
    assert incident.closed_at is not None
    assert created <= incident.first_assigned_at <= incident.acknowledged_at
    assert incident.acknowledged_at <= first_resolution.resolved_at <= incident.resolved_at
    assert incident.resolved_at <= incident.closed_at
    assert kinds == [
        ("created", "new"),
        ("assignment", ""),
        ("status", "in_progress"),
        ("escalation", ""),
        ("assignment", ""),
        ("status", "resolved"),
        ("status", "in_progress"),
        ("status", "resolved"),
        ("status", "closed"),
    ]


@pytest.mark.django_db
def test_first_contact_resolution_and_reassignment_count(desk):
    t = desk.tenant
    with rls.tenant_scope(t.pk):
        fcr = make_incident(desk, "resolved")  # L1 takes it and resolves it
        moved = make_incident(desk, "in_progress")
        services.incident_assign(
            tenant=t, incident_id=moved.pk, actor=desk.l1_agent, team=desk.l2
        )  # reassigned across teams: not an escalation
        services.incident_assign(
            tenant=t,
            incident_id=moved.pk,
            actor=desk.l1_agent,
            team=desk.l1,
            assignee=desk.l1_agent,
        )
        services.incident_resolve(
            tenant=t,
            incident_id=moved.pk,
            actor=desk.l1_agent,
            resolution_code="fixed",
            resolution_notes="Done.",
        )
        moved.refresh_from_db()
    assert fcr.first_contact_resolution is True
    assert (fcr.escalation_count, fcr.reassignment_count) == (0, 0)
    assert (moved.escalation_count, moved.reassignment_count) == (0, 2)
    assert moved.first_contact_resolution is False


def _race(tenant, functions):
    """Run each function in its own thread and transaction, all starting at once."""
    barrier = threading.Barrier(len(functions))
    outcomes = []

    def run(function):
        try:
            barrier.wait(timeout=10)
            with rls.tenant_scope(tenant.pk):
                function()
            outcomes.append("ok")
        except Exception as error:  # the loser's refusal is part of the result
            outcomes.append(type(error).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(function,)) for function in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_two_agents_acknowledging_at_once_make_one_event(desk):
    incident = make_incident(desk, "new")
    ack = [
        lambda user=user: services.incident_acknowledge(
            tenant=desk.tenant, incident_id=incident.pk, actor=user
        )
        for user in (desk.l1_agent, desk.admin)
    ]
    assert _race(desk.tenant, ack) == ["InvalidTransitionError", "ok"]
    with rls.tenant_scope(desk.tenant.pk):
        incident.refresh_from_db()
        events = IncidentEvent.objects.filter(incident=incident, kind=EventKind.STATUS).count()
    assert events == 1
    assert incident.status == "in_progress"
    assert incident.version == 2


@pytest.mark.django_db(transaction=True)
def test_two_agents_assigning_at_once_lose_nothing(desk):
    incident = make_incident(desk, "in_progress")
    same = [
        lambda: services.incident_assign(
            tenant=desk.tenant, incident_id=incident.pk, actor=desk.l1_agent, team=desk.l2
        ),
    ] * 2
    assert _race(desk.tenant, same) == ["ok", "ok"]  # the second finds it done: no event
    with rls.tenant_scope(desk.tenant.pk):
        incident.refresh_from_db()
        events = IncidentEvent.objects.filter(incident=incident, kind=EventKind.ASSIGNMENT)
        assert events.count() == 2  # the one at creation, and this one
    assert (incident.assignment_team_id, incident.reassignment_count) == (desk.l2.pk, 1)

    # Two different assignments from the same read: If-Match lets only one win.
    version = incident.version
    different = [
        lambda team=team: services.incident_assign(
            tenant=desk.tenant,
            incident_id=incident.pk,
            actor=desk.admin,
            team=team,
            expected_version=version,
        )
        for team in (desk.l1, desk.l3)
    ]
    assert _race(desk.tenant, different) == ["StaleIncidentError", "ok"]
    with rls.tenant_scope(desk.tenant.pk):
        incident.refresh_from_db()
    assert incident.version == version + 1
    assert incident.reassignment_count == 2


@pytest.mark.django_db
def test_timeline_events_are_immutable(desk):
    incident = make_incident(desk, "in_progress")
    with rls.tenant_scope(desk.tenant.pk):
        event = IncidentEvent.objects.filter(incident=incident).first()
        assert event is not None
        with pytest.raises(TypeError):
            event.save()
        with pytest.raises(TypeError):
            event.delete()
        with pytest.raises(TypeError):
            IncidentEvent.objects.filter(pk=event.pk).update(body="rewritten")
        # Even a raw statement is refused by the database.
        with (
            pytest.raises(DatabaseError, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "UPDATE incidents_incidentevent SET body = 'x' WHERE id = %s", [event.pk]
            )
        with (
            pytest.raises(DatabaseError, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("DELETE FROM incidents_incidentevent WHERE id = %s", [event.pk])
        assert IncidentEvent.objects.filter(pk=event.pk).values_list("body", flat=True).get() == ""


@pytest.mark.django_db
def test_reopen_window_is_the_tenants(desk):
    incident = make_incident(desk, "resolved")
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk=incident.pk).update(
            resolved_at=timezone.now() - timedelta(days=8)
        )
        with pytest.raises(InvalidTransitionError, match="reopen window") as caught:
            services.incident_reopen(
                tenant=desk.tenant, incident_id=incident.pk, actor=desk.requester
            )
    assert caught.value.code == "reopen_window_passed"


def test_acknowledging_an_unrouted_incident_takes_the_agents_own_team(desk):
    with rls.tenant_scope(desk.tenant.pk):
        incident = services.incident_create(
            tenant=desk.tenant, actor=desk.l1_agent, data={"title": "Phone call: VPN down"}
        )
        services.incident_acknowledge(
            tenant=desk.tenant, incident_id=incident.pk, actor=desk.l1_agent
        )
        incident.refresh_from_db()
        assert (incident.assignee, incident.assignment_team) == (desk.l1_agent, desk.l1)
        # so escalating it goes to the next tier, not back to L1
        services.incident_escalate(
            tenant=desk.tenant,
            incident_id=incident.pk,
            actor=desk.l1_agent,
            kind="functional",
            reason="Needs L2.",
        )
        incident.refresh_from_db()
        assert incident.assignment_team == desk.l2


def test_an_agent_of_no_team_or_several_leaves_the_team_empty(desk):
    with rls.tenant_scope(desk.tenant.pk):
        incident = services.incident_create(
            tenant=desk.tenant, actor=desk.outsider_agent, data={"title": "Walk-in"}
        )
        services.incident_acknowledge(
            tenant=desk.tenant, incident_id=incident.pk, actor=desk.outsider_agent
        )
        incident.refresh_from_db()
        assert (incident.assignee, incident.assignment_team) == (desk.outsider_agent, None)
