"""Reads of incidents, their timelines and each tenant's incident configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    Prefetch,
    Q,
    QuerySet,
)

from incidents.choices import (
    DEFAULT_PRIORITY_LABELS,
    DEFAULT_PRIORITY_MATRIX,
    EventKind,
    SlaClockKind,
)
from incidents.models import (
    Incident,
    IncidentEvent,
    IncidentSettings,
    PriorityLabel,
    PriorityMatrixCell,
    SlaClock,
    SlaPolicy,
)
from itsm.compiled import CompiledRead
from itsm.inline import Inline, attach, with_inline
from itsm.services import keep_related
from itsm.tenancy import selectors as tenancy
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.config import tenant_config
from itsm.tenancy.models import Membership, Tenant


def incident_list(*, tenant: Tenant, membership: Membership | None = None) -> QuerySet[Incident]:
    """The incidents a member may see, with everything the list shows loaded in one query.

    Requesters see only the incidents they reported.
    """
    # Joining all six relations costs PostgreSQL ~8 ms of planning per query (the join order
    # search grows exponentially); four joins plan in ~1 ms and the users come in one batch.
    queryset = (
        Incident.objects.for_tenant(tenant)
        .select_related(*JOINED_RELATIONS)
        .prefetch_related("reported_by", "commander")
    )
    return _visible(queryset, membership)


# The relations an incident is read with, joined; the others come apart or inline.
JOINED_RELATIONS = ("service", "category", "assignment_team", "assignee")


def visible_reporter(membership: Membership | None) -> int | None:
    """The reporter whose incidents alone a member sees: a requester themself; None for staff."""
    if membership is not None and membership.role == MembershipRole.REQUESTER:
        return membership.user_id
    return None


def _visible(queryset: QuerySet[Incident], membership: Membership | None) -> QuerySet[Incident]:
    reporter = visible_reporter(membership)
    return queryset if reporter is None else queryset.filter(reported_by_id=reporter)


# What an incident's representation shows of the relations `incident_list` joins: their names.
RELATED_NAMES = ("service__slug", "category__slug", "assignment_team__slug", "assignee__username")

# The columns an incident list shows (API and queue), and of its relations only the names.
LIST_COLUMNS = (
    "tenant_id",
    "number",
    "title",
    "source",
    "priority",
    "status",
    "hold_reason",
    "is_major",
    "created_at",
    "updated_at",
    "resolved_at",
    "sla_due_at",
    "sla_breached",
    "version",
    "reported_by_id",
    *RELATED_NAMES,
)


def incident_list_rows(
    *, tenant: Tenant, membership: Membership | None = None
) -> QuerySet[Incident]:
    """`incident_list` reading only what a list shows: a page of 50 builds a quarter of the
    objects and parses a third of the values it would otherwise."""
    return (
        incident_list(tenant=tenant, membership=membership)
        .only(*LIST_COLUMNS)
        .prefetch_related(None)
        .prefetch_related(
            Prefetch("reported_by", queryset=get_user_model().objects.only("id", "username"))
        )
    )


# What an incident's representation shows of its people and its problem, read inline with the
# incident (itsm/inline.py). The link row lives in problems, the higher app: named, never imported.
REPRESENTED = (
    Inline("reported_by", ("username",)),
    Inline("commander", ("username",)),
    Inline(
        "problem_link", ("problem_id",), nested=(Inline("problem", ("number", "title", "status")),)
    ),
)


# The SLA clocks, read inline on PostgreSQL (elsewhere apart): response, then resolution.
SLA_CLOCKS = Inline(
    "sla_clocks",
    tuple(field.attname for field in SlaClock._meta.concrete_fields),
    order_by=("-kind",),
)


def incident_detail(
    *, tenant: Tenant, number: int, membership: Membership | None = None
) -> Incident | None:
    """The incident numbered `number` if the member may see it, with what its representation
    shows read inline (its people, names, problem link and SLA clocks), in one statement
    compiled once per process. `incident_represented` attaches them."""
    reporter = visible_reporter(membership)
    if reporter is None:
        return _DETAIL.first(tenant_id=tenant.pk, number=number)
    return _REPORTERS_DETAIL.first(tenant_id=tenant.pk, number=number, reporter_id=reporter)


# A compiled read joins nothing: the relations the list joins come inline here, their names.
NAMED = (
    Inline("service", ("slug",)),
    Inline("category", ("slug",)),
    Inline("assignment_team", ("slug",)),
    Inline("assignee", ("username",)),
)


def _detail_rows(tenant_id: int, number: int, reporter_id: int | None = None) -> QuerySet[Incident]:
    incidents = Incident.objects.for_tenant(tenant_id).filter(number=number)
    if reporter_id is not None:
        incidents = incidents.filter(reported_by_id=reporter_id)
    # One row: no ORDER BY to compile or run.
    return with_inline(incidents.order_by(), *NAMED, *REPRESENTED, SLA_CLOCKS)[:1]


_DETAIL = CompiledRead(_detail_rows, "tenant_id", "number")
_REPORTERS_DETAIL = CompiledRead(_detail_rows, "tenant_id", "number", "reporter_id")


def active_policies(*, tenant: Tenant) -> list[SlaPolicy]:
    """The tenant's active SLA policies in the order they are tried, with their calendars
    (cached per version of the tenant's configuration: treat as read-only)."""
    return tenant_config(
        tenant,
        "incidents.sla_policies",
        lambda: list(
            SlaPolicy.objects.for_tenant(tenant)
            .filter(is_active=True)
            .select_related("calendar")
            .order_by("order", "id")
        ),
    )


def with_policies(clocks: list[SlaClock], *, tenant: Tenant) -> list[SlaClock]:
    """The clocks with their policies (and calendars) set from the tenant's cached ones; a
    policy no longer active is read."""
    policies = {policy.pk: policy for policy in active_policies(tenant=tenant)}
    if missing := {clock.policy_id for clock in clocks} - set(policies):
        policies |= SlaPolicy.objects.for_tenant(tenant).select_related("calendar").in_bulk(missing)
    for clock in clocks:
        clock.policy = policies[clock.policy_id]
    return clocks


def incident_represented(incident: Incident, *, tenant: Tenant) -> Incident:
    """An incident read by `incident_detail` or a service's lock, with everything its
    representation reads: what was read inline (`NAMED`, `REPRESENTED`, `SLA_CLOCKS`) attached,
    and the SLA clocks read unless they were inline or a service left them on it (one query).
    The clocks' policies come from the tenant's cached configuration."""
    if SLA_CLOCKS in attach(incident, *NAMED, *REPRESENTED, SLA_CLOCKS):
        with_policies(list(incident.sla_clocks.all()), tenant=tenant)
    elif "sla_clocks" not in getattr(incident, "_prefetched_objects_cache", {}):
        clocks = SlaClock.objects.for_tenant(tenant).filter(incident=incident)
        ordered = list(clocks.order_by("-kind"))  # response, then resolution
        keep_related(incident, "sla_clocks", with_policies(ordered, tenant=tenant))
    return incident


def incident_sla_clocks(*, incident: Incident) -> QuerySet[SlaClock]:
    """The incident's clocks with their policy and calendar."""
    return (
        SlaClock.objects.for_tenant(incident.tenant_id)
        .filter(incident=incident)
        .select_related("policy__calendar")
        .order_by("-kind")  # response, then resolution
    )


def sla_policy_list(*, tenant: Tenant) -> QuerySet[SlaPolicy]:
    """The tenant's SLA policies in the order they are tried."""
    return SlaPolicy.objects.for_tenant(tenant).select_related("service", "category", "calendar")


@dataclass(frozen=True)
class Compliance:
    kind: str
    met: int
    breached: int
    running: int

    @property
    def rate(self) -> float | None:
        done = self.met + self.breached
        return round(self.met / done, 4) if done else None


def sla_policy_compliance(
    *, policy: SlaPolicy, since: datetime, until: datetime
) -> list[Compliance]:
    """Met and breached clocks of the policy among incidents reported in [since, until)."""
    clocks = SlaClock.objects.for_tenant(policy.tenant_id).filter(
        policy=policy, started_at__gte=since, started_at__lt=until
    )
    rows = clocks.values("kind").annotate(
        breached=Count("pk", filter=Q(breached_at__isnull=False)),
        met=Count("pk", filter=Q(breached_at__isnull=True, stopped_at__isnull=False)),
        running=Count("pk", filter=Q(breached_at__isnull=True, stopped_at__isnull=True)),
    )
    found: dict[str, dict[str, Any]] = {row["kind"]: dict(row) for row in rows}
    empty = {"met": 0, "breached": 0, "running": 0}
    return [
        Compliance(
            kind=kind,
            met=found.get(kind, empty)["met"],
            breached=found.get(kind, empty)["breached"],
            running=found.get(kind, empty)["running"],
        )
        for kind in SlaClockKind.values
    ]


def incident_timeline(*, incident: Incident, public_only: bool = False) -> QuerySet[IncidentEvent]:
    """The incident's events in order; requesters get only the public ones."""
    events = IncidentEvent.objects.for_tenant(incident.tenant_id).filter(incident=incident)
    if public_only:
        events = events.filter(is_public=True)
    return events.select_related("actor").order_by("created_at", "id")


def priority_matrix(*, tenant: Tenant) -> dict[tuple[int, int], int]:
    """All nine cells: the tenant's overrides over the default matrix (cached per version of the
    tenant's configuration: treat as read-only)."""

    def load() -> dict[tuple[int, int], int]:
        matrix = dict(DEFAULT_PRIORITY_MATRIX)
        for impact, urgency, priority in PriorityMatrixCell.objects.for_tenant(tenant).values_list(
            "impact", "urgency", "priority"
        ):
            matrix[(impact, urgency)] = priority
        return matrix

    return tenant_config(tenant, "incidents.priority_matrix", load)


def priority_for(*, tenant: Tenant, impact: int, urgency: int) -> int:
    """The priority the tenant's matrix gives to impact × urgency."""
    return priority_matrix(tenant=tenant)[(impact, urgency)]


def priority_labels(*, tenant: Tenant) -> dict[int, str]:
    """Priority level -> the tenant's label (SEV1 … SEV4 unless renamed)."""

    def load() -> dict[int, str]:
        labels = {level: label for level, (label, _meaning) in DEFAULT_PRIORITY_LABELS.items()}
        labels.update(PriorityLabel.objects.for_tenant(tenant).values_list("priority", "label"))
        return labels

    return dict(tenant_config(tenant, "incidents.priority_labels", load))


def incident_settings(*, tenant: Tenant) -> IncidentSettings:
    """The tenant's incident policy, or the defaults if it has none (from the tenant's cached
    configuration: read-only)."""

    def load() -> IncidentSettings:
        found = IncidentSettings.objects.for_tenant(tenant).first()
        return found if found is not None else IncidentSettings(tenant_id=tenant.pk)

    return tenant_config(tenant, "incidents.settings", load)


# --- The record page ---------------------------------------------------------------------------


def incident_changes_since(
    *, incident: Incident, version: int, public_only: bool = False, limit: int = 10
) -> list[IncidentEvent]:
    """The events of the writes after `version` was read, newest first.

    Every write bumps the version once and records one event; SLA threshold entries bump
    nothing, so they are not counted.
    """
    count = min(incident.version - version, limit)
    if count <= 0:
        return []
    latest = (
        IncidentEvent.objects.for_tenant(incident.tenant_id)
        .filter(incident=incident)
        .exclude(kind=EventKind.SLA)
        .select_related("actor")
        .order_by("-created_at", "-id")[:count]
    )
    # Filtered after the cut: an older public event must not stand in for an internal one.
    return [event for event in latest if event.is_public or not public_only]


# --- Who may: the services refuse with these, the pages offer a button with them -------------


def may_resolve(*, tenant: Tenant, incident: Incident, user: Any) -> bool:
    """The assigned team, management or a tenant administrator resolve an incident."""
    return (
        tenancy.member_role(tenant=tenant, user=user) == MembershipRole.TENANT_ADMIN
        or tenancy.is_team_member(tenant=tenant, team_id=incident.assignment_team_id, user=user)
        or tenancy.is_management_member(tenant=tenant, user=user)
    )


def may_brief(*, tenant: Tenant, incident: Incident, user: Any) -> bool:
    """The commander, management or a tenant administrator post stakeholder updates."""
    return (
        incident.commander_id == user.pk
        or tenancy.member_role(tenant=tenant, user=user) == MembershipRole.TENANT_ADMIN
        or tenancy.is_management_member(tenant=tenant, user=user)
    )
