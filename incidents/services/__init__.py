"""Every write to an incident, split by concern; import the services from here.

base.py         the lock, the version, and the one transition helper
recording.py    create, edit, re-prioritise, comment
routing.py      assign, escalate
lifecycle.py    acknowledge, hold, resume, resolve, close, reopen, cancel, auto-close
major.py        major incidents and stakeholder updates

Each service joins its caller's transaction without a savepoint (`atomic(savepoint=False)`):
inside a request that is two round trips fewer per write, and nothing is lost, because a
service refuses before it writes and PostgreSQL aborts the whole transaction on any failed
statement anyway. A caller that carries on after a refusal (a page that shows the error, a loop
over many incidents) wraps the call in its own `transaction.atomic()`.
"""

from incidents.services.base import IncidentNumber
from incidents.services.lifecycle import (
    incident_acknowledge,
    incident_cancel,
    incident_close,
    incident_hold,
    incident_reopen,
    incident_resolve,
    incident_resume,
    incidents_close_resolved,
)
from incidents.services.major import incident_declare_major, incident_stakeholder_update
from incidents.services.recording import (
    EDITABLE_FIELDS,
    incident_change_priority,
    incident_comment,
    incident_create,
    incident_update,
)
from incidents.services.routing import incident_assign, incident_escalate

__all__ = [
    "EDITABLE_FIELDS",
    "IncidentNumber",
    "incident_acknowledge",
    "incident_assign",
    "incident_cancel",
    "incident_change_priority",
    "incident_close",
    "incident_comment",
    "incident_create",
    "incident_declare_major",
    "incident_escalate",
    "incident_hold",
    "incident_reopen",
    "incident_resolve",
    "incident_resume",
    "incident_stakeholder_update",
    "incident_update",
    "incidents_close_resolved",
]
