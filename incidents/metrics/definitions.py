"""The incident metrics and their exact rules, as users read them on the dashboard and in the
API. The rules name the stored fact each figure is computed from; `facts` implements them.

Who is counted: every figure counts the incidents whose own event falls in the period (days in
the tenant's time zone): created in it (volume, channel, detection), acknowledged in it,
resolved in it, closed in it. An incident created before the period and resolved inside it
counts for the resolution figures, not for the volume. Filters apply to the incident as it is
now: its service, category, priority and the team it is assigned to.
"""

from __future__ import annotations

from itsm.metrics.registry import MetricDefinition

INCIDENTS, SLA = "incidents", "sla"

VOLUME = MetricDefinition(
    key="volume",
    label="Incident volume",
    unit="count",
    section=INCIDENTS,
    definition=(
        "Incidents created in the period, by severity (priority as it is now), per day or "
        "week. Cancelled incidents count: they reached the service desk."
    ),
)
MTTD = MetricDefinition(
    key="mttd",
    label="Mean time to detect (MTTD)",
    unit="seconds",
    section=INCIDENTS,
    definition=(
        "From occurrence (when the fault began, where it was recorded) to detection, for "
        "incidents created in the period. Incidents without an occurrence time, or with one "
        "after their detection, are left out."
    ),
)
MTTA = MetricDefinition(
    key="mtta",
    label="Mean time to acknowledge (MTTA)",
    unit="seconds",
    section=INCIDENTS,
    definition=(
        "From creation to the first acknowledgement, for incidents acknowledged in the period. "
        "Unacknowledged incidents are left out (they show in the backlog)."
    ),
)
MTTR = MetricDefinition(
    key="mttr",
    label="Mean time to resolve (MTTR)",
    unit="seconds",
    section=INCIDENTS,
    definition=(
        "From creation to resolution, for incidents resolved in the period; a reopened incident "
        "counts once, at its last resolution, and not while it is open again. Wall-clock time: "
        "time on hold counts (the SLA figures leave paused time out)."
    ),
)
TIME_TO_CLOSE = MetricDefinition(
    key="time_to_close",
    label="Mean time to close",
    unit="seconds",
    section=INCIDENTS,
    definition=(
        "From creation to closure, for incidents closed in the period: resolution plus the "
        "time the caller had to confirm. Cancelled incidents are left out."
    ),
)
MTBF = MetricDefinition(
    key="mtbf",
    label="Mean time between failures (MTBF)",
    unit="seconds",
    section=INCIDENTS,
    definition=(
        "For the SEV1 and SEV2 incidents that started in the period (start: the occurrence "
        "time, else the detection time, else creation; cancelled ones left out), sorted by "
        "start: the mean gap between consecutive starts, which is (last start - first start) "
        "÷ (starts - 1). Per service; the headline takes all services together. Fewer than "
        "two starts: no figure."
    ),
)
ESCALATION_RATE = MetricDefinition(
    key="escalation_rate",
    label="Escalation rate",
    unit="ratio",
    section=INCIDENTS,
    definition=(
        "Of the incidents resolved in the period, the share escalated at least once; "
        "functional escalations (to another tier or a specialist team) and hierarchical ones "
        "(management engaged) are counted separately, and an incident with both counts once "
        "in the total."
    ),
)
FIRST_CONTACT_RATE = MetricDefinition(
    key="first_contact_rate",
    label="First-contact resolution rate",
    unit="ratio",
    section=INCIDENTS,
    definition=(
        "Of the incidents resolved in the period, the share resolved by the first-line (L1) "
        "team without escalation, reassignment or reopening."
    ),
)
FIRST_ASSIGNMENT_RATE = MetricDefinition(
    key="first_assignment_rate",
    label="First-assignment resolution rate",
    unit="ratio",
    section=INCIDENTS,
    definition=(
        "Of the incidents resolved in the period, the share resolved by the first team and "
        "person they were assigned to: never reassigned and never escalated functionally, "
        "whatever the tier."
    ),
)
DETECTION_SOURCE = MetricDefinition(
    key="detection_source",
    label="Monitoring-detected share",
    unit="ratio",
    section=INCIDENTS,
    definition=(
        "Of the incidents created in the period that monitoring detected or a customer "
        "reported (user report, phone, portal, chat, e-mail), the share monitoring detected. "
        "Proactive incidents (found by staff) are counted apart."
    ),
)
REOPEN_RATE = MetricDefinition(
    key="reopen_rate",
    label="Reopen rate",
    unit="ratio",
    section=INCIDENTS,
    definition=(
        "Of the incidents resolved in the period, the share reopened at least once before "
        "that resolution. An incident open again after reopening counts when it is resolved "
        "again."
    ),
)
BACKLOG = MetricDefinition(
    key="backlog",
    label="Backlog",
    unit="count",
    section=INCIDENTS,
    definition=(
        "Incidents open now (new, in progress or on hold), by age since creation; a snapshot "
        "of the present, whatever the period."
    ),
)
BACKLOG_AGE = MetricDefinition(
    key="backlog_age",
    label="Backlog age",
    unit="seconds",
    section=INCIDENTS,
    definition="The age of the incidents open now: from creation until now.",
)
SLA_COMPLIANCE = MetricDefinition(
    key="sla_compliance",
    label="SLA compliance",
    unit="ratio",
    section=SLA,
    definition=(
        "Of the SLA clocks (response and resolution) whose outcome fell in the period, the "
        "share met: a clock is breached when it passed its target (counted on the day of the "
        "breach), met when it stopped in time (counted on the day it stopped). The clocks of a "
        "cancelled incident count only if they breached. Per policy and priority; business "
        "hours and pauses as the policy says."
    ),
)

DEFINITIONS = (
    VOLUME,
    MTTD,
    MTTA,
    MTTR,
    TIME_TO_CLOSE,
    MTBF,
    ESCALATION_RATE,
    FIRST_CONTACT_RATE,
    FIRST_ASSIGNMENT_RATE,
    DETECTION_SOURCE,
    REOPEN_RATE,
    BACKLOG,
    BACKLOG_AGE,
    SLA_COMPLIANCE,
)
