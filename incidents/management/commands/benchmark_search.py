"""Measure incident search at scale: the search structure against the plain scan it replaced.

    manage.py benchmark_search --incidents 500000 --requests 30

Uses the tenant `bench-<N>` of benchmark_incident_list (seeded once, indexed by the search
triggers as it is written). For a few queries it times, in process and in the same run: the
list API's `?search=` (through the search structure), the same page with the old condition
(`icontains` on title and description: a scan of the tenant under row-level security), and
the function alone; and prints the function's plan as the schema owner sees it.
Reported, never asserted.
"""

from __future__ import annotations

import statistics
import time
from functools import partial
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.db.models import Q
from django.test import Client

from incidents.management.commands.benchmark_incident_list import seed_incidents
from incidents.models import Incident
from itsm.accounts.services import api_token_issue
from itsm.search.selectors import filter_matching
from itsm.tenancy import rls

QUERIES = ("printer", "vpn crash", "mail login error", "issue 4242")


class Command(BaseCommand):
    help = "Benchmark incident search: the search structure against a scan of the tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incidents", type=int, default=500_000)
        parser.add_argument("--requests", type=int, default=30)
        parser.add_argument("--no-analyze", action="store_true", help="Skip ANALYZE (tests).")

    def handle(self, *args: Any, **options: Any) -> None:
        count, requests = options["incidents"], options["requests"]
        tenant, agent = seed_incidents(count, analyze=not options["no_analyze"], out=self.stdout)
        client = Client(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=agent).key}")
        base = f"/api/v1/t/{tenant.slug}/incidents/"
        self.stdout.write(f"{count} incidents in {tenant.slug}; {requests} runs each (median ms)")
        self.stdout.write(
            f"{'query':<20}{'matches':>9}{'API ?search=':>14}{'page: index':>13}"
            f"{'page: scan':>12}{'ratio':>7}"
        )
        for text in QUERIES:
            incidents = Incident.objects.for_tenant(tenant).order_by("-created_at", "-id")
            with rls.tenant_scope(tenant.pk):
                matches = filter_matching(
                    Incident.objects.for_tenant(tenant),
                    tenant_id=tenant.pk,
                    kind="incident",
                    text=text,
                ).count()
            indexed_page = filter_matching(
                incidents, tenant_id=tenant.pk, kind="incident", text=text
            )
            scan_page = incidents.filter(self._scan(text))
            api = self._median(requests, partial(client.get, base, {"search": text}))
            indexed = self._median(requests, partial(self._page, tenant.pk, indexed_page))
            scan = self._median(requests, partial(self._page, tenant.pk, scan_page))
            self.stdout.write(
                f"{text:<20}{matches:>9}{api:>14.2f}{indexed:>13.2f}{scan:>12.2f}"
                f"{scan / indexed:>7.1f}"
            )
        if connection.vendor == "postgresql" and not options["no_analyze"]:
            # As the owner (it reconnects): the plan inside the function, index and all.
            with rls.owner_connection(), connection.cursor() as cursor:
                cursor.execute(
                    "EXPLAIN ANALYZE SELECT e.object_id FROM itsm_search.entry e "
                    "WHERE e.tenant_id = %s AND e.kind = 'incident' "
                    "AND e.document @@ (SELECT itsm_search.query(%s, true))",
                    [tenant.pk, QUERIES[0]],
                )
                self.stdout.write("\n".join(row[0] for row in cursor.fetchall()))

    @staticmethod
    def _scan(text: str) -> Q:
        condition = Q()
        for word in text.split():
            condition &= Q(title__icontains=word) | Q(description__icontains=word)
        return condition

    @staticmethod
    def _page(tenant_id: int, incidents: Any) -> None:
        with rls.tenant_scope(tenant_id):
            list(incidents[:50])

    @staticmethod
    def _median(runs: int, call: Any) -> float:
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            call()
            timings.append((time.perf_counter() - started) * 1000)
        return statistics.median(timings)
