"""Domain errors of change management, with stable codes the API returns."""

from enum import StrEnum

from itsm.errors import ConflictError, InvalidInputError, PreconditionFailedError


class ChangeErrorCode(StrEnum):
    INVALID_TRANSITION = "invalid_transition"
    STALE_VERSION = "stale_version"
    NOT_EDITABLE = "not_editable"
    ALREADY_DECIDED = "already_decided"
    BLACKOUT = "blackout_window"
    ALREADY_LINKED = "already_linked"


class InvalidChangeTransitionError(ConflictError):
    """The action is not allowed in the change's status or for its type (HTTP 409)."""

    default_code = ChangeErrorCode.INVALID_TRANSITION


class ChangeRequirementError(InvalidInputError):
    """The action lacks what it needs, e.g. a backout plan (HTTP 400, naming the field)."""


class ChangeConflictError(ConflictError):
    """The change cannot go ahead as it is, e.g. in a blackout window (HTTP 409)."""


class StaleChangeError(PreconditionFailedError):
    """The client's If-Match names an older version of the change (HTTP 412)."""

    default_code = ChangeErrorCode.STALE_VERSION
