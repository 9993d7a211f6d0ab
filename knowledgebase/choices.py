"""Knowledge-base vocabularies and the article lifecycle table: which action is allowed where."""

from dataclasses import dataclass
from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class ArticleAudience(models.TextChoices):
    """Who may read the article once it is published."""

    AGENTS = "agents", _("Agents only")
    REQUESTERS = "requesters", _("Requesters too")


class ArticleAction(models.TextChoices):
    """The verbs that move an article through its lifecycle; each is one POST endpoint."""

    SUBMIT = "submit", _("Submit for review")
    REQUEST_CHANGES = "request_changes", _("Request changes")
    PUBLISH = "publish", _("Publish")
    UNPUBLISH = "unpublish", _("Unpublish")
    RETIRE = "retire", _("Retire")
    REVISE = "revise", _("Revise")


@dataclass(frozen=True)
class ActionRule:
    from_statuses: frozenset[ArticleStatus]
    to_status: ArticleStatus


# The lifecycle, in one place. Forward: draft → in review → published → retired. Back-edges:
# a reviewer sends a submission back (request changes), a published article is taken down for
# rework (unpublish), and a retired article is brought back as a draft (revise) so that it is
# reviewed again before readers see it. An abandoned draft or submission may be retired directly.
LIFECYCLE: Final[dict[ArticleAction, ActionRule]] = {
    ArticleAction.SUBMIT: ActionRule(frozenset({ArticleStatus.DRAFT}), ArticleStatus.IN_REVIEW),
    ArticleAction.REQUEST_CHANGES: ActionRule(
        frozenset({ArticleStatus.IN_REVIEW}), ArticleStatus.DRAFT
    ),
    ArticleAction.PUBLISH: ActionRule(
        frozenset({ArticleStatus.IN_REVIEW}), ArticleStatus.PUBLISHED
    ),
    ArticleAction.UNPUBLISH: ActionRule(frozenset({ArticleStatus.PUBLISHED}), ArticleStatus.DRAFT),
    ArticleAction.RETIRE: ActionRule(
        frozenset({ArticleStatus.DRAFT, ArticleStatus.IN_REVIEW, ArticleStatus.PUBLISHED}),
        ArticleStatus.RETIRED,
    ),
    ArticleAction.REVISE: ActionRule(frozenset({ArticleStatus.RETIRED}), ArticleStatus.DRAFT),
}

# Where the text may be edited (and an old version restored); a retired article is revised first.
EDITABLE_STATUSES: Final = frozenset(
    {ArticleStatus.DRAFT, ArticleStatus.IN_REVIEW, ArticleStatus.PUBLISHED}
)


def allowed_actions(status: str) -> list[ArticleAction]:
    """The lifecycle actions allowed in `status`, in table order."""
    return [action for action, rule in LIFECYCLE.items() if status in rule.from_statuses]
