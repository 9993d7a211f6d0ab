"""Incidents, their immutable timeline, and each tenant's priority matrix and settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from incidents.choices import (
    BREACH,
    DEFAULT_PAUSE_HOLD_REASONS,
    DEFAULT_WARNING_THRESHOLDS,
    OPEN_STATUSES,
    SLA_NEVER_DUE,
    EventKind,
    HoldReason,
    Impact,
    IncidentSource,
    IncidentStatus,
    Priority,
    ResolutionCode,
    SlaBreachAction,
    SlaClockKind,
    Urgency,
)
from itsm.audit.tracking import audited
from itsm.tenancy.models import NumberedModel, TenantOwnedModel, config_version_trigger
from itsm.timeline import TimelineEvent


# version is the ETag counter and sla_due_at a derived summary the SLA engine rewrites.
@audited(exclude=["version", "sla_due_at"])
class Incident(NumberedModel):
    """An unplanned interruption or degradation of a service, from report to closure.

    Status and the fields derived from it (times, counts, first-contact resolution) are written
    only by `incidents.services`; `version` grows with every write and is the ETag.
    """

    NUMBER_PREFIX = "INC"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=20000)
    service = models.ForeignKey(
        "catalog.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    category = models.ForeignKey(
        "catalog.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The caller: who reported the incident or is affected by it."),
    )
    source = models.CharField(
        max_length=16, choices=IncidentSource.choices, default=IncidentSource.USER
    )
    impact = models.PositiveSmallIntegerField(choices=Impact.choices, default=Impact.LOW)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, default=Urgency.LOW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.SEV4)

    status = models.CharField(
        max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.NEW
    )
    hold_reason = models.CharField(max_length=24, choices=HoldReason.choices, blank=True)

    assignment_team = models.ForeignKey(
        "tenancy.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    is_major = models.BooleanField(default=False)
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Coordinates a major incident; not the technical assignee."),
    )

    resolution_code = models.CharField(max_length=24, choices=ResolutionCode.choices, blank=True)
    resolution_notes = models.TextField(blank=True, max_length=20000)

    # The times the metrics need, stored rather than reconstructed.
    occurred_at = models.DateTimeField(null=True, blank=True, help_text=_("When the fault began."))
    detected_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    first_assigned_at = models.DateTimeField(null=True, blank=True)
    major_declared_at = models.DateTimeField(null=True, blank=True)
    management_engaged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    escalation_count = models.PositiveIntegerField(default=0)  # both kinds below
    functional_escalation_count = models.PositiveIntegerField(default=0)
    hierarchical_escalation_count = models.PositiveIntegerField(default=0)
    reassignment_count = models.PositiveIntegerField(default=0)
    reopen_count = models.PositiveIntegerField(default=0)
    first_contact_resolution = models.BooleanField(default=False)

    # The SLA clocks in short, kept by incidents.sla so that lists can filter and order by them
    # through an index: the earliest due time of a running clock (SLA_NEVER_DUE when none runs,
    # so that "due soonest" orders and pages without NULLs), and whether any clock breached.
    sla_due_at = models.DateTimeField(default=SLA_NEVER_DUE, editable=False)
    sla_breached = models.BooleanField(default=False, editable=False)

    version = models.PositiveIntegerField(default=1)

    class Meta(NumberedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *NumberedModel.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(impact__gte=1, impact__lte=3), name="incidents_impact_range"
            ),
            models.CheckConstraint(
                condition=models.Q(urgency__gte=1, urgency__lte=3),
                name="incidents_urgency_range",
            ),
            models.CheckConstraint(
                condition=models.Q(priority__gte=1, priority__lte=4),
                name="incidents_priority_range",
            ),
        ]
        indexes = [
            # The default list: a tenant's incidents, newest first (keyset pagination); with
            # what the metrics of the incidents created in a period read (volume, detection).
            models.Index(
                fields=["tenant", "-created_at", "-id"],
                include=["occurred_at", "detected_at", "priority"],
                name="incidents_tenant_created",
            ),
            models.Index(fields=["tenant", "status", "priority"], name="incidents_tenant_status"),
            models.Index(
                fields=["tenant", "assignment_team", "status"], name="incidents_tenant_team"
            ),
            models.Index(fields=["tenant", "assignee", "status"], name="incidents_tenant_assignee"),
            models.Index(fields=["tenant", "reported_by"], name="incidents_tenant_reporter"),
            models.Index(fields=["tenant", "sla_due_at", "id"], name="incidents_tenant_sla_due"),
            # Breached incidents are few: their own small index, newest first.
            models.Index(
                fields=["tenant", "-created_at", "-id"],
                name="incidents_tenant_breached",
                condition=models.Q(sla_breached=True),
            ),
            # Auto-close looks for resolved incidents by resolution time.
            models.Index(fields=["status", "resolved_at"], name="incidents_status_resolved"),
            # The metrics: each figure reads the incidents whose event (acknowledgement,
            # resolution, closure) falls in the period; the creation time rides along so that
            # a percentile of the durations is an index-only scan on PostgreSQL.
            models.Index(
                fields=["tenant", "acknowledged_at"],
                include=["created_at", "priority"],
                name="incidents_tenant_acked",
            ),
            models.Index(
                fields=["tenant", "resolved_at"],
                include=["created_at", "priority"],
                name="incidents_tenant_resolved",
            ),
            models.Index(
                fields=["tenant", "closed_at"],
                include=["created_at", "priority", "status"],
                name="incidents_tenant_closed",
            ),
        ]
        permissions = [("resolve_incident", "Can resolve incidents")]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def etag(self) -> str:
        """`"INC-000042-7"`: the tenant's own reference and the version, both in the body anyway.

        Never the primary key: it counts every tenant's incidents, so it would tell one tenant
        how busy the deployment is.
        """
        return f'"{self.reference}-{self.version}"'


class IncidentEvent(TimelineEvent):
    """One immutable entry of an incident's timeline, written only through `incidents.timeline`.

    The database refuses UPDATE and DELETE on this table (a trigger on PostgreSQL).
    """

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    from_status = models.CharField(max_length=16, choices=IncidentStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=IncidentStatus.choices, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["incident", "created_at", "id"], name="incidents_event_order")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.incident_id}"


@audited()
class PriorityMatrixCell(TenantOwnedModel):
    """A tenant's override of one impact × urgency cell of the default priority matrix."""

    impact = models.PositiveSmallIntegerField(choices=Impact.choices)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)

    class Meta:
        triggers = [config_version_trigger()]
        ordering = ["impact", "urgency"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "impact", "urgency"], name="incidents_matrix_unique_cell"
            )
        ]

    def __str__(self) -> str:
        return f"impact {self.impact} × urgency {self.urgency} → {self.priority}"


@audited()
class PriorityLabel(TenantOwnedModel):
    """A tenant's own name and meaning for a priority level (default: SEV1 … SEV4)."""

    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    label = models.CharField(max_length=32)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        triggers = [config_version_trigger()]
        ordering = ["priority"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "priority"], name="incidents_label_unique")
        ]

    def __str__(self) -> str:
        return self.label


@audited()
class IncidentSettings(TenantOwnedModel):
    """A tenant's incident policy: how long a resolved incident may be reopened, when it closes."""

    reopen_window = models.DurationField(
        default=timedelta(days=7),
        help_text=_("How long after resolution the reporter or an agent may reopen."),
    )
    auto_close_after = models.DurationField(
        default=timedelta(days=3),
        help_text=_("Resolved incidents close by themselves after this long."),
    )

    class Meta:
        verbose_name_plural = "incident settings"
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="incidents_settings_one_per_tenant")
        ]
        triggers = [config_version_trigger()]  # cached with the tenant's configuration

    def __str__(self) -> str:
        return f"Incident settings of tenant {self.tenant_id}"


# --- SLA ---------------------------------------------------------------------------------------


def _default_thresholds() -> list[int]:
    return list(DEFAULT_WARNING_THRESHOLDS)


def _default_pause_reasons() -> list[str]:
    return list(DEFAULT_PAUSE_HOLD_REASONS)


@audited()
class SlaPolicy(TenantOwnedModel):
    """Response and resolution targets for the incidents it matches (first match by order).

    Empty conditions match everything; `priorities` lists the levels it applies to.
    """

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, db_index=False)  # unique with tenant, indexed there
    order = models.PositiveIntegerField(default=100, help_text=_("Lower is tried first."))
    is_active = models.BooleanField(default=True)
    priorities = models.JSONField(default=list, blank=True)
    service = models.ForeignKey(
        "catalog.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    category = models.ForeignKey(
        "catalog.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    response_target = models.DurationField()
    resolution_target = models.DurationField()
    calendar = models.ForeignKey(
        "calendars.BusinessCalendar",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: 24×7."),
    )
    pause_hold_reasons = models.JSONField(
        default=_default_pause_reasons,
        blank=True,
        help_text=_("Hold reasons during which the clocks stop."),
    )
    warning_thresholds = models.JSONField(
        default=_default_thresholds, blank=True, help_text=_("Percent of the target.")
    )
    breach_action = models.CharField(
        max_length=24, choices=SlaBreachAction.choices, default=SlaBreachAction.NOTIFY
    )

    class Meta:
        triggers = [config_version_trigger()]
        ordering = ["order", "id"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "slug"], name="incidents_slapolicy_unique_slug"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        errors: dict[str, Any] = {}
        if not all(isinstance(p, int) and 1 <= p <= 4 for p in self.priorities or []):
            errors["priorities"] = _("Priorities are 1 to 4.")
        if not all(isinstance(t, int) and 0 < t < BREACH for t in self.warning_thresholds or []):
            errors["warning_thresholds"] = _("Warning thresholds are percentages below 100.")
        if not set(self.pause_hold_reasons or []) <= set(HoldReason.values):
            errors["pause_hold_reasons"] = _("Unknown hold reason.")
        for name in ("response_target", "resolution_target"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                errors[name] = _("Must be positive.")
        if errors:
            raise ValidationError(errors)

    def thresholds(self) -> list[int]:
        """Warning thresholds then the breach, ascending."""
        return [*sorted(set(self.warning_thresholds or [])), BREACH]


class SlaClock(TenantOwnedModel):
    """One SLA clock of an incident: target, business time used and paused, due time.

    Its thresholds (warnings, then the breach) fire through its timer in the timer engine.
    """

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="sla_clocks")
    kind = models.CharField(max_length=16, choices=SlaClockKind.choices)
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="+")
    target = models.DurationField(help_text=_("Business time allowed."))
    started_at = models.DateTimeField()
    elapsed = models.DurationField(
        default=timedelta(0), help_text=_("Business time used before running_since.")
    )
    running_since = models.DateTimeField(null=True, blank=True)
    paused_since = models.DateTimeField(null=True, blank=True)
    paused_total = models.DurationField(
        default=timedelta(0), help_text=_("Business time spent paused, so far.")
    )
    due_at = models.DateTimeField(null=True, blank=True)
    # The engine's timer: its step is the next threshold (percent of the target), due then.
    timer = models.OneToOneField("timers.Timer", on_delete=models.PROTECT, related_name="+")
    breached_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["incident_id", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "kind"], name="incidents_slaclock_unique_kind"
            )
        ]
        indexes = [
            # SLA compliance reads the clocks whose outcome fell in the period: a breach at its
            # time, a clock met when it stopped.
            models.Index(fields=["tenant", "breached_at"], name="incidents_slaclock_breached"),
            models.Index(fields=["tenant", "stopped_at"], name="incidents_slaclock_stopped"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} clock of incident {self.incident_id}"

    @property
    def is_running(self) -> bool:
        return self.running_since is not None

    @property
    def is_paused(self) -> bool:
        return self.paused_since is not None


# --- Metrics rollups ---------------------------------------------------------------------------


class IncidentDailyRollup(TenantOwnedModel):
    """One tenant's incident figures for one local day and priority, written only by
    `incidents.metrics.rollups` (recent days every few minutes, everything nightly).

    Each group counts the incidents whose own event fell on that day: created (with the channel
    and, where the occurrence is known, the time to detect), acknowledged (time to acknowledge),
    resolved (time to resolve and how: escalated, first contact, first assignment, reopened)
    and closed (time to close). Sums are seconds, so that a mean over any days is exact.
    """

    day = models.DateField()
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)

    created_count = models.PositiveIntegerField(default=0)
    monitoring_count = models.PositiveIntegerField(default=0)
    customer_count = models.PositiveIntegerField(default=0)
    proactive_count = models.PositiveIntegerField(default=0)
    detected_count = models.PositiveIntegerField(default=0)
    detect_seconds = models.FloatField(default=0)

    acknowledged_count = models.PositiveIntegerField(default=0)
    acknowledge_seconds = models.FloatField(default=0)

    resolved_count = models.PositiveIntegerField(default=0)
    resolve_seconds = models.FloatField(default=0)
    escalated_count = models.PositiveIntegerField(default=0)
    functional_escalated_count = models.PositiveIntegerField(default=0)
    hierarchical_escalated_count = models.PositiveIntegerField(default=0)
    first_contact_count = models.PositiveIntegerField(default=0)
    first_assignment_count = models.PositiveIntegerField(default=0)
    reopened_count = models.PositiveIntegerField(default=0)

    closed_count = models.PositiveIntegerField(default=0)
    close_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["tenant_id", "day", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "priority"], name="incidents_rollup_unique_day"
            )
        ]

    def __str__(self) -> str:
        return f"Incidents of {self.day}, priority {self.priority}"


class SlaDailyRollup(TenantOwnedModel):
    """One tenant's SLA outcomes for one local day, policy, priority and clock kind: the clocks
    met (stopped in time) and breached that day."""

    day = models.DateField()
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=SlaClockKind.choices)
    met_count = models.PositiveIntegerField(default=0)
    breached_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["tenant_id", "day", "policy_id", "priority", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "policy", "priority", "kind"],
                name="incidents_sla_rollup_unique_day",
            )
        ]

    def __str__(self) -> str:
        return f"SLA outcomes of {self.day}, policy {self.policy_id}"
