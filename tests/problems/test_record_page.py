"""The problem and known-error record pages: what they show, every action through the page's
forms and the same services as the API, stale versions, refusals as usable pages, and the
roles of each action (the same as the API's)."""

from typing import Any

import pytest

from incidents.models import IncidentEvent
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from problems import services
from problems.api.views import KnownErrorViewSet, ProblemViewSet, SuggestionViewSet
from problems.forms.actions import ACTIONS, KNOWN_ERROR_ACTIONS
from problems.forms.suggestions import SUGGESTION_ACTIONS
from problems.models import KnownError, Problem, ProblemEvent
from tests.factories import FACTORIES, KnownErrorFactory, ProblemFactory
from tests.incidents.conftest import make_incident
from tests.problems.conftest import make_known_error, make_problem, problem_state
from tests.security.sweep import assert_record_action_roles

HTMX = {"HTTP_HX_REQUEST": "true"}


def page(pdesk, problem: Problem, action: str = "") -> str:
    url = f"/t/{pdesk.tenant.slug}/problems/{problem.reference}/"
    return f"{url}{action}/" if action else url


def ke_page(pdesk, known_error: KnownError, action: str = "") -> str:
    url = f"/t/{pdesk.tenant.slug}/known-errors/{known_error.reference}/"
    return f"{url}{action}/" if action else url


def reload(pdesk, problem: Problem) -> Problem:
    with rls.tenant_scope(pdesk.tenant.pk):
        return Problem.objects.get(pk=problem.pk)


def events(pdesk, problem: Problem) -> list[str]:
    with rls.tenant_scope(pdesk.tenant.pk):
        return list(
            ProblemEvent.objects.filter(problem=problem)
            .order_by("created_at", "id")
            .values_list("kind", flat=True)
        )


def link(pdesk, problem: Problem, *incidents: Any) -> None:
    with rls.tenant_scope(pdesk.tenant.pk):
        services.problem_link_incidents(
            tenant=pdesk.tenant,
            problem_id=problem.pk,
            actor=pdesk.manager,
            incidents=[incident.reference for incident in incidents],
        )


def as_user(client, user):
    client.force_login(user)
    return client


# --- What the page shows ----------------------------------------------------------------------


def test_the_record_shows_details_incidents_known_errors_and_timeline(pdesk, client):
    # Given a problem with a root cause, a linked incident and a known error
    problem = make_problem(pdesk, "root_cause_known", description="Relays time out.")
    incident = make_incident(pdesk.desk, "in_progress", title="Mail waits in the outbox")
    link(pdesk, problem, incident)
    with rls.tenant_scope(pdesk.tenant.pk):
        known_error = services.known_error_create(
            tenant=pdesk.tenant,
            problem_id=problem.pk,
            actor=pdesk.manager,
            data={"symptoms": "Mail waits."},
        )

    # When its manager opens it
    response = as_user(client, pdesk.manager).get(page(pdesk, problem))

    # Then everything is there, with the actions of the status
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{problem.reference} · Mail relay drops connections" in html
    assert "Relays time out." in html
    assert "The relay&#x27;s connection pool is too small." in html
    assert "Restart the relay." in html
    assert f'href="/t/{pdesk.tenant.slug}/incidents/{incident.reference}/"' in html
    assert "Mail waits in the outbox" in html
    assert f'value="{incident.reference}"' in html  # the unlink checkbox
    assert f'href="/t/{pdesk.tenant.slug}/known-errors/{known_error.reference}/"' in html
    assert "recorded the root cause" in html
    assert f"linked {incident.reference}" in html
    assert f"recorded known error {known_error.reference}" in html
    for slug in ("start-fix", "reinvestigate", "resolve", "cancel", "edit", "create-known-error"):
        assert f'id="panel-{slug}"' in html, slug
    assert 'id="panel-investigate"' not in html


def test_an_agent_reads_and_may_link_but_not_act(pdesk, client):
    problem = make_problem(pdesk, "under_investigation")
    incident = make_incident(pdesk.desk, "in_progress")
    link(pdesk, problem, incident)

    response = as_user(client, pdesk.desk.l1_agent).get(page(pdesk, problem))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"/problems/{problem.reference}/link/" in html
    assert 'id="panel-' not in html
    assert f'value="{incident.reference}"' not in html  # agents do not unlink


def test_a_requester_gets_403_and_another_tenants_problem_is_a_404(pdesk, client, tenant_b):
    problem = make_problem(pdesk)  # PRB-000001 of A
    ProblemFactory(tenant=tenant_b)
    other = ProblemFactory(tenant=tenant_b)  # PRB-000002 exists in B only

    assert as_user(client, pdesk.desk.requester).get(page(pdesk, problem)).status_code == 403
    response = as_user(client, pdesk.manager).get(page(pdesk, other))
    assert response.status_code == 404
    huge = client.get(f"/t/{pdesk.tenant.slug}/problems/PRB-99999999999999999999/")
    assert huge.status_code == 404
    assert client.get(f"/t/{pdesk.tenant.slug}/problems/nonsense/").status_code == 404


# --- Every action through the page -------------------------------------------------------------


# action -> (the problem's state before, the form's input, the status after)
ACTION_CASES: dict[str, tuple[str, dict[str, str], str]] = {
    "investigate": ("new", {}, "under_investigation"),
    "identify-root-cause": (
        "under_investigation",
        {"root_cause": "Pool too small.", "workaround": "Restart it."},
        "root_cause_known",
    ),
    "start-fix": ("root_cause_known", {"note": "Raising the pool."}, "fix_in_progress"),
    "reinvestigate": ("fix_in_progress", {"reason": "The pool was not it."}, "under_investigation"),
    "resolve": ("fix_in_progress", {"fix_notes": "Pool raised."}, "resolved"),
    "close": ("resolved", {"note": "It held for a week."}, "closed"),
    "reopen": ("resolved", {"reason": "Back again."}, "under_investigation"),
    "cancel": ("new", {"reason": "A duplicate."}, "cancelled"),
    "edit": (
        "under_investigation",
        {"title": "Mail relay refuses connections", "impact": "1", "urgency": "2"},
        "under_investigation",
    ),
    "create-known-error": ("root_cause_known", {"symptoms": "Mail waits."}, "root_cause_known"),
}


def test_every_problem_action_is_tested_here():
    assert set(ACTION_CASES) | {"unlink", "resolve-linked-incidents"} == set(ACTIONS)


@pytest.mark.parametrize("action", list(ACTION_CASES))
def test_each_action_through_the_page_runs_its_service(pdesk, client, action):
    state, data, after = ACTION_CASES[action]
    problem = make_problem(pdesk, state)
    before = len(events(pdesk, problem))

    response = as_user(client, pdesk.manager).post(
        page(pdesk, problem, action), {"version": problem.version, **data}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == page(pdesk, problem)
    changed = reload(pdesk, problem)
    assert changed.status == after
    assert len(events(pdesk, problem)) == before + 1
    if action == "edit":
        assert changed.title == "Mail relay refuses connections"
        assert (changed.impact, changed.urgency) == (1, 2)
    if action == "create-known-error":
        with rls.tenant_scope(pdesk.tenant.pk):
            assert KnownError.objects.filter(problem=problem, symptoms="Mail waits.").exists()
    # And the record says it was done
    assert ACTIONS[action].done in client.get(page(pdesk, problem)).content.decode()


def test_with_htmx_the_record_is_rerendered_in_place(pdesk, client):
    problem = make_problem(pdesk)

    response = as_user(client, pdesk.manager).post(
        page(pdesk, problem, "investigate"), {"version": problem.version}, **HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="record"')
    assert "Investigation started." in html
    assert "Under investigation" in html


def test_unlinking_from_the_table_unlinks_the_ticked_incidents(pdesk, client):
    problem = make_problem(pdesk, "under_investigation")
    first, second = make_incident(pdesk.desk), make_incident(pdesk.desk)
    link(pdesk, problem, first, second)
    problem = reload(pdesk, problem)

    response = as_user(client, pdesk.manager).post(
        page(pdesk, problem, "unlink"), {"version": problem.version, "incidents": [first.reference]}
    )

    assert response.status_code == 302
    with rls.tenant_scope(pdesk.tenant.pk):
        linked = set(
            Problem.objects.get(pk=problem.pk).incident_links.values_list(
                "incident__number", flat=True
            )
        )
    assert linked == {second.number}
    assert events(pdesk, problem)[-1] == "incidents_unlinked"


def test_resolving_linked_incidents_shows_a_result_per_incident(pdesk, client):
    # Given a resolved problem with an incident in progress and one that is new (refused)
    working, fresh = make_incident(pdesk.desk, "in_progress"), make_incident(pdesk.desk)
    problem = make_problem(pdesk, "under_investigation")
    link(pdesk, problem, working, fresh)
    with rls.tenant_scope(pdesk.tenant.pk):
        ids = {"tenant": pdesk.tenant, "problem_id": problem.pk, "actor": pdesk.manager}
        services.problem_identify_root_cause(**ids, root_cause="Pool.", workaround="Restart.")
        services.problem_resolve(**ids, fix_notes="Pool raised.")

    # When a tenant admin (who may resolve any incident) resolves them from the page (htmx)
    response = as_user(client, pdesk.desk.admin).post(
        page(pdesk, problem, "resolve-linked-incidents"),
        {"resolution_code": "fixed", "resolution_notes": ""},
        **HTMX,
    )

    # Then the page says which were resolved and why the other was refused
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 of 2 resolved." in html
    assert f"Resolved: {working.reference}." in html
    assert f"{fresh.reference} refused:" in html
    assert events(pdesk, problem)[-1] == "incidents_resolved"


# --- Refusals -----------------------------------------------------------------------------------


def test_an_illegal_transition_is_a_409_page_that_changes_nothing(pdesk, client):
    problem = make_problem(pdesk)
    before = problem_state(pdesk, problem)

    response = as_user(client, pdesk.manager).post(
        page(pdesk, problem, "start-fix"), {"version": problem.version}
    )

    assert response.status_code == 409
    assert "Cannot start the fix on a problem that is new." in response.content.decode()
    assert problem_state(pdesk, problem) == before


def test_a_missing_root_cause_is_a_400_with_the_field_error(pdesk, client):
    problem = make_problem(pdesk, "under_investigation")
    before = problem_state(pdesk, problem)

    response = as_user(client, pdesk.manager).post(
        page(pdesk, problem, "identify-root-cause"), {"version": problem.version}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="identify-root-cause-root_cause_error"' in html
    assert "Describe the root cause." in html
    assert problem_state(pdesk, problem) == before


def test_an_empty_required_field_is_a_400_kept_open(pdesk, client):
    problem = make_problem(pdesk, "fix_in_progress")

    response = as_user(client, pdesk.manager).post(
        page(pdesk, problem, "resolve"), {"version": problem.version, "fix_notes": "  "}
    )

    assert response.status_code == 400
    assert '<details class="action-panel" id="panel-resolve" open>' in response.content.decode()


def test_a_known_error_without_a_workaround_is_a_usable_409(pdesk, client):
    # Given a problem whose root cause is known but has no workaround
    problem = make_problem(pdesk, "under_investigation")
    with rls.tenant_scope(pdesk.tenant.pk):
        services.problem_identify_root_cause(
            tenant=pdesk.tenant, problem_id=problem.pk, actor=pdesk.manager, root_cause="Pool."
        )

    response = as_user(client, pdesk.manager).post(
        page(pdesk, problem, "create-known-error"), {"symptoms": "Mail waits."}
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert "Document the problem&#x27;s workaround before recording a known error." in html
    assert "Mail waits." in html  # the input is kept
    with rls.tenant_scope(pdesk.tenant.pk):
        assert not KnownError.objects.filter(problem=problem).exists()


def test_a_stale_version_overwrites_nothing_and_says_who_changed_what(pdesk, client):
    # Given a manager's form made before the admin started the investigation
    problem = make_problem(pdesk)
    stale = problem.version
    with rls.tenant_scope(pdesk.tenant.pk):
        services.problem_investigate(
            tenant=pdesk.tenant, problem_id=problem.pk, actor=pdesk.desk.admin
        )
    before = problem_state(pdesk, problem)

    # When the manager cancels it with the old version
    response = as_user(client, pdesk.manager).post(
        page(pdesk, problem, "cancel"), {"version": stale, "reason": "A duplicate."}
    )

    # Then nothing is written, the change is named and the input kept on the new version
    assert response.status_code == 409
    html = response.content.decode()
    admin = pdesk.desk.admin
    assert f"was changed by {admin.get_full_name() or admin.username}" in html
    assert "started investigating" in html
    assert "A duplicate." in html
    assert f'name="version" value="{stale + 1}"' in html
    assert problem_state(pdesk, problem) == before


def test_an_unknown_action_is_a_404(pdesk, client):
    problem = make_problem(pdesk)
    response = as_user(client, pdesk.manager).post(page(pdesk, problem, "explode"), {})
    assert response.status_code == 404


# --- Known errors -------------------------------------------------------------------------------


def test_the_known_error_record_shows_it_and_its_actions(pdesk, client):
    known_error = make_known_error(pdesk)

    response = as_user(client, pdesk.manager).get(ke_page(pdesk, known_error))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Mail waits." in html
    assert f"/problems/{known_error.problem.reference}/" in html
    assert 'id="panel-publish"' in html
    assert 'id="panel-edit"' in html
    agent = as_user(client, pdesk.desk.l1_agent).get(ke_page(pdesk, known_error))
    assert agent.status_code == 200
    assert 'id="panel-' not in agent.content.decode()


@pytest.mark.parametrize(
    ("action", "state", "data", "after"),
    [
        ("publish", "draft", {}, "published"),
        ("retire", "published", {}, "retired"),
        (
            "edit",
            "draft",
            {
                "title": "Mail waits",
                "symptoms": "Mail waits for an hour.",
                "workaround": "Restart the relay.",
                "root_cause": "Pool too small.",
            },
            "draft",
        ),
    ],
)
def test_each_known_error_action_runs_its_service(pdesk, client, action, state, data, after):
    known_error = make_known_error(pdesk, state)

    response = as_user(client, pdesk.manager).post(
        ke_page(pdesk, known_error, action), {"version": known_error.version, **data}
    )

    assert response.status_code == 302
    with rls.tenant_scope(pdesk.tenant.pk):
        changed = KnownError.objects.get(pk=known_error.pk)
    assert changed.status == after
    if action == "edit":
        assert changed.symptoms == "Mail waits for an hour."


def test_a_retired_known_error_is_not_published_409(pdesk, client):
    known_error = make_known_error(pdesk, "retired")
    response = as_user(client, pdesk.manager).post(
        ke_page(pdesk, known_error, "publish"), {"version": known_error.version}
    )
    assert response.status_code == 409
    assert "Cannot publish a known error that is retired." in response.content.decode()


def test_a_stale_known_error_edit_is_a_409(pdesk, client):
    known_error = make_known_error(pdesk)
    response = as_user(client, pdesk.manager).post(
        ke_page(pdesk, known_error, "publish"), {"version": known_error.version + 5}
    )
    assert response.status_code == 409
    assert "was changed while you were working on it" in response.content.decode()


# --- Roles: the page and the API agree -----------------------------------------------------------


def test_the_page_grants_each_action_to_the_roles_the_api_does():
    for spec in ACTIONS.values():
        assert spec.roles == ProblemViewSet.action_roles[spec.api_action], spec.slug
    for spec in KNOWN_ERROR_ACTIONS.values():
        assert spec.roles == KnownErrorViewSet.action_roles[spec.api_action], spec.slug
    for spec in SUGGESTION_ACTIONS.values():
        assert spec.roles == SuggestionViewSet.action_roles[spec.api_action], spec.slug


RECORD_ACTIONS = [("problems:action", slug) for slug in ACTIONS] + [
    ("problems:known-error-action", slug) for slug in KNOWN_ERROR_ACTIONS
]


@pytest.mark.parametrize(("url_name", "action"), RECORD_ACTIONS)
def test_each_caller_gets_what_a_record_action_grants(
    client, tenant_a, tenant_b, make_member, url_name, action
):
    # The actions declare their roles in problems.forms.actions (held equal to the API above).
    problems = url_name == "problems:action"
    factory = FACTORIES[Problem] if problems else KnownErrorFactory
    assert_record_action_roles(
        client,
        tenant_a,
        tenant_b,
        make_member,
        url_name=url_name,
        action=action,
        granted=(ACTIONS if problems else KNOWN_ERROR_ACTIONS)[action].roles,
        make_reference=lambda tenant, user: factory(tenant=tenant).reference,
    )


def test_a_requester_cannot_post_an_action(pdesk, client):
    problem = make_problem(pdesk)
    before = problem_state(pdesk, problem)
    response = as_user(client, pdesk.desk.requester).post(
        page(pdesk, problem, "investigate"), {"version": problem.version}
    )
    assert response.status_code == 403
    assert problem_state(pdesk, problem) == before


def test_an_agent_may_not_resolve_and_changes_nothing(pdesk, client):
    problem = make_problem(pdesk, "fix_in_progress")
    before = problem_state(pdesk, problem)
    response = as_user(client, pdesk.desk.l1_agent).post(
        page(pdesk, problem, "resolve"), {"version": problem.version, "fix_notes": "Done."}
    )
    assert response.status_code == 403
    assert "Your role may not resolve." in response.content.decode()
    assert problem_state(pdesk, problem) == before
    with rls.tenant_scope(pdesk.tenant.pk):
        assert not IncidentEvent.objects.filter(tenant=pdesk.tenant, kind="link").exists()


@pytest.mark.parametrize("role", [MembershipRole.CHANGE_MANAGER, MembershipRole.AGENT])
def test_staff_who_only_read_see_no_action_panels(pdesk, client, make_member, role):
    problem = make_problem(pdesk, "resolved")
    response = as_user(client, make_member(pdesk.tenant, role)).get(page(pdesk, problem))
    assert response.status_code == 200
    assert 'id="panel-' not in response.content.decode()


def test_editing_keeps_a_service_retired_since(pdesk, client):
    # Given a problem of a service that has been retired from the catalogue since
    service = pdesk.desk.service
    problem = make_problem(pdesk, "under_investigation", services=[service])
    with rls.tenant_scope(pdesk.tenant.pk):
        type(service).objects.filter(pk=service.pk).update(is_active=False)

    # When its manager edits the title, the form still offering the service as selected
    as_user(client, pdesk.manager)
    form = client.get(page(pdesk, problem, "edit")).content.decode()
    assert f'<option value="{service.pk}" selected>' in form
    response = client.post(
        page(pdesk, problem, "edit"),
        {
            "version": problem.version,
            "title": "Renamed",
            "impact": "3",
            "urgency": "3",
            "services": [service.pk],
        },
    )

    # Then the service stays
    assert response.status_code == 302
    with rls.tenant_scope(pdesk.tenant.pk):
        assert list(Problem.objects.get(pk=problem.pk).services.all()) == [service]
