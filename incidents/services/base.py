"""What every incident service shares: the lock, the version, and the one transition helper.

Each service locks the incident row, checks the lifecycle table and the action's requirements,
writes the incident and exactly one timeline event, and lets the SLA clocks follow. A stale
`expected_version` (the API's If-Match) is refused, so two agents never silently overwrite each
other. `actor=None` means the system acted.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from incidents import sla, timeline
from incidents.choices import OPEN_STATUSES, TERMINAL_STATUSES, EventKind, IncidentAction
from incidents.errors import InvalidTransitionError, StaleIncidentError
from incidents.lifecycle import check_action
from incidents.models import Incident
from itsm.errors import NotFoundError
from itsm.tenancy.models import Tenant


def locked(tenant: Tenant, incident_id: int, expected_version: int | None) -> Incident:
    """The incident, locked for this transaction, if the caller's version is current.

    Raises:
        NotFoundError: absent or another tenant's.
        StaleIncidentError: someone changed it since the caller read it.
    """
    incidents = Incident.objects.for_tenant(tenant).filter(pk=incident_id)
    # Lock first, then read: a locking query that joins would hand back the joined rows as they
    # were before a concurrent writer committed (PostgreSQL re-checks only the locked row).
    if not incidents.select_for_update().values_list("pk", flat=True):
        raise NotFoundError("No such incident.")
    incident = incidents.select_related("assignment_team", "assignee", "commander").get()
    if expected_version is not None and incident.version != expected_version:
        raise StaleIncidentError(
            f"{incident.reference} has changed since you read it; reload and try again.",
            extra={"current_version": incident.version},
        )
    return incident


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
    save(incident, ["status", *changes])
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
    sla.follow_incident(incident, rule.clocks, timezone.now())


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
