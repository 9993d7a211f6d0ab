"""SLA clocks that follow each incident; their thresholds fire through the timer engine.

A clock stores its target, the business time used and paused, and its due time; its timer (in
`itsm.timers`) holds the next threshold — a warning percentage, then 100 for the breach — and
when it is reached. The timer sweep fires each threshold exactly once and hands it to the SLA
timer kind (`incidents.timers`), which records it here and runs the policy's breach action.

Lock order is incident → clock → timer everywhere. Incident services call in here holding the
incident lock; the sweep locks timers, then incidents with SKIP LOCKED, so it never waits while
holding a timer and cannot deadlock with an agent's action.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from django.db import transaction

from incidents import selectors, timeline
from incidents.choices import (
    BREACH,
    DEFAULT_SLA_TARGETS,
    SLA_NEVER_DUE,
    ClockEffect,
    EventKind,
    SlaClockKind,
)
from incidents.models import Incident, IncidentEvent, SlaClock, SlaPolicy
from itsm.calendars.business_time import BusinessSchedule
from itsm.calendars.selectors import calendar_schedule
from itsm.services import (
    bulk_update_rows,
    keep_related,
    object_delete,
    object_update,
    tenant_object_create,
)
from itsm.tenancy.models import Tenant
from itsm.timers.models import Timer
from itsm.timers.services import (
    fired_steps,
    firings_record,
    timer_arm,
    timer_new,
    timers_save,
    with_fired_steps,
)

logger = logging.getLogger(__name__)

TIMER_KIND: Final = "sla"  # the timer kind of SLA thresholds (see incidents.timers)


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
    for policy in selectors.active_policies(tenant=incident.tenant):
        if (
            policy.service_id in (None, incident.service_id)
            and policy.category_id in (None, incident.category_id)
            and (not policy.priorities or incident.priority in policy.priorities)
        ):
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


def plan(clock: SlaClock, schedule: BusinessSchedule, fired: Iterable[int]) -> None:
    """Due time of a running clock and its timer's next threshold, from its elapsed time."""
    assert clock.running_since is not None
    remaining = clock.target - clock.elapsed
    if remaining > timedelta(0):
        clock.due_at = schedule.add(clock.running_since, remaining)
    elif clock.due_at is None:
        clock.due_at = clock.running_since
    done = set(fired)
    timer_arm(clock.timer, step=None, at=None)
    for threshold in clock.policy.thresholds():
        if threshold in done:
            continue
        reached_after = clock.target * threshold / 100
        timer_arm(
            clock.timer,
            step=threshold,
            at=(
                schedule.add(clock.running_since, reached_after - clock.elapsed)
                if reached_after > clock.elapsed
                else clock.running_since
            ),
        )
        break


# --- Following the incident (called by incident services, inside their transaction) ------------


def plan_clocks(incident: Incident, now: datetime) -> list[SlaClock]:
    """The response and resolution clocks of a new incident, each with its armed timer, and
    the incident's SLA summary, all in memory: they are written with the incident (`clock_rows`),
    so the summary goes into the incident's own INSERT instead of an UPDATE after it."""
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
            timer=timer_new(tenant_id=incident.tenant_id, kind=TIMER_KIND),
        )
        plan(clock, schedule, ())
        clocks.append(clock)
    incident.sla_due_at, incident.sla_breached = _summary(clocks)
    return clocks


def clock_rows(clocks: list[SlaClock]) -> tuple[list[Timer], list[SlaClock]]:
    """What writes the planned clocks of a new incident: their timers, then the clocks (linked
    to them and to the incident), for `bulk_create_graph` with the incident's own row."""
    return [clock.timer for clock in clocks], clocks


def refresh_summary(incident: Incident) -> None:
    """Recompute the incident's SLA summary from its clocks as stored (after a repair, say)."""
    incident.refresh_from_db(fields=["sla_due_at", "sla_breached"])
    summarise(incident, SlaClock.objects.for_tenant(incident.tenant_id).filter(incident=incident))


def summarise(incident: Incident, clocks: Iterable[SlaClock]) -> None:
    """Keep the incident's SLA summary in step with its clocks (lists filter and order by it)."""
    due, breached = _summary(clocks)
    if (incident.sla_due_at, incident.sla_breached) != (due, breached):
        incident.sla_due_at, incident.sla_breached = due, breached
        Incident.objects.for_tenant(incident.tenant_id).filter(pk=incident.pk).update(
            sla_due_at=due, sla_breached=breached
        )


def _summary(clocks: Iterable[SlaClock]) -> tuple[datetime, bool]:
    """The earliest due time of a running clock (SLA_NEVER_DUE if none runs), and whether any
    clock has breached."""
    clocks = list(clocks)
    due = min(
        (c.due_at for c in clocks if c.running_since is not None and c.due_at is not None),
        default=SLA_NEVER_DUE,
    )
    return due, any(c.breached_at is not None for c in clocks)


def follow_incident(incident: Incident, effect: ClockEffect, now: datetime) -> list[str]:
    """Pause, resume, stop or restart the incident's clocks as the lifecycle table says.

    Returns the incident's SLA summary fields that changed (set on it, not saved): the caller
    saves them with the incident's own UPDATE.
    """
    if effect is ClockEffect.NONE:
        return []
    clocks = {clock.kind: clock for clock in _locked_clocks(incident)}
    if not clocks:
        return []
    schedules = Schedules()
    response, resolution = clocks.get(SlaClockKind.RESPONSE), clocks.get(SlaClockKind.RESOLUTION)
    changed: list[SlaClock | None] = []
    if effect is ClockEffect.STOP_RESPONSE:
        changed = [_stop(response, schedules, now)]
    elif effect is ClockEffect.PAUSE:
        policy = next(iter(clocks.values())).policy  # an incident's clocks share one policy
        if incident.hold_reason in policy.pause_hold_reasons:
            changed = [_pause(clock, schedules, now) for clock in clocks.values()]
    elif effect is ClockEffect.RESUME:
        changed = [_resume(clock, schedules, now) for clock in clocks.values()]
    elif effect is ClockEffect.STOP:
        changed = [_stop(clock, schedules, now) for clock in clocks.values()]
    elif effect is ClockEffect.RESTART_RESOLUTION:
        changed = [_restart(resolution, schedules, now)]
    _save_all([clock for clock in changed if clock is not None], now)
    return _follow_summary(incident, list(clocks.values()))


def follow_priority(incident: Incident, now: datetime) -> list[str]:
    """A new priority may select another policy: new targets, same elapsed time. Returns the
    SLA summary fields that changed, for the caller to save with the incident."""
    policy = policy_for(incident)
    schedules = Schedules()
    clocks = _locked_clocks(incident)
    running = [clock for clock in clocks if clock.stopped_at is None]
    for clock in running:
        _catch_up(clock, schedules.of(clock.policy), now)
        clock.policy = policy
        clock.target = (
            policy.response_target
            if clock.kind == SlaClockKind.RESPONSE
            else policy.resolution_target
        )
        if clock.running_since is not None:
            clock.due_at = None
            plan(clock, schedules.of(policy), fired_steps(clock, clock.timer))
    _save_all(running, now)
    return _follow_summary(incident, clocks)


def _follow_summary(incident: Incident, clocks: list[SlaClock]) -> list[str]:
    # The clocks as they are now stay on the incident for its representation.
    keep_related(incident, "sla_clocks", sorted(clocks, key=lambda clock: clock.kind, reverse=True))
    due, breached = _summary(clocks)
    if (incident.sla_due_at, incident.sla_breached) == (due, breached):
        return []
    incident.sla_due_at, incident.sla_breached = due, breached
    return ["sla_due_at", "sla_breached"]


def _locked_clocks(incident: Incident) -> list[SlaClock]:
    # The clocks and their timers locked in one statement (FOR UPDATE of both: after waiting
    # for a sweep, PostgreSQL re-reads both rows as committed); the caller holds the incident's
    # lock, so lock order stays incident → clock → timer. Each clock comes with the steps its
    # timer fired, which planning skips; its policy comes from the cached configuration.
    clocks = (
        SlaClock.objects.for_tenant(incident.tenant_id)
        .filter(incident=incident)
        .select_related("timer")
        .select_for_update(of=("self", "timer"))
        .order_by()  # the caller keys them by kind
    )
    return selectors.with_policies(list(with_fired_steps(clocks)), tenant=incident.tenant)


CLOCK_FIELDS: Final = [
    "policy",
    "target",
    "elapsed",
    "running_since",
    "paused_since",
    "paused_total",
    "due_at",
    "breached_at",
    "stopped_at",
    "updated_at",
]


def _save_all(clocks: Sequence[SlaClock], now: datetime) -> None:
    """Write the clocks that changed and their timers: two statements, however many."""
    for clock in clocks:
        clock.updated_at = now
    bulk_update_rows(SlaClock, clocks, CLOCK_FIELDS)
    timers_save([clock.timer for clock in clocks], now)


def _pause(clock: SlaClock | None, schedules: Schedules, now: datetime) -> SlaClock | None:
    if clock is None or clock.running_since is None:
        return None
    _catch_up(clock, schedules.of(clock.policy), now)
    clock.running_since, clock.paused_since, clock.due_at = None, now, None
    if clock.timer.fire_at is not None and clock.timer.fire_at > now:
        timer_arm(clock.timer, step=None, at=None)  # thresholds already passed still fire
    return clock


def _resume(clock: SlaClock | None, schedules: Schedules, now: datetime) -> SlaClock | None:
    if clock is None or clock.paused_since is None:
        return None
    schedule = schedules.of(clock.policy)
    _catch_up(clock, schedule, now)
    clock.paused_since, clock.running_since = None, now
    plan(clock, schedule, fired_steps(clock, clock.timer))
    return clock


def _restart(clock: SlaClock | None, schedules: Schedules, now: datetime) -> SlaClock | None:
    """A reopened incident's resolution clock continues where it stopped."""
    if clock is None or clock.stopped_at is None:
        return None
    clock.stopped_at, clock.running_since = None, now
    plan(clock, schedules.of(clock.policy), fired_steps(clock, clock.timer))
    return clock


def _stop(clock: SlaClock | None, schedules: Schedules, now: datetime) -> SlaClock | None:
    if clock is None or clock.stopped_at is not None:
        return None
    _catch_up(clock, schedules.of(clock.policy), now)
    clock.running_since = clock.paused_since = None
    timer_arm(clock.timer, step=None, at=None)
    clock.stopped_at = now
    if clock.elapsed > clock.target and clock.breached_at is None:
        # Stopped late, before a sweep came by: the breach counts all the same (no action now).
        clock.breached_at = clock.due_at or now
        new = firings_record([(clock.timer, BREACH, clock.breached_at)], now)
        if new:
            record_thresholds([(clock, BREACH)], late=True)
    return clock


def record_thresholds(
    reached: Sequence[tuple[SlaClock, int]], *, late: bool = False
) -> list[IncidentEvent]:
    """Write a timeline entry for each threshold that fired (the timer engine made sure each
    fires once). `late`: recorded when the clock stopped, after the fact; nobody is alerted."""
    return timeline.record_many(
        [
            IncidentEvent(
                tenant_id=clock.tenant_id,
                # The loaded incident if the caller has it: whoever handles the events (the
                # notifications) then need not read it again.
                **(
                    {"incident": clock.incident}
                    if SlaClock.incident.is_cached(clock)
                    else {"incident_id": clock.incident_id}
                ),
                kind=EventKind.SLA,
                data={
                    "clock": clock.kind,
                    "threshold": threshold,
                    "breach": threshold == BREACH,
                    "due_at": _iso(clock.due_at),
                    **({"late": True} if late else {}),
                },
            )
            for clock, threshold in reached
        ]
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def clock_remaining(clock: SlaClock, schedule: BusinessSchedule, now: datetime) -> timedelta:
    """Business time left (negative: overdue), as of now."""
    elapsed = clock.elapsed
    if clock.running_since is not None and now > clock.running_since:
        elapsed += schedule.between(clock.running_since, now)
    return clock.target - elapsed
