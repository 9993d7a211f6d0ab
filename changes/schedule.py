"""What stands in a change's way on the calendar: another change on one of its services in an
overlapping window, a blackout window, an open SEV1/SEV2 incident on one of its services.

Conflicts are warnings shown when a change is scheduled; only a blackout window refuses, and only
a change that is not an emergency (changes.services). Windows are half-open, [start, end): one
change ending at 10:00 and the next starting at 10:00 do not touch. Times are compared as
instants, so the time zones they were entered in do not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db.models import Q

from changes.choices import CALENDAR_STATUSES
from changes.models import BlackoutWindow, Change
from incidents.choices import OPEN_STATUSES, Priority
from incidents.models import Incident

CHANGE_OVERLAP: Final = "change_overlap"
BLACKOUT: Final = "blackout_window"
MAJOR_INCIDENT: Final = "open_major_incident"


@dataclass(frozen=True)
class Conflict:
    """One thing in the way: its kind, a sentence for people, and what it is."""

    kind: str
    message: str
    reference: str  # CHG-…, INC-… or the blackout window's name
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def conflicts(change: Change) -> list[Conflict]:
    """Everything in the way of the change's planned window (nothing without a window)."""
    if change.planned_start is None or change.planned_end is None:
        return []
    service_ids = list(change.service_links.values_list("service_id", flat=True))
    return [
        *_overlapping_changes(change, service_ids),
        *blackouts(change, service_ids),
        *_major_incidents(change, service_ids),
    ]


def blackouts(change: Change, service_ids: list[int] | None = None) -> list[Conflict]:
    """The blackout windows the change's planned window overlaps: those of every service, and
    those of one of its services."""
    if change.planned_start is None or change.planned_end is None:
        return []
    if service_ids is None:
        service_ids = list(change.service_links.values_list("service_id", flat=True))
    windows = (
        BlackoutWindow.objects.for_tenant(change.tenant_id)
        .filter(starts_at__lt=change.planned_end, ends_at__gt=change.planned_start)
        .filter(Q(service_links__isnull=True) | Q(service_links__service_id__in=service_ids))
        .distinct()
        .order_by("starts_at", "id")
    )
    return [
        Conflict(
            BLACKOUT,
            f"The window overlaps the blackout window {window.name!r}: only an emergency change "
            "may be made then.",
            window.name,
            window.starts_at,
            window.ends_at,
        )
        for window in windows
    ]


def _overlapping_changes(change: Change, service_ids: list[int]) -> list[Conflict]:
    if not service_ids:
        return []
    others = (
        Change.objects.for_tenant(change.tenant_id)
        .filter(
            status__in=CALENDAR_STATUSES,
            planned_start__lt=change.planned_end,
            planned_end__gt=change.planned_start,
            service_links__service_id__in=service_ids,
        )
        .exclude(pk=change.pk)
        .distinct()
        .order_by("planned_start", "id")
    )
    return [
        Conflict(
            CHANGE_OVERLAP,
            f"{other.reference} changes the same service from {other.planned_start:%Y-%m-%d %H:%M} "
            f"to {other.planned_end:%Y-%m-%d %H:%M} UTC.",
            other.reference,
            other.planned_start,
            other.planned_end,
        )
        for other in others
    ]


def _major_incidents(change: Change, service_ids: list[int]) -> list[Conflict]:
    if not service_ids:
        return []
    incidents = (
        Incident.objects.for_tenant(change.tenant_id)
        .filter(
            status__in=OPEN_STATUSES,
            priority__in=[Priority.SEV1, Priority.SEV2],
            service_id__in=service_ids,
        )
        .order_by("priority", "created_at")
    )
    return [
        Conflict(
            MAJOR_INCIDENT,
            f"{incident.reference} ({incident.get_priority_display()}) is open on an affected "
            "service.",
            incident.reference,
        )
        for incident in incidents
    ]
