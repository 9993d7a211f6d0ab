"""Measure the change pages and API at scale: queries and server time per request.

    manage.py benchmark_change_pages --changes 5000 --requests 50

Seeds (once; later runs reuse it) a tenant `bench-changes-<N>` with N changes over 40 services,
their planned windows spread over six months either side of today, in the mix of a working
change desk: a handful made through the services (grants, events, approvals), the bulk written
directly. Logs in as the change manager, who sits on the CAB, and requests each page and
endpoint through the whole Django stack in process, beside a bare view behind the same
middleware (the floor), so times read as ratios on a machine whose speed swings. Reported,
never asserted.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.test import Client
from django.utils import timezone

from changes import services
from changes.choices import ApprovalBoard, ChangeOutcome, ChangeStatus, ChangeType
from changes.lifecycle import DEFAULT_APPROVALS, risk_of
from changes.models import (
    BlackoutService,
    BlackoutWindow,
    CabMember,
    Change,
    ChangeFix,
    ChangeIncident,
    ChangeService,
)
from incidents import services as incident_services
from incidents.choices import IncidentSource, IncidentStatus
from incidents.models import Incident
from itsm.accounts.services import api_token_issue
from itsm.benchmarking import FLOOR, FLOOR_URL, report_pages
from itsm.catalog.models import Service
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant, TenantCounter
from problems import services as problem_services
from problems.models import Problem

TIMELINE_TITLE = "Benchmark change with a long timeline"
TIMELINE_EDITS = 18  # with its lifecycle, links and decisions: about 30 events
AWAITING = 30  # changes awaiting the CAB's approval, made through the services
PROBLEMS = 20
# (status, weight): most changes are done with, a tenth are coming up, a few are being prepared.
STATUS_MIX = [
    (ChangeStatus.CLOSED, 62),
    (ChangeStatus.CANCELLED, 6),
    (ChangeStatus.REVIEW, 3),
    (ChangeStatus.IMPLEMENTING, 2),
    (ChangeStatus.SCHEDULED, 12),
    (ChangeStatus.AWAITING_APPROVAL, 5),
    (ChangeStatus.ASSESSMENT, 4),
    (ChangeStatus.DRAFT, 6),
]
TYPE_MIX = [(ChangeType.STANDARD, 35), (ChangeType.NORMAL, 55), (ChangeType.EMERGENCY, 10)]
PAST = {ChangeStatus.CLOSED, ChangeStatus.CANCELLED, ChangeStatus.REVIEW}
STARTED = {ChangeStatus.IMPLEMENTING, ChangeStatus.REVIEW, ChangeStatus.CLOSED}
WORDS = ["database", "firewall", "patch", "mail", "storage", "network", "upgrade", "certificate"]


class Command(BaseCommand):
    help = "Benchmark the change list, record and calendar pages and API (queries, ms)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--changes", type=int, default=5_000)
        parser.add_argument("--requests", type=int, default=50)
        parser.add_argument("--no-analyze", action="store_true", help="Skip ANALYZE (tests).")

    def handle(self, *args: Any, **options: Any) -> None:
        count, requests = options["changes"], options["requests"]
        tenant, manager = seed_changes(count, analyze=not options["no_analyze"], out=self.stdout)
        with rls.tenant_scope(tenant.pk):
            record = Change.objects.for_tenant(tenant).get(title=TIMELINE_TITLE)
            problem = Problem.objects.for_tenant(tenant).filter(change_fixes__change=record)[0]
        month = _next_month(timezone.localdate())
        client = Client()
        client.force_login(manager)
        api = Client(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=manager).key}")
        pages = f"/t/{tenant.slug}/changes/"
        base = f"/api/v1/t/{tenant.slug}/"
        window = {
            "start": datetime.combine(month, datetime.min.time(), UTC).isoformat(),
            "end": datetime.combine(_next_month(month), datetime.min.time(), UTC).isoformat(),
        }
        cases = {
            FLOOR: (client, FLOOR_URL),
            "list: open": (client, f"{pages}?queue=open"),
            "list: upcoming": (client, f"{pages}?queue=upcoming"),
            "list: all": (client, f"{pages}?queue=all"),
            "list: normal 'patch'": (client, f"{pages}?queue=all&type=normal&q=patch"),
            "list: rows refresh": (client, f"{pages}?queue=open"),
            "approver's queue": (client, f"{pages}approvals/"),
            "record: ~30 events": (client, f"{pages}{record.reference}/"),
            "calendar: month": (client, f"{pages}calendar/?date={month}"),
            "calendar: week": (client, f"{pages}calendar/?view=week&date={month + DAY * 7}"),
            "API list (50)": (api, f"{base}changes/"),
            "API detail": (api, f"{base}changes/{record.reference}/"),
            "API calendar: month": (api, f"{base}change-calendar/?{urlencode(window)}"),
            "API problem's changes": (api, f"{base}problems/{problem.reference}/changes/"),
        }
        headers = {"list: rows refresh": {"HX-Request": "true", "HX-Target": "queue-rows"}}
        self.stdout.write(f"{count} changes in {tenant.slug}; {requests} requests each")
        report_pages(cases, requests=requests, out=self.stdout, headers=headers)


DAY = timedelta(days=1)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + DAY * 32).replace(day=1)


def seed_changes(count: int, *, analyze: bool, out: Any) -> tuple[Tenant, Any]:
    """A tenant `bench-changes-<N>` with N changes (made once; later runs reuse it) and its
    change manager, who is on the CAB with an agent."""
    slug = f"bench-changes-{count}"
    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": f"Bench changes {count}"})
    users = get_user_model().objects
    manager, created = users.get_or_create(username=f"{slug}-manager")
    with rls.tenant_scope(tenant.pk):
        if created:
            Membership.objects.create(
                tenant=tenant, user=manager, role=MembershipRole.CHANGE_MANAGER
            )
        if Change.objects.for_tenant(tenant).count() >= count:
            return tenant, manager
    out.write(f"Seeding {count} changes ...")
    started = time.perf_counter()
    with rls.tenant_scope(tenant.pk):
        rng = random.Random(count)  # noqa: S311 - test data, not security
        agent, _ = users.get_or_create(username=f"{slug}-agent")
        Membership.objects.create(tenant=tenant, user=agent, role=MembershipRole.AGENT)
        for member in (manager, agent):
            CabMember.objects.create(tenant=tenant, user=member, board=ApprovalBoard.CAB)
        catalog = [
            Service.objects.create(tenant=tenant, slug=f"service-{i}", name=f"Service {i}")
            for i in range(40)
        ]
        now = timezone.now()
        _seed_blackouts(tenant, catalog, now)
        template = services.template_create(
            tenant=tenant,
            actor=manager,
            data={
                "name": "Rotate a certificate",
                "implementation_plan": "Install the new certificate, reload.",
                "backout_plan": "Reinstall the old one.",
                "risk_impact": 1,
                "risk_likelihood": 1,
                "risk_backout": 1,
                "duration_minutes": 60,
                "services": catalog[:1],
            },
        )
        problems = [
            problem_services.problem_create(
                tenant=tenant,
                actor=manager,
                data={"title": f"Recurring {WORDS[i % len(WORDS)]} failures {i}"},
            )
            for i in range(PROBLEMS)
        ]
        bulk = max(0, count - AWAITING - 1)
        _seed_bulk(tenant, bulk, rng, manager, agent, catalog, template.pk, problems, now)
        _seed_through_services(tenant, manager, agent, catalog, problems, now)
    if analyze and connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum would gather them; only the table owner may.
        with rls.owner_connection(), connection.cursor() as cursor:
            for table in (
                "changes_change",
                "changes_changeservice",
                "changes_changefix",
                "changes_changeincident",
            ):
                cursor.execute(f"ANALYZE {table}")
    out.write(f"Seeded in {time.perf_counter() - started:.1f} s")
    return tenant, manager


def _seed_blackouts(tenant: Tenant, catalog: list[Service], now: datetime) -> None:
    """Four blackout windows away from the windows the services schedule (next month)."""
    for index, days in enumerate((-150, -60, -20, 150)):
        window = BlackoutWindow.objects.create(
            tenant=tenant,
            name=f"Freeze {index}",
            starts_at=now + DAY * days,
            ends_at=now + DAY * (days + 2),
        )
        if index % 2:  # the others are tenant-wide
            BlackoutService.objects.create(tenant=tenant, window=window, service=catalog[index])


def _seed_bulk(
    tenant: Tenant,
    count: int,
    rng: random.Random,
    manager: Any,
    agent: Any,
    catalog: list[Service],
    template_id: int,
    problems: list[Problem],
    now: datetime,
) -> None:
    """`count` changes numbered 1…count, written in bulk, with their services, fixes and the
    incidents a few of them caused."""
    statuses, status_weights = zip(*STATUS_MIX, strict=True)
    types, type_weights = zip(*TYPE_MIX, strict=True)
    changes = []
    for number in range(1, count + 1):
        status = rng.choices(statuses, status_weights)[0]
        kind = rng.choices(types, type_weights)[0]
        if kind == ChangeType.STANDARD and status == ChangeStatus.AWAITING_APPROVAL:
            kind = ChangeType.NORMAL
        if status in PAST:
            start: datetime | None = now - DAY * rng.uniform(1, 182)
        elif status == ChangeStatus.IMPLEMENTING:
            start = now - timedelta(minutes=rng.randint(10, 120))
        elif status == ChangeStatus.DRAFT and rng.random() < 0.3:
            start = None
        else:
            start = now + DAY * rng.uniform(1, 182)
        end = start + timedelta(hours=rng.randint(1, 8)) if start else None
        answers = [rng.randint(1, 3) for _ in range(3)]
        assessed = status != ChangeStatus.DRAFT
        approved = kind != ChangeType.STANDARD and status not in {
            ChangeStatus.DRAFT,
            ChangeStatus.ASSESSMENT,
        }
        risk = risk_of(*answers) if assessed else ""
        board, required = DEFAULT_APPROVALS[(kind, risk)] if approved else ("", 0)
        changes.append(
            Change(
                tenant=tenant,
                number=number,
                title=f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} change {number}",
                description="Generated for the benchmark. " * 4,
                change_type=kind,
                status=status,
                outcome=ChangeOutcome.SUCCESSFUL if status == ChangeStatus.CLOSED else "",
                planned_start=start,
                planned_end=end,
                actual_start=start if status in STARTED else None,
                actual_end=end if status in PAST - {ChangeStatus.CANCELLED} else None,
                closed_at=end or now
                if status in {ChangeStatus.CLOSED, ChangeStatus.CANCELLED}
                else None,
                owner=manager,
                implementer=agent if status in STARTED else None,
                template_id=template_id if kind == ChangeType.STANDARD else None,
                template_version=1 if kind == ChangeType.STANDARD else None,
                risk_impact=answers[0] if assessed else None,
                risk_likelihood=answers[1] if assessed else None,
                risk_backout=answers[2] if assessed else None,
                risk=risk,
                approval_board=board,
                approvals_required=required,
                approval_round=1 if approved else 0,
                implementation_plan="Do it." if assessed else "",
                backout_plan="Undo it." if assessed else "",
            )
        )
    Change.objects.bulk_create(changes, batch_size=2000)
    ChangeService.objects.bulk_create(
        [
            ChangeService(tenant=tenant, change=change, service=service)
            for change in changes
            for service in rng.sample(catalog, rng.randint(1, 3))
        ],
        batch_size=5000,
    )
    ChangeFix.objects.bulk_create(
        ChangeFix(tenant=tenant, change=change, problem=rng.choice(problems), linked_by=manager)
        for change in changes
        if rng.random() < 0.08
    )
    # A twentieth of the closed changes caused an incident (each incident has one cause).
    causes = [c for c in changes if c.status == ChangeStatus.CLOSED and rng.random() < 0.05]
    incidents = Incident.objects.bulk_create(
        Incident(
            tenant=tenant,
            number=number,
            title=f"Outage after {change.reference}",
            description="Generated for the benchmark.",
            reported_by=agent,
            source=IncidentSource.PHONE,
            impact=2,
            urgency=2,
            priority=3,
            status=IncidentStatus.CLOSED,
            service=rng.choice(catalog),
            detected_at=change.planned_end or now,
        )
        for number, change in enumerate(causes, start=1)
    )
    ChangeIncident.objects.bulk_create(
        ChangeIncident(tenant=tenant, change=change, incident=incident, linked_by=manager)
        for change, incident in zip(causes, incidents, strict=True)
    )
    for prefix, last in ((Change.NUMBER_PREFIX, count), (Incident.NUMBER_PREFIX, len(incidents))):
        TenantCounter.objects.update_or_create(
            tenant=tenant, key=prefix, defaults={"last_value": last}
        )


def _seed_through_services(
    tenant: Tenant,
    manager: Any,
    agent: Any,
    catalog: list[Service],
    problems: list[Problem],
    now: datetime,
) -> None:
    """Next month's changes awaiting the CAB (which holds their grants), and one change that
    went the whole way: edits, links, two approvals, implementation, incidents caused."""
    month = datetime.combine(_next_month(now.date()), datetime.min.time(), UTC)
    for index in range(AWAITING):
        start = month + DAY * (index % 27) + timedelta(hours=9)
        change = services.change_create(
            tenant=tenant,
            actor=manager,
            data={
                "title": f"Upgrade the {WORDS[index % len(WORDS)]} cluster {index}",
                "change_type": ChangeType.NORMAL,
                "implementation_plan": "Upgrade the standby, switch over.",
                "backout_plan": "Switch back.",
                "planned_start": start,
                "planned_end": start + timedelta(hours=2),
                "services": catalog[index % 40 : index % 40 + 2],
            },
        )
        ids = {"tenant": tenant, "change_id": change.pk, "actor": manager}
        services.change_submit(**ids)
        services.change_assess_risk(**ids, risk_impact=2, risk_likelihood=2, risk_backout=2)
        services.change_request_approval(**ids)
    start = month + DAY * 14 + timedelta(hours=20)
    change = services.change_create(
        tenant=tenant,
        actor=manager,
        data={
            "title": TIMELINE_TITLE,
            "change_type": ChangeType.NORMAL,
            "implementation_plan": "Migrate the database to the new cluster.",
            "backout_plan": "Point the applications back at the old cluster.",
            "planned_start": start,
            "planned_end": start + timedelta(hours=4),
            "services": catalog[:3],
        },
    )
    ids = {"tenant": tenant, "change_id": change.pk, "actor": manager}
    for n in range(TIMELINE_EDITS):
        services.change_update(**ids, data={"description": f"Revision {n} of the plan."})
    services.change_link_problems(**ids, problems=[p.reference for p in problems[:3]])
    services.change_submit(**ids)
    services.change_assess_risk(**ids, risk_impact=3, risk_likelihood=2, risk_backout=2)
    services.change_request_approval(**ids)  # high risk: both CAB members approve
    for approver in (manager, agent):
        services.change_approve(tenant=tenant, change_id=change.pk, actor=approver)
    services.change_start(**ids)
    services.change_complete(**ids, note="Migrated.")
    caused = [
        incident_services.incident_create(
            tenant=tenant, actor=agent, data={"title": f"Database slow after the move {n}"}
        )
        for n in range(3)
    ]
    services.change_record_incidents(**ids, incidents=[i.reference for i in caused])
    services.change_close(**ids, outcome=ChangeOutcome.SUCCESSFUL, note="Done.")
