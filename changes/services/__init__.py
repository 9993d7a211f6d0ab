"""Every write to a change, split by concern; import the services from here.

base.py       the lock, the version, the one status writer, grants revoked, blackout refusal
recording.py  create (also from a template), edit while prepared, the risk assessment
lifecycle.py  submit, schedule (standard), start, complete, close, cancel
approvals.py  request approval (grants the board), approve, reject
links.py      problems and known errors fixed, incidents caused; resolving fixed problems
config.py     change templates, CAB members, approval rules
"""

from changes.services.approvals import (
    Decided,
    change_approve,
    change_reject,
    change_request_approval,
)
from changes.services.config import (
    approval_rule_create,
    approval_rule_delete,
    approval_rule_update,
    cab_member_add,
    cab_member_remove,
    template_create,
    template_delete,
    template_update,
)
from changes.services.lifecycle import (
    Scheduled,
    change_cancel,
    change_close,
    change_complete,
    change_schedule,
    change_start,
    change_submit,
)
from changes.services.links import (
    LinkResult,
    change_create_fixing,
    change_link_problems,
    change_record_incidents,
    change_unlink_problems,
    change_unrecord_incidents,
)
from changes.services.recording import (
    EDITABLE_FIELDS,
    change_assess_risk,
    change_create,
    change_create_from_template,
    change_update,
)

__all__ = [
    "EDITABLE_FIELDS",
    "Decided",
    "LinkResult",
    "Scheduled",
    "approval_rule_create",
    "approval_rule_delete",
    "approval_rule_update",
    "cab_member_add",
    "cab_member_remove",
    "change_approve",
    "change_assess_risk",
    "change_cancel",
    "change_close",
    "change_complete",
    "change_create",
    "change_create_fixing",
    "change_create_from_template",
    "change_link_problems",
    "change_record_incidents",
    "change_reject",
    "change_request_approval",
    "change_schedule",
    "change_start",
    "change_submit",
    "change_unlink_problems",
    "change_unrecord_incidents",
    "change_update",
    "template_create",
    "template_delete",
    "template_update",
]
