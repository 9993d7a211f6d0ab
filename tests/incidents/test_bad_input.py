"""Bad input to the incidents API is a 400 naming the field, and writes nothing: no incident,
no event, and no incident number used up (the next good report is still INC-000001)."""

from typing import Any

import pytest

from incidents.models import Incident, IncidentEvent
from itsm.tenancy import rls
from itsm.tenancy.models import TenantCounter
from tests.factories import MembershipFactory, TeamFactory, TenantFactory, UserFactory
from tests.incidents.conftest import incident_state, make_incident

pytestmark = pytest.mark.django_db

VALID = {"title": "Mail is down", "service": "email", "impact": 2, "urgency": 2}


def _invalid(fields: dict[str, list[str]], code: str = "invalid") -> dict[str, Any]:
    return {"code": code, "message": "Invalid input.", "fields": fields}


def _written(desk) -> tuple[int, int, int]:
    """Incidents, events and counters of the tenant."""
    with rls.tenant_scope(desk.tenant.pk):
        return (
            Incident.objects.count(),
            IncidentEvent.objects.count(),
            TenantCounter.objects.count(),
        )


def _not_a_choice(value: Any) -> list[str]:
    return [f'"{value}" is not a valid choice.']


BAD_CREATES = [
    (
        "unknown service",
        {**VALID, "service": "fax"},
        {"service": ["Object with slug=fax does not exist."]},
    ),
    (
        "another tenant's team",
        {**VALID, "assignment_team": "night-shift"},
        {"assignment_team": ["Object with slug=night-shift does not exist."]},
    ),
    ("impact 0", {**VALID, "impact": 0}, {"impact": _not_a_choice(0)}),
    ("impact 4", {**VALID, "impact": 4}, {"impact": _not_a_choice(4)}),
    ('impact "high"', {**VALID, "impact": "high"}, {"impact": _not_a_choice("high")}),
    ("urgency null", {**VALID, "urgency": None}, {"urgency": ["This field may not be null."]}),
    ("no title", {"service": "email"}, {"title": ["This field is required."]}),
    ("empty title", {**VALID, "title": ""}, {"title": ["This field may not be blank."]}),
    ("blank title", {**VALID, "title": "   "}, {"title": ["This field may not be blank."]}),
    (
        "title of 201 characters",
        {**VALID, "title": "t" * 201},
        {"title": ["Ensure this field has no more than 200 characters."]},
    ),
    (
        "description of 20,001 characters",
        {**VALID, "description": "d" * 20001},
        {"description": ["Ensure this field has no more than 20000 characters."]},
    ),
    ("unknown field", {**VALID, "severity": "sev1"}, {"severity": ["Unknown field."]}),
    ("status is not input", {**VALID, "status": "closed"}, {"status": ["Unknown field."]}),
    ("tenant is not input", {**VALID, "tenant": "globex"}, {"tenant": ["Unknown field."]}),
    (
        "unknown reporter",
        {**VALID, "reported_by": "nobody"},
        {"reported_by": ["Object with username=nobody does not exist."]},
    ),
    (
        "another tenant's user as assignee",
        {**VALID, "assignee": "gus"},
        {"assignee": ["Object with username=gus does not exist."]},
    ),
    (
        "source not a choice",
        {**VALID, "source": "pigeon"},
        {"source": _not_a_choice("pigeon")},
    ),
    (
        "occurred_at not a time",
        {**VALID, "occurred_at": "yesterday"},
        {
            "occurred_at": [
                (
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                )
            ]
        },
    ),
]


@pytest.fixture
def globex(desk) -> None:
    """Another tenant with a team "night-shift" and a member "gus"."""
    other = TenantFactory(slug="globex", name="Globex")
    TeamFactory(tenant=other, slug="night-shift")
    MembershipFactory(tenant=other, user=UserFactory(username="gus"))


@pytest.mark.parametrize(
    ("case", "body", "fields"), BAD_CREATES, ids=[case for case, _, _ in BAD_CREATES]
)
def test_bad_create_writes_nothing(desk, api_client, globex, case, body, fields):
    client = api_client(desk.l1_agent)

    # When an agent records an incident with the bad input
    response = client.post(desk.url(), body, format="json")

    # Then it is refused on that field, and nothing is written
    assert (response.status_code, response.json()) == (400, _invalid(fields)), case
    assert _written(desk) == (0, 0, 0)

    # And the next good report still gets the first number
    good = client.post(desk.url(), VALID, format="json")
    assert good.status_code == 201, good.content
    assert good.json()["reference"] == "INC-000001"


def test_assignee_outside_the_named_team_on_create_writes_nothing(desk, api_client):
    client = api_client(desk.l1_agent)

    response = client.post(
        desk.url(), {**VALID, "assignment_team": "l2", "assignee": "lou-l3"}, format="json"
    )

    assert (response.status_code, response.json()) == (
        400,
        _invalid({"assignee": ["Is not a member of team l2."]}, code="invalid_assignment"),
    )
    assert _written(desk) == (0, 0, 0)
    assert client.post(desk.url(), VALID, format="json").json()["reference"] == "INC-000001"


def test_malformed_json_is_a_parse_error(desk, api_client):
    client = api_client(desk.l1_agent)

    response = client.post(
        desk.url(), data='{"title": "Mail is down",', content_type="application/json"
    )

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["fields"]) == ("parse_error", {})
    assert body["message"].startswith("JSON parse error")
    assert _written(desk) == (0, 0, 0)
    assert client.post(desk.url(), VALID, format="json").json()["reference"] == "INC-000001"


def test_a_body_that_is_not_an_object_is_refused(desk, api_client):
    response = api_client(desk.l1_agent).post(desk.url(), ["Mail is down"], format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Invalid data. Expected a dictionary, but got list.",
        "fields": {},
    }
    assert _written(desk) == (0, 0, 0)


# --- Actions -----------------------------------------------------------------------------------

BAD_ACTIONS = [
    (
        "hold without a reason",
        "in_progress",
        "hold",
        {"note": "Waiting."},
        _invalid({"hold_reason": ["This field is required."]}),
    ),
    (
        "hold with an unknown reason",
        "in_progress",
        "hold",
        {"hold_reason": "napping"},
        _invalid({"hold_reason": _not_a_choice("napping")}),
    ),
    (
        "resolve without a code",
        "in_progress",
        "resolve",
        {"resolution_notes": "Restarted."},
        _invalid({"resolution_code": ["This field is required."]}),
    ),
    (
        "resolve without notes",
        "in_progress",
        "resolve",
        {"resolution_code": "fixed"},
        _invalid({"resolution_notes": ["This field is required."]}),
    ),
    (
        "resolve with blank notes",
        "in_progress",
        "resolve",
        {"resolution_code": "fixed", "resolution_notes": " "},
        _invalid({"resolution_notes": ["This field may not be blank."]}),
    ),
    (
        "resolve with an unknown code",
        "in_progress",
        "resolve",
        {"resolution_code": "magic", "resolution_notes": "It went away."},
        _invalid({"resolution_code": _not_a_choice("magic")}),
    ),
    (
        "escalate without a reason",
        "new",
        "escalate",
        {"kind": "functional"},
        _invalid({"reason": ["This field is required."]}),
    ),
    (
        "escalate of an unknown kind",
        "new",
        "escalate",
        {"kind": "sideways", "reason": "Why not."},
        _invalid({"kind": _not_a_choice("sideways")}),
    ),
    (
        "assign to an agent outside the named team",
        "new",
        "assign",
        {"team": "l2", "assignee": "lou-l3"},
        _invalid({"assignee": ["Is not a member of team l2."]}, code="invalid_assignment"),
    ),
    (
        "assign to a requester",
        "new",
        "assign",
        {"assignee": "ralf-requester"},
        _invalid({"assignee": ["Must be an agent of this tenant."]}, code="invalid_assignment"),
    ),
    (
        "assign to nobody",
        "new",
        "assign",
        {},
        _invalid({"team": ["Name a team, an assignee or both."]}),
    ),
    (
        "declare major with a requester as commander",
        "in_progress",
        "declare-major",
        {"commander": "rita-requester", "reason": "Everyone is affected."},
        _invalid({"commander": ["Must be an agent of this tenant."]}, code="invalid_assignment"),
    ),
    (
        "declare major without a commander",
        "in_progress",
        "declare-major",
        {"reason": "Everyone is affected."},
        _invalid({"commander": ["This field is required."]}),
    ),
    (
        "change priority with impact 5",
        "new",
        "change-priority",
        {"impact": 5, "urgency": 1, "reason": "Worse."},
        _invalid({"impact": _not_a_choice(5)}),
    ),
    (
        "change priority without a reason",
        "new",
        "change-priority",
        {"impact": 1, "urgency": 1},
        _invalid({"reason": ["This field is required."]}),
    ),
    (
        "cancel without a reason",
        "new",
        "cancel",
        {},
        _invalid({"reason": ["This field is required."]}),
    ),
    (
        "comment without a body",
        "new",
        "comment",
        {"body": ""},
        _invalid({"body": ["This field may not be blank."]}),
    ),
    (
        "acknowledge with input it does not take",
        "new",
        "acknowledge",
        {"assignee": "lena-l1"},
        _invalid({"assignee": ["Unknown field."]}),
    ),
]


@pytest.mark.parametrize(
    ("case", "state", "path", "body", "expected"),
    BAD_ACTIONS,
    ids=[case for case, *_ in BAD_ACTIONS],
)
def test_bad_action_input_changes_nothing(desk, api_client, case, state, path, body, expected):
    incident = make_incident(desk, state)
    before = incident_state(desk, incident)

    response = api_client(desk.admin).post(
        desk.url(f"{incident.reference}/{path}/"), body, format="json"
    )

    assert (response.status_code, response.json()) == (400, expected), case
    assert incident_state(desk, incident) == before


def test_functional_escalation_from_the_last_tier_names_the_team(desk, api_client):
    # Given an incident with L3, which has no next tier
    incident = make_incident(desk, "in_progress", assignment_team=desk.l3)
    before = incident_state(desk, incident)

    # When an agent escalates it functionally without naming a team
    response = api_client(desk.l3_agent).post(
        desk.url(f"{incident.reference}/escalate/"),
        {"kind": "functional", "reason": "Beyond us."},
        format="json",
    )

    # Then it is refused on the team field with no_escalation_target; nothing changes
    assert (response.status_code, response.json()) == (
        400,
        _invalid({"team": ["Name the team to escalate to."]}, code="no_escalation_target"),
    )
    assert incident_state(desk, incident) == before


def test_functional_escalation_to_the_same_team_names_the_team(desk, api_client):
    incident = make_incident(desk, "in_progress")
    before = incident_state(desk, incident)

    response = api_client(desk.l1_agent).post(
        desk.url(f"{incident.reference}/escalate/"),
        {"kind": "functional", "team": "l1", "reason": "Round in circles."},
        format="json",
    )

    assert (response.status_code, response.json()) == (
        400,
        _invalid({"team": ["Name the team to escalate to."]}, code="no_escalation_target"),
    )
    assert incident_state(desk, incident) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("declare-major/", {"commander": "mia-manager\x00", "reason": "Everyone."}, "commander"),
        ("assign/", {"team": "l2\x00"}, "team"),
        ("escalate/", {"team": "\x00", "reason": "Needs L2."}, "team"),
    ],
)
def test_a_nul_in_a_linked_name_is_a_400_not_a_database_error(desk, api_client, path, body, field):
    # Given an incident (a NUL in a looked-up name once reached PostgreSQL: a 500)
    incident = make_incident(desk)
    before = incident_state(desk, incident)

    # When an admin names a member or team with a NUL character in it
    response = api_client(desk.admin).post(
        desk.url(f"{incident.reference}/{path}"), body, format="json"
    )

    # Then it is refused on that field and nothing changes
    assert (response.status_code, response.json()) == (
        400,
        _invalid({field: ["Null characters are not allowed."]}),
    )
    assert incident_state(desk, incident) == before


def test_a_date_filter_with_an_offset_postgresql_refuses_is_compared_in_utc(desk, api_client):
    # Python accepts UTC offsets up to ±23:59, PostgreSQL only up to ±15:59 (a 500 before)
    incident = make_incident(desk)

    response = api_client(desk.l1_agent).get(
        desk.url(), {"created_after": "2000-01-01T00:00:00+16:23"}
    )

    assert response.status_code == 200, response.content
    assert [item["reference"] for item in response.json()["results"]] == [incident.reference]


def test_a_date_filter_that_leaves_the_calendar_in_utc_is_a_400(desk, api_client):
    response = api_client(desk.l1_agent).get(
        desk.url(), {"created_after": "0001-01-01T00:00:00+10:00"}
    )

    assert (response.status_code, response.json()) == (
        400,
        _invalid({"created_after": ["Date-time out of range."]}),
    )
