"""Problems, the incidents linked to them, their known errors and their immutable timeline.

The link between an incident and its problem lives here, in the higher app: incidents read it
through the reverse relation `incident.problem_link` without importing problems.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from incidents.choices import Impact, Priority, Urgency
from itsm.audit.tracking import audited
from itsm.tenancy.models import NumberedModel, TenantOwnedModel
from itsm.timeline import TimelineEvent
from problems.choices import (
    OPEN_PROBLEM_STATUSES,
    KnownErrorStatus,
    ProblemEventKind,
    ProblemStatus,
    SuggestionStatus,
    TrendRunStatus,
    TrendRunTrigger,
)


# version is the ETag counter.
@audited(exclude=["version"])
class Problem(NumberedModel):
    """The unknown cause of one or more incidents, from investigation to a removed root cause.

    Status and the fields derived from it are written only by `problems.services`; `version`
    grows with every write and is the ETag.
    """

    NUMBER_PREFIX = "PRB"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=20000)
    services = models.ManyToManyField(
        "catalog.Service", through="ProblemService", related_name="+", blank=True
    )
    category = models.ForeignKey(
        "catalog.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    impact = models.PositiveSmallIntegerField(choices=Impact.choices, default=Impact.LOW)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, default=Urgency.LOW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.SEV4)
    status = models.CharField(
        max_length=24, choices=ProblemStatus.choices, default=ProblemStatus.NEW
    )
    problem_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The staff member who owns the problem."),
    )
    assignment_team = models.ForeignKey(
        "tenancy.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    root_cause = models.TextField(blank=True, max_length=20000)
    workaround = models.TextField(blank=True, max_length=20000)
    fix_notes = models.TextField(blank=True, max_length=20000)
    review_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the problem manager is reminded to review it.")
    )
    # The timer engine's row for the review reminder, armed while a review date is ahead. The
    # services always create it; empty only on a form's unsaved problem.
    review_timer = models.OneToOneField(
        "timers.Timer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    root_cause_identified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta(NumberedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *NumberedModel.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(impact__gte=1, impact__lte=3), name="problems_impact_range"
            ),
            models.CheckConstraint(
                condition=models.Q(urgency__gte=1, urgency__lte=3),
                name="problems_urgency_range",
            ),
            models.CheckConstraint(
                condition=models.Q(priority__gte=1, priority__lte=4),
                name="problems_priority_range",
            ),
        ]
        indexes = [
            # The default list: a tenant's problems, newest first (keyset pagination).
            models.Index(fields=["tenant", "-created_at", "-id"], name="problems_tenant_created"),
            models.Index(fields=["tenant", "status", "priority"], name="problems_tenant_status"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_PROBLEM_STATUSES

    @property
    def etag(self) -> str:
        """`"PRB-000042-7"`: the tenant's own reference and the version."""
        return f'"{self.reference}-{self.version}"'


class ProblemService(TenantOwnedModel):
    """A service the problem affects (the rows behind `Problem.services`, one tenant's)."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="service_links")
    service = models.ForeignKey("catalog.Service", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["problem_id", "service_id"]
        constraints = [
            models.UniqueConstraint(fields=["problem", "service"], name="problems_service_unique")
        ]

    def __str__(self) -> str:
        return f"service {self.service_id} of problem {self.problem_id}"


class ProblemIncident(TenantOwnedModel):
    """An incident caused by the problem. An incident has at most one problem (unique)."""

    problem = models.ForeignKey(Problem, on_delete=models.PROTECT, related_name="incident_links")
    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.PROTECT, related_name="problem_link"
    )
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["problem_id", "id"]
        indexes = [models.Index(fields=["problem", "id"], name="problems_link_problem")]

    def __str__(self) -> str:
        return f"incident {self.incident_id} of problem {self.problem_id}"


# version is the ETag counter; use_count moves with every incident the workaround serves.
@audited(exclude=["version", "use_count"])
class KnownError(NumberedModel):
    """A problem's documented root cause and workaround, published for the service desk."""

    NUMBER_PREFIX = "KE"

    problem = models.ForeignKey(Problem, on_delete=models.PROTECT, related_name="known_errors")
    title = models.CharField(max_length=200)
    symptoms = models.TextField(max_length=20000)
    workaround = models.TextField(max_length=20000)
    root_cause = models.TextField(max_length=20000)
    status = models.CharField(
        max_length=16, choices=KnownErrorStatus.choices, default=KnownErrorStatus.DRAFT
    )
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # Incidents whose agents applied the workaround (KnownErrorUse rows, counted once each).
    use_count = models.PositiveIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1)

    class Meta(NumberedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["tenant", "-created_at", "-id"], name="problems_ke_tenant_created"
            ),
            models.Index(fields=["tenant", "status"], name="problems_ke_tenant_status"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def etag(self) -> str:
        return f'"{self.reference}-{self.version}"'


class KnownErrorUse(TenantOwnedModel):
    """An incident on which an agent applied the known error's workaround (once per incident)."""

    known_error = models.ForeignKey(KnownError, on_delete=models.PROTECT, related_name="uses")
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="known_error_uses"
    )
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["known_error", "incident"], name="problems_known_error_use_unique"
            )
        ]

    def __str__(self) -> str:
        return f"known error {self.known_error_id} applied on incident {self.incident_id}"


class ArticleLink(TenantOwnedModel):
    """A knowledge article linked to exactly one problem, known error or incident.

    The link rows live here, above both the knowledge base and incidents (the link rule):
    articles, problems and incidents read them through the reverse relations. On an incident a
    link says the article was used there; `helped` marks the ones counted in the article's
    `helped_count` (an agent applied it while working the incident).
    """

    article = models.ForeignKey(
        "knowledgebase.Article", on_delete=models.PROTECT, related_name="record_links"
    )
    problem = models.ForeignKey(
        Problem, on_delete=models.PROTECT, null=True, blank=True, related_name="article_links"
    )
    known_error = models.ForeignKey(
        KnownError, on_delete=models.PROTECT, null=True, blank=True, related_name="article_links"
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="article_links",
    )
    helped = models.BooleanField(default=False)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(problem__isnull=False, known_error__isnull=True, incident__isnull=True)
                    | models.Q(
                        problem__isnull=True, known_error__isnull=False, incident__isnull=True
                    )
                    | models.Q(
                        problem__isnull=True, known_error__isnull=True, incident__isnull=False
                    )
                ),
                name="problems_article_link_one_target",
            ),
            *(
                models.UniqueConstraint(
                    fields=["article", target],
                    condition=models.Q(**{f"{target}__isnull": False}),
                    name=f"problems_article_link_unique_{target}",
                )
                for target in ("problem", "known_error", "incident")
            ),
        ]

    def __str__(self) -> str:
        return f"article {self.article_id} linked to {self.target_label}"

    @property
    def target_label(self) -> str:
        if self.problem_id:
            return f"problem {self.problem_id}"
        if self.known_error_id:
            return f"known error {self.known_error_id}"
        return f"incident {self.incident_id}"


class ProblemEvent(TimelineEvent):
    """One immutable entry of a problem's timeline (its known errors' too), written only through
    `problems.timeline`. The database refuses UPDATE and DELETE on this table."""

    problem = models.ForeignKey(Problem, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=24, choices=ProblemEventKind.choices)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["problem", "created_at", "id"], name="problems_event_order")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.problem_id}"


# --- Trend analysis: runs and the problem suggestions they make ----------------------------------


@audited()
class TrendSettings(TenantOwnedModel):
    """A tenant's trend analysis: whether it runs on schedule, how far back it looks, and how
    many similar incidents make a problem suggestion."""

    enabled = models.BooleanField(default=True, help_text=_("Run on the schedule."))
    window_days = models.PositiveIntegerField(
        default=30, help_text=_("Incidents created in the last this many days are analysed.")
    )
    # Two: a recurring incident is already worth a look, and the grouping is strict (mutual
    # nearest neighbours), so pairs are few; what the evaluation measures is this default.
    min_incidents = models.PositiveIntegerField(
        default=2, help_text=_("The fewest similar incidents that make a problem suggestion.")
    )

    class Meta:
        verbose_name_plural = "trend settings"
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="problems_trend_settings_one"),
            models.CheckConstraint(
                condition=models.Q(min_incidents__gte=2), name="problems_trend_min_incidents"
            ),
            models.CheckConstraint(
                condition=models.Q(window_days__gte=1, window_days__lte=366),
                name="problems_trend_window_days",
            ),
        ]

    def __str__(self) -> str:
        return f"Trend settings of tenant {self.tenant_id}"


class TrendRun(TenantOwnedModel):
    """One analysis of a tenant's recent incidents: what it looked at, how far it has come
    (progress is committed as it goes, for a progress bar), and what it made, or why it
    failed. Suggestions are written in one transaction at the end: a failed run writes none."""

    status = models.CharField(
        max_length=16, choices=TrendRunStatus.choices, default=TrendRunStatus.QUEUED
    )
    trigger = models.CharField(max_length=16, choices=TrendRunTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    incidents_considered = models.PositiveIntegerField(default=0)
    clusters_found = models.PositiveIntegerField(default=0)
    suggestions_created = models.PositiveIntegerField(default=0)
    suggestions_updated = models.PositiveIntegerField(default=0)
    progress = models.PositiveSmallIntegerField(default=0, help_text=_("Percent done."))
    stage = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="problems_run_tenant")]

    def __str__(self) -> str:
        return f"Trend run {self.pk} of tenant {self.tenant_id} ({self.status})"

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


# version is the ETag counter; the evidence and counts are the analysis' own figures.
@audited(exclude=["version", "evidence", "score", "incident_count", "last_run"])
class ProblemSuggestion(NumberedModel):
    """Incidents that trend analysis found alike (SUG-000042), with the evidence, for a problem
    manager to accept as a new problem, merge into a problem, or dismiss."""

    NUMBER_PREFIX = "SUG"

    title = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.OPEN
    )
    score = models.FloatField(help_text=_("How alike the incidents are, 0 to 1."))
    evidence = models.JSONField(default=dict, help_text=_("Why they belong together."))
    incident_count = models.PositiveIntegerField(default=0)
    incidents = models.ManyToManyField(
        "incidents.Incident", through="SuggestionIncident", related_name="+"
    )
    last_run = models.ForeignKey(
        TrendRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    problem = models.ForeignKey(
        Problem, on_delete=models.PROTECT, null=True, blank=True, related_name="suggestions"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, max_length=2000, help_text=_("Why it was dismissed."))
    version = models.PositiveIntegerField(default=1)

    class Meta(NumberedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "status", "-score"], name="problems_suggestion_open")
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def etag(self) -> str:
        return f'"{self.reference}-{self.version}"'


class SuggestionIncident(TenantOwnedModel):
    """An incident of a problem suggestion."""

    suggestion = models.ForeignKey(
        ProblemSuggestion, on_delete=models.CASCADE, related_name="incident_links"
    )
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="suggestion_links"
    )

    class Meta:
        ordering = ["suggestion_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["suggestion", "incident"], name="problems_suggestion_incident_unique"
            )
        ]

    def __str__(self) -> str:
        return f"incident {self.incident_id} of suggestion {self.suggestion_id}"


class IncidentNeighbours(TenantOwnedModel):
    """An incident's most similar incidents as the last trend run found them, best first:
    `neighbours` is a list of [incident id, score]. Replaced by every run that reads the
    incident; "similar incidents" reads one row instead of comparing with every incident."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="neighbours"
    )
    neighbours = models.JSONField(default=list)
    run = models.ForeignKey(TrendRun, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        verbose_name_plural = "incident neighbours"

    def __str__(self) -> str:
        return f"neighbours of incident {self.incident_id}"
