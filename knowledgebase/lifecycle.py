"""Pure lifecycle guards: no database, unit-testable on their own."""

from __future__ import annotations

from knowledgebase.choices import (
    EDITABLE_STATUSES,
    LIFECYCLE,
    ActionRule,
    ArticleAction,
    ArticleStatus,
    allowed_actions,
)
from knowledgebase.errors import ArticleNotEditableError, InvalidArticleTransitionError


def check_action(status: str, action: ArticleAction) -> ActionRule:
    """The rule of `action` if the lifecycle allows it in `status`.

    Raises:
        InvalidArticleTransitionError: with the actions that are allowed instead.
    """
    rule = LIFECYCLE[action]
    if status not in rule.from_statuses:
        raise InvalidArticleTransitionError(
            f"Cannot {action.label.lower()}: the article is {ArticleStatus(status).label.lower()}.",
            extra={"allowed_actions": [str(name) for name in allowed_actions(status)]},
        )
    return rule


def check_editable(status: str) -> None:
    """Refuse a text edit or a restore outside the editable statuses.

    Raises:
        ArticleNotEditableError: the article is retired; revise it first.
    """
    if status not in EDITABLE_STATUSES:
        raise ArticleNotEditableError(
            f"A {ArticleStatus(status).label.lower()} article cannot be edited; revise it first.",
            extra={"allowed_actions": [str(name) for name in allowed_actions(status)]},
        )
