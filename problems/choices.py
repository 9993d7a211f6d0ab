"""Problem and known-error vocabularies, and their lifecycle tables: which action is allowed in
which state, and where it leads."""

from dataclasses import dataclass
from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProblemStatus(models.TextChoices):
    NEW = "new", _("New")
    UNDER_INVESTIGATION = "under_investigation", _("Under investigation")
    ROOT_CAUSE_KNOWN = "root_cause_known", _("Root cause known")
    FIX_IN_PROGRESS = "fix_in_progress", _("Fix in progress")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_PROBLEM_STATUSES: Final = frozenset(
    {
        ProblemStatus.NEW,
        ProblemStatus.UNDER_INVESTIGATION,
        ProblemStatus.ROOT_CAUSE_KNOWN,
        ProblemStatus.FIX_IN_PROGRESS,
    }
)
TERMINAL_PROBLEM_STATUSES: Final = frozenset({ProblemStatus.CLOSED, ProblemStatus.CANCELLED})


class ProblemAction(models.TextChoices):
    """The verbs that move a problem through its lifecycle; each is one POST endpoint."""

    INVESTIGATE = "investigate", _("Start investigating")
    IDENTIFY_ROOT_CAUSE = "identify_root_cause", _("Record the root cause")
    START_FIX = "start_fix", _("Start the fix")
    REINVESTIGATE = "reinvestigate", _("Investigate again")
    RESOLVE = "resolve", _("Resolve")
    CLOSE = "close", _("Close")
    REOPEN = "reopen", _("Reopen")
    CANCEL = "cancel", _("Cancel")


@dataclass(frozen=True)
class ProblemRule:
    from_statuses: frozenset[ProblemStatus]
    to_status: ProblemStatus


# The problem lifecycle, in one place. Back-edges: `reinvestigate` (the root cause or the fix
# turned out wrong) and `reopen` (the fix did not hold) both lead back to under investigation.
PROBLEM_LIFECYCLE: Final[dict[ProblemAction, ProblemRule]] = {
    ProblemAction.INVESTIGATE: ProblemRule(
        frozenset({ProblemStatus.NEW}), ProblemStatus.UNDER_INVESTIGATION
    ),
    ProblemAction.IDENTIFY_ROOT_CAUSE: ProblemRule(
        frozenset({ProblemStatus.UNDER_INVESTIGATION}), ProblemStatus.ROOT_CAUSE_KNOWN
    ),
    ProblemAction.START_FIX: ProblemRule(
        frozenset({ProblemStatus.ROOT_CAUSE_KNOWN}), ProblemStatus.FIX_IN_PROGRESS
    ),
    ProblemAction.REINVESTIGATE: ProblemRule(
        frozenset({ProblemStatus.ROOT_CAUSE_KNOWN, ProblemStatus.FIX_IN_PROGRESS}),
        ProblemStatus.UNDER_INVESTIGATION,
    ),
    ProblemAction.RESOLVE: ProblemRule(
        frozenset({ProblemStatus.ROOT_CAUSE_KNOWN, ProblemStatus.FIX_IN_PROGRESS}),
        ProblemStatus.RESOLVED,
    ),
    ProblemAction.CLOSE: ProblemRule(frozenset({ProblemStatus.RESOLVED}), ProblemStatus.CLOSED),
    ProblemAction.REOPEN: ProblemRule(
        frozenset({ProblemStatus.RESOLVED}), ProblemStatus.UNDER_INVESTIGATION
    ),
    ProblemAction.CANCEL: ProblemRule(OPEN_PROBLEM_STATUSES, ProblemStatus.CANCELLED),
}


def allowed_problem_actions(status: str) -> list[ProblemAction]:
    """The lifecycle actions allowed in `status`, in table order."""
    return [action for action, rule in PROBLEM_LIFECYCLE.items() if status in rule.from_statuses]


class KnownErrorStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class KnownErrorAction(models.TextChoices):
    PUBLISH = "publish", _("Publish")
    RETIRE = "retire", _("Retire")


@dataclass(frozen=True)
class KnownErrorRule:
    from_statuses: frozenset[KnownErrorStatus]
    to_status: KnownErrorStatus


# A draft is published or withdrawn; a published known error is retired once it no longer
# applies. Retired is final: a new known error is recorded instead.
KNOWN_ERROR_LIFECYCLE: Final[dict[KnownErrorAction, KnownErrorRule]] = {
    KnownErrorAction.PUBLISH: KnownErrorRule(
        frozenset({KnownErrorStatus.DRAFT}), KnownErrorStatus.PUBLISHED
    ),
    KnownErrorAction.RETIRE: KnownErrorRule(
        frozenset({KnownErrorStatus.DRAFT, KnownErrorStatus.PUBLISHED}), KnownErrorStatus.RETIRED
    ),
}


def allowed_known_error_actions(status: str) -> list[KnownErrorAction]:
    """The known-error actions allowed in `status`, in table order."""
    return [
        action for action, rule in KNOWN_ERROR_LIFECYCLE.items() if status in rule.from_statuses
    ]


class ProblemEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    FIELDS = "fields", _("Details edited")
    INCIDENTS_LINKED = "incidents_linked", _("Incidents linked")
    INCIDENTS_UNLINKED = "incidents_unlinked", _("Incidents unlinked")
    INCIDENTS_RESOLVED = "incidents_resolved", _("Linked incidents resolved")
    KNOWN_ERROR = "known_error", _("Known error")
    REVIEW_DUE = "review_due", _("Review due")
    ARTICLES = "articles", _("Knowledge articles")


REVIEW_TIMER_KIND: Final = "problem_review"  # the timer kind of review reminders (timers.py)


# --- Trend analysis -------------------------------------------------------------------------------


class TrendRunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class TrendRunTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Scheduled")
    MANUAL = "manual", _("On demand")


class SuggestionStatus(models.TextChoices):
    """A problem suggestion waits for a problem manager, who accepts it (a new problem),
    merges it into an existing problem, or dismisses it with a reason. Decisions are final."""

    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    MERGED = "merged", _("Merged into a problem")
    DISMISSED = "dismissed", _("Dismissed")
