"""Who is told when an incident is routed, escalated, runs out of SLA time or is declared major:
through the notifications outbox, written with the event, delivered after commit only.

Tasks run eagerly here, so the on-commit callbacks deliver in-process: one e-mail per recipient
(Django's test outbox) and one in-app item per user, each exactly once.
"""

from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.db.models import Count

from incidents import services
from incidents.choices import EventKind
from incidents.models import Incident, IncidentEvent
from incidents.notifications import notify_incident_events
from itsm.notifications.delivery import deliveries_deliver_due
from itsm.notifications.models import Delivery, Notification
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Team
from tests.factories import MembershipFactory, TeamMemberFactory, UserFactory
from tests.incidents.conftest import make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager_tasks(settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True


def _sent() -> list[tuple[str, list[str]]]:
    return sorted((str(message.subject), message.to) for message in mail.outbox)


def _deliveries(desk, since: int) -> list[tuple[str, str, str, str]]:
    """(event type, channel, recipient, status) of every delivery written since `since`."""
    with rls.tenant_scope(desk.tenant.pk):
        return sorted(
            (
                row.notification.event_type,
                row.channel,
                row.address if row.channel == "email" else str(row.user),
                row.status,
            )
            for row in Delivery.objects.filter(notification_id__gt=since).select_related(
                "notification", "user"
            )
        )


def _post(api_client, desk, user: Any, incident: Incident, path: str, body: dict[str, Any]) -> Any:
    response = api_client(user).post(desk.url(f"{incident.reference}/{path}/"), body, format="json")
    assert response.status_code in (200, 201), response.content
    return response


def test_assignment_tells_the_assignee(desk, api_client, django_capture_on_commit_callbacks):
    incident = make_incident(desk)
    before = _settled(desk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _post(api_client, desk, desk.l1_agent, incident, "assign", {"assignee": "lena-l1"})

    assert len(callbacks) == 1
    assert _sent() == [("Assigned to you: [INC-000001] Mail is down", ["lena-l1@example.com"])]
    assert mail.outbox[0].body.startswith("lena-l1 assigned INC-000001 to you.\n\n")
    assert _deliveries(desk, before) == [
        ("incident.assigned", "email", "lena-l1@example.com", "delivered"),
        ("incident.assigned", "in_app", "lena-l1", "delivered"),
    ]


def test_assignment_to_a_team_tells_its_members(
    desk, api_client, django_capture_on_commit_callbacks
):
    # Given team l2 with two members with an address and one without
    TeamMemberFactory(tenant=desk.tenant, team=desk.l2, user=_agent(desk, "lia-l2"))
    TeamMemberFactory(tenant=desk.tenant, team=desk.l2, user=_agent(desk, "lee-l2", email=""))
    incident = make_incident(desk)
    before = _settled(desk)

    # When the incident is assigned to l2 without an assignee
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _post(api_client, desk, desk.l1_agent, incident, "assign", {"team": "l2"})

    # Then each member with an address gets an e-mail, and every member an in-app item
    assert len(callbacks) == 1
    assert _sent() == [
        ("Assigned to you: [INC-000001] Mail is down", ["leo-l2@example.com"]),
        ("Assigned to you: [INC-000001] Mail is down", ["lia-l2@example.com"]),
    ]
    assert _deliveries(desk, before) == [
        ("incident.assigned", "email", "leo-l2@example.com", "delivered"),
        ("incident.assigned", "email", "lia-l2@example.com", "delivered"),
        ("incident.assigned", "in_app", "lee-l2", "delivered"),
        ("incident.assigned", "in_app", "leo-l2", "delivered"),
        ("incident.assigned", "in_app", "lia-l2", "delivered"),
    ]


def test_assignment_to_a_team_with_an_address_emails_the_team(
    desk, api_client, django_capture_on_commit_callbacks
):
    # Given team l2 has its own address
    with rls.tenant_scope(desk.tenant.pk):
        Team.objects.filter(pk=desk.l2.pk).update(email="l2@acme.example")
    incident = make_incident(desk)
    before = _settled(desk)

    with django_capture_on_commit_callbacks(execute=True):
        _post(api_client, desk, desk.l1_agent, incident, "assign", {"team": "l2"})

    assert _sent() == [("Assigned to you: [INC-000001] Mail is down", ["l2@acme.example"])]
    assert _deliveries(desk, before) == [
        ("incident.assigned", "email", "l2@acme.example", "delivered")
    ]


def test_functional_escalation_tells_the_new_team(
    desk, api_client, django_capture_on_commit_callbacks
):
    incident = make_incident(desk, "in_progress")  # with l1
    before = _settled(desk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(
            api_client, desk, desk.l1_agent, incident, "escalate", {"reason": "Needs L2."}
        )

    assert response.json()["assignment_team"] == "l2"
    assert len(callbacks) == 1
    assert _sent() == [
        ("Escalated to your team: [INC-000001] Mail is down", ["leo-l2@example.com"])
    ]
    assert mail.outbox[0].body.startswith("lena-l1 escalated INC-000001: Needs L2.\n\n")
    assert _deliveries(desk, before) == [
        ("incident.escalated", "email", "leo-l2@example.com", "delivered"),
        ("incident.escalated", "in_app", "leo-l2", "delivered"),
    ]


def test_hierarchical_escalation_tells_management(
    desk, api_client, django_capture_on_commit_callbacks
):
    # Given an incident in progress with l1, and a second manager
    TeamMemberFactory(tenant=desk.tenant, team=desk.management, user=_agent(desk, "max-manager"))
    incident = make_incident(desk, "in_progress")
    before = _settled(desk)

    # When an agent engages management
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(
            api_client,
            desk,
            desk.l1_agent,
            incident,
            "escalate",
            {"kind": "hierarchical", "reason": "Customer threatens to leave."},
        )

    # Then the managers are told, the team stays, and management is engaged from now on
    assert len(callbacks) == 1
    assert _sent() == [
        ("Management engaged: [INC-000001] Mail is down", ["max-manager@example.com"]),
        ("Management engaged: [INC-000001] Mail is down", ["mia-manager@example.com"]),
    ]
    assert _deliveries(desk, before) == [
        ("incident.management_engaged", "email", "max-manager@example.com", "delivered"),
        ("incident.management_engaged", "email", "mia-manager@example.com", "delivered"),
        ("incident.management_engaged", "in_app", "max-manager", "delivered"),
        ("incident.management_engaged", "in_app", "mia-manager", "delivered"),
    ]
    body = response.json()
    assert (body["assignment_team"], body["escalation_count"]) == ("l1", 1)
    assert body["management_engaged_at"] is not None


def test_declaring_a_major_incident_tells_the_commander_and_management(
    desk, api_client, django_capture_on_commit_callbacks
):
    incident = make_incident(desk, "in_progress")
    before = _settled(desk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _post(
            api_client,
            desk,
            desk.manager,
            incident,
            "declare-major",
            {"commander": "leo-l2", "reason": "Nobody can send mail."},
        )

    assert len(callbacks) == 1
    assert _sent() == [
        ("MAJOR INCIDENT: [INC-000001] Mail is down", ["leo-l2@example.com"]),
        ("MAJOR INCIDENT: [INC-000001] Mail is down", ["mia-manager@example.com"]),
    ]
    assert mail.outbox[0].body.startswith(
        "mia-manager declared a major incident; commander: leo-l2.\n\nNobody can send mail.\n\n"
    )
    assert _deliveries(desk, before) == [
        ("incident.major_declared", "email", "leo-l2@example.com", "delivered"),
        ("incident.major_declared", "email", "mia-manager@example.com", "delivered"),
        ("incident.major_declared", "in_app", "leo-l2", "delivered"),
        ("incident.major_declared", "in_app", "mia-manager", "delivered"),
    ]


@pytest.mark.parametrize(
    ("path", "state", "body"),
    [
        ("acknowledge", "new", {}),
        ("hold", "in_progress", {"hold_reason": "awaiting_caller"}),
        ("comment", "new", {"body": "Any news?"}),
        ("work-note", "new", {"body": "Relay 2."}),
        ("change-priority", "new", {"impact": 1, "urgency": 1, "reason": "Everyone."}),
        ("resolve", "in_progress", {"resolution_code": "fixed", "resolution_notes": "Done."}),
    ],
)
def test_other_events_tell_nobody(
    desk, api_client, django_capture_on_commit_callbacks, path, state, body
):
    incident = make_incident(desk, state)
    before = _settled(desk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _post(api_client, desk, desk.admin, incident, path, body)

    assert (callbacks, mail.outbox, _deliveries(desk, before)) == ([], [], [])


# --- SLA warnings and breaches, in batches -----------------------------------------------------


def _sla_events(desk, incidents: list[Incident], breach: bool) -> list[IncidentEvent]:
    """What the SLA timers record: one event per incident, of one tenant, unsaved is enough."""
    return [
        IncidentEvent(
            tenant_id=desk.tenant.pk,
            incident_id=incident.pk,
            kind=EventKind.SLA,
            data={
                "clock": "response",
                "threshold": 100 if breach else 75,
                "breach": breach,
                "due_at": "2030-01-01T09:00:00+00:00",
            },
        )
        for incident in incidents
    ]


def _assigned(desk, count: int) -> list[Incident]:
    incidents = [make_incident(desk) for _ in range(count)]
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk__in=[i.pk for i in incidents]).update(assignee=desk.l1_agent)
    return incidents


def test_an_sla_warning_and_a_breach_tell_the_assignee_and_the_team(
    desk, django_capture_on_commit_callbacks
):
    # Given an incident of team l1 assigned to leo (of l2), so the two differ
    [incident] = _assigned(desk, 1)
    with rls.tenant_scope(desk.tenant.pk):
        Incident.objects.filter(pk=incident.pk).update(assignee=desk.l2_agent)
    before = _settled(desk)

    with django_capture_on_commit_callbacks(execute=True), rls.tenant_scope(desk.tenant.pk):
        notify_incident_events(
            _sla_events(desk, [incident], breach=False) + _sla_events(desk, [incident], True)
        )

    assert _sent() == [
        ("SLA BREACHED (response): [INC-000001] Mail is down", ["lena-l1@example.com"]),
        ("SLA BREACHED (response): [INC-000001] Mail is down", ["leo-l2@example.com"]),
        (
            "SLA warning: 75% of the response target used: [INC-000001] Mail is down",
            ["lena-l1@example.com"],
        ),
        (
            "SLA warning: 75% of the response target used: [INC-000001] Mail is down",
            ["leo-l2@example.com"],
        ),
    ]
    assert {message.body.split("\n")[0] for message in mail.outbox} == {
        "Due at 2030-01-01T09:00:00+00:00."
    }
    assert _deliveries(desk, before) == [
        ("incident.sla_breached", "email", "lena-l1@example.com", "delivered"),
        ("incident.sla_breached", "email", "leo-l2@example.com", "delivered"),
        ("incident.sla_breached", "in_app", "lena-l1", "delivered"),
        ("incident.sla_breached", "in_app", "leo-l2", "delivered"),
        ("incident.sla_warning", "email", "lena-l1@example.com", "delivered"),
        ("incident.sla_warning", "email", "leo-l2@example.com", "delivered"),
        ("incident.sla_warning", "in_app", "lena-l1", "delivered"),
        ("incident.sla_warning", "in_app", "leo-l2", "delivered"),
    ]


def test_a_batch_of_sla_events_costs_the_same_queries_for_one_as_for_twenty(
    desk, django_assert_num_queries
):
    one, twenty = _assigned(desk, 1), _assigned(desk, 20)
    before = _settled(desk)

    with rls.tenant_scope(desk.tenant.pk):
        # A process that has notified for the tenant before: its teams, services and
        # notification preferences are cached.
        notify_incident_events(_sla_events(desk, one, breach=True))
        # incidents, tenant, people; then publishing (in the caller's transaction): team
        # members, the notifications with their deliveries
        with django_assert_num_queries(5):
            notify_incident_events(_sla_events(desk, one, breach=True))
        with django_assert_num_queries(5):
            notify_incident_events(_sla_events(desk, twenty, breach=True))
        per_notification = {
            row["notification_id"]: row["n"]
            for row in Delivery.objects.filter(notification_id__gt=before)
            .values("notification_id")
            .annotate(n=Count("id"))
        }

    # Each event: the assignee, who is also the team's only member, once per channel
    assert sorted(per_notification.values()) == [2] * 22


# --- After commit only -------------------------------------------------------------------------


def _assign_and_declare_major_then_fail(desk, incident: Incident, pending: list[int]) -> None:
    with rls.tenant_scope(desk.tenant.pk):
        ids = {"tenant": desk.tenant, "incident_id": incident.pk, "actor": desk.admin}
        services.incident_assign(**ids, team=desk.l2, assignee=desk.l2_agent)
        services.incident_declare_major(**ids, commander=desk.manager, reason="All down.")
        pending.append(len(connection.run_on_commit))
        raise RuntimeError("the request failed after the writes")


def test_nothing_is_kept_or_sent_when_the_transaction_rolls_back(
    desk, django_capture_on_commit_callbacks
):
    # Given an incident
    incident = make_incident(desk)
    before = _settled(desk)
    with rls.tenant_scope(desk.tenant.pk):
        events_before = IncidentEvent.objects.filter(incident=incident).count()
    pending_before = len(connection.run_on_commit)
    pending: list[int] = []

    # When it is assigned and declared major, and then the transaction fails
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        _assign_and_declare_major_then_fail(desk, incident, pending)

    # Then the two deliveries pending before the failure were dropped with it: nothing was
    # captured, nothing sent, and nothing kept, neither events nor notifications
    assert pending == [pending_before + 2]
    assert (callbacks, mail.outbox) == ([], [])
    assert len(connection.run_on_commit) == pending_before
    assert _deliveries(desk, before) == []
    with rls.tenant_scope(desk.tenant.pk):
        assert IncidentEvent.objects.filter(incident=incident).count() == events_before


def test_a_failed_request_sends_nothing(desk, api_client, django_capture_on_commit_callbacks):
    # Given an incident and a stale ETag of it
    incident = make_incident(desk, "in_progress")
    before = _settled(desk)
    stale = f'"{incident.pk}-1"'

    # When an agent escalates with the stale ETag
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_client(desk.l1_agent).post(
            desk.url(f"{incident.reference}/escalate/"),
            {"reason": "Needs L2."},
            format="json",
            HTTP_IF_MATCH=stale,
        )

    assert response.status_code == 412
    assert (callbacks, mail.outbox, _deliveries(desk, before)) == ([], [], [])


def _settled(desk) -> int:
    """Deliver what setting up notified (recording an incident assigns it to l1), forget those
    e-mails, and answer the last notification so far: what follows is the test's."""
    deliveries_deliver_due(tenant_id=desk.tenant.pk)
    mail.outbox.clear()
    with rls.tenant_scope(desk.tenant.pk):
        return Notification.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _agent(desk, username: str, **fields: Any) -> Any:
    return MembershipFactory(
        tenant=desk.tenant, role=MembershipRole.AGENT, user=UserFactory(username=username, **fields)
    ).user
