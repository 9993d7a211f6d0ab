"""Domain errors of the knowledge base, with stable codes the API returns."""

from enum import StrEnum

from itsm.errors import ConflictError, InvalidInputError, PreconditionFailedError


class ArticleErrorCode(StrEnum):
    INVALID_TRANSITION = "invalid_transition"
    NOT_EDITABLE = "not_editable"
    NOT_PUBLISHED = "not_published"
    STALE_VERSION = "stale_version"
    INVALID_INPUT = "invalid"


class InvalidArticleTransitionError(ConflictError):
    """The action is not allowed in the article's current status (HTTP 409)."""

    default_code = ArticleErrorCode.INVALID_TRANSITION


class ArticleNotEditableError(ConflictError):
    """The article's status forbids editing its text, e.g. retired (HTTP 409)."""

    default_code = ArticleErrorCode.NOT_EDITABLE


class ArticleNotPublishedError(ConflictError):
    """Feedback is for published articles only (HTTP 409)."""

    default_code = ArticleErrorCode.NOT_PUBLISHED


class ArticleInputError(InvalidInputError):
    """The input breaks a knowledge-base rule, naming the field (HTTP 400)."""


class StaleArticleError(PreconditionFailedError):
    """The client's If-Match names an older version of the article (HTTP 412)."""

    default_code = ArticleErrorCode.STALE_VERSION
