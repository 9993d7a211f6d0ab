"""Change requests, their approvals, schedule, templates and links, and their timeline.

The links from a change to the problems it fixes and to the incidents it caused live here, in
the highest app: problems and incidents read them through reverse relations
(`problem.change_fixes`, `incident.caused_by_change`) without importing changes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

from changes.choices import (
    OPEN_CHANGE_STATUSES,
    ApprovalBoard,
    ApprovalDecision,
    ChangeEventKind,
    ChangeOutcome,
    ChangeStatus,
    ChangeType,
    Risk,
    RiskFactor,
)
from itsm.audit.tracking import audited
from itsm.tenancy.models import NumberedModel, TenantOwnedModel
from itsm.timeline import TimelineEvent


class RiskAssessment(models.Model):
    """The short risk assessment: three answers, and the risk they give (changes.lifecycle)."""

    risk_impact = models.PositiveSmallIntegerField(
        choices=RiskFactor.choices,
        null=True,
        blank=True,
        help_text=_("How much the services would suffer if the change went wrong."),
    )
    risk_likelihood = models.PositiveSmallIntegerField(
        choices=RiskFactor.choices,
        null=True,
        blank=True,
        help_text=_("How likely the change is to go wrong."),
    )
    risk_backout = models.PositiveSmallIntegerField(
        choices=RiskFactor.choices,
        null=True,
        blank=True,
        help_text=_("How hard it is to back the change out."),
    )
    risk = models.CharField(max_length=8, choices=Risk.choices, blank=True)

    class Meta:
        abstract = True


class ChangePlans(models.Model):
    implementation_plan = models.TextField(blank=True, max_length=20000)
    backout_plan = models.TextField(blank=True, max_length=20000)
    test_plan = models.TextField(blank=True, max_length=20000)

    class Meta:
        abstract = True


@audited()
class ChangeTemplate(TenantOwnedModel, RiskAssessment, ChangePlans):
    """A standard change in the catalogue: pre-approved, its plans filled in. `version` grows
    with every edit; a change made from it records the version it was made from."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=20000)
    services = models.ManyToManyField(
        "catalog.Service", through="TemplateService", related_name="+", blank=True
    )
    duration_minutes = models.PositiveIntegerField(
        default=60, help_text=_("The planned window a change from this template gets.")
    )
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="changes_template_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class TemplateService(TenantOwnedModel):
    """A service a standard change template affects (the rows behind `ChangeTemplate.services`)."""

    template = models.ForeignKey(
        ChangeTemplate, on_delete=models.CASCADE, related_name="service_links"
    )
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["template_id", "service_id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "service"], name="changes_template_service")
        ]

    def __str__(self) -> str:
        return f"service {self.service_id} of template {self.template_id}"


# version is the ETag counter.
@audited(exclude=["version"])
class Change(NumberedModel, RiskAssessment, ChangePlans):
    """A request to change a service, from draft through approval, schedule and implementation
    to its review. Status and what follows from it are written only by `changes.services`."""

    NUMBER_PREFIX = "CHG"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=20000)
    change_type = models.CharField(
        max_length=12, choices=ChangeType.choices, default=ChangeType.NORMAL
    )
    status = models.CharField(
        max_length=24, choices=ChangeStatus.choices, default=ChangeStatus.DRAFT
    )
    outcome = models.CharField(max_length=12, choices=ChangeOutcome.choices, blank=True)
    services = models.ManyToManyField(
        "catalog.Service", through="ChangeService", related_name="+", blank=True
    )
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The change manager accountable for the change."),
    )
    implementer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    template = models.ForeignKey(
        ChangeTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="changes"
    )
    template_version = models.PositiveIntegerField(null=True, blank=True)
    # Set when the change enters approval: which board decides, how many approvals it needs, and
    # the round (a rejection sends the change back to draft; its next request is a new round).
    approval_board = models.CharField(max_length=8, choices=ApprovalBoard.choices, blank=True)
    approvals_required = models.PositiveSmallIntegerField(default=0)
    approval_round = models.PositiveSmallIntegerField(default=0)
    # The timer engine's row for the reminder before the start and the overrun after the end.
    schedule_timer = models.OneToOneField(
        "timers.Timer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta(NumberedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *NumberedModel.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(planned_start__isnull=True)
                | models.Q(planned_end__isnull=True)
                | models.Q(planned_end__gt=models.F("planned_start")),
                name="changes_window_ends_after_start",
            ),
        ]
        indexes = [
            # The default list: a tenant's changes, newest first (keyset pagination).
            models.Index(fields=["tenant", "-created_at", "-id"], name="changes_tenant_created"),
            models.Index(fields=["tenant", "status"], name="changes_tenant_status"),
            # The calendar and the conflict checks: windows that overlap a range.
            models.Index(fields=["tenant", "planned_start", "planned_end"], name="changes_window"),
        ]
        permissions = [("approve_change", "Can approve or reject this change")]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CHANGE_STATUSES

    @property
    def etag(self) -> str:
        """`"CHG-000042-7"`: the tenant's own reference and the version."""
        return f'"{self.reference}-{self.version}"'


class ChangeService(TenantOwnedModel):
    """A service the change affects (the rows behind `Change.services`, one tenant's)."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="service_links")
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["change_id", "service_id"]
        constraints = [
            models.UniqueConstraint(fields=["change", "service"], name="changes_service_unique")
        ]
        indexes = [models.Index(fields=["tenant", "service"], name="changes_service_lookup")]

    def __str__(self) -> str:
        return f"service {self.service_id} of change {self.change_id}"


# Both bases declare `objects`; the one below serves both (type: ignore for that clash only).
class ChangeUserObjectPermission(UserObjectPermissionBase, TenantOwnedModel):  # type: ignore[misc]
    """django-guardian's per-user object permission on a change (`approve_change`), as a tenant
    table: granted to the board's members when the change enters approval, revoked when it
    leaves. guardian's own generic table has no tenant column (see the knowledge base's)."""

    # A named reverse relation: guardian finds direct tables through the change's relations.
    content_object = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="grants")

    class Meta:
        unique_together = ()
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "permission", "content_object"],
                name="changes_grant_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} may {self.permission_id} change {self.content_object_id}"


@audited()
class CabMember(TenantOwnedModel):
    """A member of the tenant's change advisory board or of its emergency board."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    board = models.CharField(max_length=8, choices=ApprovalBoard.choices, default=ApprovalBoard.CAB)

    class Meta:
        ordering = ["board", "user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "board"], name="changes_cab_member_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.board}"


@audited()
class ApprovalRule(TenantOwnedModel):
    """How many approvals, from which board, a change of a type and risk needs. Without a rule
    the defaults apply (changes.lifecycle.DEFAULT_APPROVALS)."""

    change_type = models.CharField(max_length=12, choices=ChangeType.choices)
    risk = models.CharField(max_length=8, choices=Risk.choices)
    board = models.CharField(max_length=8, choices=ApprovalBoard.choices, default=ApprovalBoard.CAB)
    approvals_required = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["change_type", "risk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "change_type", "risk"], name="changes_approval_rule_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(approvals_required__gte=1), name="changes_rule_needs_one"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.change_type}/{self.risk}: {self.approvals_required} from {self.board}"


@audited()
class ChangeApproval(TenantOwnedModel):
    """One approver's decision on a change in one approval round."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approval_round = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=12, choices=ApprovalDecision.choices)
    comment = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["change_id", "approval_round", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["change", "approver", "approval_round"], name="changes_one_decision"
            )
        ]

    def __str__(self) -> str:
        return f"{self.decision} by {self.approver_id} on change {self.change_id}"


@audited()
class BlackoutWindow(TenantOwnedModel):
    """A time when no change may be made (a sales peak, a freeze) but an emergency one. Without
    services it covers every service."""

    name = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    services = models.ManyToManyField(
        "catalog.Service", through="BlackoutService", related_name="+", blank=True
    )
    reason = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="changes_blackout_ends_after_start",
            )
        ]
        indexes = [models.Index(fields=["tenant", "starts_at", "ends_at"], name="changes_blackout")]

    def __str__(self) -> str:
        return self.name


class BlackoutService(TenantOwnedModel):
    """A service a blackout window covers (the rows behind `BlackoutWindow.services`)."""

    window = models.ForeignKey(
        BlackoutWindow, on_delete=models.CASCADE, related_name="service_links"
    )
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["window_id", "service_id"]
        constraints = [
            models.UniqueConstraint(fields=["window", "service"], name="changes_blackout_service")
        ]

    def __str__(self) -> str:
        return f"service {self.service_id} of blackout {self.window_id}"


@audited()
class ChangeFix(TenantOwnedModel):
    """A change that fixes a problem or a known error (exactly one of them)."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="fixes")
    problem = models.ForeignKey(
        "problems.Problem",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="change_fixes",
    )
    known_error = models.ForeignKey(
        "problems.KnownError",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="change_fixes",
    )
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["change_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(problem__isnull=False) & models.Q(known_error__isnull=True))
                | (models.Q(problem__isnull=True) & models.Q(known_error__isnull=False)),
                name="changes_fix_one_target",
            ),
            models.UniqueConstraint(
                fields=["change", "problem"],
                condition=models.Q(problem__isnull=False),
                name="changes_fix_problem_unique",
            ),
            models.UniqueConstraint(
                fields=["change", "known_error"],
                condition=models.Q(known_error__isnull=False),
                name="changes_fix_known_error_unique",
            ),
        ]

    def __str__(self) -> str:
        target = f"problem {self.problem_id}" if self.problem_id else f"KE {self.known_error_id}"
        return f"change {self.change_id} fixes {target}"


@audited()
class ChangeIncident(TenantOwnedModel):
    """An incident recorded as caused by a change. An incident has at most one such change."""

    change = models.ForeignKey(Change, on_delete=models.PROTECT, related_name="caused_incidents")
    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.PROTECT, related_name="caused_by_change"
    )
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["change_id", "id"]

    def __str__(self) -> str:
        return f"incident {self.incident_id} caused by change {self.change_id}"


class CalendarFeedToken(TenantOwnedModel):
    """A member's secret for the tenant's change calendar feed (iCalendar), for calendar clients
    that cannot log in. Only a digest is stored; revoking deletes the row."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="changes_one_feed_token"),
            models.UniqueConstraint(fields=["tenant", "digest"], name="changes_feed_digest"),
        ]

    def __str__(self) -> str:
        return f"calendar feed of {self.user_id}"


class ChangeEvent(TimelineEvent):
    """One immutable entry of a change's timeline, written only through `changes.timeline`. The
    database refuses UPDATE and DELETE on this table."""

    change = models.ForeignKey(Change, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=24, choices=ChangeEventKind.choices)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["change", "created_at", "id"], name="changes_event_order")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.change_id}"
