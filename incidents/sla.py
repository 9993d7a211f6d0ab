"""The SLA engine: clocks that follow each incident, and the sweep that fires their thresholds.

A clock stores its due time and its next threshold time; the sweep selects only clocks whose
next threshold has passed (one indexed query), fires each threshold exactly once (a unique
row per clock and threshold, written in the same transaction that advances the clock) and
runs the policy's breach action. The database is the source of truth: a sweep that dies rolls
back and its clocks are still due for the next one.

Lock order is incident → clock everywhere. Incident services call in here holding the incident
lock; the sweep locks clocks, then their incidents with SKIP LOCKED, so it never waits while
holding a clock and cannot deadlock with an agent's action.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from incidents.choices import (
    BREACH,
    DEFAULT_SLA_TARGETS,
    SLA_NEVER_DUE,
    EscalationKind,
    EventKind,
    IncidentStatus,
    SlaBreachAction,
    SlaClockKind,
)
from incidents.models import Incident, IncidentEvent, SlaClock, SlaPolicy, SlaThresholdEvent
from itsm.calendars.business_time import BusinessSchedule
from itsm.calendars.selectors import calendar_schedule
from itsm.services import object_delete, object_update, tenant_object_create
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant

logger = logging.getLogger(__name__)


# --- Policies ----------------------------------------------------------------------------------


@transaction.atomic
def sla_policy_create(*, tenant: Tenant, data: dict[str, Any]) -> SlaPolicy:
    """Add an SLA policy; it applies to incidents created or re-prioritised from now on."""
    return tenant_object_create(SlaPolicy, tenant=tenant, data=data)


@transaction.atomic
def sla_policy_update(*, policy: SlaPolicy, data: dict[str, Any]) -> SlaPolicy:
    """Change an SLA policy; running clocks keep the targets they started with."""
    object_update(policy, data=data)
    return policy


@transaction.atomic
def sla_policy_delete(*, policy: SlaPolicy) -> None:
    """Delete a policy no clock has used (deactivate it otherwise)."""
    object_delete(policy)


def policy_for(incident: Incident) -> SlaPolicy:
    """The first active policy (by order) whose conditions match; the default for the
    incident's priority if none does (created on first use, so tenants can edit it)."""
    candidates = SlaPolicy.objects.for_tenant(incident.tenant_id).filter(
        Q(service__isnull=True) | Q(service_id=incident.service_id),
        Q(category__isnull=True) | Q(category_id=incident.category_id),
        is_active=True,
    )
    for policy in candidates.order_by("order", "id"):
        if not policy.priorities or incident.priority in policy.priorities:
            return policy
    return _default_policy(incident.tenant_id, incident.priority)


def _default_policy(tenant_id: int, priority: int) -> SlaPolicy:
    response, resolution = DEFAULT_SLA_TARGETS[priority]
    policy, _ = SlaPolicy.objects.for_tenant(tenant_id).get_or_create(
        slug=f"default-sev{priority}",
        defaults={
            "tenant_id": tenant_id,
            "name": f"Default SEV{priority}",
            "order": 1000 + priority,
            "priorities": [priority],
            "response_target": timedelta(minutes=response),
            "resolution_target": timedelta(minutes=resolution),
        },
    )
    return policy


# --- Clock arithmetic ---------------------------------------------------------------------------


class Schedules:
    """Business schedules by calendar, loaded once per operation."""

    def __init__(self) -> None:
        self._by_calendar: dict[int | None, BusinessSchedule] = {}

    def of(self, policy: SlaPolicy) -> BusinessSchedule:
        if policy.calendar_id not in self._by_calendar:
            self._by_calendar[policy.calendar_id] = calendar_schedule(calendar=policy.calendar)
        return self._by_calendar[policy.calendar_id]


def _catch_up(clock: SlaClock, schedule: BusinessSchedule, now: datetime) -> None:
    """Count the business time that has passed since the clock was last brought up to date."""
    if clock.running_since is not None and now > clock.running_since:
        clock.elapsed += schedule.between(clock.running_since, now)
        clock.running_since = now
    if clock.paused_since is not None and now > clock.paused_since:
        clock.paused_total += schedule.between(clock.paused_since, now)
        clock.paused_since = now


def _plan(clock: SlaClock, schedule: BusinessSchedule, fired: Iterable[int]) -> None:
    """Due time and next threshold of a running clock, from its elapsed time."""
    assert clock.running_since is not None
    remaining = clock.target - clock.elapsed
    if remaining > timedelta(0):
        clock.due_at = schedule.add(clock.running_since, remaining)
    elif clock.due_at is None:
        clock.due_at = clock.running_since
    done = set(fired)
    clock.next_threshold, clock.next_threshold_at = None, None
    for threshold in clock.policy.thresholds():
        if threshold in done:
            continue
        reached_after = clock.target * threshold / 100
        clock.next_threshold = threshold
        clock.next_threshold_at = (
            schedule.add(clock.running_since, reached_after - clock.elapsed)
            if reached_after > clock.elapsed
            else clock.running_since
        )
        break


def _fired(clock: SlaClock) -> set[int]:
    return set(
        SlaThresholdEvent.objects.for_tenant(clock.tenant_id)
        .filter(clock=clock)
        .values_list("threshold", flat=True)
    )


# --- Following the incident (called by incident services, inside their transaction) ------------


def start_clocks(incident: Incident, now: datetime) -> list[SlaClock]:
    """Start the response and resolution clocks of a new incident."""
    policy = policy_for(incident)
    schedule = Schedules().of(policy)
    clocks = []
    for kind, target in (
        (SlaClockKind.RESPONSE, policy.response_target),
        (SlaClockKind.RESOLUTION, policy.resolution_target),
    ):
        clock = SlaClock(
            tenant_id=incident.tenant_id,
            incident=incident,
            kind=kind,
            policy=policy,
            target=target,
            started_at=now,
            running_since=now,
        )
        _plan(clock, schedule, ())
        clocks.append(clock)
    created = SlaClock.objects.bulk_create(clocks)
    _summarise(incident, created)
    return created


def refresh_summary(incident: Incident) -> None:
    """Recompute the incident's SLA summary from its clocks as stored (after a repair, say)."""
    incident.refresh_from_db(fields=["sla_due_at", "sla_breached"])
    _summarise(incident, SlaClock.objects.for_tenant(incident.tenant_id).filter(incident=incident))


def _summarise(incident: Incident, clocks: Iterable[SlaClock]) -> None:
    """Keep the incident's SLA summary in step with its clocks (lists filter and order by it)."""
    clocks = list(clocks)
    due = min(
        (c.due_at for c in clocks if c.running_since is not None and c.due_at is not None),
        default=SLA_NEVER_DUE,
    )
    breached = any(c.breached_at is not None for c in clocks)
    if (incident.sla_due_at, incident.sla_breached) != (due, breached):
        incident.sla_due_at, incident.sla_breached = due, breached
        Incident.objects.for_tenant(incident.tenant_id).filter(pk=incident.pk).update(
            sla_due_at=due, sla_breached=breached
        )


def follow_incident(incident: Incident, action: str, now: datetime) -> None:
    """Pause, resume, stop or restart the incident's clocks after a lifecycle action."""
    clocks = {clock.kind: clock for clock in _locked_clocks(incident)}
    if not clocks:
        return
    schedules = Schedules()
    response, resolution = clocks.get(SlaClockKind.RESPONSE), clocks.get(SlaClockKind.RESOLUTION)
    if action == "acknowledge":
        _stop(response, schedules, now)
    elif action == "hold":
        policy = next(iter(clocks.values())).policy  # an incident's clocks share one policy
        if incident.hold_reason in policy.pause_hold_reasons:
            for clock in clocks.values():
                _pause(clock, schedules, now)
    elif action == "resume":
        for clock in clocks.values():
            _resume(clock, schedules, now)
    elif action == "resolve":
        for clock in clocks.values():
            _stop(clock, schedules, now)
    elif action == "reopen":
        _restart(resolution, schedules, now)
    elif action in ("close", "cancel"):
        for clock in clocks.values():
            _stop(clock, schedules, now)
    _summarise(incident, clocks.values())


def follow_priority(incident: Incident, now: datetime) -> None:
    """A new priority may select another policy: new targets, same elapsed time."""
    policy = policy_for(incident)
    schedules = Schedules()
    clocks = _locked_clocks(incident)
    for clock in clocks:
        if clock.stopped_at is not None:
            continue
        _catch_up(clock, schedules.of(clock.policy), now)
        clock.policy = policy
        clock.target = (
            policy.response_target
            if clock.kind == SlaClockKind.RESPONSE
            else policy.resolution_target
        )
        if clock.running_since is not None:
            clock.due_at = None
            _plan(clock, schedules.of(policy), _fired(clock))
        clock.save()
    _summarise(incident, clocks)


def _locked_clocks(incident: Incident) -> list[SlaClock]:
    # Locked alone (no join): a join would hand back stale related rows after a wait.
    clocks = list(
        SlaClock.objects.for_tenant(incident.tenant_id)
        .filter(incident=incident)
        .select_for_update()
    )
    policies = {
        policy.pk: policy
        for policy in SlaPolicy.objects.for_tenant(incident.tenant_id)
        .filter(pk__in={clock.policy_id for clock in clocks})
        .select_related("calendar")
    }
    for clock in clocks:
        clock.policy = policies[clock.policy_id]
    return clocks


def _pause(clock: SlaClock | None, schedules: Schedules, now: datetime) -> None:
    if clock is None or clock.running_since is None:
        return
    _catch_up(clock, schedules.of(clock.policy), now)
    clock.running_since, clock.paused_since, clock.due_at = None, now, None
    if clock.next_threshold_at is not None and clock.next_threshold_at > now:
        clock.next_threshold, clock.next_threshold_at = None, None  # passed ones still fire
    clock.save()


def _resume(clock: SlaClock | None, schedules: Schedules, now: datetime) -> None:
    if clock is None or clock.paused_since is None:
        return
    schedule = schedules.of(clock.policy)
    _catch_up(clock, schedule, now)
    clock.paused_since, clock.running_since = None, now
    _plan(clock, schedule, _fired(clock))
    clock.save()


def _restart(clock: SlaClock | None, schedules: Schedules, now: datetime) -> None:
    """A reopened incident's resolution clock continues where it stopped."""
    if clock is None or clock.stopped_at is None:
        return
    clock.stopped_at, clock.running_since = None, now
    _plan(clock, schedules.of(clock.policy), _fired(clock))
    clock.save()


def _stop(clock: SlaClock | None, schedules: Schedules, now: datetime) -> None:
    if clock is None or clock.stopped_at is not None:
        return
    _catch_up(clock, schedules.of(clock.policy), now)
    clock.running_since = clock.paused_since = None
    clock.next_threshold = clock.next_threshold_at = None
    clock.stopped_at = now
    if clock.elapsed > clock.target and clock.breached_at is None:
        # Stopped late, before a sweep came by: the breach counts all the same (no action now).
        clock.breached_at = clock.due_at or now
        _record_thresholds([(clock, BREACH, clock.breached_at)], now)
    clock.save()


# --- The sweep ---------------------------------------------------------------------------------


@dataclass
class SweepResult:
    fired: int = 0
    skipped: int = 0  # locked by someone else: the next sweep takes them


def sweep(
    *, now: datetime | None = None, batch_size: int = 500, max_batches: int = 100
) -> SweepResult:
    """Fire every threshold that is due, in batches of one transaction each."""
    result = SweepResult()
    for _ in range(max_batches):
        fired, skipped = _sweep_batch(now or timezone.now(), batch_size)
        result.fired += fired
        result.skipped += skipped
        # A clock long overdue has several thresholds due: go on while batches make progress.
        if fired == 0:
            break
    return result


def _sweep_batch(now: datetime, batch_size: int) -> tuple[int, int]:
    with rls.platform_scope():
        # The one query of an idle sweep; uses the partial index incidents_slaclock_due.
        clocks = list(
            SlaClock.objects.filter(next_threshold_at__lte=now)
            .order_by("next_threshold_at")
            .select_for_update(skip_locked=True)[:batch_size]
        )
        if not clocks:
            return 0, 0
        incidents = {
            incident.pk: incident
            for incident in Incident.objects.filter(
                pk__in={c.incident_id for c in clocks}
            ).select_for_update(skip_locked=True)
        }
        policies = {
            policy.pk: policy
            for policy in SlaPolicy.objects.filter(
                pk__in={c.policy_id for c in clocks}
            ).select_related("calendar")
        }
        tenants = {
            tenant.pk: tenant
            for tenant in Tenant.objects.filter(pk__in={c.tenant_id for c in clocks})
        }
        by_tenant: dict[int, list[SlaClock]] = defaultdict(list)
        for clock in clocks:
            incident = incidents.get(clock.incident_id)
            if incident is None:
                continue  # an agent is acting on it right now: the next sweep takes it
            incident.tenant = tenants[incident.tenant_id]
            clock.policy, clock.incident = policies[clock.policy_id], incident
            by_tenant[clock.tenant_id].append(clock)
        schedules = Schedules()
        for tenant_id, group in by_tenant.items():
            # Each tenant's clocks are written as that tenant: RLS checks every row.
            rls.activate(rls.RlsContext(tenant_id=tenant_id))
            _fire_due(group, schedules, now)
        fired = sum(len(group) for group in by_tenant.values())
        return fired, len(clocks) - fired


def _fire_due(clocks: list[SlaClock], schedules: Schedules, now: datetime) -> None:
    """Fire each clock's next threshold and move it on: a handful of statements per batch."""
    reached = {clock.pk: (clock.next_threshold, clock.next_threshold_at) for clock in clocks}
    events = _record_thresholds(
        [
            (clock, threshold, at)
            for clock, (threshold, at) in zip(clocks, reached.values(), strict=True)
            if threshold is not None and at is not None
        ],
        now,
    )
    for clock in clocks:
        threshold, reached_at = reached[clock.pk]
        assert threshold is not None
        if threshold == BREACH:
            clock.breached_at = clock.breached_at or reached_at
        clock.next_threshold, clock.next_threshold_at = None, None
        fired = [t for t in clock.policy.thresholds() if t <= threshold]
        if clock.running_since is not None and len(fired) < len(clock.policy.thresholds()):
            _plan(clock, schedules.of(clock.policy), fired)
    _save_progress(clocks, now)
    breached = [clock for clock in clocks if (clock.pk, BREACH) in events]
    if breached:
        Incident.objects.filter(pk__in={clock.incident_id for clock in breached}).update(
            sla_breached=True
        )
    for clock in breached:
        clock.incident.sla_breached = True
        _run_breach_action(clock)


PROGRESS_FIELDS = ["next_threshold", "next_threshold_at", "breached_at", "due_at"]


def _save_progress(clocks: list[SlaClock], now: datetime) -> None:
    """Write the clocks' new thresholds in one statement.

    Django's bulk_update builds a CASE per row and field (most of a batch's time); on
    PostgreSQL one UPDATE … FROM (VALUES …) does the same.
    """
    if connection.vendor != "postgresql":
        for clock in clocks:
            clock.updated_at = now
        SlaClock.objects.bulk_update(clocks, [*PROGRESS_FIELDS, "updated_at"])
        return
    table = connection.ops.quote_name(SlaClock._meta.db_table)
    rows = ", ".join(
        ["(%s::bigint, %s::smallint, %s::timestamptz, %s::timestamptz, %s::timestamptz)"]
        * len(clocks)
    )
    params: list[Any] = []
    for clock in clocks:
        params += [
            clock.pk,
            clock.next_threshold,
            clock.next_threshold_at,
            clock.breached_at,
            clock.due_at,
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS c SET next_threshold = v.next_threshold, "  # noqa: S608
            "next_threshold_at = v.next_threshold_at, breached_at = v.breached_at, "
            f"due_at = v.due_at, updated_at = %s FROM (VALUES {rows}) "
            "AS v(id, next_threshold, next_threshold_at, breached_at, due_at) WHERE c.id = v.id",
            [now, *params],
        )


def _record_thresholds(
    fired: list[tuple[SlaClock, int, datetime]], now: datetime
) -> dict[tuple[int, int], IncidentEvent]:
    """Write each (clock, threshold) once, with its timeline entry; return the new ones.

    ON CONFLICT DO NOTHING makes a threshold that fired before a no-op, without a savepoint.
    """
    if not fired:
        return {}
    table = connection.ops.quote_name(SlaThresholdEvent._meta.db_table)
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(fired))
    params: list[Any] = []
    for clock, threshold, reached_at in fired:
        params += [clock.tenant_id, clock.pk, threshold, now, reached_at, now, now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, clock_id, threshold, fired_at, due_at, "  # noqa: S608
            f"created_at, updated_at) VALUES {rows} "
            "ON CONFLICT (clock_id, threshold) DO NOTHING RETURNING clock_id, threshold",
            params,
        )
        new = {(clock_id, threshold) for clock_id, threshold in cursor.fetchall()}
    clocks = {clock.pk: clock for clock, _threshold, _at in fired}
    keys = [
        (clock.pk, threshold) for clock, threshold, _at in fired if (clock.pk, threshold) in new
    ]
    events = IncidentEvent.objects.bulk_create(
        IncidentEvent(
            tenant_id=clocks[clock_id].tenant_id,
            incident_id=clocks[clock_id].incident_id,
            kind=EventKind.SLA,
            data={
                "clock": clocks[clock_id].kind,
                "threshold": threshold,
                "breach": threshold == BREACH,
                "due_at": _iso(clocks[clock_id].due_at),
            },
        )
        for clock_id, threshold in keys
    )
    live = [
        event.pk
        for (clock_id, _t), event in zip(keys, events, strict=True)
        if clocks[clock_id].stopped_at is None
    ]
    if live:  # a live clock's warning or breach: tell the assignee and team
        from incidents.tasks import notify_incident_events_task

        transaction.on_commit(
            partial(
                notify_incident_events_task.delay, tenant_id=fired[0][0].tenant_id, event_ids=live
            )
        )
    return dict(zip(keys, events, strict=True))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _run_breach_action(clock: SlaClock) -> None:
    """The policy's breach action, on an incident that is still open. A failing action is
    logged and does not undo the recorded breach."""
    from incidents import services

    incident: Incident = clock.incident
    action = clock.policy.breach_action
    if action == SlaBreachAction.NOTIFY or incident.status not in (
        IncidentStatus.NEW,
        IncidentStatus.IN_PROGRESS,
        IncidentStatus.ON_HOLD,
    ):
        return
    kind = (
        EscalationKind.FUNCTIONAL
        if action == SlaBreachAction.ESCALATE
        else EscalationKind.HIERARCHICAL
    )
    reason = f"The {clock.get_kind_display().lower()} target of {clock.policy} was breached."
    try:
        with transaction.atomic():
            services.incident_escalate(
                tenant=incident.tenant,
                incident_id=incident.pk,
                actor=None,
                kind=kind,
                reason=reason,
            )
    except Exception:  # the breach stays recorded; the action is best effort
        logger.exception("SLA breach action %s failed for incident %s", action, incident.pk)


def clock_remaining(clock: SlaClock, schedule: BusinessSchedule, now: datetime) -> timedelta:
    """Business time left (negative: overdue), as of now."""
    elapsed = clock.elapsed
    if clock.running_since is not None and now > clock.running_since:
        elapsed += schedule.between(clock.running_since, now)
    return clock.target - elapsed
