"""Measure the workspace's incident pages at scale: queries and server time per request.

    manage.py benchmark_workspace_pages --incidents 10000 --requests 100

Uses the tenant `bench-<N>` of benchmark_incident_list (seeded once), logs in as one of its
agents and requests each page through the whole Django stack in process. A bare view behind the
same middleware is the floor, measured in the same run, so times can be read as ratios on a
machine whose speed swings. Reported, never asserted.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.core.signals import request_started
from django.db import connection, reset_queries
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from incidents import services
from incidents.management.commands.benchmark_incident_list import seed_incidents
from incidents.models import Incident
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant

TIMELINE_LENGTH = 30


def _floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


# The product's URLs plus the floor: the same middleware stack in front of every case.
urlpatterns = [path("__floor__/", _floor), path("", include("itsm.urls"))]


class Command(BaseCommand):
    help = "Benchmark the incident queue and record pages (queries and milliseconds)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incidents", type=int, default=10_000)
        parser.add_argument("--requests", type=int, default=100)
        parser.add_argument("--no-analyze", action="store_true", help="Skip ANALYZE (tests).")

    def handle(self, *args: Any, **options: Any) -> None:
        count, requests = options["incidents"], options["requests"]
        tenant, _agent = seed_incidents(count, analyze=not options["no_analyze"], out=self.stdout)
        viewer = get_user_model().objects.get(username=f"{tenant.slug}-person-0")
        record = self._record_with_timeline(tenant, viewer)
        request_started.disconnect(reset_queries)  # keep the log to count queries
        client = Client()
        client.force_login(viewer)
        queue = f"/t/{tenant.slug}/incidents/"
        cases = {
            "floor: bare view": "/__floor__/",
            "queue: all open": f"{queue}?queue=open",
            "queue: my work": f"{queue}?queue=mine",
            "queue: my teams": f"{queue}?queue=teams",
            "queue: unassigned L2": f"{queue}?queue=unassigned&tier=l2",
            "queue: breaching soon": f"{queue}?queue=breaching",
            "queue: P1 'printer'": f"{queue}?queue=open&priority=1&q=printer",
            "queue: rows refresh": f"{queue}?queue=open",
            f"record: {TIMELINE_LENGTH} events": f"{queue}{record.reference}/",
        }
        headers = {"queue: rows refresh": {"HX-Request": "true", "HX-Target": "queue-rows"}}
        self.stdout.write(f"{count} incidents in {tenant.slug}; {requests} requests each")
        self.stdout.write(f"{'page':<26}{'queries':>8}{'median ms':>11}{'p95 ms':>9}{'× floor':>9}")
        floor = 0.0
        with override_settings(ROOT_URLCONF=__name__):
            for name, url in cases.items():
                extra = headers.get(name, {})
                reset_queries()
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(url, headers=extra)
                assert response.status_code == 200, (name, response.status_code)
                query_count = len(queries)
                timings = []
                for _ in range(requests):
                    started = time.perf_counter()
                    client.get(url, headers=extra)
                    timings.append((time.perf_counter() - started) * 1000)
                    reset_queries()
                timings.sort()
                median = statistics.median(timings)
                floor = floor or median
                p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
                self.stdout.write(
                    f"{name:<26}{query_count:>8}{median:>11.2f}{p95:>9.2f}{median / floor:>9.1f}"
                )

    def _record_with_timeline(self, tenant: Tenant, actor: Any) -> Incident:
        """An incident made through the services (clocks, events) with a long timeline."""
        with rls.tenant_scope(tenant.pk):
            title = "Benchmark record with a long timeline"
            incident = Incident.objects.for_tenant(tenant).filter(title=title).first()
            if incident is None:
                incident = services.incident_create(
                    tenant=tenant, actor=actor, data={"title": title, "description": "x"}
                )
                services.incident_acknowledge(tenant=tenant, incident_id=incident.pk, actor=actor)
                for n in range(TIMELINE_LENGTH - 2):
                    services.incident_comment(
                        tenant=tenant,
                        incident_id=incident.pk,
                        actor=actor,
                        body=f"Note {n}",
                        is_public=n % 2 == 0,  # comments and work notes, alternately
                    )
            return incident
