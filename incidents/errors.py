"""Domain errors of incident management, with stable codes the API returns."""

from enum import StrEnum

from itsm.errors import ConflictError, ForbiddenError, InvalidInputError, PreconditionFailedError


class IncidentErrorCode(StrEnum):
    INVALID_TRANSITION = "invalid_transition"
    REOPEN_WINDOW_PASSED = "reopen_window_passed"
    STALE_VERSION = "stale_version"
    NOT_ALLOWED = "not_allowed"
    NO_ESCALATION_TARGET = "no_escalation_target"
    INVALID_ASSIGNMENT = "invalid_assignment"


class InvalidTransitionError(ConflictError):
    """The action is not allowed in the incident's current status (HTTP 409)."""

    default_code = IncidentErrorCode.INVALID_TRANSITION


class TransitionRequirementError(InvalidInputError):
    """The action lacks what it needs, e.g. a resolution code (HTTP 400, naming the field)."""


class StaleIncidentError(PreconditionFailedError):
    """The client's If-Match names an older version of the incident (HTTP 412)."""

    default_code = IncidentErrorCode.STALE_VERSION


class IncidentActionForbiddenError(ForbiddenError):
    """The member's role allows the action, but not on this incident (HTTP 403)."""

    default_code = IncidentErrorCode.NOT_ALLOWED
