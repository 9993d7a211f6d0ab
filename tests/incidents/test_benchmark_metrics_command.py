"""The metrics benchmark keeps working at a tiny scale: it seeds sound incidents and clocks in
bulk, and times the summary both ways (figures reported in docs, never asserted)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F, Q

from incidents.choices import IncidentStatus, SlaClockKind
from incidents.management.commands.benchmark_metrics import tenant_sizes
from incidents.models import Incident, SlaClock
from itsm.audit.models import AuditEvent
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant, TenantCounter
from itsm.timers.models import Timer


def run(**options: object) -> list[str]:
    out = StringIO()
    call_command(
        "benchmark_metrics", runs=1, periods=[30, 365], no_analyze=True, stdout=out, **options
    )
    return out.getvalue().splitlines()


def test_tenant_sizes_give_the_largest_tenant_its_share():
    # 40 tenants: 28 % for the first, the rest by 1/rank (the second gets 720000 / H(39)).
    sizes = tenant_sizes(1_000_000, 40)
    assert sum(sizes) == 1_000_000
    assert sizes[0] == 1_000_000 - sum(sizes[1:])
    assert 279_900 <= sizes[0] <= 280_100
    assert sizes[1] == int(720_000 / sum(1 / rank for rank in range(1, 40)))
    # Few tenants: 60 × 0.28 = 17, the rest 43 by 1/1 and 1/2 = 28 and 14; 28 is capped at 17
    # and the largest takes what is left: 60 - 17 - 14 = 29.
    assert tenant_sizes(60, 3) == [29, 17, 14]
    assert tenant_sizes(5, 1) == [5]


@pytest.mark.django_db
def test_metrics_benchmark_seeds_once_and_reports_both_ways():
    lines = run(incidents=60, tenants=3)
    assert lines[0] == "Seeding 60 incidents over 3 tenants ..."
    # The largest tenant's 29 incidents each have a response and a resolution clock.
    assert lines[1].startswith("wrote 60 incidents and 58 SLA clocks")
    assert "largest tenant metrics-60-00: 29 incidents (UTC)" in lines
    rows = [line.split() for line in lines if line.startswith(("30 d", "365 d"))]
    cases = [" ".join(row[2:-4]) for row in rows]
    assert cases == ["floor: count", "without rollups", "with rollups"] * 2
    queries = [int(row[-4]) for row in rows]
    # The floor is one query; a summary is a handful, however many incidents there are.
    assert queries[0] == queries[3] == 1
    assert all(1 < count < 30 for index, count in enumerate(queries) if index % 3)
    assert lines.count("        figures agree: yes") == 2

    # A second run reuses the seed.
    again = run(incidents=60, tenants=3)
    assert not any(line.startswith("Seeding") for line in again)
    assert again[0] == "largest tenant metrics-60-00: 29 incidents (UTC)"


@pytest.mark.django_db
def test_seeded_incidents_are_sound():
    run(incidents=60, tenants=3)
    tenants = list(Tenant.objects.filter(slug__startswith="metrics-60-").order_by("slug"))
    sizes = []
    for tenant in tenants:
        with rls.tenant_scope(tenant.pk):
            incidents = Incident.objects.for_tenant(tenant)
            sizes.append(incidents.count())
            counter = TenantCounter.objects.get(tenant=tenant, key=Incident.NUMBER_PREFIX)
            assert counter.last_value == incidents.count()
            assert sorted(incidents.values_list("number", flat=True)) == list(
                range(1, incidents.count() + 1)
            )
            # Times in order: created, acknowledged, resolved, closed.
            assert not incidents.filter(acknowledged_at__lt=F("created_at")).exists()
            assert not incidents.filter(resolved_at__lt=F("acknowledged_at")).exists()
            assert not incidents.filter(closed_at__lt=F("resolved_at")).exists()
            assert not incidents.filter(
                status=IncidentStatus.CLOSED, closed_at__isnull=True
            ).exists()
            assert not incidents.filter(
                Q(resolved_at__isnull=False) | Q(closed_at__isnull=False),
                status=IncidentStatus.CANCELLED,
            ).exists()
            assert not incidents.exclude(
                escalation_count=F("functional_escalation_count")
                + F("hierarchical_escalation_count")
            ).exists()
            # Seeded in bulk with the audit triggers ignored: no audit event per row.
            assert not AuditEvent.objects.filter(tenant=tenant, model="incidents.incident").exists()
    assert sizes == [29, 17, 14]

    largest = tenants[0]
    with rls.tenant_scope(largest.pk):
        clocks = SlaClock.objects.for_tenant(largest)
        assert clocks.count() == 58
        assert clocks.filter(kind=SlaClockKind.RESPONSE).count() == 29
        # Each clock has its own (idle) timer, and stops when its incident was acknowledged.
        timers = Timer.objects.for_tenant(largest)
        assert timers.filter(pk__in=clocks.values("timer_id"), fire_at__isnull=True).count() == 58
        response = clocks.filter(
            kind=SlaClockKind.RESPONSE, incident__acknowledged_at__isnull=False
        )
        assert not response.exclude(stopped_at=F("incident__acknowledged_at")).exists()
        # A breach is at the due time: the start plus the target.
        assert (
            not clocks.filter(breached_at__isnull=False)
            .exclude(breached_at=F("started_at") + F("target"))
            .exists()
        )
        # The incident's summary flag says whether any of its clocks breached.
        flagged = set(
            Incident.objects.for_tenant(largest)
            .filter(sla_breached=True)
            .values_list("pk", flat=True)
        )
        assert flagged == set(
            clocks.filter(breached_at__isnull=False).values_list("incident_id", flat=True)
        )
