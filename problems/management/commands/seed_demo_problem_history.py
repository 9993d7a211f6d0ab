"""About 90 days of past problems for the demo tenants, so the metrics dashboard's problems
opened and resolved have a history to show. Run after `seed_demo_history` (the problems take
some of its incidents as theirs; without it they have none).

Like the incident history, the problems are written as the services would have left them by now
(stored times and statuses: most resolved some days or weeks after they were opened, many of
those closed since, a few cancelled, the recent ones still open), directly and in bulk: walking
months through `problems.services` would stamp every step with the present. Their timelines
hold no steps; their review timers are created unarmed (no review date). The figures are drawn
from fixed seeds, so every run gives the same history for the same day; a tenant that has it
already is left alone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents.choices import DEFAULT_PRIORITY_MATRIX
from incidents.management.commands.seed_demo_history import MARK as INCIDENT_MARK
from incidents.management.commands.seed_demo_history import People, people_of, pick
from incidents.models import Incident
from itsm.calendars.selectors import tenant_time_zone
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant
from itsm.tenancy.services import allocate_numbers
from itsm.timers.models import Timer
from itsm.timers.services import timer_new
from problems.choices import REVIEW_TIMER_KIND, ProblemStatus
from problems.models import Problem, ProblemIncident, ProblemService

# The tenants seeded and their mean problems opened per working day (weekends see fewer).
TENANTS = {"acme": 0.8, "globex": 0.25}
DAYS = 90
# What marks a problem of the seeded history (and so a tenant already seeded).
MARK = "Seeded demo problem history."
BATCH = 500

# (impact, urgency) and how often: problems are raised for the incidents that hurt.
RATINGS = {
    (1, 1): 0.08,
    (1, 2): 0.14,
    (2, 1): 0.12,
    (2, 2): 0.30,
    (2, 3): 0.16,
    (3, 2): 0.12,
    (3, 3): 0.08,
}
# Median days from opening to the root cause, and from the root cause to the fix.
ROOT_CAUSE_DAYS = 3.0
FIX_DAYS = 6.0
CANCELLED = 0.06  # a duplicate, or not a problem after all
CLOSED = 0.7  # of the resolved ones whose review is past: the rest wait for it
# Of a problem, the chance it takes incidents from the history, and how far back they may be.
LINKED = 0.65
LINK_WINDOW = timedelta(days=21)
OPEN_STEPS = (ProblemStatus.ROOT_CAUSE_KNOWN, ProblemStatus.FIX_IN_PROGRESS)

CAUSES = (
    ("Recurring timeouts on {}", "A connection pool too small for the peak load."),
    ("Intermittent login failures on {}", "Clock drift between the identity servers."),
    ("Memory leak in {}", "A cache that never evicted its entries."),
    ("Slow responses of {} after nightly jobs", "Batch jobs that lock the busiest tables."),
    ("Certificate errors on {}", "An intermediate certificate missing from the chain."),
    ("Lost updates in {}", "Two writers without a version check."),
    ("{} unreachable from the branch offices", "A routing rule dropped by a firewall update."),
    ("Duplicate notifications from {}", "A retry that did not check what was already sent."),
)


@dataclass(frozen=True)
class Seen:
    """A history incident a problem may take: its service and when it was created."""

    pk: int
    service_id: int | None
    created_at: datetime


def creation_times(
    rng: random.Random, per_day: float, zone: ZoneInfo, today: date
) -> list[datetime]:
    """When the problems of the last DAYS whole days were opened, oldest first: in office
    hours, mostly on working days. A day adds a jittered share of a problem, and a problem is
    opened on the day its share completes: a quiet tenant's few problems are spread over the
    weeks, not bunched."""
    times = []
    owed = rng.random()
    for back in range(DAYS, 0, -1):
        day = today - timedelta(days=back)
        owed += per_day * (0.2 if day.weekday() >= 5 else 1.0) * rng.uniform(0.3, 1.7)
        while owed >= 1:
            owed -= 1
            minute = rng.uniform(8 * 60, 18 * 60)
            times.append(datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minute))
    return sorted(times)


def problem_facts(
    rng: random.Random, people: People, created: datetime, now: datetime
) -> dict[str, Any]:
    """One problem's stored facts, as the services would have written them by `now`."""
    impact, urgency = pick(rng, RATINGS)
    service_id, service_name = rng.choice(people.services) if people.services else (None, "IT")
    title, cause = rng.choice(CAUSES)
    team = rng.choice(people.escalation_teams) if people.escalation_teams else people.first_line
    status = ProblemStatus.UNDER_INVESTIGATION
    identified = resolved = closed = None
    updated = created + timedelta(hours=rng.uniform(1, 24))
    if rng.random() < CANCELLED:
        status = ProblemStatus.CANCELLED
    else:
        found = created + timedelta(days=ROOT_CAUSE_DAYS * rng.lognormvariate(0, 0.8))
        fixed = found + timedelta(days=FIX_DAYS * rng.lognormvariate(0, 0.8))
        if fixed <= now:
            identified, resolved, status, updated = found, fixed, ProblemStatus.RESOLVED, fixed
            review = fixed + timedelta(days=rng.uniform(2, 14))
            if review <= now and rng.random() < CLOSED:
                closed, status, updated = review, ProblemStatus.CLOSED, review
        elif found <= now:
            identified, status, updated = found, rng.choice(OPEN_STEPS), found
        elif now - created < timedelta(days=2):
            status = ProblemStatus.NEW
    updated = min(updated, now)
    return {
        "title": title.format(service_name)[:200],
        "description": MARK,
        "service_id": service_id,
        "category_id": rng.choice(people.categories) if people.categories else None,
        "impact": impact,
        "urgency": urgency,
        "priority": int(DEFAULT_PRIORITY_MATRIX[(impact, urgency)]),
        "status": status,
        "problem_manager_id": rng.choice(people.agents) if people.agents else None,
        "assignment_team_id": team,
        "root_cause": cause if identified else "",
        "workaround": "Restart the affected component." if identified else "",
        "fix_notes": "Fixed at the root and verified in production." if resolved else "",
        "root_cause_identified_at": identified,
        "resolved_at": resolved,
        "closed_at": closed,
        "version": 2 + (identified is not None) + (resolved is not None) + (closed is not None),
        "updated_at": updated,
    }


def incidents_taken(
    rng: random.Random, problems: Sequence[tuple[Problem, int | None]], seen: Sequence[Seen]
) -> list[tuple[Problem, int]]:
    """Some of the history incidents each problem (with its service) caused: on its service,
    created in the weeks before it was opened, none taken twice."""
    taken: set[int] = set()
    links = []
    for problem, service_id in problems:
        if service_id is None or rng.random() >= LINKED:
            continue
        candidates = [
            incident.pk
            for incident in seen
            if incident.service_id == service_id
            and problem.created_at - LINK_WINDOW <= incident.created_at < problem.created_at
            and incident.pk not in taken
        ]
        for pk in rng.sample(candidates, min(len(candidates), rng.randint(1, 4))):
            taken.add(pk)
            links.append((problem, pk))
    return links


class Command(BaseCommand):
    help = "Create about 90 days of past problems in the demo tenants (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        for slug, per_day in TENANTS.items():
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                continue
            with rls.tenant_scope(tenant.pk):
                if Problem.objects.for_tenant(tenant).filter(description=MARK).exists():
                    continue
                made, linked = self._seed(tenant, per_day, now)
            self.stdout.write(f"  {tenant.name}: {made} past problems, {linked} incidents linked")
        self.stdout.write(self.style.SUCCESS("Demo problem history ready."))

    @transaction.atomic
    def _seed(self, tenant: Tenant, per_day: float, now: datetime) -> tuple[int, int]:
        """The tenant's past problems, their services and the incidents they caused."""
        rng = random.Random(f"demo-problem-history-{tenant.slug}")  # noqa: S311 - demo data
        people = people_of(tenant)
        zone = tenant_time_zone(tenant=tenant)
        created = creation_times(rng, per_day, zone, now.astimezone(zone).date())
        rows = []
        for number, at in zip(
            allocate_numbers(tenant=tenant, key=Problem.NUMBER_PREFIX, count=len(created)),
            created,
            strict=True,
        ):
            facts = problem_facts(rng, people, at, now)
            updated = facts.pop("updated_at")
            service_id = facts.pop("service_id")
            problem = Problem(
                tenant=tenant,
                number=number,
                review_timer=timer_new(tenant_id=tenant.pk, kind=REVIEW_TIMER_KIND),
                **facts,
            )
            rows.append((problem, service_id, at, updated))
        Timer.objects.bulk_create(
            [row[0].review_timer for row in rows if row[0].review_timer], batch_size=BATCH
        )
        made = Problem.objects.bulk_create([row[0] for row in rows], batch_size=BATCH)
        # bulk_create stamps both times with the present (auto_now_add, auto_now): set them back.
        for problem, (_row, _service, at, updated) in zip(made, rows, strict=True):
            problem.created_at, problem.updated_at = at, updated
        Problem.objects.bulk_update(made, ["created_at", "updated_at"], batch_size=BATCH)
        affected = [(problem, row[1]) for problem, row in zip(made, rows, strict=True)]
        ProblemService.objects.bulk_create(
            [
                ProblemService(tenant=tenant, problem=problem, service_id=service_id)
                for problem, service_id in affected
                if service_id is not None
            ],
            batch_size=BATCH,
        )
        links = incidents_taken(rng, affected, history_incidents(tenant))
        ProblemIncident.objects.bulk_create(
            [
                ProblemIncident(
                    tenant=tenant,
                    problem=problem,
                    incident_id=incident_id,
                    linked_by_id=problem.problem_manager_id,
                )
                for problem, incident_id in links
            ],
            batch_size=BATCH,
        )
        return len(made), len(links)


def history_incidents(tenant: Tenant) -> list[Seen]:
    """The tenant's incidents of the seeded history that no problem has taken yet."""
    return [
        Seen(pk, service_id, created_at)
        for pk, service_id, created_at in Incident.objects.for_tenant(tenant)
        .filter(description=INCIDENT_MARK, problem_link__isnull=True)
        .order_by("created_at", "id")
        .values_list("pk", "service_id", "created_at")
    ]
