"""Measure what the audit trail costs incident writes: services with and without the triggers.

    manage.py benchmark_audit --incidents 500 --rounds 3

Creates N incidents through `incident_create` and renames each through `incident_update`, in
rounds that alternate between the audit triggers on and ignored (pgtrigger.ignore), inside an
audit context as a request has one; each write is its own transaction, as in a request.
Reported, never asserted. PostgreSQL only.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pgtrigger
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from incidents import services
from itsm.audit.context import audit_context
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant

AUDIT_TRIGGERS = [f"incidents.Incident:audit_{op}" for op in ("insert", "update", "delete")]


class Command(BaseCommand):
    help = "Benchmark incident create/update with and without the audit triggers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incidents", type=int, default=500)
        parser.add_argument("--rounds", type=int, default=3)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("The audit triggers exist on PostgreSQL only.")
        count, rounds = options["incidents"], options["rounds"]
        tenant, agent = self._tenant()
        results: dict[str, dict[str, list[float]]] = {"audited": {}, "no triggers": {}}
        for _ in range(rounds):
            for mode in results:
                ignore: AbstractContextManager[Any] = (
                    pgtrigger.ignore(*AUDIT_TRIGGERS) if mode == "no triggers" else nullcontext()
                )
                with ignore:
                    for step, timing in self._round(tenant, agent, count).items():
                        results[mode].setdefault(step, []).extend(timing)
        self.stdout.write(f"{count} incidents x {rounds} rounds per mode (ms per service call)")
        self.stdout.write(f"{'step':<10}{'audited':>10}{'no triggers':>13}{'ratio':>8}")
        for step in ("create", "update"):
            audited = statistics.median(results["audited"][step])
            bare = statistics.median(results["no triggers"][step])
            self.stdout.write(f"{step:<10}{audited:>10.3f}{bare:>13.3f}{audited / bare:>8.2f}")

    def _tenant(self) -> tuple[Tenant, Any]:
        tenant, _ = Tenant.objects.get_or_create(slug="audit-bench", defaults={"name": "Bench"})
        agent, created = get_user_model().objects.get_or_create(username="audit-bench-agent")
        if created:
            with rls.tenant_scope(tenant.pk):
                Membership.objects.create(tenant=tenant, user=agent, role=MembershipRole.AGENT)
        return tenant, agent

    def _round(self, tenant: Tenant, agent: Any, count: int) -> dict[str, list[float]]:
        context = {"source": "api", "user_id": agent.pk, "username": agent.get_username()}
        created: list[int] = []

        def create(index: int) -> None:
            incident = services.incident_create(
                tenant=tenant, actor=agent, data={"title": f"Bench {index}"}
            )
            created.append(incident.pk)

        def update(index: int) -> None:
            services.incident_update(
                tenant=tenant,
                incident_id=created[index],
                actor=agent,
                data={"title": f"Bench {index} renamed"},
            )

        with audit_context(**context):
            return {
                "create": self._time(tenant, create, count),
                "update": self._time(tenant, update, count),
            }

    def _time(self, tenant: Tenant, write: Callable[[int], None], count: int) -> list[float]:
        timings = []
        for index in range(count):
            started = time.perf_counter()
            with rls.tenant_scope(tenant.pk):
                write(index)
            timings.append((time.perf_counter() - started) * 1000)
        return timings
