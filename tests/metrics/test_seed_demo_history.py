"""`seed_demo_history`: about 90 days of past incidents in the demo tenants, with SLA clocks for
the finished ones and rollups built whole; a second run changes nothing; every incident figure
of the demo tenant has something to show, and reading it from the rollups gives what reading
the incidents gives."""

import math
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Max
from django.utils import timezone

from incidents.choices import IncidentStatus
from incidents.management.commands.seed_demo_history import DAYS, MARK
from incidents.metrics.provider import IncidentReport
from incidents.metrics.rollups import ROLLUP
from incidents.models import Incident, SlaClock
from itsm.calendars.selectors import tenant_time_zone
from itsm.metrics.models import RollupState
from itsm.metrics.query import MetricQuery, Period
from itsm.metrics.registry import Figure
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant, TenantCounter


def run(command: str) -> str:
    out = StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def snapshot(tenant: Tenant) -> dict[str, Any]:
    with rls.tenant_scope(tenant.pk):
        history = Incident.objects.for_tenant(tenant).filter(description=MARK)
        return {
            "incidents": Incident.objects.for_tenant(tenant).count(),
            "history": history.count(),
            "oldest": history.order_by("created_at").values_list("created_at", flat=True).first(),
            "clocks": SlaClock.objects.for_tenant(tenant).filter(incident__in=history).count(),
            "finished": history.filter(
                status__in=[
                    IncidentStatus.RESOLVED,
                    IncidentStatus.CLOSED,
                    IncidentStatus.CANCELLED,
                ]
            ).count(),
            "counter": TenantCounter.objects.for_tenant(tenant)
            .filter(key=Incident.NUMBER_PREFIX)
            .values_list("last_value", flat=True)
            .get(),
            "highest": Incident.objects.for_tenant(tenant).aggregate(top=Max("number"))["top"],
            "rollup": RollupState.objects.for_tenant(tenant)
            .filter(name=ROLLUP)
            .values_list("rebuilt_at", "complete_through")
            .first(),
        }


def flat(figures: list[Figure]) -> dict[str, Any]:
    """The figures' numbers in one flat mapping, none as NaN (what pytest.approx compares)."""
    numbers: dict[str, Any] = {}
    for figure in figures:
        found = figure.as_dict()
        for name in ("value", "count", "median", "p90"):
            numbers[f"{found['key']}.{name}"] = found[name]
        for name, value in found["parts"].items():
            numbers[f"{found['key']}.parts.{name}"] = value
    return {key: math.nan if value is None else value for key, value in numbers.items()}


@pytest.fixture
def acme(db: None) -> Tenant:
    run("seed_demo")
    run("seed_demo_incidents")
    return Tenant.objects.get(slug="acme")


@pytest.mark.django_db
def test_it_seeds_the_history_once(acme: Tenant) -> None:
    before = snapshot(acme)
    started = timezone.now()

    first = run("seed_demo_history")
    seeded = snapshot(acme)
    again = run("seed_demo_history")

    assert "Acme Corporation:" in first
    assert "Acme Corporation:" not in again  # left alone
    assert snapshot(acme) == seeded
    # Months of history beside the few incidents of today, numbered after them without gaps
    assert 300 < seeded["history"] < 700
    assert seeded["incidents"] == before["incidents"] + seeded["history"]
    assert seeded["counter"] == seeded["highest"] == seeded["incidents"]
    assert (
        started - timedelta(days=DAYS + 1) < seeded["oldest"] < started - timedelta(days=DAYS - 2)
    )
    # Two clocks for every finished incident; the rollup built whole through yesterday
    assert seeded["clocks"] == 2 * seeded["finished"] > 0
    rebuilt_at, complete_through = seeded["rollup"]
    assert rebuilt_at >= started
    zone = tenant_time_zone(tenant=acme)
    assert complete_through == started.astimezone(zone).date() - timedelta(days=1)


@pytest.mark.django_db
def test_every_figure_of_the_demo_tenant_has_something_to_show(acme: Tenant) -> None:
    run("seed_demo_history")

    with rls.tenant_scope(acme.pk):
        zone = tenant_time_zone(tenant=acme)
        today = timezone.now().astimezone(zone).date()
        period = Period(today - timedelta(days=DAYS - 1), today, zone, "week")
        query = MetricQuery(period=period)
        rolled = IncidentReport(acme, query)
        live = IncidentReport(acme, query, use_rollups=False)
        figures = {figure.definition.key: figure for figure in rolled.summary()}
        created = (
            Incident.objects.for_tenant(acme)
            .filter(created_at__gte=period.start, created_at__lt=period.end)
            .count()
        )
        assert rolled.freshness().from_rollups
        from_rollups, from_incidents = flat(rolled.summary()), flat(live.summary())
        weekly = rolled.details(["volume"])[0].rows

    # Sums of days and one sum over the period differ in the last digits; each report ages the
    # backlog from its own "now", a few milliseconds apart.
    assert from_rollups == pytest.approx(from_incidents, rel=1e-6, nan_ok=True)
    assert figures["volume"].count == created > 300
    for key in ("mttd", "mtta", "mttr", "time_to_close", "backlog_age"):
        figure = figures[key]
        assert figure.count > 0
        assert figure.value, key
        assert figure.median, key
        assert figure.p90, key
        assert figure.median <= figure.p90, key
    assert figures["mtbf"].value
    for key in ("escalation_rate", "first_contact_rate", "first_assignment_rate", "reopen_rate"):
        assert 0 < (figures[key].value or 0) < 1, key
    escalation = figures["escalation_rate"].parts
    assert 0 < (escalation["functional"] or 0) < 1
    assert 0 < (escalation["hierarchical"] or 0) < 1
    detection = figures["detection_source"].parts
    assert detection["monitoring"]
    assert detection["customer"]
    assert detection["proactive"]
    sla = figures["sla_compliance"]
    assert 0 < (sla.value or 0) < 1
    assert sla.parts["met"]
    assert sla.parts["breached"]
    # Every week of the period has incidents
    assert all(sum(value for name, value in row.items() if name != "bucket") for row in weekly)
