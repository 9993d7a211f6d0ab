"""Measure the incident list endpoint at scale: queries per request and time per request.

    manage.py benchmark_incident_list --incidents 10000 --requests 200

Seeds (once) a tenant `bench-<N>` with N incidents spread over teams, agents, services and
categories, then requests the list through the whole Django/DRF stack in process, as an
agent with a token. Reported, never asserted: speed is not a unit test.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.core.signals import request_started
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.choices import IncidentSource, IncidentStatus
from incidents.models import Incident
from itsm.accounts.services import api_token_issue
from itsm.catalog.models import Category, Service
from itsm.search.sql import indexing_deferred
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant, TenantCounter


class Command(BaseCommand):
    help = "Benchmark the incident list endpoint (queries and milliseconds per request)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incidents", type=int, default=10_000)
        parser.add_argument("--requests", type=int, default=200)
        parser.add_argument(
            "--no-analyze", action="store_true", help="Skip ANALYZE after seeding (tests)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count, requests = options["incidents"], options["requests"]
        tenant, agent = seed_incidents(count, analyze=not options["no_analyze"], out=self.stdout)
        # Django clears the query log when a request starts; keep it to count the queries.
        request_started.disconnect(reset_queries)
        client = Client(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=agent).key}")
        base = f"/api/v1/t/{tenant.slug}/incidents/"
        first = client.get(base).json()
        cases = {
            "first page (50)": base,
            "filtered: open SEV1-2": f"{base}?status=new&status=in_progress&priority=1&priority=2",
            "search 'printer'": f"{base}?search=printer",
            "page 20 by cursor": self._deep_page(client, first, 19),
            "page of 200": f"{base}?page_size=200",
            "detail": f"{base}{first['results'][0]['reference']}/",
        }
        self.stdout.write(f"{count} incidents in tenant {tenant.slug}; {requests} requests each")
        self.stdout.write(f"{'request':<24}{'queries':>8}{'median ms':>11}{'p95 ms':>9}")
        for name, url in cases.items():
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            assert response.status_code == 200, response.content
            query_count = len(queries)  # read now: the log is cleared below
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                reset_queries()
            timings.sort()
            p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
            self.stdout.write(
                f"{name:<24}{query_count:>8}{statistics.median(timings):>11.2f}{p95:>9.2f}"
            )

    def _deep_page(self, client: Client, page: dict[str, Any], hops: int) -> str:
        """The URL of page `hops + 1` (or of the last page, in a small tenant)."""
        url = str(page["next"])
        for _ in range(hops - 1):
            page = client.get(url).json()
            if not page["next"]:
                break
            url = page["next"]
        return url


def seed_incidents(count: int, *, analyze: bool, out: Any) -> tuple[Tenant, Any]:
    """A tenant `bench-<N>` with N incidents over 3 teams, 30 agents, 20 services and 15
    categories (made once; later runs reuse it) and an agent outside the teams."""
    slug = f"bench-{count}"
    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": f"Bench {count}"})
    users = get_user_model().objects
    agent, created = users.get_or_create(username=f"{slug}-agent")
    with rls.tenant_scope(tenant.pk):
        if created:
            Membership.objects.create(tenant=tenant, user=agent, role=MembershipRole.AGENT)
        if Incident.objects.for_tenant(tenant).count() >= count:
            return tenant, agent
    out.write(f"Seeding {count} incidents ...")
    # Indexed for search in one statement at the end: an entry per row costs several times more.
    with indexing_deferred("incident"), rls.tenant_scope(tenant.pk):
        rng = random.Random(count)  # noqa: S311 - test data, not security
        teams = [
            Team.objects.create(tenant=tenant, slug=f"team-{kind}", name=kind, kind=kind)
            for kind in (TeamKind.L1, TeamKind.L2, TeamKind.L3)
        ]
        people = []
        for index in range(30):
            user, _ = users.get_or_create(username=f"{slug}-person-{index}")
            Membership.objects.create(tenant=tenant, user=user, role=MembershipRole.AGENT)
            TeamMember.objects.create(tenant=tenant, team=teams[index % 3], user=user)
            people.append(user)
        services = [
            Service.objects.create(tenant=tenant, slug=f"service-{i}", name=f"Service {i}")
            for i in range(20)
        ]
        categories = [
            Category.objects.create(tenant=tenant, slug=f"category-{i}", name=f"Category {i}")
            for i in range(15)
        ]
        words = ["printer", "vpn", "mail", "login", "slow", "error", "crash", "network"]
        now = timezone.now()
        batch = []
        for number in range(1, count + 1):
            status = rng.choice(list(IncidentStatus))
            batch.append(
                Incident(
                    tenant=tenant,
                    number=number,
                    title=f"{rng.choice(words)} {rng.choice(words)} issue {number}",
                    description="Generated for the benchmark. " * 5,
                    reported_by=rng.choice(people),
                    source=rng.choice(list(IncidentSource)),
                    impact=rng.randint(1, 3),
                    urgency=rng.randint(1, 3),
                    priority=rng.randint(1, 4),
                    status=status,
                    assignment_team=rng.choice(teams),
                    assignee=rng.choice(people),
                    service=rng.choice(services),
                    category=rng.choice(categories),
                    detected_at=now - timedelta(minutes=number),
                )
            )
            if len(batch) == 5000:
                Incident.objects.bulk_create(batch)
                batch = []
        Incident.objects.bulk_create(batch)
        TenantCounter.objects.update_or_create(
            tenant=tenant, key=Incident.NUMBER_PREFIX, defaults={"last_value": count}
        )
    if analyze and connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum would gather them; only the table owner may.
        with rls.owner_connection(), connection.cursor() as cursor:
            cursor.execute("ANALYZE incidents_incident")
    return tenant, agent
