"""Data at scale, at a small scale: the seeded tenants hold what the plan says, each sees only
its own rows, the records work through the product (API, services, search), the SLA clocks
agree with their incidents, and a second run reuses what the first made."""

from collections import Counter
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F, Model, QuerySet
from rest_framework.test import APIClient

from benchmarks.seeding import (
    BENCH_PASSWORD,
    SEED_MARK,
    Expected,
    TenantSize,
    scale_plan,
    seed_scale,
)
from changes.models import Change, ChangeService
from incidents.choices import (
    DEFAULT_PRIORITY_MATRIX,
    SLA_NEVER_DUE,
    EventKind,
    IncidentStatus,
    SlaClockKind,
)
from incidents.models import Incident, IncidentEvent, SlaClock, SlaPolicy
from incidents.services import incident_acknowledge
from itsm.search.selectors import filter_matching
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Membership, TeamMember, Tenant, TenantCounter
from itsm.timers.models import Timer
from knowledgebase.choices import ArticleStatus
from knowledgebase.models import Article, ArticleVersion
from problems.choices import KnownErrorStatus
from problems.models import KnownError, Problem, ProblemIncident
from tests.conftest import api_url
from tests.markers import platform_db

PLAN = scale_plan(300, 3, 150)
TENANT_MODELS: list[type[Model]] = [
    Incident,
    IncidentEvent,
    SlaClock,
    Timer,
    Problem,
    ProblemIncident,
    KnownError,
    Change,
    ChangeService,
    Article,
    ArticleVersion,
    Membership,
]


# Seeded in the test's transaction (the search triggers index row by row), read back through
# the platform scope too: routed to the test's connection.
pytestmark = platform_db


@pytest.fixture
def seeded() -> list[Tenant]:
    return seed_scale(PLAN, analyze=False)


def test_the_plan_gives_the_largest_tenant_its_size_and_the_rest_by_rank() -> None:
    plan = scale_plan(1_000_000, 100, 500_000)
    assert len(plan) == 100
    assert sum(size.incidents for size in plan) == 1_000_000
    assert plan[0] == TenantSize("scale-1000000-000", 500_000, "Scale 1000000 tenant 0")
    assert plan[1].incidents > plan[2].incidents > plan[99].incidents >= 1
    assert [size.incidents for size in PLAN] == [150, 100, 50]
    with pytest.raises(CommandError):
        scale_plan(100, 3, 99)  # one incident left for two tenants


def test_each_tenant_holds_what_its_size_says_and_sees_only_its_own(seeded: list[Tenant]) -> None:
    for tenant, size in zip(seeded, PLAN, strict=True):
        expected = Expected.of(size.incidents)
        with rls.tenant_scope(tenant.pk):
            # No tenant filter: row-level security alone narrows every table to the tenant.
            for model in TENANT_MODELS:
                rows: QuerySet[Any] = model._default_manager.all()
                # Known errors: about one per three problems, so a small tenant may have none.
                assert set(rows.values_list("tenant_id", flat=True)) <= {tenant.pk}, model
                assert rows.exists() or model is KnownError, model
            assert Incident.objects.count() == size.incidents
            assert sorted(Incident.objects.values_list("number", flat=True)) == list(
                range(1, size.incidents + 1)
            )
            counter = TenantCounter.objects.get(key=Incident.NUMBER_PREFIX)
            assert counter.last_value == size.incidents
            events = Counter(IncidentEvent.objects.values_list("incident_id", flat=True))
            assert len(events) == size.incidents
            assert all(3 <= count <= 6 for count in events.values())
            assert Problem.objects.count() == expected.problems
            assert Change.objects.count() == expected.changes
            assert Article.objects.filter(status=ArticleStatus.PUBLISHED).count() == (
                expected.articles
            )
            assert 0 < ProblemIncident.objects.count() <= 4 * expected.problems
            assert KnownError.objects.count() <= expected.problems
            teams = Counter(TeamMember.objects.values_list("team__kind", flat=True))
            assert set(teams) == {TeamKind.L1, TeamKind.L2, TeamKind.L3}
            assert SlaPolicy.objects.count() == 2
    # The platform sees them all.
    with rls.platform_scope():
        assert Incident.objects.filter(tenant__in=seeded).count() == 300
    # Over the three tenants: problems, known errors and links as the ratios say.
    with rls.platform_scope():
        assert KnownError.objects.filter(tenant__in=seeded).exists()
        assert not KnownError.objects.exclude(status=KnownErrorStatus.PUBLISHED).filter(
            tenant__in=seeded
        )


def test_the_history_is_consistent(seeded: list[Tenant]) -> None:
    with rls.platform_scope():
        incidents = Incident.objects.filter(tenant__in=seeded)
        # Over two years most are closed; the open ones are the few of the last days.
        statuses = Counter(incidents.values_list("status", flat=True))
        assert statuses.most_common(1)[0][0] == IncidentStatus.CLOSED
        assert statuses[IncidentStatus.NEW] > 0
        assert incidents.filter(description__endswith=SEED_MARK).count() == 300
        assert not incidents.filter(acknowledged_at__lt=F("created_at")).exists()
        assert not incidents.filter(resolved_at__lt=F("acknowledged_at")).exists()
        assert not incidents.filter(closed_at__lt=F("resolved_at")).exists()
        assert not incidents.filter(updated_at__lt=F("created_at")).exists()
        for impact, urgency, priority in incidents.values_list("impact", "urgency", "priority"):
            assert DEFAULT_PRIORITY_MATRIX[(impact, urgency)] == priority
        # Timelines: begin with their creation, and never before it.
        events = IncidentEvent.objects.filter(tenant__in=seeded)
        assert not events.filter(created_at__lt=F("incident__created_at")).exists()
        firsts = {
            incident.pk: incident.events.order_by("created_at", "id").first()
            for incident in incidents
        }
        assert {event.kind for event in firsts.values() if event} == {EventKind.CREATED}
        closing = events.filter(to_status=IncidentStatus.CLOSED)
        assert not closing.exclude(created_at=F("incident__closed_at")).exists()
        # Problems take incidents of their tenant, created before them.
        links = ProblemIncident.objects.filter(tenant__in=seeded)
        assert not links.exclude(incident__tenant=F("problem__tenant")).exists()
        assert not links.filter(incident__created_at__gt=F("problem__created_at")).exists()


def test_sla_clocks_agree_with_their_incidents_and_timers(seeded: list[Tenant]) -> None:
    with rls.platform_scope():
        clocks = list(SlaClock.objects.filter(tenant__in=seeded).select_related("timer"))
        by_incident: dict[int, list[SlaClock]] = {}
        for clock in clocks:
            by_incident.setdefault(clock.incident_id, []).append(clock)
            # A clock runs, is paused or stopped; only a running one is due; timers are idle.
            assert [
                clock.running_since is not None,
                clock.paused_since is not None,
                clock.stopped_at is not None,
            ].count(True) == 1
            assert (clock.due_at is not None) == (clock.running_since is not None)
            assert clock.timer.step is None
            assert clock.timer.fire_at is None
            assert clock.timer.tenant_id == clock.tenant_id
            if clock.stopped_at is not None:
                assert clock.elapsed == clock.stopped_at - clock.started_at
        incidents = Incident.objects.filter(tenant__in=seeded)
        open_ids = set(
            incidents.filter(
                status__in=[IncidentStatus.NEW, IncidentStatus.IN_PROGRESS, IncidentStatus.ON_HOLD]
            ).values_list("pk", flat=True)
        )
        assert open_ids
        assert open_ids <= set(by_incident)
        for incident in incidents.filter(pk__in=by_incident):
            own = by_incident[incident.pk]
            assert sorted(clock.kind for clock in own) == [
                SlaClockKind.RESOLUTION,
                SlaClockKind.RESPONSE,
            ]
            due = min((c.due_at for c in own if c.due_at is not None), default=SLA_NEVER_DUE)
            assert incident.sla_due_at == due
            assert incident.sla_breached == any(c.breached_at is not None for c in own)
        # Incidents without clocks: never due, never breached.
        rest = incidents.exclude(pk__in=by_incident)
        assert not rest.exclude(sla_due_at=SLA_NEVER_DUE, sla_breached=False).exists()


def test_seeded_records_work_through_the_product(
    api_client: Callable[[Any], APIClient],
) -> None:
    # Enough incidents for a few still new: only the last 30 days' are (older ones were
    # cancelled), about 4 % of them.
    tenant, other = seed_scale(scale_plan(3_100, 2, 3_000), analyze=False)
    agent = get_user_model().objects.get(username=f"{tenant.slug}-l1-agent-0")
    assert agent.check_password(BENCH_PASSWORD)
    with rls.tenant_scope(tenant.pk):
        assert Membership.objects.get(user=agent).role == MembershipRole.AGENT
        incident = Incident.objects.filter(status=IncidentStatus.NEW).order_by("-number").first()
        assert incident is not None
    client = api_client(agent)
    response = client.get(api_url(tenant, f"incidents/{incident.reference}/"))
    assert response.status_code == 200, response.content
    assert response.json()["title"] == incident.title
    # Another tenant's agent does not find it.
    stranger = get_user_model().objects.get(username=f"{other.slug}-l1-agent-0")
    assert api_client(stranger).get(
        api_url(tenant, f"incidents/{incident.reference}/")
    ).status_code in (
        403,
        404,
    )
    # An agent acknowledges the seeded incident: the response clock stops.
    with rls.tenant_scope(tenant.pk):
        done = incident_acknowledge(tenant=tenant, incident_id=incident.pk, actor=agent)
        assert done.status == IncidentStatus.IN_PROGRESS
        response_clock = SlaClock.objects.get(incident=incident, kind=SlaClockKind.RESPONSE)
        assert response_clock.stopped_at is not None
        assert IncidentEvent.objects.filter(
            incident=incident, to_status=IncidentStatus.IN_PROGRESS
        ).exists()
        # Search finds the seeded titles and articles, in the tenant only.
        word = incident.title.split()[0]
        found = filter_matching(
            Incident.objects.all(), tenant_id=tenant.pk, kind="incident", text=word
        )
        assert incident in found
        article = Article.objects.first()
        assert article is not None
        matches = filter_matching(
            Article.objects.all(), tenant_id=tenant.pk, kind="article", text=article.title
        )
        assert article in matches


def test_a_second_run_reuses_the_tenants_and_a_half_seeded_one_is_refused(
    seeded: list[Tenant],
) -> None:
    with rls.platform_scope():
        before = Incident.objects.count(), IncidentEvent.objects.count(), Problem.objects.count()
    assert seed_scale(PLAN, analyze=False) == seeded
    with rls.platform_scope():
        after = Incident.objects.count(), IncidentEvent.objects.count(), Problem.objects.count()
    assert after == before
    changed = [TenantSize(PLAN[0].slug, 151)]
    with pytest.raises(CommandError, match="half seeded"):
        seed_scale(changed, analyze=False)


@pytest.mark.django_db
def test_the_command_prints_its_phases() -> None:
    out = StringIO()
    call_command("seed_scale", incidents=40, tenants=2, largest=30, no_analyze=True, stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Seeding 40 incidents over 2 tenants ..."
    assert any(line.startswith("incidents, timelines, SLA clocks") for line in lines)
    assert lines[-2].startswith("seeding in all: ")
    assert "scale-40-000-l1-agent-0" in lines[-1]
    again = StringIO()
    call_command("seed_scale", incidents=40, tenants=2, largest=30, no_analyze=True, stdout=again)
    assert again.getvalue().splitlines()[0].startswith("Ready: 2 tenants")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_index_is_filled_once_after_vacuum() -> None:
    """The fast path: search triggers off during the load, VACUUM ANALYZE, one backfill."""
    out = StringIO()
    call_command("seed_scale", incidents=60, tenants=1, largest=60, stdout=out)
    text = out.getvalue()
    assert "VACUUM ANALYZE: " in text
    assert "search index filled once: " in text
    tenant = Tenant.objects.get(slug="scale-60-000")
    with rls.tenant_scope(tenant.pk):
        for incident in Incident.objects.all():
            word = incident.title.split()[0]
            assert filter_matching(
                Incident.objects.filter(pk=incident.pk),
                tenant_id=tenant.pk,
                kind="incident",
                text=word,
            ).exists()
        assert KnownError.objects.exists() or Problem.objects.exists()
