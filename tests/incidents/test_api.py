"""The incidents API: recording, reading with an ETag, optimistic editing, filters, search,
ordering, cursor pagination, and a list whose query count does not grow with its length."""

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import Incident, IncidentEvent
from itsm.tenancy import rls
from tests.factories import (
    CategoryFactory,
    IncidentFactory,
    ServiceFactory,
    TeamFactory,
    TenantFactory,
)
from tests.incidents.conftest import incident_state, make_incident

pytestmark = pytest.mark.django_db


def _events(desk, incident_pk: int) -> list[tuple[str, dict[str, Any]]]:
    with rls.tenant_scope(desk.tenant.pk):
        return [
            (event.kind, event.data)
            for event in IncidentEvent.objects.filter(incident_id=incident_pk).order_by("id")
        ]


def _references(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["reference"] for item in response.json()["results"]]


def _at(month: int, day: int = 1) -> datetime:
    return datetime(2026, month, day, 9, 0, tzinfo=UTC)


# --- Recording ---------------------------------------------------------------------------------


def test_create_numbers_rates_and_records(desk, api_client):
    client = api_client(desk.l1_agent)

    # When an agent records two incidents
    first = client.post(
        desk.url(),
        {"title": "Mail is down", "impact": 1, "urgency": 2, "service": "email"},
        format="json",
    )
    second = client.post(desk.url(), {"title": "VPN drops"}, format="json")

    # Then they are numbered in order and rated by the default matrix
    assert first.status_code == 201, first.content
    assert second.status_code == 201, second.content
    body = first.json()
    assert (body["reference"], body["impact"], body["urgency"], body["priority"]) == (
        "INC-000001",
        1,
        2,
        2,
    )
    assert (body["priority_label"], body["status"], body["version"]) == ("SEV2", "new", 1)
    assert (body["reported_by"], body["service"], body["assignment_team"]) == (
        "lena-l1",
        "email",
        None,
    )
    assert body["allowed_actions"] == ["acknowledge", "assign", "escalate", "cancel"]
    # low impact × low urgency is SEV4
    assert (second.json()["reference"], second.json()["priority"]) == ("INC-000002", 4)
    with rls.tenant_scope(desk.tenant.pk):
        incident = Incident.objects.get(number=1)
        assert first["ETag"] == '"INC-000001-1"'
        created = IncidentEvent.objects.get(incident=incident)
    assert (created.kind, created.actor, created.is_public, created.to_status) == (
        "created",
        desk.l1_agent,
        True,
        "new",
    )
    assert created.data == {"priority": 2, "source": "user"}


@pytest.mark.parametrize(
    ("impact", "urgency", "priority", "label"),
    [
        (1, 1, 1, "SEV1"),
        (1, 2, 2, "SEV2"),
        (1, 3, 3, "SEV3"),
        (2, 1, 2, "SEV2"),
        (2, 2, 3, "SEV3"),
        (2, 3, 4, "SEV4"),
        (3, 1, 3, "SEV3"),
        (3, 2, 4, "SEV4"),
        (3, 3, 4, "SEV4"),
    ],
)
def test_create_rates_by_the_default_matrix(desk, api_client, impact, urgency, priority, label):
    response = api_client(desk.l1_agent).post(
        desk.url(), {"title": "Mail is down", "impact": impact, "urgency": urgency}, format="json"
    )

    assert response.status_code == 201, response.content
    assert (response.json()["priority"], response.json()["priority_label"]) == (priority, label)


def test_create_with_a_team_records_the_assignment(desk, api_client):
    # When an agent records an incident for team l2 and its agent
    response = api_client(desk.l1_agent).post(
        desk.url(),
        {"title": "Mail is down", "assignment_team": "l2", "assignee": "leo-l2"},
        format="json",
    )

    # Then it is routed, and the timeline has the creation then the assignment
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["assignment_team"], body["assignee"], body["reassignment_count"]) == (
        "l2",
        "leo-l2",
        0,
    )
    assert body["first_assigned_at"] is not None
    with rls.tenant_scope(desk.tenant.pk):
        pk = Incident.objects.get().pk
    assert _events(desk, pk) == [
        ("created", {"priority": 4, "source": "user"}),
        (
            "assignment",
            {"from_team": None, "to_team": "l2", "from_assignee": None, "to_assignee": "leo-l2"},
        ),
    ]


# --- Reading and editing -----------------------------------------------------------------------


def test_detail_carries_the_etag(desk, api_client):
    incident = make_incident(desk, "in_progress")  # version 2: created, acknowledged

    response = api_client(desk.l1_agent).get(desk.url(f"{incident.reference}/"))

    assert response.status_code == 200
    assert response["ETag"] == '"INC-000001-2"'
    assert (response.json()["reference"], response.json()["version"]) == ("INC-000001", 2)


def test_patch_with_the_current_etag_edits_and_bumps_the_version(desk, api_client):
    # Given an incident read with its ETag
    incident = make_incident(desk)
    client = api_client(desk.l1_agent)
    etag = client.get(desk.url(f"{incident.reference}/"))["ETag"]
    assert etag == '"INC-000001-1"'

    # When the agent edits the title with If-Match
    response = client.patch(
        desk.url(f"{incident.reference}/"),
        {"title": "Mail is down for everyone"},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    # Then the edit is saved, the version grows, and the timeline records it
    assert response.status_code == 200, response.content
    assert (response.json()["title"], response.json()["version"]) == (
        "Mail is down for everyone",
        2,
    )
    assert response["ETag"] == '"INC-000001-2"'
    row, _events_count = incident_state(desk, incident)
    assert (row["title"], row["version"]) == ("Mail is down for everyone", 2)
    assert _events(desk, incident.pk)[-1] == ("fields", {"fields": ["title"]})


def test_patch_with_a_stale_etag_is_a_412(desk, api_client):
    # Given an agent's read, then a colleague's edit
    incident = make_incident(desk)
    client = api_client(desk.l1_agent)
    stale = client.get(desk.url(f"{incident.reference}/"))["ETag"]
    with rls.tenant_scope(desk.tenant.pk):
        services.incident_update(
            tenant=desk.tenant,
            incident_id=incident.pk,
            actor=desk.l2_agent,
            data={"description": "Since 9:00."},
        )
    before = incident_state(desk, incident)

    # When the agent edits with the stale ETag
    response = client.patch(
        desk.url(f"{incident.reference}/"),
        {"title": "Overwrite"},
        format="json",
        HTTP_IF_MATCH=stale,
    )

    # Then it is refused and the colleague's edit stands
    assert response.status_code == 412
    assert response.json() == {
        "code": "stale_version",
        "message": "INC-000001 has changed since you read it; reload and try again.",
        "fields": {},
        "current_version": 2,
    }
    assert incident_state(desk, incident) == before


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("status", "closed", "Unknown field."),
        ("priority", 1, "Unknown field."),
        ("assignee", "leo-l2", "Unknown field."),
        ("assignment_team", "l2", "Unknown field."),
        ("reported_by", "ralf-requester", "Unknown field."),
        ("version", 7, "Unknown field."),
        ("number", 99, "Unknown field."),
    ],
)
def test_patch_of_a_field_that_changes_through_actions_is_a_400(
    desk, api_client, field, value, reason
):
    incident = make_incident(desk)
    before = incident_state(desk, incident)

    response = api_client(desk.admin).patch(
        desk.url(f"{incident.reference}/"), {"title": "New title", field: value}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Invalid input.",
        "fields": {field: [reason]},
    }
    assert incident_state(desk, incident) == before


def test_patch_of_a_closed_incident_is_a_409(desk, api_client):
    incident = make_incident(desk, "closed")
    before = incident_state(desk, incident)

    response = api_client(desk.admin).patch(
        desk.url(f"{incident.reference}/"), {"title": "Too late"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "code": "invalid_transition",
        "message": "A closed incident cannot be edited.",
        "fields": {},
        "allowed_actions": [],
    }
    assert incident_state(desk, incident) == before


@pytest.mark.parametrize(
    ("path", "state", "body"),
    [
        ("acknowledge", "new", {}),
        ("assign", "new", {"team": "l2"}),
        ("escalate", "new", {"reason": "Needs L2."}),
        ("hold", "in_progress", {"hold_reason": "awaiting_caller"}),
        ("resume", "on_hold", {}),
        ("resolve", "in_progress", {"resolution_code": "fixed", "resolution_notes": "Done."}),
        ("close", "resolved", {}),
        ("reopen", "resolved", {}),
        ("cancel", "new", {"reason": "Duplicate."}),
        ("change-priority", "new", {"impact": 1, "urgency": 1, "reason": "Everyone."}),
        ("declare-major", "new", {"commander": "mia-manager", "reason": "Everyone."}),
    ],
)
def test_actions_with_a_stale_etag_are_a_412(desk, api_client, path, state, body):
    # Given an incident whose version has moved on since the ETag was taken
    incident = make_incident(desk, state)
    before = incident_state(desk, incident)
    stale = f'"{incident.reference}-{incident.version - 1}"'

    # When an admin acts with the stale ETag
    response = api_client(desk.admin).post(
        desk.url(f"{incident.reference}/{path}/"), body, format="json", HTTP_IF_MATCH=stale
    )

    # Then it is refused and nothing changes
    assert response.status_code == 412, response.content
    assert response.json()["code"] == "stale_version"
    assert response.json()["current_version"] == incident.version
    assert incident_state(desk, incident) == before


def test_an_absent_incident_is_a_404_before_its_input_or_if_match_is_judged(desk, api_client):
    # The action's service reads the incident; the view judges input and If-Match first, and
    # still answers an absent incident with a 404, not a 400 or a 412.
    incident = make_incident(desk)
    client = api_client(desk.admin)
    absent = desk.url("INC-999999/acknowledge/")

    assert client.post(absent, {"unknown": 1}, format="json").status_code == 404
    response = client.post(absent, {}, format="json", HTTP_IF_MATCH=incident.etag)
    assert response.status_code == 404
    # The same refusals on an incident that exists are a 400 and a 412.
    present = desk.url(f"{incident.reference}/acknowledge/")
    assert client.post(present, {"unknown": 1}, format="json").status_code == 400
    response = client.post(present, {}, format="json", HTTP_IF_MATCH=f'"{incident.reference}-x"')
    assert response.status_code == 412


def test_an_etag_of_another_incident_is_a_412(desk, api_client):
    incident = make_incident(desk)
    other = make_incident(desk, title="Other")
    before = incident_state(desk, incident)

    response = api_client(desk.admin).post(
        desk.url(f"{incident.reference}/acknowledge/"),
        {},
        format="json",
        HTTP_IF_MATCH=other.etag,
    )

    assert response.status_code == 412
    assert response.json() == {
        "code": "stale_version",
        "message": "If-Match does not name a version of this incident.",
        "fields": {},
    }
    assert incident_state(desk, incident) == before


def test_the_etag_tells_nothing_about_other_tenants(desk, api_client):
    # Given another tenant that has recorded incidents since this deployment began
    other = TenantFactory(slug="busy", name="Busy")
    with rls.tenant_scope(other.pk):
        IncidentFactory.create_batch(3, tenant=other)
    incident = make_incident(desk)
    assert incident.pk > 1  # the primary key counts every tenant's incidents

    # When a member of this tenant reads its first incident
    response = api_client(desk.l1_agent).get(desk.url(f"{incident.reference}/"))

    # Then the ETag names only this tenant's reference and the version (both in the body)
    assert response["ETag"] == '"INC-000001-1"'
    assert str(incident.pk) not in response["ETag"].replace("INC-000001", "")


@pytest.mark.parametrize(
    "if_match",
    [
        "old-format",  # "<pk>-<version>": the form before references, now stale
        '"INC-000001"',
        '"INC-000002-1"',
        '"INC-000001-"',
        '"INC-000001-x"',
        '"INC-000001-\u00b2"',  # a superscript two: a digit to str.isdigit, not to int()
        '"INC-000001-' + "9" * 5000 + '"',  # more digits than int() converts
        '"garbage"',
        '""',
    ],
)
def test_an_if_match_that_names_no_version_of_this_incident_is_a_412(desk, api_client, if_match):
    incident = make_incident(desk)
    if if_match == "old-format":
        if_match = f'"{incident.pk}-{incident.version}"'
    before = incident_state(desk, incident)

    response = api_client(desk.l1_agent).patch(
        desk.url(f"{incident.reference}/"), {"title": "Overwrite"}, HTTP_IF_MATCH=if_match
    )

    assert (response.status_code, response.json()) == (
        412,
        {
            "code": "stale_version",
            "message": "If-Match does not name a version of this incident.",
            "fields": {},
        },
    )
    assert incident_state(desk, incident) == before


def test_a_weak_etag_of_the_current_version_is_honoured(desk, api_client):
    incident = make_incident(desk)

    response = api_client(desk.l1_agent).patch(
        desk.url(f"{incident.reference}/"), {"title": "Edited"}, HTTP_IF_MATCH='W/"INC-000001-1"'
    )

    assert (response.status_code, response["ETag"]) == (200, '"INC-000001-2"')


def test_an_action_with_the_current_etag_succeeds(desk, api_client):
    incident = make_incident(desk)

    response = api_client(desk.l1_agent).post(
        desk.url(f"{incident.reference}/acknowledge/"),
        {},
        format="json",
        HTTP_IF_MATCH=incident.etag,
    )

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["version"]) == ("in_progress", 2)
    assert response["ETag"] == '"INC-000001-2"'


# --- Filters, search, ordering, pagination -----------------------------------------------------


@pytest.fixture
def spread(desk) -> dict[str, Incident]:
    """Five incidents that differ in every filtered field, created a month apart.

    a "Mail is down"  new          l1  -        email   software  user        SEV1
    b "VPN drops"     in_progress  l2  leo-l2   -       -         monitoring  SEV3
    c "Printer jam"   resolved     l1  lena-l1  -       hardware  email       SEV4  (Mar 2)
    d "Mail is slow"  on_hold      l1  lena-l1  email   software  chat        SEV2  major
    e "Laptop dead"   resolved     l3  lou-l3   -       hardware  user        SEV4  (May 2)
    """
    tenant = desk.tenant
    hardware = CategoryFactory(tenant=tenant, slug="hardware")
    with rls.tenant_scope(tenant.pk):

        def record(**data: Any) -> Incident:
            return services.incident_create(
                tenant=tenant, actor=desk.l1_agent, data={"reported_by": desk.requester, **data}
            )

        a = record(
            title="Mail is down",
            service=desk.service,
            category=desk.category,
            assignment_team=desk.l1,
            impact=1,
            urgency=1,
        )
        b = record(
            title="VPN drops",
            assignment_team=desk.l2,
            assignee=desk.l2_agent,
            source="monitoring",
            impact=2,
            urgency=2,
        )
        c = record(
            title="Printer jam",
            category=hardware,
            assignment_team=desk.l1,
            source="email",
            impact=3,
            urgency=3,
        )
        d = record(
            title="Mail is slow",
            service=desk.service,
            category=desk.category,
            assignment_team=desk.l1,
            source="chat",
            impact=2,
            urgency=1,
        )
        e = record(title="Laptop dead", category=hardware, assignment_team=desk.l3)
        act = {"tenant": tenant}
        services.incident_acknowledge(**act, incident_id=b.pk, actor=desk.l2_agent)
        for incident, agent in ((c, desk.l1_agent), (d, desk.l1_agent), (e, desk.l3_agent)):
            services.incident_acknowledge(**act, incident_id=incident.pk, actor=agent)
        for incident, agent in ((c, desk.l1_agent), (e, desk.l3_agent)):
            services.incident_resolve(
                **act,
                incident_id=incident.pk,
                actor=agent,
                resolution_code="fixed",
                resolution_notes="Replaced.",
            )
        services.incident_hold(
            **act, incident_id=d.pk, actor=desk.l1_agent, hold_reason="awaiting_vendor"
        )
        services.incident_declare_major(
            **act, incident_id=d.pk, actor=desk.manager, commander=desk.manager, reason="All."
        )
        for month, incident in enumerate((a, b, c, d, e), start=1):
            Incident.objects.filter(pk=incident.pk).update(created_at=_at(month))
        Incident.objects.filter(pk=c.pk).update(resolved_at=_at(3, 2))
        Incident.objects.filter(pk=e.pk).update(resolved_at=_at(5, 2))
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


FILTERS = [
    ("", "edcba"),
    ("status=new", "a"),
    ("status=new&status=on_hold", "da"),
    ("status=resolved", "ec"),
    ("priority=1", "a"),
    ("priority=2&priority=3", "db"),
    ("priority=4", "ec"),
    ("team=l1", "dca"),
    ("team=l3", "e"),
    ("team=management", ""),
    ("assignee=leo-l2", "b"),
    ("assignee=lena-l1", "dc"),
    ("service=email", "da"),
    ("category=hardware", "ec"),
    ("category=software", "da"),
    ("source=monitoring", "b"),
    ("source=user", "ea"),
    ("source=chat&source=email", "dc"),
    ("is_major=true", "d"),
    ("is_major=false", "ecba"),
    ("unassigned=true", "a"),
    ("unassigned=false", "edcb"),
    ("created_after=2026-02-01T09:00:00Z", "edcb"),
    ("created_before=2026-03-01T09:00:00Z", "ba"),
    ("created_after=2026-02-01T00:00:00Z&created_before=2026-04-01T00:00:00Z", "cb"),
    ("resolved_after=2026-04-01T00:00:00Z", "e"),
    ("resolved_before=2026-04-01T00:00:00Z", "c"),
    ("resolved_after=2026-03-02T09:00:00Z&resolved_before=2026-05-02T09:00:00Z", "c"),
    ("status=resolved&team=l1", "c"),
    ("search=mail", "da"),
    ("search=MAIL IS DOWN", "a"),
    ("search=printer", "c"),
    ("search=nothing-like-this", ""),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS)
def test_list_filters(desk, api_client, spread, query, expected):
    response = api_client(desk.l1_agent).get(desk.url(f"?{query}"))

    assert _references(response) == [spread[key].reference for key in expected]


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("team=elsewhere", "team", "Select a valid choice. That choice is not one of the"),
        ("service=nope", "service", "Select a valid choice. That choice is not one of the"),
        ("category=nope", "category", "Select a valid choice. That choice is not one of the"),
        ("status=lost", "status", "Select a valid choice. lost is not one of the"),
        ("priority=9", "priority", "Select a valid choice. 9 is not one of the"),
        ("created_after=yesterday", "created_after", "Enter a valid date/time."),
    ],
)
def test_list_filters_refuse_bad_values(desk, api_client, spread, query, field, reason):
    response = api_client(desk.l1_agent).get(desk.url(f"?{query}"))

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["fields"])) == ("invalid", [field])
    assert body["fields"][field][0].startswith(reason)


def test_team_filter_refuses_another_tenants_team(desk, api_client, spread):
    # Given a team "night-shift" in another tenant only
    TeamFactory(tenant=TenantFactory(slug="globex"), slug="night-shift")

    # When an agent of acme filters by it
    response = api_client(desk.l1_agent).get(desk.url("?team=night-shift"))

    # Then it is refused like a team that does not exist
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Invalid input.",
        "fields": {
            "team": ["Select a valid choice. That choice is not one of the available choices."]
        },
    }


def test_ordering_by_priority(desk, api_client):
    # Given incidents rated SEV3, SEV1, SEV4, SEV2 in that order
    references = {}
    for impact, urgency in ((2, 2), (1, 1), (3, 3), (1, 2)):
        incident = make_incident(desk, impact=impact, urgency=urgency)
        references[incident.priority] = incident.reference
    client = api_client(desk.l1_agent)

    # When listing by priority, ascending and descending
    ascending = client.get(desk.url("?ordering=priority"))
    descending = client.get(desk.url("?ordering=-priority"))

    # Then they come most urgent first, or least urgent first
    assert _references(ascending) == [references[level] for level in (1, 2, 3, 4)]
    assert _references(descending) == [references[level] for level in (4, 3, 2, 1)]


def test_cursor_pagination_walks_every_incident_once(desk, api_client, spread):
    client = api_client(desk.l1_agent)

    # When the agent reads two at a time, following the next links
    pages: list[list[str]] = []
    has_previous: list[bool] = []
    url = desk.url("?page_size=2")
    while url and len(pages) < 10:
        response = client.get(url)
        pages.append(_references(response))
        has_previous.append(response.json()["previous"] is not None)
        url = response.json()["next"]

    # Then three pages cover the five incidents newest first, each once
    expected = [spread[key].reference for key in "edcba"]
    assert pages == [expected[0:2], expected[2:4], expected[4:5]]
    assert has_previous == [False, True, True]


def test_page_size_is_capped_at_200(desk, api_client):
    # Given 201 incidents
    for _ in range(201):
        IncidentFactory(tenant=desk.tenant, reported_by=desk.requester)

    # When an agent asks for 1000 at once
    response = api_client(desk.l1_agent).get(desk.url("?page_size=1000"))

    # Then the page holds 200 and links to the rest
    assert len(_references(response)) == 200
    rest = api_client(desk.l1_agent).get(response.json()["next"])
    assert _references(rest) == ["INC-000001"]


# --- Query count -------------------------------------------------------------------------------


def _fill(desk, count: int) -> None:
    """`count` incidents spread over teams, agents, services, categories and reporters."""
    tenant = desk.tenant
    teams = [desk.l1, desk.l2, desk.l3]
    agents = [desk.l1_agent, desk.l2_agent, desk.l3_agent]
    reporters = [desk.requester, desk.other_requester, desk.outsider_agent]
    catalogue = [desk.service, *(ServiceFactory(tenant=tenant, owner_team=None) for _ in "xyz")]
    categories = [desk.category, *(CategoryFactory(tenant=tenant) for _ in "xyz")]
    for index in range(count):
        IncidentFactory(
            tenant=tenant,
            reported_by=reporters[index % 3],
            assignment_team=teams[index % 3],
            assignee=agents[index % 3],
            service=catalogue[index % 4],
            category=categories[index % 4],
            commander=desk.manager if index % 2 else None,
            is_major=bool(index % 2),
        )


def _list_queries(desk, api_client) -> tuple[int, int]:
    client = api_client(desk.l1_agent)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(desk.url())
    return len(_references(response)), len(queries.captured_queries)


def test_list_query_count_does_not_grow_with_the_incidents(desk, api_client):
    # Given 5 incidents, then 50
    _fill(desk, 5)
    _list_queries(desk, api_client)  # the tenant's configuration is cached from here on
    few, few_queries = _list_queries(desk, api_client)
    _fill(desk, 45)
    _list_queries(desk, api_client)  # the services it made are configuration: cached again
    many, many_queries = _list_queries(desk, api_client)

    # Then listing 50 costs exactly the queries of listing 5
    assert (few, many) == (5, 50)
    assert many_queries == few_queries
