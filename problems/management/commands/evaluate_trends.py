"""Evaluate trend analysis on a labelled CSV, with the settings the product ships with.

    manage.py evaluate_trends FILE.csv --text-columns title,description --time-column created
        --group-column group [--json]

The records become incidents of a scratch tenant (the first text column is the title, the others
the description; creation times kept), a trend run analyses them through the product's own code
(`services.trend_run_execute`, over the records' own time span instead of the tenant's recent
window), and everything is rolled back at the end: the scratch tenant leaves nothing behind.

It prints (a) recall@1, @5, @10 and MRR of "similar incidents" (`selectors.similar_incidents`)
over every record that has a ground-truth partner, and (b) pairwise precision, recall and F1 of
"in the same suggestion" against the ground-truth groups, with the records and seconds. A file
without groups gets the counts only. Works on PostgreSQL and the embedded SQLite default.
"""

from __future__ import annotations

import csv
import json
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.dateparse import parse_datetime

from incidents.models import Incident
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant, TenantCounter
from problems import selectors, services
from problems.choices import SuggestionStatus
from problems.models import SuggestionIncident

TITLE_MAX = 200
DESCRIPTION_MAX = 20000


class Command(BaseCommand):
    help = "Evaluate similar incidents and problem suggestions on a labelled CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--text-columns", required=True, help="title column first, e.g. title,description"
        )
        parser.add_argument("--time-column", help="ISO 8601 creation time (default: now)")
        parser.add_argument("--group-column", help="the ground-truth group (empty: none)")
        parser.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        columns = [name.strip() for name in options["text_columns"].split(",") if name.strip()]
        rows = self._read(options["file"], columns, options["time_column"], options["group_column"])
        with transaction.atomic():
            figures = self._evaluate(rows)
            transaction.set_rollback(True)  # the scratch tenant and all it made are gone
        figures["seconds"] = round(time.perf_counter() - started, 2)
        if options["json"]:
            figures.pop("suggestions", None)  # the interface's keys only
            self.stdout.write(json.dumps(figures))
            return
        for key, value in figures.items():
            self.stdout.write(f"{key:<20} {value}")

    # --- Reading -------------------------------------------------------------------------------

    def _read(
        self, path: Path, columns: list[str], time_column: str | None, group_column: str | None
    ) -> list[dict[str, Any]]:
        if not path.exists():
            raise CommandError(f"{path}: no such file.")
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields = set(reader.fieldnames or [])
            missing = [c for c in [*columns, time_column, group_column] if c and c not in fields]
            if missing or not columns:
                raise CommandError(f"{path}: no column {', '.join(missing) or 'of text'}.")
            now = datetime.now(UTC)
            rows = []
            for line, row in enumerate(reader, start=2):
                created = now
                if time_column:
                    created = parse_datetime(row[time_column].strip().replace(" ", "T", 1)) or now
                    if created.tzinfo is None:
                        created = created.replace(tzinfo=UTC)
                title = " ".join(row[columns[0]].split())[:TITLE_MAX] or f"Record {line}"
                description = "\n".join(row[c] for c in columns[1:] if row[c])[:DESCRIPTION_MAX]
                group = row[group_column].strip() if group_column else ""
                rows.append(
                    {"title": title, "description": description, "created": created, "group": group}
                )
        return rows

    # --- Evaluating ----------------------------------------------------------------------------

    def _evaluate(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        tenant = Tenant.objects.create(slug=f"eval-{uuid.uuid4().hex[:12]}", name="Evaluation")
        user = get_user_model().objects.create(username=f"{tenant.slug}-analyst")
        with rls.tenant_scope(tenant.pk):
            membership = Membership.objects.create(
                tenant=tenant, user=user, role=MembershipRole.PROBLEM_MANAGER
            )
            incidents = Incident.objects.bulk_create(
                Incident(
                    tenant=tenant,
                    number=number,
                    title=row["title"],
                    description=row["description"],
                    reported_by=user,
                )
                for number, row in enumerate(rows, start=1)
            )
            for incident, row in zip(incidents, rows, strict=True):
                incident.created_at = row["created"]  # auto_now_add set it to now
            Incident.objects.bulk_update(incidents, ["created_at"], batch_size=1000)
            TenantCounter.objects.create(
                tenant=tenant, key=Incident.NUMBER_PREFIX, last_value=len(rows)
            )
            run = services.trend_run_request(tenant=tenant, actor=user)
        span = (
            min(row["created"] for row in rows) - timedelta(seconds=1),
            max(row["created"] for row in rows) + timedelta(seconds=1),
        )
        services.trend_run_execute(tenant=tenant, run_id=run.pk, window=span)
        group_of = {
            incident.pk: row["group"] for incident, row in zip(incidents, rows, strict=True)
        }
        figures: dict[str, Any] = {"records": len(rows)}
        with rls.tenant_scope(tenant.pk):
            membership = Membership.objects.select_related("tenant").get(pk=membership.pk)
            figures |= self._ranking(incidents, group_of, membership)
            figures |= self._pairs(tenant, group_of)
        return figures

    def _ranking(
        self, incidents: list[Incident], group_of: dict[int, str], membership: Membership
    ) -> dict[str, Any]:
        """Recall@k and MRR (within the ten shown) of similar incidents, over every record that
        has a ground-truth partner."""
        sizes: dict[str, int] = defaultdict(int)
        for group in group_of.values():
            if group:
                sizes[group] += 1
        hits = {1: 0, 5: 0, 10: 0}
        reciprocal = 0.0
        queries = 0
        for incident in incidents:
            group = group_of[incident.pk]
            if not group or sizes[group] < 2:
                continue
            queries += 1
            found = selectors.similar_incidents(incident=incident, membership=membership)
            ranks = [
                rank for rank, s in enumerate(found, 1) if group_of.get(s.incident.pk) == group
            ]
            if ranks:
                reciprocal += 1 / ranks[0]
                for k in hits:
                    hits[k] += ranks[0] <= k
        if not queries:
            return dict.fromkeys(["recall_at_1", "recall_at_5", "recall_at_10", "mrr"])
        return {
            "recall_at_1": round(hits[1] / queries, 4),
            "recall_at_5": round(hits[5] / queries, 4),
            "recall_at_10": round(hits[10] / queries, 4),
            "mrr": round(reciprocal / queries, 4),
        }

    def _pairs(self, tenant: Tenant, group_of: dict[int, str]) -> dict[str, Any]:
        """Pairwise precision, recall and F1 of "in the same suggestion" against the groups."""
        members: dict[int, list[int]] = defaultdict(list)
        for suggestion_id, incident_id in (
            SuggestionIncident.objects.for_tenant(tenant)
            .filter(suggestion__status=SuggestionStatus.OPEN)
            .values_list("suggestion_id", "incident_id")
        ):
            members[suggestion_id].append(incident_id)
        predicted = {frozenset(pair) for ids in members.values() for pair in combinations(ids, 2)}
        groups: dict[str, list[int]] = defaultdict(list)
        for incident_id, group in group_of.items():
            if group:
                groups[group].append(incident_id)
        truth = {frozenset(pair) for ids in groups.values() for pair in combinations(ids, 2)}
        figures: dict[str, Any] = {"suggestions": len(members)}
        if not truth:
            return figures | dict.fromkeys(["pairwise_precision", "pairwise_recall", "pairwise_f1"])
        right = len(predicted & truth)
        precision = right / len(predicted) if predicted else 0.0
        recall = right / len(truth)
        f1 = 2 * precision * recall / (precision + recall) if right else 0.0
        return figures | {
            "pairwise_precision": round(precision, 4),
            "pairwise_recall": round(recall, 4),
            "pairwise_f1": round(f1, 4),
        }
