"""Who is e-mailed when an incident is routed, escalated or declared major: after commit only.

The notification task runs eagerly here, so the on-commit callbacks send the mail in-process.
"""

from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django_stubs_ext import StrOrPromise

from incidents import services
from incidents.models import Incident, IncidentEvent
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Team
from tests.factories import MembershipFactory, TeamMemberFactory, UserFactory
from tests.incidents.conftest import make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager_tasks(settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True


def _sent() -> list[tuple[StrOrPromise, list[str]]]:
    return [(message.subject, message.to) for message in mail.outbox]


def _post(api_client, desk, user: Any, incident: Incident, path: str, body: dict[str, Any]) -> Any:
    response = api_client(user).post(desk.url(f"{incident.reference}/{path}/"), body, format="json")
    assert response.status_code in (200, 201), response.content
    return response


def test_assignment_emails_the_assignee(desk, api_client, django_capture_on_commit_callbacks):
    incident = make_incident(desk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _post(api_client, desk, desk.l1_agent, incident, "assign", {"assignee": "lena-l1"})

    assert len(callbacks) == 1
    assert _sent() == [("Assigned to you: [INC-000001] Mail is down", ["lena-l1@example.com"])]
    assert mail.outbox[0].body.startswith("lena-l1 assigned INC-000001 to you.\n\n")


def test_assignment_to_a_team_emails_its_members(
    desk, api_client, django_capture_on_commit_callbacks
):
    # Given team l2 with two members with an address and one without
    TeamMemberFactory(tenant=desk.tenant, team=desk.l2, user=_agent(desk, "lia-l2"))
    TeamMemberFactory(tenant=desk.tenant, team=desk.l2, user=_agent(desk, "lee-l2", email=""))
    incident = make_incident(desk)

    # When the incident is assigned to l2 without an assignee
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _post(api_client, desk, desk.l1_agent, incident, "assign", {"team": "l2"})

    # Then each member with an address hears of it, in one message
    assert len(callbacks) == 1
    assert _sent() == [
        (
            "Assigned to you: [INC-000001] Mail is down",
            ["leo-l2@example.com", "lia-l2@example.com"],
        )
    ]


def test_assignment_to_a_team_with_an_address_emails_the_team(
    desk, api_client, django_capture_on_commit_callbacks
):
    # Given team l2 has its own address
    with rls.tenant_scope(desk.tenant.pk):
        Team.objects.filter(pk=desk.l2.pk).update(email="l2@acme.example")
    incident = make_incident(desk)

    with django_capture_on_commit_callbacks(execute=True):
        _post(api_client, desk, desk.l1_agent, incident, "assign", {"team": "l2"})

    assert _sent() == [("Assigned to you: [INC-000001] Mail is down", ["l2@acme.example"])]


def test_functional_escalation_emails_the_new_team(
    desk, api_client, django_capture_on_commit_callbacks
):
    incident = make_incident(desk, "in_progress")  # with l1

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


def test_hierarchical_escalation_emails_management(
    desk, api_client, django_capture_on_commit_callbacks
):
    # Given an incident in progress with l1, and a second manager
    TeamMemberFactory(tenant=desk.tenant, team=desk.management, user=_agent(desk, "max-manager"))
    incident = make_incident(desk, "in_progress")

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

    # Then the managers are e-mailed, the team stays, and management is engaged from now on
    assert len(callbacks) == 1
    assert _sent() == [
        (
            "Management engaged: [INC-000001] Mail is down",
            ["max-manager@example.com", "mia-manager@example.com"],
        )
    ]
    body = response.json()
    assert (body["assignment_team"], body["escalation_count"]) == ("l1", 1)
    assert body["management_engaged_at"] is not None
    with rls.tenant_scope(desk.tenant.pk):
        incident.refresh_from_db()
    assert incident.management_engaged_at is not None


def test_declaring_a_major_incident_emails_the_commander_and_management(
    desk, api_client, django_capture_on_commit_callbacks
):
    incident = make_incident(desk, "in_progress")

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
        (
            "MAJOR INCIDENT: [INC-000001] Mail is down",
            ["leo-l2@example.com", "mia-manager@example.com"],
        )
    ]
    assert mail.outbox[0].body.startswith(
        "mia-manager declared a major incident; commander: leo-l2.\n\nNobody can send mail.\n\n"
    )


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
def test_other_events_email_nobody(
    desk, api_client, django_capture_on_commit_callbacks, path, state, body
):
    incident = make_incident(desk, state)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _post(api_client, desk, desk.admin, incident, path, body)

    assert (callbacks, mail.outbox) == ([], [])


def _assign_and_declare_major_then_fail(desk, incident: Incident, pending: list[int]) -> None:
    with rls.tenant_scope(desk.tenant.pk):
        ids = {"tenant": desk.tenant, "incident_id": incident.pk, "actor": desk.admin}
        services.incident_assign(**ids, team=desk.l2, assignee=desk.l2_agent)
        services.incident_declare_major(**ids, commander=desk.manager, reason="All down.")
        pending.append(len(connection.run_on_commit))
        raise RuntimeError("the request failed after the writes")


def test_nothing_is_sent_when_the_transaction_rolls_back(desk, django_capture_on_commit_callbacks):
    # Given an incident
    incident = make_incident(desk)
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

    # Then the two notifications pending before the failure were dropped with it: nothing was
    # captured, nothing sent, and nothing kept
    assert pending == [pending_before + 2]
    assert (callbacks, mail.outbox) == ([], [])
    assert len(connection.run_on_commit) == pending_before
    with rls.tenant_scope(desk.tenant.pk):
        assert IncidentEvent.objects.filter(incident=incident).count() == events_before


def test_a_failed_request_sends_nothing(desk, api_client, django_capture_on_commit_callbacks):
    # Given an incident and a stale ETag of it
    incident = make_incident(desk, "in_progress")
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
    assert (callbacks, mail.outbox) == ([], [])


def _agent(desk, username: str, **fields: Any) -> Any:
    return MembershipFactory(
        tenant=desk.tenant, role=MembershipRole.AGENT, user=UserFactory(username=username, **fields)
    ).user
