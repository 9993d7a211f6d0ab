"""Incidents in the platform admin: every tenant's rows, the timeline inline, each lifecycle
step through the services (the "Act on this incident" page), and tenant configuration that
changes how the next incident is rated and labelled."""

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from incidents.models import Incident, IncidentEvent, PriorityLabel, PriorityMatrixCell
from itsm.tenancy import rls
from itsm.tenancy.models import TenantCounter
from tests.factories import (
    IncidentFactory,
    MembershipFactory,
    TeamFactory,
    TenantFactory,
    UserFactory,
)
from tests.incidents.conftest import make_incident
from tests.markers import platform_db

pytestmark = platform_db

CHANGELIST = "/admin/incidents/incident/"


@pytest.fixture
def root() -> Any:
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(root: Any) -> Client:
    client = Client()
    client.force_login(root)
    return client


def _snapshot(incident: Incident) -> tuple[dict[str, Any], list[str]]:
    with rls.platform_scope():
        row = dict(Incident.objects.filter(pk=incident.pk).values().get())
        kinds = list(
            IncidentEvent.objects.filter(incident=incident)
            .order_by("id")
            .values_list("kind", flat=True)
        )
    return row, kinds


def _act_url(incident: Incident) -> str:
    return f"/admin/incidents/incident/{incident.pk}/act/"


def _change_url(incident: Incident) -> str:
    return f"/admin/incidents/incident/{incident.pk}/change/"


# --- Reading -----------------------------------------------------------------------------------


def test_changelist_shows_both_tenants_with_a_tenant_filter(admin_client, desk):
    # Given an incident in acme and one in globex
    ours = make_incident(desk)
    globex = TenantFactory(slug="globex", name="Globex")
    theirs = IncidentFactory(tenant=globex, title="Globex is down")

    # When the platform admin opens the changelist, then filters it by tenant
    response = admin_client.get(CHANGELIST)
    filtered = admin_client.get(CHANGELIST, {"tenant__id__exact": globex.pk})

    # Then both incidents are listed, and the tenant filter offers both tenants
    assert response.status_code == 200
    cl = response.context["cl"]
    assert {incident.pk for incident in cl.result_list} == {ours.pk, theirs.pk}
    tenant_filter = cl.filter_specs[0]
    assert tenant_filter.field_path == "tenant"
    assert sorted(tenant_filter.lookup_choices) == sorted(
        [(desk.tenant.pk, "Acme"), (globex.pk, "Globex")]
    )
    assert filtered.status_code == 200
    assert [incident.pk for incident in filtered.context["cl"].result_list] == [theirs.pk]
    assert b"Globex is down" in filtered.content
    assert b"Mail is down" not in filtered.content


def test_change_page_shows_the_timeline_and_the_act_link(admin_client, desk):
    # Given an incident that was created (with a team) and acknowledged
    incident = make_incident(desk, "in_progress")

    # When the platform admin opens it
    response = admin_client.get(_change_url(incident))

    # Then its events are listed inline, read-only, and the act page is linked
    assert response.status_code == 200
    formsets = {
        inline.opts.model._meta.model_name: inline
        for inline in response.context["inline_admin_formsets"]
    }
    events = formsets["incidentevent"]
    assert [form.instance.kind for form in events.formset.forms] == [
        "created",
        "assignment",
        "status",
    ]
    assert not events.has_add_permission
    assert not events.has_change_permission
    link = f'<a href="{_act_url(incident)}">Act on this incident</a>'
    assert link in response.content.decode()
    readonly = response.context["adminform"].readonly_fields
    assert {"status", "priority", "version", "reference"} <= set(readonly)


def test_act_page_offers_only_the_incidents_tenant(admin_client, desk):
    # Given another tenant with a team and a member
    globex = TenantFactory(slug="globex")
    TeamFactory(tenant=globex, slug="night-shift")
    MembershipFactory(tenant=globex, user=UserFactory(username="gus"))
    incident = make_incident(desk)

    # When the platform admin opens the act page of an acme incident
    response = admin_client.get(_act_url(incident))

    # Then teams are acme's only; assignees and commanders acme's agents, never a requester
    assert response.status_code == 200
    assert response.context["title"] == "Act on INC-000001"
    form = response.context["form"]
    with rls.platform_scope():
        teams = {team.slug for team in form.fields["team"].queryset}
        people = [user.username for user in form.fields["assignee"].queryset]
        commanders = [user.username for user in form.fields["commander"].queryset]
    assert teams == {"l1", "l2", "l3", "management"}
    assert (
        people
        == commanders
        == sorted(
            [
                "ada-admin",
                "lena-l1",
                "leo-l2",
                "lou-l3",
                "mia-manager",
                "otto-outsider",
            ]
        )
    )


# --- Acting through the services ---------------------------------------------------------------


def test_act_walks_an_incident_through_its_lifecycle(admin_client, root, desk):
    # Given a new incident with team l1
    incident = make_incident(desk)
    steps = [
        ({"action": "acknowledge"}, "in_progress", "status"),
        (
            {"action": "assign", "team": desk.l2.pk, "assignee": desk.l2_agent.pk},
            "in_progress",
            "assignment",
        ),
        (
            {"action": "hold", "hold_reason": "awaiting_vendor", "note": "Case 42."},
            "on_hold",
            "status",
        ),
        ({"action": "resume", "note": "Vendor answered."}, "in_progress", "status"),
        (
            {
                "action": "resolve",
                "resolution_code": "fixed",
                "resolution_notes": "Vendor patch applied.",
            },
            "resolved",
            "status",
        ),
        ({"action": "close", "note": "Confirmed by the caller."}, "closed", "status"),
    ]

    for data, status, kind in steps:
        row_before, kinds_before = _snapshot(incident)

        # When the platform admin performs the step on the act page
        response = admin_client.post(_act_url(incident), data)

        # Then it redirects to the incident, which moved on by exactly one event
        assert response.status_code == 302, (
            data,
            response.context and response.context["form"].errors,
        )
        assert response["Location"] == _change_url(incident)
        row_after, kinds_after = _snapshot(incident)
        assert row_after["status"] == status, data
        assert kinds_after == [*kinds_before, kind], data
        assert row_after["version"] == row_before["version"] + 1, data

    row, _kinds = _snapshot(incident)
    assert (row["assignment_team_id"], row["assignee_id"]) == (desk.l2.pk, desk.l2_agent.pk)
    assert (row["resolution_code"], row["resolution_notes"]) == ("fixed", "Vendor patch applied.")
    assert row["closed_at"] is not None
    with rls.platform_scope():
        actors = set(
            IncidentEvent.objects.filter(incident=incident, kind="status").values_list(
                "actor_id", flat=True
            )
        )
    assert root.pk in actors


@pytest.mark.parametrize(
    ("state", "data", "errors"),
    [
        (
            "new",
            {"action": "close", "note": "Done?"},
            {"__all__": ["Cannot close an incident that is new."]},
        ),
        (
            "closed",
            {"action": "reopen", "reason": "Again."},
            {"__all__": ["Cannot reopen an incident that is closed."]},
        ),
        (
            "in_progress",
            {"action": "hold"},
            {"hold_reason": ["Say what the incident is waiting for."]},
        ),
        (
            "in_progress",
            {"action": "assign", "team": "", "assignee": ""},
            {"team": ["Name a team, an assignee or both."]},
        ),
    ],
)
def test_an_illegal_action_shows_the_error_once_and_changes_nothing(
    admin_client, desk, state, data, errors
):
    incident = make_incident(desk, state)
    before = _snapshot(incident)

    response = admin_client.post(_act_url(incident), data)

    # The reason is shown once: on its field if the action names one, else above the form
    assert response.status_code == 200
    assert response.context["form"].errors == errors
    [message] = [message for messages in errors.values() for message in messages]
    assert response.content.decode().count(message) == 1
    assert _snapshot(incident) == before


def test_the_act_page_refuses_a_requester_as_assignee(admin_client, desk):
    incident = make_incident(desk, "in_progress")
    before = _snapshot(incident)

    response = admin_client.post(
        _act_url(incident), {"action": "assign", "assignee": desk.requester.pk}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "assignee": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert _snapshot(incident) == before


# --- Adding through the service ----------------------------------------------------------------


def _add_form(desk, **overrides: Any) -> dict[str, Any]:
    return {
        "tenant": desk.tenant.pk,
        "title": "Printer on fire",
        "description": "Smoke from tray 2.",
        "service": desk.service.pk,
        "category": "",
        "reported_by": desk.requester.pk,
        "source": "user",
        "impact": 2,
        "urgency": 1,
        "occurred_at_0": "",
        "occurred_at_1": "",
        "detected_at_0": "",
        "detected_at_1": "",
        "assignment_team": desk.l1.pk,
        "assignee": "",
        "events-TOTAL_FORMS": 0,
        "events-INITIAL_FORMS": 0,
        "events-MIN_NUM_FORMS": 0,
        "events-MAX_NUM_FORMS": 1000,
        **overrides,
    }


def test_adding_an_incident_numbers_it_and_records_its_creation(admin_client, root, desk):
    # When the platform admin adds an incident for acme
    response = admin_client.post("/admin/incidents/incident/add/", _add_form(desk))

    # Then the service recorded it: first number, rated by the matrix, created and assigned
    assert response.status_code == 302, response.context and response.context["errors"]
    assert response["Location"] == CHANGELIST
    with rls.tenant_scope(desk.tenant.pk):
        incident = Incident.objects.get()
        events = list(IncidentEvent.objects.filter(incident=incident).order_by("id"))
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        (
            f'The incident “<a href="{_change_url(incident)}">INC-000001 Printer on fire</a>”'
            " was added successfully."
        )
    ]
    assert (incident.reference, incident.priority, incident.status) == ("INC-000001", 2, "new")
    assert (incident.reported_by_id, incident.assignment_team_id, incident.service_id) == (
        desk.requester.pk,
        desk.l1.pk,
        desk.service.pk,
    )
    assert [(event.kind, event.actor_id) for event in events] == [
        ("created", root.pk),
        ("assignment", root.pk),
    ]
    assert events[0].data == {"priority": 2, "source": "user"}


def test_adding_an_incident_with_another_tenants_team_is_refused(admin_client, desk):
    # Given globex with its own team
    globex_team = TeamFactory(tenant=TenantFactory(slug="globex"), slug="night-shift")

    # When the platform admin adds an acme incident routed to globex's team
    response = admin_client.post(
        "/admin/incidents/incident/add/", _add_form(desk, assignment_team=globex_team.pk)
    )

    # Then the form refuses the team and nothing is written, no number used
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "assignment_team": ["Must belong to the same tenant."]
    }
    with rls.platform_scope():
        assert Incident.objects.count() == 0
        assert IncidentEvent.objects.count() == 0
        assert TenantCounter.objects.count() == 0


# --- Tenant configuration ----------------------------------------------------------------------


def test_a_matrix_cell_added_in_admin_rates_the_next_incident(admin_client, api_client, desk):
    # When the platform admin makes low impact × low urgency a SEV1 for acme
    response = admin_client.post(
        "/admin/incidents/prioritymatrixcell/add/",
        {"tenant": desk.tenant.pk, "impact": 3, "urgency": 3, "priority": 1},
    )
    assert response.status_code == 302
    with rls.tenant_scope(desk.tenant.pk):
        assert list(PriorityMatrixCell.objects.values_list("impact", "urgency", "priority")) == [
            (3, 3, 1)
        ]

    # Then the next incident rated low × low through the API is a SEV1
    created = api_client(desk.l1_agent).post(
        desk.url(), {"title": "Printer on fire", "impact": 3, "urgency": 3}, format="json"
    )
    assert created.status_code == 201
    assert (created.json()["priority"], created.json()["priority_label"]) == (1, "SEV1")


def test_a_priority_label_added_in_admin_names_the_priority(admin_client, api_client, desk):
    # When the platform admin names SEV1 "P1 Critical" for acme
    response = admin_client.post(
        "/admin/incidents/prioritylabel/add/",
        {
            "tenant": desk.tenant.pk,
            "priority": 1,
            "label": "P1 Critical",
            "description": "Drop everything.",
        },
    )
    assert response.status_code == 302

    # Then incidents of that priority carry the label, the others the default
    client = api_client(desk.l1_agent)
    critical = client.post(desk.url(), {"title": "All down", "impact": 1, "urgency": 1})
    minor = client.post(desk.url(), {"title": "A typo", "impact": 3, "urgency": 3})
    assert (critical.json()["priority"], critical.json()["priority_label"]) == (1, "P1 Critical")
    assert (minor.json()["priority"], minor.json()["priority_label"]) == (4, "SEV4")
    with rls.tenant_scope(desk.tenant.pk):
        assert list(PriorityLabel.objects.values_list("priority", "label")) == [(1, "P1 Critical")]


# --- Tenant administrators: their tenant's incidents, read-only --------------------------------


@pytest.fixture
def boss_client(desk) -> Client:
    client = Client()
    client.force_login(desk.admin)
    return client


def test_a_tenant_admin_reads_their_tenants_incidents_only(boss_client, desk):
    ours = make_incident(desk, "in_progress")
    theirs = IncidentFactory(tenant=TenantFactory(slug="globex"), title="Globex is down")

    listed = boss_client.get(CHANGELIST)
    page = boss_client.get(_change_url(ours))
    other = boss_client.get(_change_url(theirs))

    assert listed.status_code == 200
    assert [incident.pk for incident in listed.context["cl"].result_list] == [ours.pk]
    assert b"Globex is down" not in listed.content
    # Read-only, timeline included; no save button, no act link, no add link
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    content = page.content.decode()
    assert 'name="_save"' not in content
    assert "Act on this incident" not in content
    assert "Mail is down" in content
    kinds = {
        inline.opts.model._meta.model_name: [form.instance.kind for form in inline.formset.forms]
        for inline in page.context["inline_admin_formsets"]
        if inline.opts.model._meta.model_name == "incidentevent"
    }
    assert kinds == {"incidentevent": ["created", "assignment", "status"]}
    assert listed.context["has_add_permission"] is False
    assert (other.status_code, other["Location"]) == (302, "/admin/")


def test_a_tenant_admin_cannot_act_or_write_in_admin(boss_client, desk):
    incident = make_incident(desk)
    before = _snapshot(incident)

    act = boss_client.post(_act_url(incident), {"action": "acknowledge"})
    change = boss_client.post(_change_url(incident), {"title": "Renamed"})
    add = boss_client.post("/admin/incidents/incident/add/", _add_form(desk))

    assert (act.status_code, change.status_code, add.status_code) == (403, 403, 403)
    assert _snapshot(incident) == before
    with rls.platform_scope():
        assert Incident.objects.count() == 1


def test_a_tenant_admin_edits_their_priority_matrix_without_a_tenant_field(boss_client, desk):
    response = boss_client.post(
        "/admin/incidents/prioritymatrixcell/add/", {"impact": 3, "urgency": 3, "priority": 1}
    )

    assert response.status_code == 302
    with rls.platform_scope():
        assert list(
            PriorityMatrixCell.objects.values_list("tenant_id", "impact", "urgency", "priority")
        ) == [(desk.tenant.pk, 3, 3, 1)]


def test_a_refusal_by_the_service_is_a_form_error_not_a_crash(admin_client, desk):
    # Given a form the admin's own validation lets through, naming a requester as assignee,
    # which only the service refuses
    response = admin_client.post(
        "/admin/incidents/incident/add/", _add_form(desk, assignee=desk.requester.pk)
    )

    # Then the same form comes back with the service's reasons, each once, and nothing is
    # written: no incident, no event, no number used
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors == {
        "__all__": ["The assignment is not possible."],
        "assignee": ["Must be an agent of this tenant."],
    }
    page = response.content.decode()
    assert page.count("The assignment is not possible.") == 1
    assert page.count("Must be an agent of this tenant.") == 1
    with rls.platform_scope():
        assert Incident.objects.count() == 0
        assert IncidentEvent.objects.count() == 0
        assert TenantCounter.objects.count() == 0

    # And the corrected form saves, with the first number
    fixed = admin_client.post(
        "/admin/incidents/incident/add/", _add_form(desk, assignee=desk.l1_agent.pk)
    )
    assert fixed.status_code == 302
    with rls.platform_scope():
        assert list(Incident.objects.values_list("number", "assignee_id")) == [
            (1, desk.l1_agent.pk)
        ]
