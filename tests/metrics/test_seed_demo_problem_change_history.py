"""`seed_demo_problem_history` and the history `seed_demo_changes` adds: about 90 days of past
problems and closed changes in the demo tenants, some of them linked to the incident history; a
second run changes nothing; the problem and change figures of the last 90 days have something
to show, and give what counting the rows gives."""

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Max
from django.utils import timezone

from changes.choices import ChangeOutcome, ChangeStatus
from changes.management.commands.seed_demo_changes import HISTORY_MARK
from changes.metrics import ChangeMetrics
from changes.models import Change, ChangeApproval, ChangeIncident, ChangeService
from itsm.calendars.selectors import tenant_time_zone
from itsm.metrics.query import MetricQuery, Period
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant, TenantCounter
from problems.choices import OPEN_PROBLEM_STATUSES, ProblemStatus
from problems.management.commands.seed_demo_problem_history import DAYS, MARK
from problems.metrics import ProblemMetrics
from problems.models import Problem, ProblemIncident, ProblemService

COMMANDS = ("seed_demo_history", "seed_demo_problem_history", "seed_demo_changes")


def run(command: str) -> str:
    out = StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def counter(tenant: Tenant, key: str) -> int | None:
    return (
        TenantCounter.objects.for_tenant(tenant)
        .filter(key=key)
        .values_list("last_value", flat=True)
        .first()
    )


def snapshot(tenant: Tenant) -> dict[str, Any]:
    with rls.tenant_scope(tenant.pk):
        problems = Problem.objects.for_tenant(tenant).filter(description=MARK)
        changes = Change.objects.for_tenant(tenant).filter(description=HISTORY_MARK)
        return {
            "problems": Problem.objects.for_tenant(tenant).count(),
            "problem_history": problems.count(),
            "problem_statuses": sorted(problems.values_list("status", flat=True)),
            "problem_services": ProblemService.objects.for_tenant(tenant)
            .filter(problem__in=problems)
            .count(),
            "problem_incidents": ProblemIncident.objects.for_tenant(tenant)
            .filter(problem__in=problems)
            .count(),
            "problem_counter": counter(tenant, Problem.NUMBER_PREFIX),
            "problem_highest": Problem.objects.for_tenant(tenant).aggregate(top=Max("number"))[
                "top"
            ],
            "changes": Change.objects.for_tenant(tenant).count(),
            "change_history": changes.count(),
            "walkthrough": Change.objects.for_tenant(tenant)
            .exclude(description=HISTORY_MARK)
            .count(),
            "closed": changes.filter(status=ChangeStatus.CLOSED).count(),
            "change_services": ChangeService.objects.for_tenant(tenant)
            .filter(change__in=changes)
            .count(),
            "approvals": ChangeApproval.objects.for_tenant(tenant)
            .filter(change__in=changes)
            .count(),
            "caused": ChangeIncident.objects.for_tenant(tenant).filter(change__in=changes).count(),
            "change_counter": counter(tenant, Change.NUMBER_PREFIX),
            "change_highest": Change.objects.for_tenant(tenant).aggregate(top=Max("number"))["top"],
        }


@pytest.fixture
def tenants(db: None) -> dict[str, Tenant]:
    run("seed_demo")
    run("seed_demo_incidents")
    return {tenant.slug: tenant for tenant in Tenant.objects.filter(slug__in=["acme", "globex"])}


def last_days(tenant: Tenant) -> MetricQuery:
    zone = tenant_time_zone(tenant=tenant)
    today = timezone.now().astimezone(zone).date()
    return MetricQuery(period=Period(today - timedelta(days=DAYS - 1), today, zone, "week"))


@pytest.mark.django_db
def test_it_seeds_the_problem_and_change_history_once(tenants: dict[str, Tenant]) -> None:
    acme, globex = tenants["acme"], tenants["globex"]
    started = timezone.now()

    first = {command: run(command) for command in COMMANDS}
    seeded = {slug: snapshot(tenant) for slug, tenant in tenants.items()}
    again = {command: run(command) for command in COMMANDS}

    for command in ("seed_demo_problem_history", "seed_demo_changes"):
        assert "Acme Corporation:" in first[command]
        assert "Globex Logistics:" in first[command]
        assert "Acme Corporation:" not in again[command]  # left alone
        assert "Globex Logistics:" not in again[command]
    assert {slug: snapshot(tenant) for slug, tenant in tenants.items()} == seeded

    ours, theirs = seeded["acme"], seeded["globex"]
    for found in (ours, theirs):
        # Numbered after what the tenant had, without gaps; every row affects a service
        assert found["problem_counter"] == found["problem_highest"] == found["problems"]
        assert found["change_counter"] == found["change_highest"] == found["changes"]
        assert found["problem_services"] == found["problem_history"] > 0
        assert found["change_services"] == found["change_history"]
        assert 0 < found["closed"] <= found["change_history"]
        assert found["problem_incidents"] > 0
    # The walk-through of the demo tenant is still there beside its history; none in the other
    assert ours["walkthrough"] == 3
    assert theirs["walkthrough"] == 0
    assert 30 < ours["problem_history"] < 120
    assert 50 < ours["change_history"] < 150
    assert ours["approvals"] > 0
    statuses = ours["problem_statuses"] + theirs["problem_statuses"]
    assert ProblemStatus.RESOLVED in statuses
    assert ProblemStatus.CLOSED in statuses
    assert set(statuses) & OPEN_PROBLEM_STATUSES
    assert ours["caused"] + theirs["caused"] > 0
    with rls.tenant_scope(acme.pk):
        oldest = (
            Problem.objects.for_tenant(acme)
            .filter(description=MARK)
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
    assert oldest is not None
    assert oldest < started - timedelta(days=DAYS - 14)  # the history spans the period

    for tenant in (acme, globex):
        with rls.tenant_scope(tenant.pk):
            problems = Problem.objects.for_tenant(tenant).filter(description=MARK)
            changes = Change.objects.for_tenant(tenant).filter(description=HISTORY_MARK)
            oldest = problems.order_by("created_at").values_list("created_at", flat=True).first()
            assert oldest is not None
            assert started - timedelta(days=DAYS + 1) < oldest
            # Stored times in the order the lifecycle writes them, none in the future
            for problem in problems:
                assert problem.created_at <= problem.updated_at <= started
                if problem.resolved_at is not None:
                    assert problem.root_cause_identified_at is not None
                    assert (
                        problem.created_at
                        <= problem.root_cause_identified_at
                        <= problem.resolved_at
                        <= started
                    )
                if problem.closed_at is not None:
                    assert problem.resolved_at is not None
                    assert problem.resolved_at <= problem.closed_at <= started
            for change in changes:
                assert change.created_at <= change.updated_at <= started
                if change.status == ChangeStatus.CLOSED:
                    assert change.outcome in ChangeOutcome.values
                    assert change.actual_start is not None
                    assert change.actual_end is not None
                    assert change.closed_at is not None
                    assert change.actual_start <= change.actual_end <= change.closed_at <= started
                else:
                    assert change.outcome == ""
            # An incident a problem or change took came before it
            for link in ProblemIncident.objects.for_tenant(tenant).select_related(
                "problem", "incident"
            ):
                assert link.incident.created_at < link.problem.created_at
            for caused in ChangeIncident.objects.for_tenant(tenant).select_related(
                "change", "incident"
            ):
                assert caused.change.actual_start is not None
                assert caused.change.actual_start <= caused.incident.created_at


def figures(tenant: Tenant) -> dict[str, Any]:
    """The problem and change figures of the last DAYS days, beside what counting the rows
    gives."""
    query = last_days(tenant)
    start, end = query.period.start, query.period.end
    with rls.tenant_scope(tenant.pk):
        problems = {
            figure.definition.key: figure
            for figure in ProblemMetrics().report(tenant, query).summary()
        }
        (failure_rate,) = ChangeMetrics().report(tenant, query).summary()
        weekly = ProblemMetrics().report(tenant, query).details(["problems_opened"])[0].rows
        counted = Change.objects.for_tenant(tenant).filter(
            closed_at__gte=start, closed_at__lt=end, outcome__in=ChangeOutcome.values
        )
        caused = counted.filter(caused_incidents__isnull=False).distinct()
        return {
            "problems": problems,
            "failure_rate": failure_rate,
            "weeks_with_problems": sum(1 for row in weekly if row["opened"]),
            "weeks": len(weekly),
            "opened": Problem.objects.for_tenant(tenant)
            .filter(created_at__gte=start, created_at__lt=end)
            .count(),
            "resolved": Problem.objects.for_tenant(tenant)
            .filter(resolved_at__gte=start, resolved_at__lt=end)
            .count(),
            "counted": counted.count(),
            "failed": counted.filter(outcome=ChangeOutcome.FAILED).count(),
            "backed_out": counted.filter(outcome=ChangeOutcome.BACKED_OUT).count(),
            "caused": caused.count(),
            "failures": counted.exclude(outcome=ChangeOutcome.SUCCESSFUL).count()
            + caused.filter(outcome=ChangeOutcome.SUCCESSFUL).count(),
        }


@pytest.mark.django_db
def test_the_problem_and_change_figures_have_something_to_show(
    tenants: dict[str, Tenant],
) -> None:
    for command in COMMANDS:
        run(command)

    found = {slug: figures(tenant) for slug, tenant in tenants.items()}

    for each in found.values():
        problems, failure_rate = each["problems"], each["failure_rate"]
        assert problems["problems_opened"].value == each["opened"] > 5
        assert problems["problems_resolved"].value == each["resolved"] > 5
        assert failure_rate.count == each["counted"] > 5
        assert failure_rate.parts["failed"] == each["failed"]
        assert failure_rate.parts["backed_out"] == each["backed_out"]
        assert failure_rate.parts["caused_incident"] == each["caused"]
        assert failure_rate.parts["failures"] == each["failures"]
        assert failure_rate.value == pytest.approx(each["failures"] / each["counted"])
    # The demo tenant's are busy enough to show every part
    acme = found["acme"]
    assert acme["opened"] > 30
    assert acme["resolved"] > 20
    assert acme["counted"] > 40
    assert acme["failures"] > 0
    assert 0 < (acme["failure_rate"].value or 0) < 0.4  # mostly successful
    assert acme["weeks_with_problems"] >= acme["weeks"] - 3
