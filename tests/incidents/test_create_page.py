"""Record an incident in the workspace: the agent's form and the requester's simpler one, both
through the same service as the API; bad input is a 400 re-rendering the form, never a 500."""

import re
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.choices import EventKind
from incidents.models import Incident, IncidentEvent, PriorityLabel, PriorityMatrixCell
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import TenantCounter
from tests.factories import (
    CategoryFactory,
    MembershipFactory,
    ServiceFactory,
    TeamFactory,
    TenantFactory,
    TenantOwnedFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


class PriorityMatrixCellFactory(TenantOwnedFactory[PriorityMatrixCell]):
    class Meta:
        model = PriorityMatrixCell


class PriorityLabelFactory(TenantOwnedFactory[PriorityLabel]):
    class Meta:
        model = PriorityLabel


def _url(desk) -> str:
    return reverse("incidents:create", args=[desk.tenant.slug])


def _written(desk) -> tuple[int, int, int]:
    """Incidents, events and counters of the tenant: what a refused post must not change."""
    with rls.tenant_scope(desk.tenant.pk):
        return (
            Incident.objects.count(),
            IncidentEvent.objects.count(),
            TenantCounter.objects.count(),
        )


def _incident(desk, reference: str = "INC-000001") -> Incident:
    number = int(reference.split("-")[1])
    with rls.tenant_scope(desk.tenant.pk):
        return Incident.objects.select_related(
            "reported_by", "service", "category", "assignment_team", "assignee"
        ).get(tenant=desk.tenant, number=number)


def _field_errors(html: str, name: str) -> str:
    """The error paragraph of field `name`, which its input names in aria-describedby."""
    found = re.search(rf'<p class="error" id="id_{name}_error">(.*?)</p>', html, re.DOTALL)
    return found.group(1).strip() if found else ""


def _agent_post(desk, **overrides: Any) -> dict[str, Any]:
    return {
        "reported_by": desk.requester.pk,
        "title": "Mail is down",
        "description": "Outlook cannot connect since 9:00.",
        "service": desk.service.pk,
        "category": desk.category.pk,
        "impact": "1",
        "urgency": "2",
        "source": "monitoring",
        "assignment_team": "",
        "assignee": "",
        **overrides,
    }


# --- Agents ---------------------------------------------------------------------------------


def test_agent_records_with_priority_from_the_tenant_matrix_and_the_source(client, desk):
    # Given a tenant whose matrix rates high impact × medium urgency SEV1 (the default: SEV2)
    PriorityMatrixCellFactory(tenant=desk.tenant, impact=1, urgency=2, priority=1)
    client.force_login(desk.l1_agent)

    # When an agent records a caller's incident detected by monitoring
    response = client.post(_url(desk), _agent_post(desk))

    # Then they are sent to the record, told so, and the incident is as the form said
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/t/acme/incidents/INC-000001/"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "INC-000001 recorded: Mail is down"
    ]
    incident = _incident(desk)
    assert (incident.impact, incident.urgency, incident.priority) == (1, 2, 1)
    assert incident.source == "monitoring"
    assert incident.reported_by == desk.requester
    assert (incident.service, incident.category) == (desk.service, desk.category)
    assert incident.description == "Outlook cannot connect since 9:00."
    assert (incident.assignment_team, incident.assignee) == (None, None)
    with rls.tenant_scope(desk.tenant.pk):
        created = IncidentEvent.objects.get(incident=incident, kind=EventKind.CREATED)
    assert created.actor == desk.l1_agent
    assert created.data == {"priority": 1, "source": "monitoring"}


def test_caller_left_empty_is_the_agent(client, desk):
    client.force_login(desk.l1_agent)

    response = client.post(_url(desk), _agent_post(desk, reported_by="", service="", category=""))

    assert response.status_code == 302
    incident = _incident(desk)
    assert incident.reported_by == desk.l1_agent
    assert (incident.service, incident.category) == (None, None)
    assert incident.priority == 2  # the default matrix: high impact × medium urgency


def test_agent_routes_at_create(client, desk):
    client.force_login(desk.l1_agent)

    response = client.post(
        _url(desk), _agent_post(desk, assignment_team=desk.l2.pk, assignee=desk.l2_agent.pk)
    )

    assert response.status_code == 302
    incident = _incident(desk)
    assert (incident.assignment_team, incident.assignee) == (desk.l2, desk.l2_agent)
    assert incident.first_assigned_at is not None


def test_assignee_outside_the_team_is_the_service_refusal_on_the_field(client, desk):
    client.force_login(desk.l1_agent)

    response = client.post(
        _url(desk), _agent_post(desk, assignment_team=desk.l2.pk, assignee=desk.l3_agent.pk)
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert _field_errors(html, "assignee") == "Is not a member of team l2."
    assert 'aria-describedby="id_assignee_helptext id_assignee_error"' in html
    assert _written(desk) == (0, 0, 0)


def test_agent_form_shows_the_tenant_matrix_for_the_preview(client, desk):
    # Given a tenant that renamed SEV1 and rates low × low SEV3
    PriorityMatrixCellFactory(tenant=desk.tenant, impact=3, urgency=3, priority=3)
    PriorityLabelFactory(tenant=desk.tenant, priority=1, label="P1 critical")
    client.force_login(desk.admin)

    response = client.get(_url(desk))

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["priority_preview"]["matrix"]["1,1"] == 1
    assert response.context["priority_preview"]["matrix"]["3,3"] == 3
    assert response.context["priority_preview"]["labels"]["1"] == "P1 critical"
    assert '<script id="priority-matrix" type="application/json">' in html
    assert 'data-impact="id_impact" data-urgency="id_urgency">SEV3</output>' in html
    for name in ["reported_by", "service", "category", "source", "assignment_team", "assignee"]:
        assert f'name="{name}"' in html
    # Labels for the inputs, help linked to them, required marked
    assert '<label for="id_title">Title <span class="muted">(required)</span></label>' in html
    assert 'aria-describedby="id_title_helptext"' in html


def _options(html: str, name: str) -> list[str]:
    """The labels of the options of select `name`, the empty choice left out."""
    select = re.search(rf'<select name="{name}".*?</select>', html, re.DOTALL)
    assert select is not None, name
    return re.findall(r'<option value="[^"]+"[^>]*>(.*?)</option>', select.group(0))


def test_agent_selects_offer_the_tenant_active_options_only(client, desk, tenant_b):
    ServiceFactory(tenant=desk.tenant, name="Retired fax", is_active=False, owner_team=desk.l2)
    CategoryFactory(tenant=desk.tenant, name="Retired category", is_active=False)
    CategoryFactory(tenant=desk.tenant, name="Outlook", parent=desk.category)
    ServiceFactory(tenant=tenant_b, name="Service of B")
    MembershipFactory(tenant=tenant_b, user=UserFactory(username="member-of-b"))
    client.force_login(desk.l1_agent)

    html = client.get(_url(desk)).content.decode()

    assert _options(html, "service") == [desk.service.name]
    assert _options(html, "category") == [desk.category.name, f"{desk.category.name} / Outlook"]
    assert _options(html, "assignment_team") == sorted(
        team.name for team in [desk.l1, desk.l2, desk.l3, desk.management]
    )
    agents = ["ada-admin", "lena-l1", "leo-l2", "lou-l3", "mia-manager", "otto-outsider"]
    assert _options(html, "assignee") == agents
    assert _options(html, "reported_by") == sorted([*agents, "ralf-requester", "rita-requester"])
    assert "member-of-b" not in html


# --- Requesters -----------------------------------------------------------------------------


def test_requester_reports_for_themselves(client, desk):
    client.force_login(desk.requester)

    page = client.get(_url(desk))
    response = client.post(_url(desk), {"title": "Printer jammed", "description": "Floor 2."})

    # The simpler form: no caller, classification, rating or routing
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="title"' in html
    for name in ["reported_by", "service", "impact", "source", "assignment_team", "assignee"]:
        assert f'name="{name}"' not in html
    assert "data-priority-preview" not in html
    # They are the caller; the rest is the service's default
    assert response.status_code == 302
    assert response["Location"] == "/t/acme/incidents/INC-000001/"
    incident = _incident(desk)
    assert incident.reported_by == desk.requester
    assert (incident.source, incident.priority) == ("portal", 4)
    assert (incident.service, incident.assignment_team, incident.assignee) == (None, None, None)


@pytest.mark.parametrize(
    "extra",
    [
        {"assignment_team": "l1"},
        {"assignee": "lena-l1"},
        {"impact": "1", "urgency": "1"},
        {"reported_by": "ralf-requester"},
        {"service": "email"},
        {"source": "monitoring"},
    ],
    ids=lambda extra: ",".join(extra),
)
def test_requester_posting_agent_fields_by_hand_is_refused(client, desk, extra):
    # As the API refuses them ("Unknown field."), the page does: nothing is recorded
    client.force_login(desk.requester)
    body = {"title": "Printer jammed", **extra}
    if "assignment_team" in extra:
        body["assignment_team"] = desk.l1.pk
    if "assignee" in extra:
        body["assignee"] = desk.l1_agent.pk

    response = client.post(_url(desk), body)

    assert response.status_code == 400
    html = response.content.decode()
    assert f"This form does not take these fields: {', '.join(sorted(extra))}." in html
    assert 'value="Printer jammed"' in html  # nothing typed is lost
    assert _written(desk) == (0, 0, 0)


# --- Bad input ------------------------------------------------------------------------------


@pytest.fixture
def globex(desk) -> dict[str, Any]:
    """Another tenant's service, category, team and member: ids to post by hand."""
    other = TenantFactory(slug="globex", name="Globex")
    return {
        "service": ServiceFactory(tenant=other, slug="email").pk,
        "category": CategoryFactory(tenant=other).pk,
        "team": TeamFactory(tenant=other).pk,
        "user": MembershipFactory(tenant=other, user=UserFactory(username="gus")).user.pk,
    }


INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."

BAD_POSTS = [
    ("another tenant's service", {"service": "globex:service"}, "service", INVALID_CHOICE),
    ("another tenant's category", {"category": "globex:category"}, "category", INVALID_CHOICE),
    ("another tenant's team", {"assignment_team": "globex:team"}, "assignment_team", None),
    ("another tenant's caller", {"reported_by": "globex:user"}, "reported_by", INVALID_CHOICE),
    ("another tenant's assignee", {"assignee": "globex:user"}, "assignee", INVALID_CHOICE),
    ("a requester as assignee", {"assignee": "desk:requester"}, "assignee", INVALID_CHOICE),
    ("service not a number", {"service": "email"}, "service", INVALID_CHOICE),
    ("inactive service", {"service": "desk:retired"}, "service", INVALID_CHOICE),
    ("missing title", {"title": ""}, "title", "This field is required."),
    ("blank title", {"title": "   "}, "title", "This field is required."),
    (
        "title of 201 characters",
        {"title": "t" * 201},
        "title",
        "Ensure this value has at most 200 characters (it has 201).",
    ),
    (
        "description of 20,001 characters",
        {"description": "d" * 20001},
        "description",
        "Ensure this value has at most 20000 characters (it has 20001).",
    ),
    ("title with a NUL", {"title": "a\x00b"}, "title", "Null characters are not allowed."),
    ("impact 4", {"impact": "4"}, "impact", None),
    ("impact not a number", {"impact": "high"}, "impact", None),
    ("urgency missing", {"urgency": ""}, "urgency", "This field is required."),
    ("unknown source", {"source": "pigeon"}, "source", None),
    ("priority posted by hand", {"priority": "1"}, None, None),
    ("status posted by hand", {"status": "closed"}, None, None),
]


@pytest.mark.parametrize(
    ("case", "overrides", "field", "message"), BAD_POSTS, ids=[case for case, *_ in BAD_POSTS]
)
def test_bad_post_rerenders_the_form_with_400_and_writes_nothing(
    client, desk, globex, case, overrides, field, message
):
    retired = ServiceFactory(tenant=desk.tenant, is_active=False).pk
    named = {"desk:requester": desk.requester.pk, "desk:retired": retired}
    named.update({f"globex:{key}": value for key, value in globex.items()})
    body = _agent_post(desk, **{key: named.get(value, value) for key, value in overrides.items()})
    client.force_login(desk.l1_agent)

    # When an agent posts the bad input
    response = client.post(_url(desk), body)

    # Then the form comes back with the error on the field, what was typed kept
    assert response.status_code == 400, case
    html = response.content.decode()
    assert 'role="alert"' in html
    if field is None:
        assert "This form does not take these fields:" in html
    else:
        error = _field_errors(html, field)
        assert error, case
        if message is not None:
            assert error == message.replace("'", "&#x27;"), case
        assert f'aria-describedby="id_{field}_helptext id_{field}_error"' in html or (
            f'aria-describedby="id_{field}_error"' in html
        )
        assert f'<a href="#id_{field}">' in html
    if field != "description":
        assert "Outlook cannot connect since 9:00." in html
    # And nothing was written, not even a number used up
    assert _written(desk) == (0, 0, 0)


def test_after_a_refusal_the_next_good_post_gets_the_first_number(client, desk, globex):
    client.force_login(desk.l1_agent)

    refused = client.post(_url(desk), _agent_post(desk, service=globex["service"]))
    good = client.post(_url(desk), _agent_post(desk))

    assert refused.status_code == 400
    assert good["Location"] == "/t/acme/incidents/INC-000001/"


# --- Access ---------------------------------------------------------------------------------


def test_non_member_gets_404_and_writes_nothing(client, desk, tenant_b, make_member):
    client.force_login(make_member(tenant_b, MembershipRole.TENANT_ADMIN))

    page = client.get(_url(desk))
    post = client.post(_url(desk), _agent_post(desk))

    assert (page.status_code, post.status_code) == (404, 404)
    assert _written(desk) == (0, 0, 0)


def test_anonymous_is_sent_to_log_in_and_writes_nothing(client, desk):
    response = client.post(_url(desk), _agent_post(desk))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert _written(desk) == (0, 0, 0)


# --- Query count ----------------------------------------------------------------------------


def _get_queries(client, desk) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_url(desk))
    assert response.status_code == 200
    return len(queries)


def test_get_queries_do_not_grow_with_services_categories_teams_and_members(client, desk):
    client.force_login(desk.l1_agent)
    ServiceFactory.create_batch(2, tenant=desk.tenant)
    CategoryFactory.create_batch(2, tenant=desk.tenant)
    _get_queries(client, desk)  # the tenant's configuration is cached from here on
    few = _get_queries(client, desk)

    parent = CategoryFactory(tenant=desk.tenant)
    ServiceFactory.create_batch(27, tenant=desk.tenant)
    CategoryFactory.create_batch(27, tenant=desk.tenant, parent=parent)
    TeamFactory.create_batch(10, tenant=desk.tenant)
    for _ in range(10):
        MembershipFactory(tenant=desk.tenant)
    _get_queries(client, desk)  # new services, categories and teams: the cache is filled again
    many = _get_queries(client, desk)

    assert many == few


def test_a_body_past_the_upload_limit_is_a_400(client, desk, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    client.force_login(desk.l1_agent)

    response = client.post(_url(desk), _agent_post(desk, description="d" * 200_000))

    assert response.status_code == 400
    assert _written(desk) == (0, 0, 0)
