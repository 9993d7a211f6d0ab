"""Measure the workspace's incident pages at scale: queries and server time per request.

    manage.py benchmark_workspace_pages --incidents 10000 --requests 100

Uses the tenant `bench-<N>` of benchmark_incident_list (seeded once), logs in as one of its
agents and requests each page through the whole Django stack in process. A bare view behind the
same middleware is the floor, measured in the same run, so times can be read as ratios on a
machine whose speed swings. Reported, never asserted.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.test import Client

from incidents import services
from incidents.management.commands.benchmark_incident_list import seed_incidents
from incidents.models import Incident
from itsm.benchmarking import FLOOR, FLOOR_URL, report_pages
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant

TIMELINE_LENGTH = 30


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
        client = Client()
        client.force_login(viewer)
        queue = f"/t/{tenant.slug}/incidents/"
        cases = {
            FLOOR: FLOOR_URL,
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
        report_pages(
            {name: (client, url) for name, url in cases.items()},
            requests=requests,
            out=self.stdout,
            headers=headers,
            name_width=26,
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
