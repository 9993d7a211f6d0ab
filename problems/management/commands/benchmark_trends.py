"""Measure trend analysis at scale: one run over N incidents, and "similar incidents" after it.

    manage.py benchmark_trends --incidents 100000 --requests 30

Seeds, once, a tenant `trends-<N>` whose incidents are the real help-desk tickets of
tests/data/endava_tickets.csv, cycled with a word or two changed so that no two are identical,
spread over the last 30 days across 20 services and 15 categories. Then it times the analysis
alone (fit and groups over the tenant's records, with the peak memory), a whole run (the
product's own `trend_run_execute`, in process: reads, analysis, writes), and the similar
incidents API for incidents across the tenant beside a bare view (the floor). Reported, never
asserted.
"""

from __future__ import annotations

import csv
import random
import resource
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from django.utils import timezone

from incidents.models import Incident
from itsm.accounts.services import api_token_issue
from itsm.catalog.models import Category, Service
from itsm.search.sql import indexing_deferred
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant, TenantCounter
from problems import selectors, services, trends

TICKETS = Path(settings.BASE_DIR) / "tests" / "data" / "endava_tickets.csv"
BATCH = 5000


def _floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("__floor__/", _floor), path("", include("itsm.urls"))]


def seed(count: int, out: Any) -> tuple[Tenant, Any]:
    slug = f"trends-{count}"
    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": f"Trends {count}"})
    user, created = get_user_model().objects.get_or_create(username=f"{slug}-manager")
    with rls.tenant_scope(tenant.pk):
        if created:
            Membership.objects.create(tenant=tenant, user=user, role=MembershipRole.PROBLEM_MANAGER)
        if Incident.objects.for_tenant(tenant).count() >= count:
            return tenant, user
    out.write(f"Seeding {count} incidents from {TICKETS.name} ...")
    with TICKETS.open(newline="", encoding="utf-8") as handle:
        tickets = [
            (row["title"] or row["body"][:60], row["body"]) for row in csv.DictReader(handle)
        ]
    rng = random.Random(count)  # noqa: S311 - test data, not security
    now = timezone.now()
    with indexing_deferred("incident"), rls.tenant_scope(tenant.pk):
        services_ = [
            Service.objects.create(tenant=tenant, slug=f"service-{i}", name=f"Service {i}")
            for i in range(20)
        ]
        categories = [
            Category.objects.create(tenant=tenant, slug=f"category-{i}", name=f"Category {i}")
            for i in range(15)
        ]
        batch = []
        for number in range(1, count + 1):
            title, body = tickets[(number - 1) % len(tickets)]
            words = body.split()
            if words and number > len(tickets):  # a copy: change a word so it is not identical
                words[rng.randrange(len(words))] = rng.choice(words)
            batch.append(
                Incident(
                    tenant=tenant,
                    number=number,
                    title=title[:200],
                    description=" ".join(words)[:2000],
                    reported_by=user,
                    service=rng.choice(services_),
                    category=rng.choice(categories),
                    detected_at=now,
                )
            )
            if len(batch) == BATCH:
                _insert(batch, now, rng)
                batch = []
        _insert(batch, now, rng)
        TenantCounter.objects.update_or_create(
            tenant=tenant, key=Incident.NUMBER_PREFIX, defaults={"last_value": count}
        )
    if connection.vendor == "postgresql":
        with rls.owner_connection(), connection.cursor() as cursor:
            cursor.execute("ANALYZE incidents_incident")
    return tenant, user


def _insert(batch: list[Incident], now: Any, rng: random.Random) -> None:
    created = Incident.objects.bulk_create(batch)
    for incident in created:  # spread over the window (auto_now_add set them all to now)
        incident.created_at = now - timedelta(seconds=rng.randrange(29 * 86400))
    Incident.objects.bulk_update(created, ["created_at"], batch_size=BATCH)


class Command(BaseCommand):
    help = "Benchmark trend analysis: a run over N incidents, then similar incidents."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incidents", type=int, default=100_000)
        parser.add_argument("--requests", type=int, default=30)

    def handle(self, *args: Any, **options: Any) -> None:
        count, requests = options["incidents"], options["requests"]
        tenant, user = seed(count, self.stdout)
        with rls.tenant_scope(tenant.pk):
            records = selectors.trend_records(
                tenant=tenant, since=timezone.now() - timedelta(days=30), until=timezone.now()
            )
        # The analysis alone (vectors, neighbours, groups), then the whole run with its reads and
        # writes: where the time goes.
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        started = time.perf_counter()
        groups = trends.clusters(trends.fit(records), min_size=2)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.stdout.write(
            f"Analysis of {len(records)} incidents (fit and groups, no database): "
            f"{seconds:.1f} s, {len(groups)} groups; peak memory {peak / 1024:.0f} MiB "
            f"(+{(peak - before) / 1024:.0f} MiB over the process before it)"
        )
        del records, groups
        with rls.tenant_scope(tenant.pk):
            run = services.trend_run_request(tenant=tenant, actor=user)
        started = time.perf_counter()
        run = services.trend_run_execute(tenant=tenant, run_id=run.pk)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Run over {run.incidents_considered} incidents (reads, analysis, writes): "
            f"{seconds:.1f} s, {run.clusters_found} clusters, {run.suggestions_created} "
            f"suggestions created, {run.suggestions_updated} updated"
        )
        with rls.tenant_scope(tenant.pk):
            step = max(1, count // requests)
            references = [
                incident.reference
                for incident in Incident.objects.for_tenant(tenant).filter(
                    number__in=range(1, count + 1, step)
                )
            ]
        client = Client(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user).key}")
        cases: dict[str, Callable[[str], str]] = {
            "floor: bare view": lambda ref: "/__floor__/",
            "API: similar incidents": lambda ref: (
                f"/api/v1/t/{tenant.slug}/incidents/{ref}/similar/"
            ),
        }
        self.stdout.write(f"{'case':<24}{'median ms':>11}{'p95 ms':>9}{'× floor':>9}")
        floor = 0.0
        with override_settings(ROOT_URLCONF=__name__):
            for name, url in cases.items():
                assert client.get(url(references[0])).status_code == 200, name
                timings = []
                for run_number in range(requests):
                    begun = time.perf_counter()
                    client.get(url(references[run_number % len(references)]))
                    timings.append((time.perf_counter() - begun) * 1000)
                timings.sort()
                median = statistics.median(timings)
                floor = floor or median
                p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
                self.stdout.write(f"{name:<24}{median:>11.2f}{p95:>9.2f}{median / floor:>9.1f}")
