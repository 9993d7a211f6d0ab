"""Who hears about a change, and what they are told.

- `change.fixed_problem`: the manager of each problem a successful change resolved.

Published into the notifications outbox in the transaction of the change, in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from changes.models import Change
from itsm.notifications.choices import EMAIL, IN_APP
from itsm.notifications.registry import register_event_type
from itsm.notifications.services import NotificationDraft, notification_publish_many
from problems.models import Problem

FIXED_PROBLEM: Final = "change.fixed_problem"

register_event_type(
    FIXED_PROBLEM,
    label="A change resolved a problem I manage",
    default_channels=(EMAIL, IN_APP),
)


def notify_problems_fixed(change: Change, problems: Sequence[Problem], actor: Any) -> None:
    """Tell each resolved problem's manager which change fixed it."""
    who = actor.get_username() if actor is not None else "ITSM"
    drafts = [
        NotificationDraft(
            event_type=FIXED_PROBLEM,
            title=f"Resolved by {change.reference}: [{problem.reference}] {problem.title}",
            body=(
                f"{who} closed {change.reference} ({change.title}) as successful; it fixes "
                f"{problem.reference}, which is now resolved.\n"
            ),
            link=f"/t/{change.tenant.slug}/problems/{problem.reference}/",
            reference=problem.reference,
            users=[problem.problem_manager],
        )
        for problem in problems
        if problem.problem_manager is not None
    ]
    if drafts:
        notification_publish_many(tenant=change.tenant, drafts=drafts)
