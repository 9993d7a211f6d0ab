"""Every write to a problem or known error, split by concern; import the services from here.

base.py          the lock, the version, and the one transition helper
recording.py     create, edit (affected services, owner, review date)
lifecycle.py     investigate, identify root cause, start fix, reinvestigate, resolve, close,
                 reopen, cancel
links.py         link and unlink incidents in bulk, hold them, tell and resolve them
known_errors.py  known errors: create, edit, publish, retire
suggestions.py   trend analysis runs and their problem suggestions; accept, merge, dismiss
knowledge.py     articles linked to problems and known errors; a workaround or an article
                 applied on an incident while diagnosing it
"""

from problems.services.knowledge import (
    Applied,
    ArticleLinkResult,
    articles_link,
    knowledge_apply,
)
from problems.services.known_errors import (
    KNOWN_ERROR_EDITABLE_FIELDS,
    known_error_create,
    known_error_publish,
    known_error_retire,
    known_error_update,
)
from problems.services.lifecycle import (
    problem_cancel,
    problem_close,
    problem_identify_root_cause,
    problem_investigate,
    problem_reinvestigate,
    problem_reopen,
    problem_resolve,
    problem_start_fix,
)
from problems.services.links import (
    LinkResult,
    RowResult,
    problem_link_incidents,
    problem_resolve_linked_incidents,
    problem_unlink_incidents,
)
from problems.services.recording import EDITABLE_FIELDS, problem_create, problem_update
from problems.services.suggestions import (
    suggestion_accept,
    suggestion_dismiss,
    suggestion_merge,
    trend_run_execute,
    trend_run_request,
)

__all__ = [
    "EDITABLE_FIELDS",
    "KNOWN_ERROR_EDITABLE_FIELDS",
    "Applied",
    "ArticleLinkResult",
    "LinkResult",
    "RowResult",
    "articles_link",
    "knowledge_apply",
    "known_error_create",
    "known_error_publish",
    "known_error_retire",
    "known_error_update",
    "problem_cancel",
    "problem_close",
    "problem_create",
    "problem_identify_root_cause",
    "problem_investigate",
    "problem_link_incidents",
    "problem_reinvestigate",
    "problem_reopen",
    "problem_resolve",
    "problem_resolve_linked_incidents",
    "problem_start_fix",
    "problem_unlink_incidents",
    "problem_update",
    "suggestion_accept",
    "suggestion_dismiss",
    "suggestion_merge",
    "trend_run_execute",
    "trend_run_request",
]
