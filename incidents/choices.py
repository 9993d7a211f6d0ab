"""Incident vocabularies and the lifecycle table: which action is allowed in which state."""

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _


class IncidentStatus(models.TextChoices):
    NEW = "new", _("New")
    IN_PROGRESS = "in_progress", _("In progress")
    ON_HOLD = "on_hold", _("On hold")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATUSES: Final = frozenset(
    {IncidentStatus.NEW, IncidentStatus.IN_PROGRESS, IncidentStatus.ON_HOLD}
)
TERMINAL_STATUSES: Final = frozenset({IncidentStatus.CLOSED, IncidentStatus.CANCELLED})


class IncidentAction(models.TextChoices):
    """The verbs that change an incident's state or routing; each is one POST endpoint."""

    ACKNOWLEDGE = "acknowledge", _("Acknowledge")
    ASSIGN = "assign", _("Assign")
    ESCALATE = "escalate", _("Escalate")
    HOLD = "hold", _("Put on hold")
    RESUME = "resume", _("Resume")
    RESOLVE = "resolve", _("Resolve")
    CLOSE = "close", _("Close")
    REOPEN = "reopen", _("Reopen")
    CANCEL = "cancel", _("Cancel")


class ClockEffect(enum.Enum):
    """What a lifecycle action does to the incident's SLA clocks."""

    NONE = "none"
    STOP_RESPONSE = "stop_response"  # the response target is met
    PAUSE = "pause"  # all clocks, if the policy pauses for the hold reason
    RESUME = "resume"
    STOP = "stop"  # all clocks: resolved, closed or cancelled
    RESTART_RESOLUTION = "restart_resolution"  # reopened: resolution continues where it stopped


@dataclass(frozen=True)
class ActionRule:
    from_statuses: frozenset[IncidentStatus]
    to_status: IncidentStatus | None  # None: the status stays as it is
    clocks: ClockEffect = ClockEffect.NONE


# The lifecycle, in one place: where each action is allowed, the status it leads to and what it
# does to the SLA clocks. Services enforce it; an action outside it is a 409.
LIFECYCLE: Final[dict[IncidentAction, ActionRule]] = {
    IncidentAction.ACKNOWLEDGE: ActionRule(
        frozenset({IncidentStatus.NEW}), IncidentStatus.IN_PROGRESS, ClockEffect.STOP_RESPONSE
    ),
    IncidentAction.ASSIGN: ActionRule(OPEN_STATUSES, None),
    IncidentAction.ESCALATE: ActionRule(OPEN_STATUSES, None),
    IncidentAction.HOLD: ActionRule(
        frozenset({IncidentStatus.IN_PROGRESS}), IncidentStatus.ON_HOLD, ClockEffect.PAUSE
    ),
    IncidentAction.RESUME: ActionRule(
        frozenset({IncidentStatus.ON_HOLD}), IncidentStatus.IN_PROGRESS, ClockEffect.RESUME
    ),
    IncidentAction.RESOLVE: ActionRule(
        frozenset({IncidentStatus.IN_PROGRESS}), IncidentStatus.RESOLVED, ClockEffect.STOP
    ),
    IncidentAction.CLOSE: ActionRule(
        frozenset({IncidentStatus.RESOLVED}), IncidentStatus.CLOSED, ClockEffect.STOP
    ),
    IncidentAction.REOPEN: ActionRule(
        frozenset({IncidentStatus.RESOLVED}),
        IncidentStatus.IN_PROGRESS,
        ClockEffect.RESTART_RESOLUTION,
    ),
    IncidentAction.CANCEL: ActionRule(OPEN_STATUSES, IncidentStatus.CANCELLED, ClockEffect.STOP),
}


def allowed_actions(status: str) -> list[IncidentAction]:
    """The lifecycle actions allowed in `status`, in table order."""
    return [action for action, rule in LIFECYCLE.items() if status in rule.from_statuses]


class HoldReason(models.TextChoices):
    AWAITING_CALLER = "awaiting_caller", _("Awaiting caller")
    AWAITING_VENDOR = "awaiting_vendor", _("Awaiting vendor")
    AWAITING_CHANGE = "awaiting_change", _("Awaiting change")
    AWAITING_PROBLEM = "awaiting_problem", _("Awaiting problem")


class IncidentSource(models.TextChoices):
    """How the incident came to the service desk (the channel of the first report)."""

    MONITORING = "monitoring", _("Monitoring")
    USER = "user", _("User report")
    PHONE = "phone", _("Phone")
    PORTAL = "portal", _("Self-service portal")
    PROACTIVE = "proactive", _("Proactive")
    CHAT = "chat", _("Chat")
    EMAIL = "email", _("E-mail")


# The channels through which a customer reports an incident; monitoring detects, staff find
# proactively. The metrics compare the first two.
CUSTOMER_SOURCES: Final = frozenset(
    {
        IncidentSource.USER,
        IncidentSource.PHONE,
        IncidentSource.PORTAL,
        IncidentSource.CHAT,
        IncidentSource.EMAIL,
    }
)


class Impact(models.IntegerChoices):
    HIGH = 1, _("High: complete outage or all users")
    MEDIUM = 2, _("Medium: significant impairment or many users")
    LOW = 3, _("Low: minor, individual users")


class Urgency(models.IntegerChoices):
    HIGH = 1, _("High: business stopped, no workaround")
    MEDIUM = 2, _("Medium: degraded, work slowed")
    LOW = 3, _("Low: a workaround is available")


class Priority(models.IntegerChoices):
    SEV1 = 1, _("SEV1")
    SEV2 = 2, _("SEV2")
    SEV3 = 3, _("SEV3")
    SEV4 = 4, _("SEV4")


# The default priority matrix (impact, urgency) -> priority; tenants may override any cell.
DEFAULT_PRIORITY_MATRIX: Final[dict[tuple[int, int], int]] = {
    (Impact.HIGH, Urgency.HIGH): Priority.SEV1,
    (Impact.HIGH, Urgency.MEDIUM): Priority.SEV2,
    (Impact.HIGH, Urgency.LOW): Priority.SEV3,
    (Impact.MEDIUM, Urgency.HIGH): Priority.SEV2,
    (Impact.MEDIUM, Urgency.MEDIUM): Priority.SEV3,
    (Impact.MEDIUM, Urgency.LOW): Priority.SEV4,
    (Impact.LOW, Urgency.HIGH): Priority.SEV3,
    (Impact.LOW, Urgency.MEDIUM): Priority.SEV4,
    (Impact.LOW, Urgency.LOW): Priority.SEV4,
}

# Default labels and what they mean, with the response targets of the severity model.
DEFAULT_PRIORITY_LABELS: Final[dict[int, tuple[str, str]]] = {
    Priority.SEV1: ("SEV1", "Critical: complete outage, all users; respond within 15 minutes."),
    Priority.SEV2: ("SEV2", "High: significant impairment, many users; respond within 30 minutes."),
    Priority.SEV3: (
        "SEV3",
        "Medium: moderate impact, workaround available; respond within 2 hours.",
    ),
    Priority.SEV4: ("SEV4", "Low: minor, individual users; respond within 8 hours."),
}


class ResolutionCode(models.TextChoices):
    FIXED = "fixed", _("Fixed")
    WORKAROUND = "workaround", _("Workaround applied")
    FIXED_BY_CHANGE = "fixed_by_change", _("Fixed by a change")
    USER_GUIDANCE = "user_guidance", _("User guidance given")
    NOT_REPRODUCIBLE = "not_reproducible", _("Could not reproduce")
    DUPLICATE = "duplicate", _("Duplicate")
    NO_FAULT = "no_fault", _("No fault found")


class EscalationKind(models.TextChoices):
    FUNCTIONAL = "functional", _("Functional: to the next tier or a specialist team")
    HIERARCHICAL = "hierarchical", _("Hierarchical: engage management")


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    ASSIGNMENT = "assignment", _("Assigned")
    ESCALATION = "escalation", _("Escalated")
    PRIORITY = "priority", _("Priority changed")
    FIELDS = "fields", _("Details edited")
    COMMENT = "comment", _("Comment")
    WORK_NOTE = "work_note", _("Work note")
    MAJOR_DECLARED = "major_declared", _("Declared a major incident")
    STAKEHOLDER_UPDATE = "stakeholder_update", _("Stakeholder update")
    LINK = "link", _("Linked")
    # A known error's workaround or a knowledge article applied while diagnosing.
    KNOWLEDGE = "knowledge", _("Knowledge applied")
    SLA = "sla", _("SLA")


class SlaClockKind(models.TextChoices):
    RESPONSE = "response", _("Response")
    RESOLUTION = "resolution", _("Resolution")


class SlaBreachAction(models.TextChoices):
    NOTIFY = "notify", _("Notify the assignee and team")
    ESCALATE = "escalate", _("Escalate to the next tier")
    ENGAGE_MANAGEMENT = "engage_management", _("Engage management")


# An incident with no running SLA clock is "due" at the end of time: it sorts last.
SLA_NEVER_DUE: Final = datetime(9999, 12, 31, tzinfo=UTC)
BREACH: Final = 100  # the threshold, in percent of the target, at which a clock breaches
DEFAULT_WARNING_THRESHOLDS: Final = [50, 75, 90]
DEFAULT_PAUSE_HOLD_REASONS: Final = ["awaiting_caller"]

# Default targets of the severity model: priority -> (response, resolution) in minutes.
DEFAULT_SLA_TARGETS: Final[dict[int, tuple[int, int]]] = {
    Priority.SEV1: (15, 4 * 60),
    Priority.SEV2: (30, 8 * 60),
    Priority.SEV3: (2 * 60, 3 * 24 * 60),
    Priority.SEV4: (8 * 60, 5 * 24 * 60),
}
