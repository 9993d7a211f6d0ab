"""Change vocabularies and the change lifecycle table: which action is allowed in which state,
for which type of change, and where it leads."""

from dataclasses import dataclass
from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _

from itsm.tenancy.choices import MembershipRole


class ChangeType(models.TextChoices):
    STANDARD = "standard", _("Standard")  # pre-approved, from a template
    NORMAL = "normal", _("Normal")  # assessed and approved by the CAB
    EMERGENCY = "emergency", _("Emergency")  # expedited approval by the emergency CAB


class ChangeStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ASSESSMENT = "assessment", _("Assessment")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    SCHEDULED = "scheduled", _("Scheduled")
    IMPLEMENTING = "implementing", _("Implementing")
    REVIEW = "review", _("Review")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_CHANGE_STATUSES: Final = frozenset(
    {
        ChangeStatus.DRAFT,
        ChangeStatus.ASSESSMENT,
        ChangeStatus.AWAITING_APPROVAL,
        ChangeStatus.SCHEDULED,
        ChangeStatus.IMPLEMENTING,
        ChangeStatus.REVIEW,
    }
)
# A change holds its planned window on the calendar (and in conflict checks) while in these.
CALENDAR_STATUSES: Final = frozenset(
    {
        ChangeStatus.AWAITING_APPROVAL,
        ChangeStatus.SCHEDULED,
        ChangeStatus.IMPLEMENTING,
    }
)


class ChangeOutcome(models.TextChoices):
    SUCCESSFUL = "successful", _("Successful")
    FAILED = "failed", _("Failed")
    BACKED_OUT = "backed_out", _("Backed out")


class Risk(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class RiskFactor(models.IntegerChoices):
    """One answer of the risk assessment: impact, likelihood of failure, backout difficulty."""

    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")


class ApprovalBoard(models.TextChoices):
    CAB = "cab", _("Change advisory board")
    ECAB = "ecab", _("Emergency CAB")


class ApprovalDecision(models.TextChoices):
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ChangeAction(models.TextChoices):
    """The verbs that move a change through its lifecycle; each is one POST endpoint.

    Approving and rejecting are not in the table: they are an approver's decisions, and the
    change moves (to scheduled, or back to draft) when the decisions say so.
    """

    SUBMIT = "submit", _("Submit for assessment")
    REQUEST_APPROVAL = "request_approval", _("Request approval")
    SCHEDULE = "schedule", _("Schedule")
    START = "start", _("Start implementing")
    COMPLETE = "complete", _("Complete")
    CLOSE = "close", _("Close")
    CANCEL = "cancel", _("Cancel")


ALL_TYPES: Final = frozenset(ChangeType)
APPROVED_TYPES: Final = frozenset({ChangeType.NORMAL, ChangeType.EMERGENCY})


@dataclass(frozen=True)
class ChangeRule:
    from_statuses: frozenset[ChangeStatus]
    to_status: ChangeStatus
    types: frozenset[ChangeType] = ALL_TYPES


# The change lifecycle, in one place. A standard change is pre-approved: it is scheduled straight
# from assessment. Normal and emergency changes ask for approval; the last approval schedules
# them, a rejection sends them back to draft (services.approvals).
CHANGE_LIFECYCLE: Final[dict[ChangeAction, ChangeRule]] = {
    ChangeAction.SUBMIT: ChangeRule(frozenset({ChangeStatus.DRAFT}), ChangeStatus.ASSESSMENT),
    ChangeAction.REQUEST_APPROVAL: ChangeRule(
        frozenset({ChangeStatus.ASSESSMENT}), ChangeStatus.AWAITING_APPROVAL, APPROVED_TYPES
    ),
    ChangeAction.SCHEDULE: ChangeRule(
        frozenset({ChangeStatus.ASSESSMENT}),
        ChangeStatus.SCHEDULED,
        frozenset({ChangeType.STANDARD}),
    ),
    ChangeAction.START: ChangeRule(frozenset({ChangeStatus.SCHEDULED}), ChangeStatus.IMPLEMENTING),
    ChangeAction.COMPLETE: ChangeRule(frozenset({ChangeStatus.IMPLEMENTING}), ChangeStatus.REVIEW),
    ChangeAction.CLOSE: ChangeRule(frozenset({ChangeStatus.REVIEW}), ChangeStatus.CLOSED),
    ChangeAction.CANCEL: ChangeRule(
        frozenset(
            {
                ChangeStatus.DRAFT,
                ChangeStatus.ASSESSMENT,
                ChangeStatus.AWAITING_APPROVAL,
                ChangeStatus.SCHEDULED,
            }
        ),
        ChangeStatus.CANCELLED,
    ),
}


def allowed_change_actions(status: str, change_type: str) -> list[ChangeAction]:
    """The lifecycle actions allowed for a change of `change_type` in `status`, in table order."""
    return [
        action
        for action, rule in CHANGE_LIFECYCLE.items()
        if status in rule.from_statuses and change_type in rule.types
    ]


class ChangeEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    FIELDS = "fields", _("Details edited")
    RISK = "risk", _("Risk assessed")
    APPROVAL = "approval", _("Approval decision")
    PROBLEMS = "problems", _("Problems linked")
    INCIDENTS = "incidents", _("Incidents recorded as caused")
    REMINDER = "reminder", _("Reminder")
    OVERRUN = "overrun", _("Window overrun")


SCHEDULE_TIMER_KIND: Final = "change_schedule"  # reminders before the start, overrun (timers.py)
APPROVE_PERMISSION: Final = "approve_change"  # the guardian object permission of an approver


# Who may do what (docs/changes.md, "Roles"); the API's action roles and the pages' actions both
# read these. Approvers are any staff role: the change's approver grant decides who may.
CHANGE_MANAGERS: Final = frozenset({MembershipRole.CHANGE_MANAGER, MembershipRole.TENANT_ADMIN})
PROBLEM_LINKERS: Final = CHANGE_MANAGERS | {MembershipRole.PROBLEM_MANAGER}
