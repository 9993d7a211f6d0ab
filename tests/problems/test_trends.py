"""Trend analysis on a small hand-made set whose clusters are obvious: they are found, unrelated
incidents stay out, linked ones are left alone; runs are idempotent; decisions stick."""

import pytest
from scipy.sparse import csgraph

from itsm.errors import ConflictError, InvalidInputError
from itsm.tenancy import rls
from problems import services, trends
from problems.choices import SuggestionStatus, TrendRunStatus
from problems.models import (
    ProblemIncident,
    ProblemSuggestion,
    SuggestionIncident,
    TrendRun,
    TrendSettings,
)
from tests.factories import IncidentFactory, ProblemFactory

pytestmark = pytest.mark.django_db

OUTLOOK = [
    "Outlook crashes when opening PDF attachments",
    "Outlook crashed opening a PDF attachment",
    "Outlook crash on PDF attachment open",
    "Outlook keeps crashing when I open attachments (PDF)",
]
VPN = [
    "VPN disconnects every hour",
    "VPN disconnected again after one hour",
    "VPN connection drops every hour on the hour",
]
# A service desk's ordinary month around them: one of each, nothing alike.
UNRELATED = [
    "Need a new keyboard for the reception desk",
    "Payroll export misses overtime hours",
    "Printer on floor 3 shows paper jam",
    "Request access to the finance share",
    "Laptop battery swollen",
    "Teams meeting recording not available",
    "Password expired for the HR portal",
    "Monitor flickers after docking",
    "Excel macro blocked by security policy",
    "New starter needs a phone extension",
    "SharePoint site permissions for project Atlas",
    "Calendar invites arrive twice",
    "Badge reader at the garage door is offline",
    "Projector in room 4.12 has no signal",
    "Request a licence for Visio",
    "Backup job for the file server failed last night",
    "Wi-Fi in the canteen is slow",
    "Mobile phone cannot sync contacts",
    "Invoice PDF shows wrong VAT number",
    "Citrix session freezes at login",
    "Headset microphone not detected",
    "DNS name for the test server is missing",
    "Certificate warning on the intranet",
    "Shared mailbox for the sales team",
    "Scanner saves files to the wrong folder",
    "Time sheet application shows an error 500",
    "Bluetooth mouse disconnects",
    "Disk almost full on the build agent",
    "ERP report takes ten minutes to open",
    "Cannot print double-sided from Word",
]


@pytest.fixture
def incidents(tenant_a):
    def make(titles):
        return [IncidentFactory(tenant=tenant_a, title=t, description="") for t in titles]

    return {"outlook": make(OUTLOOK), "vpn": make(VPN), "other": make(UNRELATED)}


def _run(tenant):
    with rls.tenant_scope(tenant.pk):
        run = services.trend_run_request(tenant=tenant)
    return services.trend_run_execute(tenant=tenant, run_id=run.pk)


def _suggested(tenant):
    """{frozenset of incident ids} of the open suggestions."""
    with rls.tenant_scope(tenant.pk):
        groups: dict[int, set[int]] = {}
        for suggestion_id, incident_id in SuggestionIncident.objects.filter(
            suggestion__status=SuggestionStatus.OPEN
        ).values_list("suggestion_id", "incident_id"):
            groups.setdefault(suggestion_id, set()).add(incident_id)
    return {frozenset(ids) for ids in groups.values()}


def _ids(incidents):
    return frozenset(incident.pk for incident in incidents)


def _found_cleanly(tenant, *groups):
    """Each group is suggested exactly, and no other suggestion takes any of their incidents
    (unrelated incidents may pair among themselves: a word in common can be enough)."""
    suggested = _suggested(tenant)
    expected = {_ids(group) for group in groups}
    members = frozenset().union(*expected)
    others = suggested - expected
    return expected <= suggested and not any(other & members for other in others)


def test_the_obvious_clusters_are_found_and_nothing_else(tenant_a, incidents):
    run = _run(tenant_a)

    assert run.status == TrendRunStatus.SUCCEEDED
    assert run.progress == 100
    assert run.incidents_considered == len(OUTLOOK) + len(VPN) + len(UNRELATED)
    assert _found_cleanly(tenant_a, incidents["outlook"], incidents["vpn"])
    with rls.tenant_scope(tenant_a.pk):
        outlook = ProblemSuggestion.objects.get(incident_count=4)
    assert "outlook" in outlook.evidence["terms"]
    assert outlook.title in OUTLOOK
    assert 0 < outlook.score <= 1


def test_incidents_linked_to_a_problem_are_left_out(tenant_a, incidents):
    problem = ProblemFactory(tenant=tenant_a)
    with rls.tenant_scope(tenant_a.pk):
        for incident in incidents["vpn"]:
            ProblemIncident.objects.create(tenant=tenant_a, problem=problem, incident=incident)

    _run(tenant_a)

    assert _found_cleanly(tenant_a, incidents["outlook"])
    linked = _ids(incidents["vpn"])
    assert not any(group & linked for group in _suggested(tenant_a))


def test_running_twice_gives_the_same_suggestions_and_a_grown_cluster_gains_its_incident(
    tenant_a, incidents
):
    _run(tenant_a)
    before = _suggested(tenant_a)
    second = _run(tenant_a)
    assert second.suggestions_created == 0
    assert second.suggestions_updated == len(before)
    assert _suggested(tenant_a) == before

    newcomer = IncidentFactory(
        tenant=tenant_a, title="Outlook crashes on PDF attachments", description=""
    )
    third = _run(tenant_a)

    assert third.suggestions_created == 0
    assert _ids([*incidents["outlook"], newcomer]) in _suggested(tenant_a)


def test_a_run_is_refused_while_another_is_queued(tenant_a):
    with rls.tenant_scope(tenant_a.pk):
        services.trend_run_request(tenant=tenant_a)
        with pytest.raises(ConflictError):
            services.trend_run_request(tenant=tenant_a)


def test_a_failed_run_says_why_and_writes_no_suggestion(tenant_a, incidents, monkeypatch):
    def broken(*args, **kwargs):
        raise MemoryError("graph too large")

    monkeypatch.setattr(csgraph, "connected_components", broken)
    monkeypatch.setattr(trends, "connected_components", broken)
    with pytest.raises(MemoryError):
        _run(tenant_a)

    with rls.tenant_scope(tenant_a.pk):
        run = TrendRun.objects.get()
        assert run.status == TrendRunStatus.FAILED
        assert "graph too large" in run.error
        assert not ProblemSuggestion.objects.exists()


def test_min_incidents_is_the_tenants_setting(tenant_a, incidents):
    with rls.tenant_scope(tenant_a.pk):
        TrendSettings.objects.create(tenant=tenant_a, min_incidents=4)

    _run(tenant_a)

    assert all(len(group) >= 4 for group in _suggested(tenant_a))
    assert _ids(incidents["outlook"]) in _suggested(tenant_a)


# --- Decisions -----------------------------------------------------------------------------------


def _suggestion_of(tenant, incidents):
    with rls.tenant_scope(tenant.pk):
        return ProblemSuggestion.objects.get(incident_links__incident=incidents[0])


def test_accepting_creates_a_problem_with_the_incidents_linked(tenant_a, incidents, make_member):
    _run(tenant_a)
    manager = make_member(tenant_a, "problem_manager")
    suggestion = _suggestion_of(tenant_a, incidents["vpn"])

    with rls.tenant_scope(tenant_a.pk):
        problem = services.suggestion_accept(
            tenant=tenant_a, suggestion_id=suggestion.pk, actor=manager
        )
        linked = set(
            ProblemIncident.objects.filter(problem=problem).values_list("incident_id", flat=True)
        )
        suggestion.refresh_from_db()

    assert linked == _ids(incidents["vpn"])
    assert problem.title == suggestion.title
    assert problem.problem_manager == manager
    assert (suggestion.status, suggestion.problem_id) == (SuggestionStatus.ACCEPTED, problem.pk)
    # Decided is decided
    with rls.tenant_scope(tenant_a.pk), pytest.raises(ConflictError):
        services.suggestion_dismiss(
            tenant=tenant_a, suggestion_id=suggestion.pk, actor=manager, reason="x"
        )


def test_merging_links_the_incidents_to_an_existing_problem(tenant_a, incidents, make_member):
    _run(tenant_a)
    manager = make_member(tenant_a, "problem_manager")
    problem = ProblemFactory(tenant=tenant_a)
    suggestion = _suggestion_of(tenant_a, incidents["outlook"])

    with rls.tenant_scope(tenant_a.pk):
        services.suggestion_merge(
            tenant=tenant_a, suggestion_id=suggestion.pk, actor=manager, problem_id=problem.pk
        )
        linked = set(
            ProblemIncident.objects.filter(problem=problem).values_list("incident_id", flat=True)
        )

    assert linked == _ids(incidents["outlook"])


def test_a_dismissed_group_is_not_suggested_again_but_a_new_incident_may_form_one(
    tenant_a, incidents, make_member
):
    _run(tenant_a)
    manager = make_member(tenant_a, "problem_manager")
    suggestion = _suggestion_of(tenant_a, incidents["vpn"])
    with rls.tenant_scope(tenant_a.pk):
        services.suggestion_dismiss(
            tenant=tenant_a, suggestion_id=suggestion.pk, actor=manager, reason="Known ISP issue."
        )

    _run(tenant_a)
    assert _ids(incidents["vpn"]) not in _suggested(tenant_a)

    newcomer = IncidentFactory(
        tenant=tenant_a, title="VPN disconnects every hour again", description=""
    )
    _run(tenant_a)
    assert _ids([*incidents["vpn"], newcomer]) in _suggested(tenant_a)


def test_dismissing_needs_a_reason(tenant_a, incidents, make_member):
    _run(tenant_a)
    suggestion = _suggestion_of(tenant_a, incidents["vpn"])
    with rls.tenant_scope(tenant_a.pk), pytest.raises(InvalidInputError) as refused:
        services.suggestion_dismiss(
            tenant=tenant_a,
            suggestion_id=suggestion.pk,
            actor=make_member(tenant_a, "problem_manager"),
            reason="  ",
        )
    assert refused.value.fields == {"reason": ["Required."]}
