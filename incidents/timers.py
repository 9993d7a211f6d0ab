"""The SLA timer kind: the timer engine fires thresholds; this records them and acts on them.

Registered at start-up (the engine loads every app's timers.py). Running the breach action
through the incident services from here keeps imports one way: services use the SLA clocks,
this module uses both, and nothing imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction

from incidents import services, sla
from incidents.choices import BREACH, OPEN_STATUSES, EscalationKind, SlaBreachAction
from incidents.models import Incident, SlaClock, SlaPolicy
from itsm.services import bulk_update_rows
from itsm.tenancy.models import Tenant
from itsm.timers.kinds import Firing, TimerKind, register
from itsm.timers.models import Timer

logger = logging.getLogger(__name__)


class SlaThresholds(TimerKind):
    """Warnings at the policy's percentages of the target, then the breach at 100 %."""

    name = sla.TIMER_KIND

    def claim(self, timers: Sequence[Timer]) -> dict[int, Any]:
        by_id = {timer.pk: timer for timer in timers}
        # Read without locking: every write to a clock also saves its timer, and the timers are
        # ours now, so no clock can change under us until this batch commits.
        found = list(SlaClock.objects.filter(timer_id__in=list(by_id)))
        # An agent acting on an incident holds it: skip it rather than wait with timers held.
        incidents = {
            incident.pk: incident
            for incident in Incident.objects.filter(
                pk__in={clock.incident_id for clock in found}
            ).select_for_update(skip_locked=True)
        }
        clocks = [clock for clock in found if clock.incident_id in incidents]
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
        for clock in clocks:
            incident = incidents[clock.incident_id]
            incident.tenant = tenants[incident.tenant_id]
            clock.incident, clock.policy = incident, policies[clock.policy_id]
            clock.timer = by_id[clock.timer_id]  # the engine's instance: arming it here counts
        return {clock.timer_id: clock for clock in clocks}

    def fire(self, firings: Sequence[Firing], *, now: datetime) -> None:
        schedules = sla.Schedules()
        changed: list[SlaClock] = []
        for firing in firings:
            clock: SlaClock = firing.subject
            before = (clock.breached_at, clock.due_at)
            if firing.step == BREACH:
                clock.breached_at = clock.breached_at or firing.due_at
            thresholds = clock.policy.thresholds()
            fired = [t for t in thresholds if t <= firing.step]
            if clock.running_since is not None and len(fired) < len(thresholds):
                sla.plan(clock, schedules.of(clock.policy), fired)
            if (clock.breached_at, clock.due_at) != before:  # a warning changes only the timer
                clock.updated_at = now
                changed.append(clock)
        bulk_update_rows(SlaClock, changed, ["breached_at", "due_at", "updated_at"])
        new = [firing for firing in firings if firing.is_new]
        sla.record_thresholds([(firing.subject, firing.step) for firing in new])
        breached = [firing.subject for firing in new if firing.step == BREACH]
        if breached:
            Incident.objects.filter(pk__in={clock.incident_id for clock in breached}).update(
                sla_breached=True
            )
        for clock in breached:
            clock.incident.sla_breached = True
            _run_breach_action(clock)


def _run_breach_action(clock: SlaClock) -> None:
    """The policy's breach action, on an incident that is still open. A failing action is
    logged and does not undo the recorded breach."""
    incident: Incident = clock.incident
    action = clock.policy.breach_action
    if action == SlaBreachAction.NOTIFY or incident.status not in OPEN_STATUSES:
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


register(SlaThresholds())
