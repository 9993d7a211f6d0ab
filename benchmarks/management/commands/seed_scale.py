"""Seed data at scale: many tenants of skewed sizes with two years of history each.

    manage.py seed_scale [--incidents 1000000] [--tenants 100] [--largest 500000] [--no-analyze]

The tenants are `scale-<incidents>-<i>`, the first holding `--largest` incidents and the others
sharing the rest by 1/rank; what each gets besides its incidents, and how, is told in
`benchmarks.seeding`. Seeded once: a later run with the same figures reuses them. People sign in
as `<tenant>-l1-agent-0` (L2, L3 alike), `<tenant>-admin`, `<tenant>-requester-0` … with the
password `benchmarks.seeding.BENCH_PASSWORD`. PostgreSQL only (COPY).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from benchmarks.seeding import BENCH_PASSWORD, scale_plan, seed_scale


class Command(BaseCommand):
    help = "Seed many tenants with incidents, timelines, SLA clocks, problems, changes, articles."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incidents", type=int, default=1_000_000, help="In all.")
        parser.add_argument("--tenants", type=int, default=100)
        parser.add_argument(
            "--largest", type=int, default=500_000, help="Incidents of the largest tenant."
        )
        parser.add_argument(
            "--no-analyze",
            action="store_true",
            help="Skip VACUUM ANALYZE after seeding (tests: it cannot run in a transaction).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("seed_scale writes with COPY: PostgreSQL only.")
        plan = scale_plan(options["incidents"], options["tenants"], options["largest"])
        tenants = seed_scale(plan, out=self.stdout, analyze=not options["no_analyze"])
        largest = tenants[0]
        self.stdout.write(
            f"Ready: {len(tenants)} tenants, the largest {largest.slug} "
            f"({plan[0].incidents:,} incidents); sign in as {largest.slug}-l1-agent-0 "
            f"with the password {BENCH_PASSWORD!r}."
        )
