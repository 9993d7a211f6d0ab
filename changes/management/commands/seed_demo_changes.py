"""Demo change management for the demo tenants.

In the demo tenant, walked through the real services: the boards, a standard change template, a
blackout window and changes in several states (one awaiting the CAB, so the approvers' queue is
not empty). Then, in every demo tenant, about 90 days of past changes, so the change failure
rate has a history to show: mostly successful, some failed or backed out (more of the risky
ones), a few cancelled, the last ones still in review, and a few linked to incidents of the
incident history they caused. Like the incident history (`seed_demo_history`) the past changes
are written directly and in bulk, with their stored times: walking them through the services
would stamp every step with the present. Their timelines hold no steps; closed changes need no
schedule timer. The figures are drawn from fixed seeds.

Safe to run again: the walk-through is left alone in a tenant that has changes of its own, the
history in a tenant that has it. Run after `seed_demo`, `seed_demo_incidents` and, for the
caused incidents, `seed_demo_history`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from changes import blackouts, services
from changes.choices import (
    ApprovalBoard,
    ApprovalDecision,
    ChangeOutcome,
    ChangeStatus,
    ChangeType,
    Risk,
)
from changes.lifecycle import DEFAULT_APPROVALS, risk_of
from changes.models import CabMember, Change, ChangeApproval, ChangeIncident, ChangeService
from incidents.management.commands.seed_demo_history import MARK as INCIDENT_MARK
from incidents.management.commands.seed_demo_history import People, people_of, pick
from incidents.models import Incident
from itsm.calendars.selectors import tenant_time_zone
from itsm.catalog.models import Service
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant
from itsm.tenancy.services import allocate_numbers

TENANT = "acme"
CAB = {"bob": ApprovalBoard.CAB, "carol": ApprovalBoard.CAB, "maria": ApprovalBoard.ECAB}
PLANS = {
    "implementation_plan": "Announce, apply in the maintenance window, verify the service.",
    "backout_plan": "Restore the previous version from the snapshot taken before.",
    "test_plan": "Smoke tests of the service's main journeys.",
}


# The tenants given a change history and their mean changes per working day (weekends see few).
HISTORY = {"acme": 1.0, "globex": 0.35}
DAYS = 90
# What marks a change of the seeded history (and so a tenant that has it).
HISTORY_MARK = "Seeded demo change history."
BATCH = 500

KINDS = {ChangeType.STANDARD: 0.45, ChangeType.NORMAL: 0.45, ChangeType.EMERGENCY: 0.10}
# Per risk: how often the change failed and how often it was backed out; the rest succeeded.
FAILURE: dict[str, tuple[float, float]] = {
    Risk.LOW: (0.02, 0.03),
    Risk.MEDIUM: (0.05, 0.07),
    Risk.HIGH: (0.09, 0.12),
}
CANCELLED = 0.05  # withdrawn or superseded before the window
# Of a failed or backed-out change, and of a successful one: the chance it caused an incident.
CAUSED = {True: 0.8, False: 0.06}
CAUSED_WINDOW = timedelta(days=3)  # incidents created this long after the work ended
WORK = (
    "Patch the {} servers",
    "Upgrade the {} database",
    "Rotate the {} certificates",
    "Resize the {} cluster",
    "Apply the vendor's update to {}",
    "Change the {} firewall rules",
    "Migrate {} to the new storage",
    "Tune the {} connection pool",
)


@dataclass(frozen=True)
class Seen:
    """A history incident a change may have caused: its service and when it was created."""

    pk: int
    service_id: int | None
    created_at: datetime


class Command(BaseCommand):
    help = "Create demo changes and a change history in the demo tenants (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=TENANT).first()
        if tenant is not None:
            with rls.tenant_scope(tenant.pk):
                own = Change.objects.for_tenant(tenant).exclude(description=HISTORY_MARK)
                if not own.exists():
                    self._seed(tenant)
        now = timezone.now()
        for slug, per_day in HISTORY.items():
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                continue
            with rls.tenant_scope(tenant.pk):
                if Change.objects.for_tenant(tenant).filter(description=HISTORY_MARK).exists():
                    continue
                made, caused = history_seed(tenant, per_day, now)
            self.stdout.write(
                f"  {tenant.name}: {made} past changes, {caused} incidents caused by them"
            )
        self.stdout.write(self.style.SUCCESS("Demo changes ready."))

    def _seed(self, tenant: Tenant) -> None:
        users = {user.username: user for user in get_user_model().objects.all()}
        erin = users["erin"]
        services_by_slug = {service.slug: service for service in Service.objects.for_tenant(tenant)}
        for username, board in CAB.items():
            services.cab_member_add(tenant=tenant, actor=erin, user=users[username], board=board)
        # Planned windows from next Monday 20:00 (UTC: the demo's business calendars are).
        now = timezone.now()
        monday = (now + timedelta(days=7 - now.weekday())).replace(
            hour=20, minute=0, second=0, microsecond=0
        )
        blackouts.blackout_create(
            tenant=tenant,
            data={
                "name": "Month-end close",
                "starts_at": monday + timedelta(days=21),
                "ends_at": monday + timedelta(days=24),
                "reason": "Finance closes the books: no changes to the ERP.",
                "services": [services_by_slug["erp"]],
            },
        )
        template = services.template_create(
            tenant=tenant,
            actor=erin,
            data={
                "name": "Restart the mail relay",
                "description": "Drain and restart the outbound mail relay.",
                "services": [services_by_slug["email"]],
                **PLANS,
                "risk_impact": 1,
                "risk_likelihood": 1,
                "risk_backout": 1,
                "duration_minutes": 30,
            },
        )
        standard = services.change_create_from_template(
            tenant=tenant,
            template_id=template.pk,
            actor=erin,
            data={"planned_start": monday + timedelta(days=1)},
        )
        # Pre-approved: assessed and scheduled without the CAB.
        services.change_submit(tenant=tenant, change_id=standard.pk, actor=erin)
        services.change_schedule(tenant=tenant, change_id=standard.pk, actor=erin)
        website = [services_by_slug["website"]]
        self._change(tenant, erin, "Upgrade the web servers' TLS library", website, monday, 2)
        self._change(tenant, erin, "Move the website to the new load balancer", website, monday, 0)

    def _change(
        self,
        tenant: Tenant,
        actor: Any,
        title: str,
        services_: list[Service],
        start: datetime,
        steps: int,
    ) -> None:
        """A normal change with plans and a window, taken `steps` steps: 0 draft, 1 assessed,
        2 awaiting the CAB's approval."""
        change = services.change_create(
            tenant=tenant,
            actor=actor,
            data={
                "title": title,
                "change_type": ChangeType.NORMAL,
                "description": f"{title}.",
                "services": services_,
                "planned_start": start,
                "planned_end": start + timedelta(hours=2),
                **PLANS,
            },
        )
        kwargs = {"tenant": tenant, "change_id": change.pk, "actor": actor}
        services.change_assess_risk(**kwargs, risk_impact=2, risk_likelihood=2, risk_backout=1)
        if steps >= 1:
            services.change_submit(**kwargs)
        if steps >= 2:
            services.change_request_approval(**kwargs)


def windows(rng: random.Random, per_day: float, zone: ZoneInfo, today: date) -> list[datetime]:
    """The days (local midnights) of the planned windows of the last DAYS whole days, oldest
    first, mostly working days; the type decides the hour later. A day adds a jittered share
    of a change, and a change falls on the day its share completes: a quiet tenant's few
    changes are spread over the weeks, not bunched."""
    starts = []
    owed = rng.random()
    for back in range(DAYS, 0, -1):
        day = today - timedelta(days=back)
        owed += per_day * (0.15 if day.weekday() >= 5 else 1.0) * rng.uniform(0.3, 1.7)
        while owed >= 1:
            owed -= 1
            starts.append(datetime.combine(day, time(0), tzinfo=zone))
    return starts


def change_facts(
    rng: random.Random, people: People, day: datetime, now: datetime
) -> dict[str, Any] | None:
    """One past change's stored facts, as the services would have written them by `now`; None
    when its work would not have ended by now."""
    kind = pick(rng, KINDS)
    if kind == ChangeType.STANDARD:
        answers = (1, 1, rng.choice((1, 2)))
        start = day + timedelta(hours=rng.choice((9, 10, 13, 14, 16)))
        created = start - timedelta(days=rng.uniform(1, 3))
        hours = rng.choice((0.5, 1))
    elif kind == ChangeType.NORMAL:
        answers = (rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 3))
        start = day + timedelta(hours=rng.choice((19, 20, 21, 22)))
        created = start - timedelta(days=rng.uniform(5, 14))
        hours = rng.choice((1, 2, 3, 4))
    else:  # an emergency: any time, raised hours before
        answers = (rng.randint(2, 3), rng.randint(1, 3), rng.randint(1, 3))
        start = day + timedelta(minutes=rng.uniform(0, 24 * 60))
        created = start - timedelta(hours=rng.uniform(0.5, 6))
        hours = rng.choice((0.5, 1, 2))
    risk = risk_of(*answers)
    end = start + timedelta(hours=hours)
    service_id, service_name = rng.choice(people.services) if people.services else (None, "IT")
    facts: dict[str, Any] = {
        "title": rng.choice(WORK).format(service_name)[:200],
        "description": HISTORY_MARK,
        "change_type": kind,
        "risk_impact": answers[0],
        "risk_likelihood": answers[1],
        "risk_backout": answers[2],
        "risk": risk,
        "implementation_plan": "Apply in the window, then verify the service.",
        "backout_plan": "Restore the previous version from the snapshot taken before.",
        "test_plan": "Smoke tests of the service's main journeys.",
        "planned_start": start,
        "planned_end": end,
        "owner_id": rng.choice(people.agents),
        "implementer_id": rng.choice(people.agents),
        "service_id": service_id,
        "created_at": created,
    }
    if kind != ChangeType.STANDARD:
        board, required = DEFAULT_APPROVALS[(kind, risk)]
        facts |= {"approval_board": board, "approvals_required": required, "approval_round": 1}
    if rng.random() < CANCELLED:
        cancelled = created + (start - created) * rng.uniform(0.2, 0.9)
        return facts | {
            "status": ChangeStatus.CANCELLED,
            "closed_at": cancelled,
            "approvals_required": 0,  # withdrawn before any board decided
            "approval_round": 0,
            "approval_board": "",
            "version": 3,
            "updated_at": cancelled,
        }
    failed, backed_out = FAILURE[risk]
    outcome = pick(
        rng,
        {
            ChangeOutcome.FAILED: failed,
            ChangeOutcome.BACKED_OUT: backed_out,
            ChangeOutcome.SUCCESSFUL: 1 - failed - backed_out,
        },
    )
    actual_start = start + timedelta(minutes=rng.uniform(0, 15))
    overrun = 1.6 if outcome != ChangeOutcome.SUCCESSFUL else 1.0
    actual_end = actual_start + timedelta(hours=hours * rng.uniform(0.6, 1.2) * overrun)
    if actual_end > now:
        return None
    review = (
        timedelta(hours=rng.uniform(1, 24))
        if kind == ChangeType.STANDARD
        else timedelta(days=rng.uniform(1, 5))
    )
    facts |= {"actual_start": actual_start, "actual_end": actual_end, "version": 7}
    if actual_end + review > now:  # still in review: no outcome yet
        return facts | {"status": ChangeStatus.REVIEW, "updated_at": actual_end}
    closed = actual_end + review
    return facts | {
        "status": ChangeStatus.CLOSED,
        "outcome": outcome,
        "closed_at": closed,
        "version": 8,
        "updated_at": closed,
    }


def approvals(
    rng: random.Random, tenant: Tenant, changes: Sequence[Change], people: People
) -> list[tuple[ChangeApproval, datetime]]:
    """The approvals of the changes that went through a board, with when each was given: as
    many as the board required, from its members (the tenant's staff where it has none),
    before the window."""
    boards: dict[str, list[int]] = {}
    for user_id, board in CabMember.objects.for_tenant(tenant).values_list("user", "board"):
        boards.setdefault(board, []).append(user_id)
    given = []
    for change in changes:
        if not change.approvals_required or change.planned_start is None:
            continue
        members = boards.get(change.approval_board) or people.agents
        for approver in rng.sample(members, min(len(members), change.approvals_required)):
            approval = ChangeApproval(
                tenant=tenant,
                change=change,
                approver_id=approver,
                approval_round=1,
                decision=ApprovalDecision.APPROVED,
            )
            decided = change.created_at + (change.planned_start - change.created_at) * rng.uniform(
                0.3, 0.9
            )
            given.append((approval, decided))
    return given


def incidents_caused(
    rng: random.Random, changes: Sequence[tuple[Change, int | None]], seen: Sequence[Seen]
) -> list[tuple[Change, int]]:
    """The history incidents some closed changes (with their service) caused: on the service,
    created while the work ran or soon after, none taken twice. Failed and backed-out changes
    caused some far more often than successful ones."""
    taken: set[int] = set()
    links = []
    for change, service_id in changes:
        if change.status != ChangeStatus.CLOSED or service_id is None:
            continue
        assert change.actual_start is not None
        assert change.actual_end is not None
        if rng.random() >= CAUSED[change.outcome != ChangeOutcome.SUCCESSFUL]:
            continue
        after, until = change.actual_start, change.actual_end + CAUSED_WINDOW
        candidates = [
            incident.pk
            for incident in seen
            if incident.service_id == service_id
            and after <= incident.created_at < until
            and incident.pk not in taken
        ]
        for pk in rng.sample(candidates, min(len(candidates), rng.randint(1, 2))):
            taken.add(pk)
            links.append((change, pk))
    return links


def history_incidents(tenant: Tenant) -> list[Seen]:
    """The tenant's incidents of the seeded history that no change is recorded as causing."""
    return [
        Seen(pk, service_id, created_at)
        for pk, service_id, created_at in Incident.objects.for_tenant(tenant)
        .filter(description=INCIDENT_MARK, caused_by_change__isnull=True)
        .order_by("created_at", "id")
        .values_list("pk", "service_id", "created_at")
    ]


@transaction.atomic
def history_seed(tenant: Tenant, per_day: float, now: datetime) -> tuple[int, int]:
    """The tenant's past changes, their services and approvals, and the incidents they caused;
    returns how many of each of the first and last."""
    rng = random.Random(f"demo-change-history-{tenant.slug}")  # noqa: S311 - demo data
    people = people_of(tenant)
    zone = tenant_time_zone(tenant=tenant)
    facts = [
        found
        for day in windows(rng, per_day, zone, now.astimezone(zone).date())
        if (found := change_facts(rng, people, day, now)) is not None
    ]
    facts.sort(key=lambda found: found["created_at"])
    rows = []
    for number, found in zip(
        allocate_numbers(tenant=tenant, key=Change.NUMBER_PREFIX, count=len(facts)),
        facts,
        strict=True,
    ):
        times = {name: found.pop(name) for name in ("created_at", "updated_at")}
        service_id = found.pop("service_id")
        rows.append((Change(tenant=tenant, number=number, **found), service_id, times))
    made = Change.objects.bulk_create([row[0] for row in rows], batch_size=BATCH)
    # bulk_create stamps both times with the present (auto_now_add, auto_now): set them back.
    for change, (_row, _service, times) in zip(made, rows, strict=True):
        change.created_at, change.updated_at = times["created_at"], times["updated_at"]
    Change.objects.bulk_update(made, ["created_at", "updated_at"], batch_size=BATCH)
    affected = [(change, row[1]) for change, row in zip(made, rows, strict=True)]
    ChangeService.objects.bulk_create(
        [
            ChangeService(tenant=tenant, change=change, service_id=service_id)
            for change, service_id in affected
            if service_id is not None
        ],
        batch_size=BATCH,
    )
    decisions = approvals(rng, tenant, made, people)
    given = ChangeApproval.objects.bulk_create([row[0] for row in decisions], batch_size=BATCH)
    for approval, (_unsaved, decided) in zip(given, decisions, strict=True):  # stamped the present
        approval.created_at = approval.updated_at = decided
    ChangeApproval.objects.bulk_update(given, ["created_at", "updated_at"], batch_size=BATCH)
    links = incidents_caused(rng, affected, history_incidents(tenant))
    ChangeIncident.objects.bulk_create(
        [
            ChangeIncident(
                tenant=tenant, change=change, incident_id=incident_id, linked_by_id=change.owner_id
            )
            for change, incident_id in links
        ],
        batch_size=BATCH,
    )
    return len(made), len(links)
