"""About 90 days of past incidents for the demo tenants, so the metrics dashboard has a history
to show; then their rollups, built whole. Run after `seed_demo` and `seed_demo_incidents`.

The incidents are written as the services would have left them by now (stored times,
channel, escalations of both kinds, reassignments, reopenings, first-contact resolution),
directly and in bulk: walking months of history through the services would stamp every step
with the present. The finished ones get their SLA clocks, stopped as the services stop them;
their timelines hold no steps. The figures are drawn from fixed seeds, so every run gives the same
history for the same day; a tenant that has it already is left alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents.choices import (
    DEFAULT_PRIORITY_MATRIX,
    IncidentSource,
    IncidentStatus,
    ResolutionCode,
    SlaClockKind,
)
from incidents.metrics.rollups import rollup_refresh
from incidents.models import Incident, SlaClock, SlaPolicy
from incidents.sla import TIMER_KIND, Schedules, policy_for
from itsm.calendars.selectors import tenant_time_zone
from itsm.catalog.models import Category, Service
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, TeamMember, Tenant
from itsm.tenancy.services import allocate_numbers
from itsm.timers.models import Timer
from itsm.timers.services import timer_new

# The tenants seeded and their mean incidents per working day (weekends see fewer).
TENANTS = {"acme": 6.0, "globex": 1.5}
DAYS = 90
# What marks an incident of the seeded history (and so a tenant already seeded).
MARK = "Seeded demo history."
BATCH = 500

# Channel of the first report, and how often.
SOURCES = {
    IncidentSource.MONITORING: 0.34,
    IncidentSource.PROACTIVE: 0.07,
    IncidentSource.PORTAL: 0.21,
    IncidentSource.PHONE: 0.13,
    IncidentSource.USER: 0.09,
    IncidentSource.EMAIL: 0.09,
    IncidentSource.CHAT: 0.07,
}
CUSTOMER = frozenset(SOURCES) - {IncidentSource.MONITORING, IncidentSource.PROACTIVE}
# (impact, urgency) and how often: the default matrix makes the priority of each.
RATINGS = {
    (1, 1): 0.03,
    (1, 2): 0.06,
    (2, 1): 0.06,
    (1, 3): 0.05,
    (2, 2): 0.22,
    (3, 1): 0.08,
    (2, 3): 0.18,
    (3, 2): 0.17,
    (3, 3): 0.15,
}
# Per priority: mean minutes to acknowledge, median hours from acknowledgement to resolution.
ACKNOWLEDGE_MINUTES = {1: 6, 2: 18, 3: 55, 4: 150}
RESOLVE_HOURS = {1: 2.5, 2: 7, 3: 22, 4: 50}
AUTO_CLOSE = timedelta(days=3)
FINISHED = frozenset({IncidentStatus.RESOLVED, IncidentStatus.CLOSED, IncidentStatus.CANCELLED})

PROBLEMS = (
    "is down for everyone",
    "is very slow since this morning",
    "refuses logins with an error",
    "times out for remote staff",
    "shows an error page after the update",
    "loses data when saving",
    "cannot be reached from the branch office",
    "sends duplicate notifications",
    "stopped syncing overnight",
    "prints or exports garbled output",
)
RESOLUTIONS = {
    ResolutionCode.FIXED: 0.55,
    ResolutionCode.WORKAROUND: 0.15,
    ResolutionCode.USER_GUIDANCE: 0.14,
    ResolutionCode.FIXED_BY_CHANGE: 0.06,
    ResolutionCode.NOT_REPRODUCIBLE: 0.05,
    ResolutionCode.NO_FAULT: 0.05,
}


def pick[T](rng: random.Random, weights: dict[T, float]) -> T:
    return rng.choices(list(weights), list(weights.values()))[0]


@dataclass
class People:
    """Who reports, works and escalates in a tenant."""

    requesters: list[int]
    agents: list[int]
    first_line: int | None  # the L1 team
    escalation_teams: list[int]  # L2, L3 and specialists: functional escalations go there
    members: dict[int, list[int]]  # team id -> its members' user ids
    services: list[tuple[int, str]]
    categories: list[int]


def people_of(tenant: Tenant) -> People:
    teams = list(Team.objects.for_tenant(tenant).order_by("id").values_list("pk", "kind"))
    members: dict[int, list[int]] = {pk: [] for pk, _kind in teams}
    for team_id, user_id in TeamMember.objects.for_tenant(tenant).values_list("team", "user"):
        members[team_id].append(user_id)
    roles = list(
        Membership.objects.for_tenant(tenant)
        .filter(is_active=True)
        .values_list("user", "role")
        .order_by("id")
    )
    agents = [user for user, role in roles if role != MembershipRole.REQUESTER]
    first_line = next((pk for pk, kind in teams if kind == TeamKind.L1), None)
    upper = (TeamKind.L2, TeamKind.L3, TeamKind.SPECIALIST)
    return People(
        requesters=[user for user, role in roles if role == MembershipRole.REQUESTER] or agents,
        agents=agents,
        first_line=first_line,
        escalation_teams=[pk for pk, kind in teams if kind in upper],
        members=members,
        services=list(Service.objects.for_tenant(tenant).order_by("id").values_list("pk", "name")),
        categories=list(
            Category.objects.for_tenant(tenant)
            .filter(parent__isnull=False)
            .values_list("pk", flat=True)
        )
        or list(Category.objects.for_tenant(tenant).values_list("pk", flat=True)),
    )


def creation_times(
    rng: random.Random, per_day: float, zone: ZoneInfo, today: date
) -> list[datetime]:
    """When the incidents of the last DAYS whole days were created, oldest first: mostly in
    office hours on working days, monitoring's around the clock."""
    times = []
    for back in range(DAYS, 0, -1):
        day = today - timedelta(days=back)
        mean = per_day * (0.35 if day.weekday() >= 5 else 1.0)
        count = max(0, round(rng.gauss(mean, mean**0.5)))
        for _ in range(count):
            if rng.random() < 0.25:  # around the clock
                minute = rng.uniform(0, 24 * 60)
            else:  # office hours, busiest mid-morning
                minute = min(max(rng.gauss(11 * 60, 150), 7 * 60), 19 * 60)
            local = datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minute)
            times.append(local)
    return sorted(times)


def incident_facts(
    rng: random.Random, people: People, created: datetime, now: datetime
) -> dict[str, Any]:
    """One incident's stored facts, as the services would have written them by `now`."""
    source = pick(rng, SOURCES)
    impact, urgency = pick(rng, RATINGS)
    priority = int(DEFAULT_PRIORITY_MATRIX[(impact, urgency)])
    service_id, service_name = rng.choice(people.services) if people.services else (None, "IT")

    occurred = detected = None
    if source == IncidentSource.MONITORING:
        detected = created - timedelta(minutes=rng.uniform(0, 4))
        occurred = detected - timedelta(minutes=rng.expovariate(1 / 9))
    elif source in CUSTOMER and rng.random() < 0.55:
        occurred = created - timedelta(minutes=rng.expovariate(1 / 50))

    functional = pick(rng, {0: 0.70, 1: 0.24, 2: 0.06}) if people.escalation_teams else 0
    hierarchical = int(rng.random() < (0.4 if priority <= 2 else 0.03))
    reassignments = pick(rng, {0: 0.76, 1: 0.16, 2: 0.06, 3: 0.02})
    reopens = pick(rng, {0: 0.93, 1: 0.06, 2: 0.01})
    # Functionally escalated: with the team it went to last; else with the first line.
    team = (
        people.escalation_teams[(functional - 1) % len(people.escalation_teams)]
        if functional
        else people.first_line
    )
    crew = people.members.get(team, []) if team else []

    status, hold_reason = IncidentStatus.NEW, ""
    assigned = acknowledged = engaged = resolved = closed = None
    resolution_code, first_contact = "", False
    updated = created
    if rng.random() < 0.03:  # withdrawn by the caller or a duplicate
        status, updated = IncidentStatus.CANCELLED, created + timedelta(minutes=rng.uniform(5, 600))
    else:
        assigned = created + timedelta(minutes=rng.uniform(0.5, 10))
        acknowledged = assigned + timedelta(
            minutes=rng.expovariate(1 / ACKNOWLEDGE_MINUTES[priority])
        )
        if acknowledged > now:
            assigned = acknowledged = None
        else:
            status, updated = IncidentStatus.IN_PROGRESS, acknowledged
            if hierarchical:
                engaged = acknowledged + timedelta(minutes=rng.uniform(5, 90))
            work = timedelta(hours=RESOLVE_HOURS[priority] * rng.lognormvariate(0, 0.9))
            candidate = acknowledged + work * (1 + reopens + 0.5 * functional)
            if candidate <= now:
                resolved, status, updated = candidate, IncidentStatus.RESOLVED, candidate
                resolution_code = pick(rng, RESOLUTIONS)
                first_contact = (
                    source in CUSTOMER
                    and functional + hierarchical + reassignments + reopens == 0
                    and rng.random() < 0.7
                )
                closing = resolved + (
                    timedelta(hours=rng.uniform(1, 40)) if rng.random() < 0.35 else AUTO_CLOSE
                )
                if closing <= now:
                    closed, status, updated = closing, IncidentStatus.CLOSED, closing
            elif rng.random() < 0.2:
                status, hold_reason = IncidentStatus.ON_HOLD, "awaiting_caller"
    if engaged is not None and engaged > updated:
        engaged = updated
    if acknowledged is None:  # nobody worked it yet: nothing escalated, moved or reopened
        functional = hierarchical = reassignments = reopens = 0
    reporters = people.requesters if source in CUSTOMER else people.agents
    return {
        "title": f"{service_name} {rng.choice(PROBLEMS)}",
        "description": MARK,
        "source": source,
        "impact": impact,
        "urgency": urgency,
        "priority": priority,
        "status": status,
        "hold_reason": hold_reason,
        "is_major": False,
        "service_id": service_id,
        "category_id": rng.choice(people.categories) if people.categories else None,
        "reported_by_id": rng.choice(reporters),
        "assignment_team_id": team if assigned else None,
        "assignee_id": rng.choice(crew) if assigned and crew else None,
        "occurred_at": occurred,
        "detected_at": detected,
        "first_assigned_at": assigned,
        "acknowledged_at": acknowledged,
        "management_engaged_at": engaged,
        "resolved_at": resolved,
        "closed_at": closed,
        "resolution_code": resolution_code,
        "resolution_notes": "Restored the service." if resolved else "",
        "escalation_count": functional + hierarchical,
        "functional_escalation_count": functional,
        "hierarchical_escalation_count": hierarchical,
        "reassignment_count": reassignments,
        "reopen_count": reopens,
        "first_contact_resolution": first_contact,
        "version": 2 + functional + hierarchical + reassignments + 2 * reopens,
        "updated_at": updated,
    }


class Command(BaseCommand):
    help = "Create about 90 days of past incidents in the demo tenants and build their rollups."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        for slug, per_day in TENANTS.items():
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                continue
            with rls.tenant_scope(tenant.pk):
                if Incident.objects.for_tenant(tenant).filter(description=MARK).exists():
                    continue
                made = self._seed(tenant, per_day, now)
                state = rollup_refresh(tenant=tenant, full=True)
            self.stdout.write(
                f"  {tenant.name}: {made} past incidents, rollups rebuilt ({state.rows} rows)"
            )
        self.stdout.write(self.style.SUCCESS("Demo incident history ready."))

    @transaction.atomic
    def _seed(self, tenant: Tenant, per_day: float, now: datetime) -> int:
        """The tenant's past incidents and the SLA clocks of the finished ones."""
        rng = random.Random(f"demo-history-{tenant.slug}")  # noqa: S311 - demo data
        people = people_of(tenant)
        zone = tenant_time_zone(tenant=tenant)
        created = creation_times(rng, per_day, zone, now.astimezone(zone).date())
        rows = []
        for number, at in zip(
            allocate_numbers(tenant=tenant, key=Incident.NUMBER_PREFIX, count=len(created)),
            created,
            strict=True,
        ):
            facts = incident_facts(rng, people, at, now)
            updated = facts.pop("updated_at")
            incident = Incident(tenant=tenant, number=number, **facts)
            rows.append((incident, at, updated))
        made = Incident.objects.bulk_create([row[0] for row in rows], batch_size=BATCH)
        # bulk_create stamps both times with the present (auto_now_add, auto_now): set them back.
        ended = {}
        for incident, (_row, at, updated) in zip(made, rows, strict=True):
            incident.created_at, incident.updated_at = at, updated
            ended[incident.pk] = updated
        clocks = finished_clocks(made, ended)
        Timer.objects.bulk_create([clock.timer for clock in clocks], batch_size=BATCH)
        SlaClock.objects.bulk_create(clocks, batch_size=BATCH)
        Incident.objects.bulk_update(
            made, ["created_at", "updated_at", "sla_breached"], batch_size=BATCH
        )
        return len(made)


def finished_clocks(incidents: list[Incident], ended: dict[int, datetime]) -> list[SlaClock]:
    """The response and resolution clocks of the finished incidents (resolved, closed or
    cancelled), stopped as the services stop them: at the acknowledgement, the resolution or
    the cancellation (`ended`), breached at their due time if they ran past it. The history has
    no holds, so no pauses. Open incidents get none: their running clocks would need armed
    timers. Marks each incident breached where one of its clocks is."""
    policies: dict[tuple[Any, ...], SlaPolicy] = {}
    schedules = Schedules()
    clocks = []
    for incident in incidents:
        if incident.status not in FINISHED:
            continue
        key = (incident.service_id, incident.category_id, incident.priority)
        policy = policies.get(key) or policies.setdefault(key, policy_for(incident))
        schedule = schedules.of(policy)
        started, end = incident.created_at, ended[incident.pk]
        for kind, target, stopped in (
            (SlaClockKind.RESPONSE, policy.response_target, incident.acknowledged_at or end),
            (SlaClockKind.RESOLUTION, policy.resolution_target, incident.resolved_at or end),
        ):
            due = schedule.add(started, target)
            elapsed = schedule.between(started, stopped)
            breached = due if elapsed > target else None
            incident.sla_breached = incident.sla_breached or breached is not None
            clocks.append(
                SlaClock(
                    tenant_id=incident.tenant_id,
                    incident=incident,
                    kind=kind,
                    policy=policy,
                    target=target,
                    started_at=started,
                    elapsed=elapsed,
                    due_at=due,
                    stopped_at=stopped,
                    breached_at=breached,
                    timer=timer_new(tenant_id=incident.tenant_id, kind=TIMER_KIND),
                )
            )
    return clocks
