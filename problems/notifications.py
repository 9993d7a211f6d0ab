"""Who hears about a problem, and what they are told.

- `problem.review_due`: the problem manager, when the problem's review date passes (once per
  review date; the review timer kind publishes it).
- `problem.resolved`: the assignee of each open incident linked to a problem that is resolved.

Both are published into the notifications outbox in the transaction of the change, in one call
per batch, so the number of queries does not grow with the incidents or problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from incidents.models import Incident
from itsm.notifications.choices import EMAIL, IN_APP
from itsm.notifications.registry import register_event_type
from itsm.notifications.services import NotificationDraft, notification_publish_many
from itsm.tenancy.models import Tenant
from problems.models import Problem

REVIEW_DUE: Final = "problem.review_due"
RESOLVED: Final = "problem.resolved"

EVENT_TYPE_LABELS: Final[dict[str, str]] = {
    REVIEW_DUE: "A problem I manage is due for review",
    RESOLVED: "The problem behind my incident is resolved",
}
for _name, _label in EVENT_TYPE_LABELS.items():
    register_event_type(_name, label=_label, default_channels=(EMAIL, IN_APP))


def notify_review_due(tenant: Tenant, problems: Sequence[Problem]) -> None:
    """Tell each problem's manager that its review date has passed (problems without one are
    skipped)."""
    drafts = [
        NotificationDraft(
            event_type=REVIEW_DUE,
            title=f"Review due: [{problem.reference}] {problem.title}",
            body=(
                f"The review date of {problem.reference} has passed.\n\n"
                f"Status: {problem.get_status_display()}\n\n{problem.description}\n"
            ),
            link=f"/t/{tenant.slug}/problems/{problem.reference}/",
            reference=problem.reference,
            users=[problem.problem_manager],
        )
        for problem in problems
        if problem.problem_manager is not None
    ]
    if drafts:
        notification_publish_many(tenant=tenant, drafts=drafts)


def notify_problem_resolved(problem: Problem, incidents: Sequence[Incident], actor: Any) -> None:
    """Tell the assignee of each incident that its problem is resolved."""
    who = actor.get_username() if actor is not None else "ITSM"
    drafts = [
        NotificationDraft(
            event_type=RESOLVED,
            title=f"Problem resolved: [{incident.reference}] {incident.title}",
            body=(
                f"{who} resolved {problem.reference} ({problem.title}), the problem behind "
                f"{incident.reference}.\n\nFix: {problem.fix_notes}\n"
            ),
            link=f"/t/{problem.tenant.slug}/incidents/{incident.reference}/",
            reference=incident.reference,
            users=[incident.assignee],
        )
        for incident in incidents
        if incident.assignee is not None
    ]
    if drafts:
        notification_publish_many(tenant=problem.tenant, drafts=drafts)
