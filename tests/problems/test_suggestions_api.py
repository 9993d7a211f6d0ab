"""Problem suggestions, trend runs and similar incidents through the API, and the evaluation
command on the shipped data."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from itsm.tenancy import rls
from itsm.tenancy.models import Tenant
from problems import services
from problems.choices import SuggestionStatus, TrendRunStatus
from problems.models import ProblemIncident, TrendRun
from tests.factories import IncidentFactory, ProblemFactory, ProblemSuggestionFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def api() -> APIClient:
    client = APIClient()
    client.default_format = "json"
    return client


def _url(tenant, path):
    return f"/api/v1/t/{tenant.slug}/{path}"


def test_a_problem_manager_lists_and_accepts_a_suggestion(api, tenant_a, make_member):
    suggestion = ProblemSuggestionFactory(tenant=tenant_a)
    api.force_authenticate(make_member(tenant_a, "problem_manager"))

    listed = api.get(_url(tenant_a, "problem-suggestions/?status=open"))
    incidents = api.get(_url(tenant_a, f"problem-suggestions/{suggestion.reference}/incidents/"))
    accepted = api.post(
        _url(tenant_a, f"problem-suggestions/{suggestion.reference}/accept/"),
        {"title": "Mail relay times out"},
    )

    assert [row["reference"] for row in listed.data["results"]] == [suggestion.reference]
    assert listed.data["results"][0]["allowed_actions"] == ["accept", "merge", "dismiss"]
    assert len(incidents.data) == 2
    assert accepted.status_code == 201, accepted.data
    assert accepted.data["title"] == "Mail relay times out"
    assert accepted.data["incident_count"] == 2
    again = api.post(
        _url(tenant_a, f"problem-suggestions/{suggestion.reference}/dismiss/"), {"reason": "x"}
    )
    assert again.status_code == 409


def test_merge_names_a_problem_of_the_tenant(api, tenant_a, tenant_b, make_member):
    suggestion = ProblemSuggestionFactory(tenant=tenant_a)
    problem, foreign = ProblemFactory(tenant=tenant_a), ProblemFactory(tenant=tenant_b)
    foreign_only = ProblemFactory(tenant=tenant_b)  # PRB-000002 exists in B only
    api.force_authenticate(make_member(tenant_a, "problem_manager"))
    url = _url(tenant_a, f"problem-suggestions/{suggestion.reference}/merge/")

    refused = api.post(url, {"problem": foreign_only.reference})
    merged = api.post(url, {"problem": problem.reference})

    assert refused.status_code == 400
    assert "problem" in refused.data["fields"]
    assert merged.status_code == 200, merged.data
    with rls.tenant_scope(tenant_a.pk):
        assert ProblemIncident.objects.filter(problem=problem).count() == 2
    assert foreign.reference == problem.reference  # the same number, another tenant's


def test_dismiss_needs_a_reason_and_agents_may_not_decide(api, tenant_a, make_member):
    suggestion = ProblemSuggestionFactory(tenant=tenant_a)
    url = _url(tenant_a, f"problem-suggestions/{suggestion.reference}/dismiss/")

    api.force_authenticate(make_member(tenant_a, "agent"))
    assert api.post(url, {"reason": "Noise"}).status_code == 403
    api.force_authenticate(make_member(tenant_a, "problem_manager"))
    assert api.post(url, {}).status_code == 400
    dismissed = api.post(url, {"reason": "Known ISP issue"})

    assert dismissed.status_code == 200
    assert dismissed.data["status"] == SuggestionStatus.DISMISSED
    assert dismissed.data["reason"] == "Known ISP issue"


def test_requesters_see_no_suggestions(api, tenant_a, make_member):
    suggestion = ProblemSuggestionFactory(tenant=tenant_a)
    api.force_authenticate(make_member(tenant_a, "requester"))

    # As for problems: the list is refused, a record does not exist for them
    assert api.get(_url(tenant_a, "problem-suggestions/")).status_code == 403
    assert (
        api.get(_url(tenant_a, f"problem-suggestions/{suggestion.reference}/")).status_code == 404
    )


def test_starting_a_run_queues_one_and_refuses_a_second(
    api, tenant_a, make_member, django_capture_on_commit_callbacks
):
    api.force_authenticate(make_member(tenant_a, "problem_manager"))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = api.post(_url(tenant_a, "trend-runs/"))
    second = api.post(_url(tenant_a, "trend-runs/"))
    listed = api.get(_url(tenant_a, "trend-runs/"))

    assert first.status_code == 202, first.data
    assert first.data["status"] == TrendRunStatus.QUEUED
    assert len(callbacks) == 1  # the task is sent once the run is committed
    assert second.status_code == 409
    assert [row["id"] for row in listed.data["results"]] == [first.data["id"]]


def test_a_run_reports_progress_and_counts(api, tenant_a, make_member):
    for title in ("Outlook crashes on PDF attachments", "Outlook crash opening a PDF attachment"):
        IncidentFactory(tenant=tenant_a, title=title, description="")
    with rls.tenant_scope(tenant_a.pk):
        run = services.trend_run_request(tenant=tenant_a)
    services.trend_run_execute(tenant=tenant_a, run_id=run.pk)
    api.force_authenticate(make_member(tenant_a, "agent"))

    shown = api.get(_url(tenant_a, f"trend-runs/{run.pk}/"))

    assert shown.data["status"] == TrendRunStatus.SUCCEEDED
    assert shown.data["progress"] == 100
    assert shown.data["incidents_considered"] == 2
    assert shown.data["seconds"] >= 0
    with rls.tenant_scope(tenant_a.pk):
        assert TrendRun.objects.count() == 1


def test_similar_incidents_rank_the_alike_first(api, tenant_a, make_member):
    target = IncidentFactory(tenant=tenant_a, title="VPN disconnects every hour", description="")
    twin = IncidentFactory(tenant=tenant_a, title="VPN disconnects every hour again")
    IncidentFactory(tenant=tenant_a, title="Printer jams on floor 3")
    api.force_authenticate(make_member(tenant_a, "agent"))

    response = api.get(_url(tenant_a, f"incidents/{target.reference}/similar/"))

    assert response.status_code == 200, response.data
    assert response.data[0]["reference"] == twin.reference
    assert response.data[0]["score"] > 0


def test_the_evaluation_command_prints_well_formed_figures():
    out = StringIO()
    call_command(
        "evaluate_trends",
        str(DATA / "seamonkey.csv"),
        text_columns="title,description",
        time_column="created",
        group_column="group",
        json=True,
        stdout=out,
    )
    figures = json.loads(out.getvalue())

    assert set(figures) == {
        "records",
        "recall_at_1",
        "recall_at_5",
        "recall_at_10",
        "mrr",
        "pairwise_precision",
        "pairwise_recall",
        "pairwise_f1",
        "seconds",
    }
    assert figures["records"] == 1076
    assert all(0 <= figures[key] <= 1 for key in figures if key not in ("records", "seconds"))
    assert figures["recall_at_1"] <= figures["recall_at_5"] <= figures["recall_at_10"]
    # The scratch tenant is gone, and with it all it made (its rows name it)
    assert not Tenant.objects.filter(slug__startswith="eval-").exists()
