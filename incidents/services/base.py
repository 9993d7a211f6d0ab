"""What every incident service shares: the lock, the version, and the one transition helper.

Each service locks the incident row, checks the lifecycle table and the action's requirements,
writes the incident and exactly one timeline event, and lets the SLA clocks follow. A stale
`expected_version` (the API's If-Match) is refused, so two agents never silently overwrite each
other. `actor=None` means the system acted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from incidents import selectors, sla, timeline
from incidents.choices import OPEN_STATUSES, TERMINAL_STATUSES, EventKind, IncidentAction
from incidents.errors import InvalidTransitionError, StaleIncidentError
from incidents.lifecycle import check_action
from incidents.models import Incident
from itsm.compiled import CompiledRead
from itsm.errors import NotFoundError
from itsm.inline import Inline, attach, with_inline
from itsm.tenancy.models import Tenant

# What the services read of an incident's relations with it: the whole related row (as a join
# would), inline (a compiled read joins nothing). Its representation shows the others'
# names (`selectors.REPRESENTED`).
LOCKED_RELATIONS = tuple(
    Inline(
        name,
        tuple(
            field.attname
            for field in Incident._meta.get_field(name).related_model._meta.concrete_fields  # type: ignore[union-attr]
        ),
    )
    for name in selectors.JOINED_RELATIONS
)


@dataclass(frozen=True)
class IncidentNumber:
    """An incident as a request names it: by its number, and for a requester only if they
    reported it. A service given one locks the incident by it in its one locking statement, so
    the request reads nothing before."""

    number: int
    reported_by_id: int | None = None


# What a service's `incident_id` takes: the primary key, or the number a request names.
IncidentKey = int | IncidentNumber


def locked(
    tenant: Tenant,
    incident_id: IncidentKey,
    expected_version: int | None,
    *,
    read_clocks: bool = False,
) -> Incident:
    """The incident, locked for this transaction, if the caller's version is current.

    One statement locks the row and reads it with its relations (not locked), and with its SLA
    clocks if `read_clocks` (for a service that leaves them as they are: its answer shows them
    without another query; the clocks the others change are locked apart). The statement is
    compiled once per process (itsm/compiled.py). After waiting for a concurrent writer,
    PostgreSQL returns the incident as that writer committed it, but with the related rows as
    they were before the wait: if a link changed meanwhile, the two no longer match, and the
    incident is read again (the lock is ours by then).

    Raises:
        NotFoundError: absent, another tenant's, or not the requester's.
        StaleIncidentError: someone changed it since the caller read it.
    """
    if isinstance(incident_id, IncidentNumber):
        key = {"number": incident_id.number}
        if incident_id.reported_by_id is not None:
            key["reported_by_id"] = incident_id.reported_by_id
    else:
        key = {"pk": incident_id}
    lock = _lock(tuple(key), read_clocks)
    incident = lock.first(tenant_id=tenant.pk, **key)
    if incident is None:
        raise NotFoundError("No such incident.")
    attach(incident, *LOCKED_RELATIONS, *selectors.REPRESENTED)
    if not _relations_match(incident):
        # A new statement sees what the concurrent writer committed (the lock is ours by now).
        incident = lock.first(tenant_id=tenant.pk, **key)
        assert incident is not None  # locked: nobody deleted it
        attach(incident, *LOCKED_RELATIONS, *selectors.REPRESENTED)
    incident.tenant = tenant  # the caller's, already loaded: its configuration is read from it
    if expected_version is not None and incident.version != expected_version:
        raise StaleIncidentError(
            f"{incident.reference} has changed since you read it; reload and try again.",
            extra={"current_version": incident.version},
        )
    return incident


@cache
def _lock(key: tuple[str, ...], read_clocks: bool) -> CompiledRead[Incident]:
    """The locking read of an incident by the columns `key`, compiled once per process."""

    def build(tenant_id: int, **values: int) -> QuerySet[Incident]:
        incidents = Incident.objects.for_tenant(tenant_id).filter(**values).order_by()
        inlines = (*LOCKED_RELATIONS, *selectors.REPRESENTED)
        if read_clocks:
            inlines += (selectors.SLA_CLOCKS,)
        return with_inline(incidents, *inlines).select_for_update(of=("self",))[:1]

    return CompiledRead(build, "tenant_id", *key)


# The relations read inline whose key is on the incident (its people).
_INLINE_KEYS = tuple(
    inline.relation
    for inline in selectors.REPRESENTED
    if Incident._meta.get_field(inline.relation).concrete
)


def _relations_match(incident: Incident) -> bool:
    # The problem link is not checked: its key is on the link's row, and it is only shown.
    for name in (*selectors.JOINED_RELATIONS, *_INLINE_KEYS):
        related = getattr(incident, name)
        if getattr(incident, f"{name}_id") != (related.pk if related is not None else None):
            return False
    return True


def save(incident: Incident, fields: list[str]) -> None:
    """Save the named fields and a new version."""
    # The row is locked, so the read-increment-write of version cannot lose an update.
    incident.version += 1
    incident.save(update_fields=[*fields, "version", "updated_at"])


def transition(
    incident: Incident,
    action: IncidentAction,
    actor: Any,
    *,
    changes: dict[str, Any] | None = None,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Carry out a lifecycle action as the table says: the status it leads to, the fields the
    action sets, one public timeline event, and the SLA clocks' effect.

    Raises:
        InvalidTransitionError: the table does not allow the action in the current status.
    """
    rule = check_action(incident.status, action)
    previous = incident.status
    if rule.to_status is not None:
        incident.status = rule.to_status
    changes = changes or {}
    for name, value in changes.items():
        setattr(incident, name, value)
    # The clocks first, so their summary on the incident goes into the incident's one UPDATE.
    summary = sla.follow_incident(incident, rule.clocks, timezone.now())
    save(incident, ["status", *changes, *summary])
    # Status changes are public: the reporter follows their incident's progress.
    timeline.record(
        incident,
        EventKind.STATUS,
        actor,
        is_public=True,
        from_status=previous,
        to_status=incident.status,
        body=body,
        data=data,
    )


def check_open(incident: Incident, doing: str) -> None:
    """Raises InvalidTransitionError unless the incident is open."""
    if incident.status not in OPEN_STATUSES:
        raise InvalidTransitionError(
            f"Cannot {doing} a {incident.get_status_display().lower()} incident.",
            extra={"allowed_actions": []},
        )


def check_not_terminal(incident: Incident, refusal: str) -> None:
    """Raises InvalidTransitionError, saying `refusal` of the status, once it is closed or
    cancelled."""
    if incident.status in TERMINAL_STATUSES:
        raise InvalidTransitionError(
            f"A {incident.get_status_display().lower()} incident {refusal}.",
            extra={"allowed_actions": []},
        )
