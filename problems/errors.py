"""Domain errors of problem management, with stable codes the API returns."""

from enum import StrEnum

from itsm.errors import ConflictError, InvalidInputError, PreconditionFailedError


class ProblemErrorCode(StrEnum):
    INVALID_TRANSITION = "invalid_transition"
    STALE_VERSION = "stale_version"
    NOT_EDITABLE = "not_editable"
    ALREADY_LINKED = "already_linked"
    KNOWN_ERROR_NOT_READY = "known_error_not_ready"
    NOT_RESOLVED = "problem_not_resolved"


class InvalidProblemTransitionError(ConflictError):
    """The action is not allowed in the record's current status (HTTP 409)."""

    default_code = ProblemErrorCode.INVALID_TRANSITION


class ProblemRequirementError(InvalidInputError):
    """The action lacks what it needs, e.g. a root cause (HTTP 400, naming the field)."""


class StaleProblemError(PreconditionFailedError):
    """The client's If-Match names an older version of the record (HTTP 412)."""

    default_code = ProblemErrorCode.STALE_VERSION
