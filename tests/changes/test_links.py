"""What a change is linked to: the problems and known errors it fixes, the incidents it caused.
Links are tenant-checked both ways, seen from both ends, and a successful change resolves the
open problems it fixes."""

import pytest

from changes import services
from changes.errors import ChangeRequirementError
from changes.models import Change, ChangeFix, ChangeIncident
from incidents.models import Incident
from itsm.notifications.models import Notification
from itsm.tenancy import rls
from problems.models import Problem
from tests.changes.conftest import change_state, make_change
from tests.factories import IncidentFactory, ProblemFactory, TenantFactory
from tests.problems.conftest import ProblemDesk, make_known_error, make_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def pdesk(cdesk) -> ProblemDesk:
    return ProblemDesk(desk=cdesk.desk, manager=cdesk.problem_manager, change_manager=cdesk.manager)


def _post(api_client, cdesk, user, change, path, body):
    return api_client(user).post(cdesk.url(f"{change.reference}/{path}/"), body, format="json")


def test_a_problem_manager_links_problems_and_known_errors(cdesk, pdesk, api_client):
    change = make_change(cdesk)
    problem = make_problem(pdesk, "root_cause_known")
    known_error = make_known_error(pdesk)

    response = _post(
        api_client,
        cdesk,
        cdesk.problem_manager,
        change,
        "link-problems",
        {"problems": [problem.reference], "known_errors": [known_error.reference]},
    )
    again = _post(
        api_client, cdesk, cdesk.manager, change, "link-problems", {"problems": [problem.reference]}
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "changed": [problem.reference, known_error.reference],
        "unchanged": [],
    }
    assert again.json() == {"changed": [], "unchanged": [problem.reference]}
    # Both ends: the problem reads its fixing change through the reverse relation
    with rls.tenant_scope(cdesk.tenant.pk):
        fixed = Problem.objects.filter(change_fixes__change_id=change.pk)
        assert list(fixed.values_list("pk", flat=True)) == [problem.pk]

    unlinked = _post(
        api_client,
        cdesk,
        cdesk.manager,
        change,
        "unlink-problems",
        {"problems": [problem.reference]},
    )
    assert unlinked.json() == {"changed": [problem.reference], "unchanged": []}
    with rls.tenant_scope(cdesk.tenant.pk):
        assert ChangeFix.objects.filter(change=change).count() == 1


def test_another_tenants_problem_or_incident_is_unknown(cdesk, api_client):
    other = TenantFactory()
    their_problem = ProblemFactory(tenant=other)
    their_incident = IncidentFactory(tenant=other)
    change = make_change(cdesk)
    before = change_state(cdesk, change)
    client = api_client(cdesk.manager)

    linked = client.post(
        cdesk.url(f"{change.reference}/link-problems/"),
        {"problems": [their_problem.reference]},
        format="json",
    )
    recorded = client.post(
        cdesk.url(f"{change.reference}/record-incidents/"),
        {"incidents": [their_incident.reference]},
        format="json",
    )

    assert linked.status_code == 400
    assert linked.json()["fields"]["problems"] == [f"{their_problem.reference} is not known here."]
    assert recorded.status_code == 400
    assert "incidents" in recorded.json()["fields"]
    assert change_state(cdesk, change) == before


def test_another_tenants_change_is_absent_to_the_link_endpoints(cdesk, api_client, admin_b):
    change = make_change(cdesk)
    response = api_client(admin_b).post(
        f"/api/v1/t/tenant-b/changes/{change.reference}/link-problems/",
        {"problems": ["PRB-000001"]},
        format="json",
    )
    assert response.status_code == 404


def test_incidents_caused_by_a_change_are_recorded_once(cdesk, api_client):
    change = make_change(cdesk, "implementing")
    elsewhere = make_change(cdesk)
    incident = IncidentFactory(tenant=cdesk.tenant)

    recorded = _post(
        api_client,
        cdesk,
        cdesk.desk.l1_agent,
        change,
        "record-incidents",
        {"incidents": [incident.reference]},
    )
    refused = _post(
        api_client,
        cdesk,
        cdesk.manager,
        elsewhere,
        "record-incidents",
        {"incidents": [incident.reference]},
    )

    assert (recorded.status_code, recorded.json()["changed"]) == (200, [incident.reference])
    assert (refused.status_code, refused.json()["code"]) == (409, "already_linked")
    with rls.tenant_scope(cdesk.tenant.pk):
        assert ChangeIncident.objects.get().change_id == change.pk
        # Both ends: the incident reads its causing change through the reverse relation
        caused = Incident.objects.filter(caused_by_change__change_id=change.pk)
        assert list(caused.values_list("pk", flat=True)) == [incident.pk]

    unrecorded = _post(
        api_client,
        cdesk,
        cdesk.manager,
        change,
        "unrecord-incidents",
        {"incidents": [incident.reference]},
    )
    assert unrecorded.json() == {"changed": [incident.reference], "unchanged": []}


def test_a_closed_change_links_no_more_problems(cdesk, pdesk, api_client):
    change = make_change(cdesk, "closed")
    problem = make_problem(pdesk, "root_cause_known")
    response = _post(
        api_client, cdesk, cdesk.manager, change, "link-problems", {"problems": [problem.reference]}
    )
    assert (response.status_code, response.json()["code"]) == (409, "not_editable")


@pytest.mark.parametrize(("outcome", "resolves"), [("successful", True), ("failed", False)])
def test_closing_successful_resolves_the_fixed_problems(
    cdesk, pdesk, api_client, outcome, resolves
):
    # Given a change in review that fixes a problem with its fix in progress, and a new one
    change = make_change(cdesk, "review")
    fixing = make_problem(pdesk, "fix_in_progress")
    untouchable = make_problem(pdesk, "new")
    _post(
        api_client,
        cdesk,
        cdesk.manager,
        change,
        "link-problems",
        {"problems": [fixing.reference, untouchable.reference]},
    )

    # When the change is closed with the outcome
    response = _post(api_client, cdesk, cdesk.manager, change, "close", {"outcome": outcome})

    # Then a successful change resolved the problem that could be, naming itself, and its
    # manager was told; a new problem and a failed change resolve nothing
    assert response.status_code == 200, response.content
    with rls.tenant_scope(cdesk.tenant.pk):
        fixing.refresh_from_db()
        untouchable.refresh_from_db()
        told = Notification.objects.filter(event_type="change.fixed_problem").count()
    assert untouchable.status == "new"
    if resolves:
        assert fixing.status == "resolved"
        assert fixing.fix_notes == f"Fixed by {change.reference}: {change.title}"
        assert told == 1
    else:
        assert fixing.status == "fix_in_progress"
        assert told == 0


def test_a_change_raised_with_its_fixes_is_all_or_nothing(cdesk, pdesk):
    problem = make_problem(pdesk, "root_cause_known")
    data = {"title": "Raise the relay's pool", "change_type": "normal"}
    with rls.tenant_scope(cdesk.tenant.pk):
        raised = services.change_create_fixing(
            tenant=cdesk.tenant, actor=cdesk.manager, data=data, problems=[problem.reference]
        )
        assert list(
            ChangeFix.objects.filter(change=raised).values_list("problem_id", flat=True)
        ) == [problem.pk]
        before = Change.objects.count()
        with pytest.raises(ChangeRequirementError):
            services.change_create_fixing(
                tenant=cdesk.tenant, actor=cdesk.manager, data=data, problems=["PRB-999999"]
            )
        assert Change.objects.count() == before
