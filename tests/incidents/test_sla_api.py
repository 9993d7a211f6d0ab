"""SLA through the API: clocks that start with an incident and follow its lifecycle, policies
chosen by order, the sweep's thresholds, breach actions and warning mail, the list's SLA
columns, filter and ordering, compliance, the policies and calendars endpoints, and the admin.

Calendars are 24×7 unless a test says otherwise, so business time is wall-clock time and
due times can be checked to the microsecond.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.db.models import F
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_duration
from django.utils.duration import duration_string

from incidents import sla
from incidents.models import Incident, IncidentEvent, SlaClock, SlaPolicy
from itsm.calendars.models import Holiday, WorkingPeriod
from itsm.calendars.selectors import calendar_schedule
from itsm.notifications.delivery import deliveries_deliver_due
from itsm.notifications.models import Notification
from itsm.tenancy import rls
from itsm.tenancy.models import Team
from itsm.timers.models import Timer, TimerFiring
from itsm.timers.sweep import sweep
from tests.factories import (
    BusinessCalendarFactory,
    MembershipFactory,
    ServiceFactory,
    SlaPolicyFactory,
    TenantFactory,
    UserFactory,
)
from tests.incidents.conftest import make_incident
from tests.markers import platform_db

pytestmark = pytest.mark.django_db

# Default targets of the severity model, as DRF renders durations.
DEFAULT_TARGETS = {
    1: ("00:15:00", "04:00:00"),
    2: ("00:30:00", "08:00:00"),
    3: ("02:00:00", "3 00:00:00"),
    4: ("08:00:00", "5 00:00:00"),
}


def _policies_url(desk, path: str = "") -> str:
    return f"/api/v1/t/{desk.tenant.slug}/sla-policies/{path}"


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _duration(value: timedelta) -> str:
    """A duration as DRF renders it."""
    return duration_string(value)


def _parse_duration(value: str) -> timedelta:
    parsed = parse_duration(value)
    assert parsed is not None
    return parsed


def _detail(client, desk, reference: str) -> dict[str, Any]:
    response = client.get(desk.url(f"{reference}/"))
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def _by_kind(clocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {clock["kind"]: clock for clock in clocks}


def _clocks(client, desk, reference: str) -> dict[str, dict[str, Any]]:
    """The incident's clocks as the detail shows them (ordered by kind), by kind."""
    return _by_kind(_detail(client, desk, reference)["sla_clocks"])


def _post(client, desk, incident: Incident, verb: str, body: dict[str, Any] | None = None) -> Any:
    response = client.post(desk.url(f"{incident.reference}/{verb}/"), body or {}, format="json")
    assert response.status_code == 200, response.content
    return response


def _references(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["reference"] for item in response.json()["results"]]


def _age_clock(desk, incident: Incident, kind: str, by: timedelta) -> None:
    """Move a clock back in time, as if it had started `by` earlier."""
    with rls.tenant_scope(desk.tenant.pk):
        moved = SlaClock.objects.filter(incident_id=incident.pk, kind=kind).update(
            started_at=F("started_at") - by,
            running_since=F("running_since") - by,
            due_at=F("due_at") - by,
        )
        Timer.objects.filter(
            pk__in=SlaClock.objects.filter(incident_id=incident.pk, kind=kind).values("timer_id")
        ).update(fire_at=F("fire_at") - by)
        sla.refresh_summary(incident)  # the incident's due time follows its clocks
    assert moved == 1


def _sweep_until_quiet() -> list[int]:
    """Sweep as the beat schedule would, until nothing more is due; how many fired each time."""
    fired = []
    for _ in range(10):
        fired.append(sweep().fired)
        if fired[-1] == 0:
            return fired
    raise AssertionError(f"The sweep never settled: {fired}")


def _fired_thresholds(desk, incident: Incident, kind: str) -> list[int]:
    with rls.tenant_scope(desk.tenant.pk):
        return list(
            TimerFiring.objects.filter(
                timer_id__in=SlaClock.objects.filter(incident_id=incident.pk, kind=kind).values(
                    "timer_id"
                )
            )
            .order_by("step")
            .values_list("step", flat=True)
        )


def _timeline(client, desk, incident: Incident) -> list[dict[str, Any]]:
    response = client.get(desk.url(f"{incident.reference}/timeline/"))
    assert response.status_code == 200, response.content
    events: list[dict[str, Any]] = response.json()
    return events


def _policy_rows(desk) -> list[dict[str, Any]]:
    with rls.tenant_scope(desk.tenant.pk):
        return [dict(row) for row in SlaPolicy.objects.order_by("id").values()]


# --- Clocks start with the incident --------------------------------------------------------------


def test_creating_an_incident_starts_a_response_and_a_resolution_clock(desk, api_client):
    client = api_client(desk.l1_agent)

    # When an agent records an incident at the default priority (SEV4)
    created = client.post(desk.url(), {"title": "Mail is down", "service": "email"}, format="json")

    # Then its detail shows two running clocks of the default SEV4 policy
    assert created.status_code == 201, created.content
    body = _detail(client, desk, created.json()["reference"])
    # (response first, then resolution)
    response_clock, resolution_clock = body["sla_clocks"]
    started = _dt(response_clock["started_at"])
    assert response_clock == {
        "kind": "response",
        "policy": "default-sev4",
        "state": "running",
        "target": "08:00:00",
        "started_at": response_clock["started_at"],
        "due_at": response_clock["due_at"],
        "remaining_seconds": response_clock["remaining_seconds"],
        "is_breached": False,
        "breached_at": None,
        "elapsed": "00:00:00",
        "paused_total": "00:00:00",
        "stopped_at": None,
    }
    assert resolution_clock == {
        **response_clock,
        "kind": "resolution",
        "target": "5 00:00:00",
        "due_at": resolution_clock["due_at"],
        "remaining_seconds": resolution_clock["remaining_seconds"],
    }
    # started as the incident was recorded, due a target later
    assert timedelta(0) <= _dt(body["created_at"]) - started < timedelta(seconds=5)
    assert _dt(response_clock["due_at"]) == started + timedelta(hours=8)
    assert _dt(resolution_clock["due_at"]) == started + timedelta(days=5)
    assert 8 * 3600 - 10 <= response_clock["remaining_seconds"] <= 8 * 3600
    assert 5 * 86400 - 10 <= resolution_clock["remaining_seconds"] <= 5 * 86400
    # and the list shows the sooner of the two due times
    listed = client.get(desk.url()).json()["results"]
    assert [(item["sla_due_at"], item["sla_breached"]) for item in listed] == [
        (response_clock["due_at"], False)
    ]


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"), [(1, 1, 1), (1, 2, 2), (2, 2, 3), (3, 3, 4)]
)
def test_default_policies_are_created_on_first_use(desk, api_client, impact, urgency, priority):
    # Given a tenant without any SLA policy
    admin = api_client(desk.admin)
    assert admin.get(_policies_url(desk)).json()["results"] == []

    # When an incident of the priority is recorded
    created = api_client(desk.l1_agent).post(
        desk.url(), {"title": "Mail is down", "impact": impact, "urgency": urgency}, format="json"
    )

    # Then its clocks run on that priority's default targets
    assert created.status_code == 201, created.content
    assert created.json()["priority"] == priority
    response_target, resolution_target = DEFAULT_TARGETS[priority]
    assert [
        (clock["kind"], clock["policy"], clock["target"], clock["state"])
        for clock in created.json()["sla_clocks"]
    ] == [
        ("response", f"default-sev{priority}", response_target, "running"),
        ("resolution", f"default-sev{priority}", resolution_target, "running"),
    ]
    # and the default policy now exists for the tenant to edit
    listed = admin.get(_policies_url(desk)).json()["results"]
    assert listed == [
        {
            "slug": f"default-sev{priority}",
            "name": f"Default SEV{priority}",
            "order": 1000 + priority,
            "is_active": True,
            "priorities": [priority],
            "service": None,
            "category": None,
            "response_target": response_target,
            "resolution_target": resolution_target,
            "calendar": None,
            "pause_hold_reasons": ["awaiting_caller"],
            "warning_thresholds": [50, 75, 90],
            "breach_action": "notify",
            "created_at": listed[0]["created_at"],
            "updated_at": listed[0]["updated_at"],
        }
    ]


def test_a_second_incident_reuses_the_default_policy(desk, api_client):
    client = api_client(desk.l1_agent)

    for title in ("Mail is down", "VPN drops"):
        assert client.post(desk.url(), {"title": title}, format="json").status_code == 201

    with rls.tenant_scope(desk.tenant.pk):
        assert list(SlaPolicy.objects.values_list("slug", flat=True)) == ["default-sev4"]
        assert SlaClock.objects.filter(policy__slug="default-sev4").count() == 4


def test_a_tenant_policy_takes_precedence_by_order(desk, api_client):
    admin = api_client(desk.admin)
    ServiceFactory(tenant=desk.tenant, slug="vpn")

    def add(slug: str, order: int, **conditions: Any) -> dict[str, Any]:
        response = admin.post(
            _policies_url(desk),
            {
                "slug": slug,
                "name": slug.replace("-", " ").title(),
                "order": order,
                "response_target": f"00:{order:02d}:00",
                "resolution_target": "02:00:00",
                **conditions,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        body: dict[str, Any] = response.json()
        return body

    # Given the tenant admin's policies, tried by order
    add("retired", 1, priorities=[1], is_active=False)  # inactive: skipped
    add("sev2-only", 2, priorities=[2])  # another priority: skipped
    add("sev1-software", 5, priorities=[1], category="software")
    add("sev1-vpn", 6, priorities=[1], service="vpn")
    created = add("sev1-email", 10, priorities=[1], service="email")
    add("sev1-email-later", 20, priorities=[1], service="email")
    assert created == {
        "slug": "sev1-email",
        "name": "Sev1 Email",
        "order": 10,
        "is_active": True,
        "priorities": [1],
        "service": "email",
        "category": None,
        "response_target": "00:10:00",
        "resolution_target": "02:00:00",
        "calendar": None,
        "pause_hold_reasons": ["awaiting_caller"],
        "warning_thresholds": [50, 75, 90],
        "breach_action": "notify",
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
    }
    client = api_client(desk.l1_agent)

    def policy_of(**data: Any) -> tuple[str, str]:
        response = client.post(desk.url(), {"title": "Mail is down", **data}, format="json")
        assert response.status_code == 201, response.content
        response_clock = _by_kind(response.json()["sla_clocks"])["response"]
        return response_clock["policy"], response_clock["target"]

    # Then a SEV1 on e-mail gets the first matching policy by order
    assert policy_of(impact=1, urgency=1, service="email") == ("sev1-email", "00:10:00")
    # a SEV1 on e-mail in the software category matches an earlier one
    assert policy_of(impact=1, urgency=1, service="email", category="software") == (
        "sev1-software",
        "00:05:00",
    )
    # a SEV1 on the VPN its own
    assert policy_of(impact=1, urgency=1, service="vpn") == ("sev1-vpn", "00:06:00")
    # a SEV2 on e-mail the policy for any SEV2
    assert policy_of(impact=1, urgency=2, service="email") == ("sev2-only", "00:02:00")
    # and a SEV1 that no tenant policy matches the default
    assert policy_of(impact=1, urgency=1) == ("default-sev1", "00:15:00")


def test_editing_a_policy_keeps_running_clocks_on_their_targets(desk, api_client):
    # Given an incident running on the default SEV4 policy
    first = make_incident(desk)
    admin = api_client(desk.admin)

    # When the tenant admin shortens the default response target
    edited = admin.patch(
        _policies_url(desk, "default-sev4/"), {"response_target": "04:00:00"}, format="json"
    )

    # Then the running clock keeps its target and the next incident gets the new one
    assert edited.status_code == 200, edited.content
    assert edited.json()["response_target"] == "04:00:00"
    second = make_incident(desk)
    agent = api_client(desk.l1_agent)
    assert _clocks(agent, desk, first.reference)["response"]["target"] == "08:00:00"
    assert _clocks(agent, desk, second.reference)["response"]["target"] == "04:00:00"


# --- Clocks follow the lifecycle ----------------------------------------------------------------


def test_acknowledge_stops_the_response_clock(desk, api_client):
    incident = make_incident(desk)
    client = api_client(desk.l1_agent)
    before = _clocks(client, desk, incident.reference)

    # When the agent acknowledges the incident
    _post(client, desk, incident, "acknowledge")

    # Then the response clock stops, met, and the resolution clock runs on unchanged
    clocks = _clocks(client, desk, incident.reference)
    response_clock = clocks["response"]
    stopped_at = _dt(response_clock["stopped_at"])
    assert (response_clock["state"], response_clock["is_breached"], response_clock["due_at"]) == (
        "stopped",
        False,
        before["response"]["due_at"],
    )
    assert response_clock["elapsed"] == _duration(stopped_at - _dt(response_clock["started_at"]))
    assert clocks["resolution"]["state"] == "running"
    assert clocks["resolution"]["due_at"] == before["resolution"]["due_at"]
    with rls.tenant_scope(desk.tenant.pk):
        acknowledged_at = Incident.objects.get(pk=incident.pk).acknowledged_at
    assert acknowledged_at is not None
    assert timedelta(0) <= stopped_at - acknowledged_at < timedelta(seconds=5)


def test_hold_awaiting_caller_pauses_and_resume_moves_the_due_time_by_the_pause(desk, api_client):
    # Given an acknowledged incident
    incident = make_incident(desk, state="in_progress")
    client = api_client(desk.l1_agent)
    running = _clocks(client, desk, incident.reference)["resolution"]

    # When it waits for the caller
    _post(client, desk, incident, "hold", {"hold_reason": "awaiting_caller"})

    # Then the resolution clock pauses and has no due time
    paused = _clocks(client, desk, incident.reference)["resolution"]
    assert (paused["state"], paused["due_at"], paused["paused_total"]) == (
        "paused",
        None,
        "00:00:00",
    )
    assert paused["elapsed"] != "00:00:00"
    listed = client.get(desk.url()).json()["results"]
    assert [item["sla_due_at"] for item in listed] == [None]

    # When it resumes
    _post(client, desk, incident, "resume")

    # Then it runs again, due later than before by exactly the time it spent paused
    resumed = _clocks(client, desk, incident.reference)["resolution"]
    paused_for = _dt(resumed["due_at"]) - _dt(running["due_at"])
    assert resumed["state"] == "running"
    assert paused_for > timedelta(0)
    assert resumed["paused_total"] == _duration(paused_for)
    assert resumed["elapsed"] == paused["elapsed"]
    assert _dt(resumed["due_at"]) == _dt(resumed["started_at"]) + timedelta(days=5) + paused_for
    # the response clock stopped at acknowledgement and stays stopped
    assert _clocks(client, desk, incident.reference)["response"]["state"] == "stopped"


def test_hold_awaiting_vendor_does_not_pause_under_the_default_policy(desk, api_client):
    incident = make_incident(desk, state="in_progress")
    client = api_client(desk.l1_agent)
    before = _clocks(client, desk, incident.reference)["resolution"]

    # When the incident waits for a vendor (the default policy pauses for the caller only)
    _post(client, desk, incident, "hold", {"hold_reason": "awaiting_vendor"})

    # Then the resolution clock keeps running towards the same due time
    after = _clocks(client, desk, incident.reference)["resolution"]
    assert (after["state"], after["due_at"], after["paused_total"]) == (
        "running",
        before["due_at"],
        "00:00:00",
    )
    listed = client.get(desk.url()).json()["results"]
    assert [item["sla_due_at"] for item in listed] == [before["due_at"]]


def test_a_policy_may_pause_for_other_hold_reasons(desk, api_client):
    # Given a policy that pauses while waiting for a vendor, not for the caller
    SlaPolicyFactory(
        tenant=desk.tenant, slug="vendor-pause", pause_hold_reasons=["awaiting_vendor"]
    )
    waiting_for_vendor = make_incident(desk, state="in_progress")
    waiting_for_caller = make_incident(desk, state="in_progress")
    client = api_client(desk.l1_agent)

    _post(client, desk, waiting_for_vendor, "hold", {"hold_reason": "awaiting_vendor"})
    _post(client, desk, waiting_for_caller, "hold", {"hold_reason": "awaiting_caller"})

    vendor = _clocks(client, desk, waiting_for_vendor.reference)["resolution"]
    caller = _clocks(client, desk, waiting_for_caller.reference)["resolution"]
    assert (vendor["policy"], vendor["state"], vendor["due_at"]) == ("vendor-pause", "paused", None)
    assert (caller["policy"], caller["state"]) == ("vendor-pause", "running")


def test_resolve_stops_and_reopen_continues_the_resolution_clock(desk, api_client):
    incident = make_incident(desk, state="in_progress")
    client = api_client(desk.l1_agent)

    # When the incident is resolved
    _post(
        client,
        desk,
        incident,
        "resolve",
        {"resolution_code": "fixed", "resolution_notes": "Restarted the relay."},
    )

    # Then both clocks stop
    resolved = _clocks(client, desk, incident.reference)
    assert [(kind, clock["state"]) for kind, clock in resolved.items()] == [
        ("response", "stopped"),
        ("resolution", "stopped"),
    ]
    listed = client.get(desk.url()).json()["results"]
    assert [item["sla_due_at"] for item in listed] == [None]
    used = resolved["resolution"]["elapsed"]
    assert used != "00:00:00"

    # When it is reopened
    _post(client, desk, incident, "reopen", {"reason": "Mail is down again."})

    # Then the resolution clock continues from the time already used (not from zero)
    reopened = _clocks(client, desk, incident.reference)
    resolution = reopened["resolution"]
    assert (resolution["state"], resolution["stopped_at"], resolution["elapsed"]) == (
        "running",
        None,
        used,
    )
    assert resolution["started_at"] == resolved["resolution"]["started_at"]
    expected_remaining = (timedelta(days=5) - _parse_duration(used)).total_seconds()
    assert expected_remaining - 10 <= resolution["remaining_seconds"] <= expected_remaining
    # due a target after the reopening, less what was used
    reopened_at = _dt(resolution["due_at"]) - timedelta(days=5) + _parse_duration(used)
    assert (
        timedelta(0)
        <= reopened_at - _dt(resolved["resolution"]["stopped_at"])
        < timedelta(seconds=10)
    )
    # the response clock was met at acknowledgement and stays stopped
    assert reopened["response"] == {
        **resolved["response"],
        "remaining_seconds": reopened["response"]["remaining_seconds"],
    }


def test_change_priority_reselects_the_policy_and_keeps_the_elapsed_time(desk, api_client):
    # Given a SEV4 incident whose response was met
    incident = make_incident(desk, state="in_progress")
    client = api_client(desk.l1_agent)
    before = _clocks(client, desk, incident.reference)

    # When it is re-rated to SEV1
    changed = _post(
        client,
        desk,
        incident,
        "change-priority",
        {"impact": 1, "urgency": 1, "reason": "The whole company is affected."},
    )

    # Then the running resolution clock moves to the SEV1 policy, due 4 h after it started
    assert changed.json()["priority"] == 1
    after = _clocks(client, desk, incident.reference)
    resolution = after["resolution"]
    assert (resolution["policy"], resolution["target"], resolution["state"]) == (
        "default-sev1",
        "04:00:00",
        "running",
    )
    assert resolution["started_at"] == before["resolution"]["started_at"]
    assert _dt(resolution["due_at"]) == _dt(resolution["started_at"]) + timedelta(hours=4)
    # the time it had run is kept (caught up to the change), not reset
    assert resolution["elapsed"] != "00:00:00"
    assert _parse_duration(resolution["elapsed"]) < timedelta(seconds=10)
    # the stopped response clock keeps the policy it was met under
    assert after["response"] == {
        **before["response"],
        "remaining_seconds": after["response"]["remaining_seconds"],
    }


def test_change_priority_of_a_new_incident_moves_both_clocks(desk, api_client):
    incident = make_incident(desk)
    client = api_client(desk.l1_agent)

    _post(
        client,
        desk,
        incident,
        "change-priority",
        {"impact": 1, "urgency": 2, "reason": "Many users are affected."},
    )

    clocks = _clocks(client, desk, incident.reference)
    started = _dt(clocks["response"]["started_at"])
    assert [
        (kind, clock["policy"], clock["target"], _dt(clock["due_at"]) - started)
        for kind, clock in clocks.items()
    ] == [
        ("response", "default-sev2", "00:30:00", timedelta(minutes=30)),
        ("resolution", "default-sev2", "08:00:00", timedelta(hours=8)),
    ]
    listed = client.get(desk.url()).json()["results"]
    assert [item["sla_due_at"] for item in listed] == [clocks["response"]["due_at"]]


def test_change_priority_while_paused_keeps_the_clock_paused(desk, api_client):
    incident = make_incident(desk, state="on_hold")  # awaiting the caller: paused
    client = api_client(desk.l1_agent)

    _post(
        client,
        desk,
        incident,
        "change-priority",
        {"impact": 1, "urgency": 1, "reason": "The whole company is affected."},
    )

    resolution = _clocks(client, desk, incident.reference)["resolution"]
    assert (resolution["policy"], resolution["target"], resolution["state"]) == (
        "default-sev1",
        "04:00:00",
        "paused",
    )
    assert resolution["due_at"] is None

    # and resuming plans the new target: start + 4 h + the time spent paused
    _post(client, desk, incident, "resume")
    resumed = _clocks(client, desk, incident.reference)["resolution"]
    assert _dt(resumed["due_at"]) == (
        _dt(resumed["started_at"]) + timedelta(hours=4) + _parse_duration(resumed["paused_total"])
    )


# --- The sweep --------------------------------------------------------------------------------


@platform_db
def test_a_breach_fires_every_threshold_once_in_successive_sweeps(desk, api_client):
    # Given a new SEV4 incident whose response clock started 9 h ago (target 8 h)
    incident = make_incident(desk)
    _age_clock(desk, incident, "response", timedelta(hours=9))

    # When the sweep runs until nothing more is due
    fired = _sweep_until_quiet()

    # Then the warnings and the breach fired once each, in order
    assert sum(fired) == 4
    assert _fired_thresholds(desk, incident, "response") == [50, 75, 90, 100]
    assert _fired_thresholds(desk, incident, "resolution") == []
    client = api_client(desk.l1_agent)
    sla_events = [
        (event["kind"], event["actor"], event["is_public"], event["data"])
        for event in _timeline(client, desk, incident)
        if event["kind"] == "sla"
    ]
    response_clock = _clocks(client, desk, incident.reference)["response"]
    due_at = _dt(response_clock["due_at"]).isoformat()
    assert sla_events == [
        (
            "sla",
            None,
            False,
            {
                "clock": "response",
                "threshold": threshold,
                "breach": threshold == 100,
                "due_at": due_at,
            },
        )
        for threshold in (50, 75, 90, 100)
    ]
    # the clock breached when it was due, and is an hour overdue
    assert (response_clock["state"], response_clock["is_breached"]) == ("running", True)
    assert response_clock["breached_at"] == response_clock["due_at"]
    assert -3600 - 10 <= response_clock["remaining_seconds"] <= -3600
    # and sweeping again fires nothing more
    assert sweep().fired == 0


@platform_db
def test_one_sweep_call_can_fire_every_due_threshold(desk):
    incident = make_incident(desk)
    _age_clock(desk, incident, "response", timedelta(hours=9))

    result = sweep(batch_size=1)

    assert (result.fired, result.skipped) == (4, 0)
    assert _fired_thresholds(desk, incident, "response") == [50, 75, 90, 100]


@platform_db
def test_only_the_thresholds_passed_fire(desk, api_client):
    # Given a response clock 5 h into its 8 h target: past 50 %, before 75 %
    incident = make_incident(desk)
    _age_clock(desk, incident, "response", timedelta(hours=5))

    assert _sweep_until_quiet() == [1, 0]

    assert _fired_thresholds(desk, incident, "response") == [50]
    response_clock = _clocks(api_client(desk.l1_agent), desk, incident.reference)["response"]
    assert (response_clock["is_breached"], response_clock["breached_at"]) == (False, None)
    with rls.tenant_scope(desk.tenant.pk):
        clock = SlaClock.objects.select_related("timer").get(
            incident_id=incident.pk, kind="response"
        )
    assert (clock.timer.step, clock.timer.fire_at) == (
        75,
        clock.started_at + timedelta(hours=6),
    )


def _policy_with_action(desk, action: str) -> SlaPolicy:
    """A policy for every incident, tried before the defaults, with the given breach action."""
    return SlaPolicyFactory(
        tenant=desk.tenant,
        slug=f"on-breach-{action}",
        name=f"On breach {action}",
        order=10,
        breach_action=action,
        response_target=timedelta(minutes=30),
    )


def _breach_response(desk, incident: Incident) -> None:
    _age_clock(desk, incident, "response", timedelta(hours=1))
    assert sum(_sweep_until_quiet()) == 4


@platform_db
def test_breach_with_escalate_moves_the_incident_to_the_next_tier(desk, api_client):
    _policy_with_action(desk, "escalate")
    incident = make_incident(desk)  # on team l1, escalating to l2

    _breach_response(desk, incident)

    client = api_client(desk.l1_agent)
    body = _detail(client, desk, incident.reference)
    assert (
        body["assignment_team"],
        body["assignee"],
        body["escalation_count"],
        body["management_engaged_at"],
        body["status"],
    ) == ("l2", None, 1, None, "new")
    escalation = _timeline(client, desk, incident)[-1]
    assert (escalation["kind"], escalation["actor"], escalation["body"], escalation["data"]) == (
        "escalation",
        None,
        "The response target of On breach escalate was breached.",
        {"kind": "functional", "from_team": "l1", "to_team": "l2"},
    )
    assert body["sla_breached"] is True


@platform_db
def test_breach_with_engage_management_engages_management(desk, api_client):
    _policy_with_action(desk, "engage_management")
    incident = make_incident(desk)

    _breach_response(desk, incident)

    client = api_client(desk.l1_agent)
    body = _detail(client, desk, incident.reference)
    assert (body["assignment_team"], body["escalation_count"]) == ("l1", 1)
    assert body["management_engaged_at"] is not None
    engaged_at = _dt(body["management_engaged_at"])
    assert timedelta(0) <= timezone.now() - engaged_at < timedelta(seconds=30)
    escalation = _timeline(client, desk, incident)[-1]
    assert (escalation["kind"], escalation["actor"], escalation["data"]) == (
        "escalation",
        None,
        {"kind": "hierarchical", "management_teams": ["management"]},
    )


@platform_db
def test_breach_with_notify_changes_no_routing(desk, api_client):
    _policy_with_action(desk, "notify")
    incident = make_incident(desk)

    _breach_response(desk, incident)

    client = api_client(desk.l1_agent)
    body = _detail(client, desk, incident.reference)
    assert (
        body["assignment_team"],
        body["escalation_count"],
        body["management_engaged_at"],
        body["sla_breached"],
    ) == ("l1", 0, None, True)
    assert [event["kind"] for event in _timeline(client, desk, incident)] == [
        "created",
        "assignment",
        "sla",
        "sla",
        "sla",
        "sla",
    ]


@platform_db
def test_stopped_clocks_fire_nothing(desk):
    # Given an escalating policy and an incident resolved in time whose targets have since passed
    _policy_with_action(desk, "escalate")
    incident = make_incident(desk, state="resolved")
    for kind in ("response", "resolution"):
        _age_clock(desk, incident, kind, timedelta(days=1))
    with rls.tenant_scope(desk.tenant.pk):
        before = Incident.objects.filter(pk=incident.pk).values().get()

    # When the sweep runs, nothing is due: a stopped clock has no next threshold
    assert sweep().fired == 0

    assert _fired_thresholds(desk, incident, "response") == []
    assert _fired_thresholds(desk, incident, "resolution") == []
    with rls.tenant_scope(desk.tenant.pk):
        assert Incident.objects.filter(pk=incident.pk).values().get() == before


@platform_db
def test_warnings_and_the_breach_mail_the_assignee_and_team(
    desk, api_client, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Given team l1 with its own address and an incident assigned to lena-l1 on it
    with rls.tenant_scope(desk.tenant.pk):
        Team.objects.filter(pk=desk.l1.pk).update(email="l1@acme.example")
    incident = make_incident(desk, assignee=desk.l1_agent)
    deliveries_deliver_due(tenant_id=desk.tenant.pk)  # the assignment's own mail, already sent
    mail.outbox.clear()
    headline = f"[{incident.reference}] Mail is down"

    def sent() -> list[tuple[str, list[str]]]:
        return sorted((str(message.subject), message.to) for message in mail.outbox)

    def each(subject: str) -> list[tuple[str, list[str]]]:
        return [(subject, ["l1@acme.example"]), (subject, ["lena-l1@example.com"])]

    # When the response clock passes 50 % of its target
    _age_clock(desk, incident, "response", timedelta(hours=5))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert sweep().fired == 1

    # Then the assignee and the team hear of it, once each
    assert len(callbacks) == 1
    assert sent() == each(f"SLA warning: 50% of the response target used: {headline}")
    with rls.tenant_scope(desk.tenant.pk):
        due_at = SlaClock.objects.get(incident_id=incident.pk, kind="response").due_at
    assert due_at is not None
    assert mail.outbox[0].body.startswith(f"Due at {due_at.isoformat()}.\n\n")

    # When it breaches
    mail.outbox.clear()
    _age_clock(desk, incident, "response", timedelta(hours=4))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _sweep_until_quiet()

    # Then they hear of each remaining warning and of the breach
    assert len(callbacks) == 3
    assert sent() == sorted(
        [
            *each(f"SLA warning: 75% of the response target used: {headline}"),
            *each(f"SLA warning: 90% of the response target used: {headline}"),
            *each(f"SLA BREACHED (response): {headline}"),
        ]
    )


@platform_db
def test_a_late_stop_records_the_breach_without_a_sweep(desk, api_client):
    # Given a response clock an hour past its target that no sweep has looked at
    _policy_with_action(desk, "escalate")
    incident = make_incident(desk)
    _age_clock(desk, incident, "response", timedelta(hours=1))

    # When the agent acknowledges it
    client = api_client(desk.l1_agent)
    _post(client, desk, incident, "acknowledge")

    # Then the breach counts, at the due time, and no breach action runs
    response_clock = _clocks(client, desk, incident.reference)["response"]
    assert (response_clock["state"], response_clock["is_breached"]) == ("stopped", True)
    assert response_clock["breached_at"] == response_clock["due_at"]
    assert _fired_thresholds(desk, incident, "response") == [100]
    body = _detail(client, desk, incident.reference)
    assert (body["assignment_team"], body["escalation_count"], body["sla_breached"]) == (
        "l1",
        0,
        True,
    )
    assert sweep().fired == 0
    # and the breach is history on the timeline, not an alert to the team
    with rls.tenant_scope(desk.tenant.pk):
        [entry] = IncidentEvent.objects.filter(incident_id=incident.pk, kind="sla")
        breach_alerts = Notification.objects.filter(event_type="incident.sla_breached").count()
    assert (entry.data["breach"], entry.data["late"], breach_alerts) == (True, True, 0)


# --- The list: SLA columns, breached filter, ordering by due time --------------------------------


@pytest.fixture
def due_spread(desk) -> dict[str, Incident]:
    """Incidents with every SLA situation, recorded in this order.

    overdue   SEV4 new, started 9 h ago      response due 1 h ago, breached
    sev1      SEV1 new                       response due in 15 min
    sev3      SEV3 new                       response due in 2 h
    sev4      SEV4 new                       response due in 8 h
    working   SEV4 in progress               resolution due in 5 days
    paused    SEV4 on hold (caller)          nothing running
    resolved  SEV4 resolved                  nothing running
    """
    overdue = make_incident(desk)
    incidents = {
        "overdue": overdue,
        "sev1": make_incident(desk, impact=1, urgency=1),
        "sev3": make_incident(desk, impact=2, urgency=2),
        "sev4": make_incident(desk),
        "working": make_incident(desk, state="in_progress"),
        "paused": make_incident(desk, state="on_hold"),
        "resolved": make_incident(desk, state="resolved"),
    }
    _age_clock(desk, overdue, "response", timedelta(hours=9))
    assert sum(_sweep_until_quiet()) == 4
    return incidents


@platform_db
def test_list_shows_the_earliest_running_due_time_and_the_breach(desk, api_client, due_spread):
    client = api_client(desk.l1_agent)

    listed = {item["reference"]: item for item in client.get(desk.url()).json()["results"]}

    def due(key: str, kind: str) -> str:
        due_at: str = _clocks(client, desk, due_spread[key].reference)[kind]["due_at"]
        return due_at

    assert {
        key: (listed[incident.reference]["sla_due_at"], listed[incident.reference]["sla_breached"])
        for key, incident in due_spread.items()
    } == {
        "overdue": (due("overdue", "response"), True),
        "sev1": (due("sev1", "response"), False),
        "sev3": (due("sev3", "response"), False),
        "sev4": (due("sev4", "response"), False),
        "working": (due("working", "resolution"), False),
        "paused": (None, False),
        "resolved": (None, False),
    }


@platform_db
def test_breached_filter(desk, api_client, due_spread):
    client = api_client(desk.l1_agent)

    breached = client.get(desk.url("?breached=true"))
    not_breached = client.get(desk.url("?breached=false"))

    assert _references(breached) == [due_spread["overdue"].reference]
    # newest first, as the list is by default
    assert _references(not_breached) == [
        due_spread[key].reference
        for key in ("resolved", "paused", "working", "sev4", "sev3", "sev1")
    ]


@platform_db
def test_ordering_by_sla_due_puts_the_soonest_first_and_nothing_running_last(
    desk, api_client, due_spread
):
    references = _references(api_client(desk.l1_agent).get(desk.url("?ordering=sla_due_at")))

    assert references[:5] == [
        due_spread[key].reference for key in ("overdue", "sev1", "sev3", "sev4", "working")
    ]
    assert sorted(references[5:]) == sorted(
        due_spread[key].reference for key in ("paused", "resolved")
    )


def _walk(client, url: str) -> list[list[str]]:
    """Every page, following the next links."""
    pages: list[list[str]] = []
    while url and len(pages) < 20:
        response = client.get(url)
        pages.append(_references(response))
        url = response.json()["next"]
    return pages


# Incidents in every state that has no running clock: many equal due times ("never").
NOTHING_RUNNING = ["resolved", "on_hold", "closed", "cancelled"] * 2


@platform_db
def test_cursor_pagination_by_sla_due_returns_every_incident_once(desk, api_client, due_spread):
    # Given ten incidents with nothing running, so that equal due times span pages
    idle = [make_incident(desk, state=state).reference for state in NOTHING_RUNNING]
    idle += [due_spread["paused"].reference, due_spread["resolved"].reference]

    # When the agent reads two at a time by due time, following the next links
    pages = _walk(api_client(desk.l1_agent), desk.url("?ordering=sla_due_at&page_size=2"))

    # Then eight pages hold every incident exactly once, the running ones soonest first
    walked = [reference for page in pages for reference in page]
    assert [len(page) for page in pages] == [2, 2, 2, 2, 2, 2, 2, 1]
    assert walked[:5] == [
        due_spread[key].reference for key in ("overdue", "sev1", "sev3", "sev4", "working")
    ]
    assert sorted(walked[5:]) == sorted(idle)
    # equal due times come in the order they were recorded
    assert walked[5:] == sorted(walked[5:], key=lambda reference: int(reference[4:]))


@platform_db
def test_descending_sla_due_pages_cover_every_incident_once(desk, api_client, due_spread):
    idle = [make_incident(desk, state=state).reference for state in NOTHING_RUNNING]
    idle += [due_spread["paused"].reference, due_spread["resolved"].reference]

    pages = _walk(api_client(desk.l1_agent), desk.url("?ordering=-sla_due_at&page_size=2"))

    walked = [reference for page in pages for reference in page]
    assert len(walked) == 15
    assert sorted(walked[:10]) == sorted(idle)
    assert walked[10:] == [
        due_spread[key].reference for key in ("working", "sev4", "sev3", "sev1", "overdue")
    ]


def test_cursor_pagination_by_priority_returns_every_incident_once(desk, api_client):
    # The same tie-breaking serves every ordering by a field with equal values.
    levels = [(1, 1), (3, 3)] * 6  # SEV1 and SEV4, six of each
    recorded = [make_incident(desk, impact=i, urgency=u) for i, u in levels]

    pages = _walk(api_client(desk.l1_agent), desk.url("?ordering=priority&page_size=2"))

    walked = [reference for page in pages for reference in page]
    by_number = sorted(recorded, key=lambda incident: incident.number)
    assert walked == [i.reference for i in by_number if i.priority == 1] + [
        i.reference for i in by_number if i.priority == 4
    ]


# --- Compliance --------------------------------------------------------------------------------


def _period(since: datetime, until: datetime) -> str:
    return "?" + urlencode({"since": _iso(since), "until": _iso(until)})


@platform_db
def test_compliance_counts_met_breached_and_running_clocks(desk, api_client):
    # Given SEV4 incidents reported today in every SLA situation
    breached = make_incident(desk)
    make_incident(desk, state="in_progress")  # response met, resolution running
    make_incident(desk, state="resolved")  # both met
    make_incident(desk)  # both running
    _age_clock(desk, breached, "response", timedelta(hours=9))
    _sweep_until_quiet()
    # and one reported three days ago, outside the period
    outside = make_incident(desk, state="resolved")
    with rls.tenant_scope(desk.tenant.pk):
        SlaClock.objects.filter(incident_id=outside.pk).update(
            started_at=F("started_at") - timedelta(days=3)
        )
    now = timezone.now()

    # When an agent asks for the compliance of the default SEV4 policy over the last two days
    response = api_client(desk.l1_agent).get(
        _policies_url(desk, "default-sev4/compliance/")
        + _period(now - timedelta(days=2), now + timedelta(minutes=1))
    )

    # Then each kind of clock is counted once
    assert response.status_code == 200, response.content
    assert response.json() == [
        {"kind": "response", "met": 2, "breached": 1, "running": 1, "rate": 0.6667},
        {"kind": "resolution", "met": 1, "breached": 0, "running": 3, "rate": 1.0},
    ]


def test_compliance_of_an_empty_period_has_no_rate(desk, api_client):
    make_incident(desk)
    since = datetime(2020, 1, 1, tzinfo=UTC)

    response = api_client(desk.l1_agent).get(
        _policies_url(desk, "default-sev4/compliance/") + _period(since, since + timedelta(days=30))
    )

    assert response.status_code == 200, response.content
    assert response.json() == [
        {"kind": "response", "met": 0, "breached": 0, "running": 0, "rate": None},
        {"kind": "resolution", "met": 0, "breached": 0, "running": 0, "rate": None},
    ]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        (
            "?" + urlencode({"until": "2026-02-01T00:00:00Z"}),
            {"since": ["This field is required."]},
        ),
        ("", {"since": ["This field is required."], "until": ["This field is required."]}),
        (
            "?" + urlencode({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}),
            {"until": ["Must be after since."]},
        ),
        (
            "?" + urlencode({"since": "2026-02-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}),
            {"until": ["Must be after since."]},
        ),
        (
            "?" + urlencode({"since": "yesterday", "until": "2026-02-01T00:00:00Z"}),
            {
                "since": [
                    (
                        "Datetime has wrong format. Use one of these formats instead: "
                        "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                    )
                ]
            },
        ),
    ],
)
def test_compliance_refuses_a_bad_period(desk, api_client, query, fields):
    make_incident(desk)

    response = api_client(desk.l1_agent).get(
        _policies_url(desk, "default-sev4/compliance/") + query
    )

    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": "Invalid input.", "fields": fields}


# --- SLA policies API: roles, tenants, validation, deletion -------------------------------------


@pytest.fixture
def gold(desk) -> SlaPolicy:
    return SlaPolicyFactory(
        tenant=desk.tenant,
        slug="gold",
        name="Gold",
        order=50,
        priorities=[1, 2],
        response_target=timedelta(minutes=10),
        resolution_target=timedelta(hours=2),
    )


NEW_POLICY = {
    "slug": "silver",
    "name": "Silver",
    "priorities": [3],
    "response_target": "01:00:00",
    "resolution_target": "1 00:00:00",
}
PERIOD = _period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
REQUESTS = {
    "list": ("get", "", None),
    "retrieve": ("get", "gold/", None),
    "compliance": ("get", f"gold/compliance/{PERIOD}", None),
    "create": ("post", "", NEW_POLICY),
    "partial_update": ("patch", "gold/", {"name": "Platinum"}),
    "destroy": ("delete", "gold/", None),
}
ALLOWED = {
    "list": 200,
    "retrieve": 200,
    "compliance": 200,
    "create": 201,
    "partial_update": 200,
    "destroy": 204,
}


def _call(client, desk, action: str) -> Any:
    method, path, body = REQUESTS[action]
    return getattr(client, method)(_policies_url(desk, path), body, format="json")


def _user(desk, who: str) -> Any:
    if who == "anonymous":
        return None
    if who == "other tenant's admin":
        other = TenantFactory(slug="globex")
        return MembershipFactory(
            tenant=other, role="tenant_admin", user=UserFactory(username="gus-globex")
        ).user
    return {
        "requester": desk.requester,
        "agent": desk.l1_agent,
        "tenant admin": desk.admin,
    }[who]


@pytest.mark.parametrize("action", list(REQUESTS))
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", dict.fromkeys(REQUESTS, 401)),
        ("other tenant's admin", dict.fromkeys(REQUESTS, 404)),
        ("requester", dict.fromkeys(REQUESTS, 403)),
        (
            "agent",
            {
                **dict.fromkeys(REQUESTS, 403),
                "list": 200,
                "retrieve": 200,
                "compliance": 200,
            },
        ),
        ("tenant admin", ALLOWED),
    ],
)
def test_policy_roles(desk, api_client, gold, who, expected, action):
    before = _policy_rows(desk)

    response = _call(api_client(_user(desk, who)), desk, action)

    assert response.status_code == expected[action], response.content
    if response.status_code >= 400 or action in ("list", "retrieve", "compliance"):
        assert _policy_rows(desk) == before  # a refusal (or a read) changes nothing


def test_admin_writes_policies(desk, api_client, gold):
    admin = api_client(desk.admin)

    created = admin.post(_policies_url(desk), NEW_POLICY, format="json")
    edited = admin.patch(
        _policies_url(desk, "gold/"),
        {"name": "Platinum", "breach_action": "escalate", "warning_thresholds": [80]},
        format="json",
    )
    deleted = admin.delete(_policies_url(desk, "silver/"))

    assert (created.status_code, edited.status_code, deleted.status_code) == (201, 200, 204)
    assert (created.json()["slug"], created.json()["resolution_target"]) == ("silver", "1 00:00:00")
    assert (
        edited.json()["name"],
        edited.json()["breach_action"],
        edited.json()["warning_thresholds"],
    ) == ("Platinum", "escalate", [80])
    with rls.tenant_scope(desk.tenant.pk):
        assert list(SlaPolicy.objects.values_list("slug", "name")) == [("gold", "Platinum")]


def test_another_tenants_policy_is_not_found(desk, api_client, gold):
    # Given the admin of another tenant
    other_admin = _user(desk, "other tenant's admin")
    client = api_client(other_admin)
    before = _policy_rows(desk)

    # When they address acme's policy through their own tenant
    responses = {
        action: getattr(client, method)(
            f"/api/v1/t/globex/sla-policies/{path}", body, format="json"
        )
        for action, (method, path, body) in REQUESTS.items()
        if path.startswith("gold/")
    }

    # Then it does not exist for them, and is unchanged
    assert {action: response.status_code for action, response in responses.items()} == {
        "retrieve": 404,
        "compliance": 404,
        "partial_update": 404,
        "destroy": 404,
    }
    assert client.get("/api/v1/t/globex/sla-policies/").json()["results"] == []
    assert _policy_rows(desk) == before


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"warning_thresholds": [100]},
            {"warning_thresholds": {"0": ["Ensure this value is less than or equal to 99."]}},
        ),
        (
            {"warning_thresholds": [50, 0]},
            {"warning_thresholds": {"1": ["Ensure this value is greater than or equal to 1."]}},
        ),
        (
            {"priorities": [5]},
            {"priorities": {"0": ["Ensure this value is less than or equal to 4."]}},
        ),
        (
            {"priorities": [0]},
            {"priorities": {"0": ["Ensure this value is greater than or equal to 1."]}},
        ),
        ({"response_target": "-00:10:00"}, {"response_target": ["Must be positive."]}),
        ({"response_target": "00:00:00"}, {"response_target": ["Must be positive."]}),
        ({"resolution_target": "-1 00:00:00"}, {"resolution_target": ["Must be positive."]}),
        (
            {"pause_hold_reasons": ["awaiting_caller", "sleeping"]},
            {"pause_hold_reasons": {"1": ['"sleeping" is not a valid choice.']}},
        ),
        (
            {"breach_action": "panic"},
            {"breach_action": ['"panic" is not a valid choice.']},
        ),
        (
            {"calendar": "globex-hours"},
            {"calendar": ["Object with slug=globex-hours does not exist."]},
        ),
        (
            {"service": "globex-mail"},
            {"service": ["Object with slug=globex-mail does not exist."]},
        ),
        (
            {"slug": "gold"},
            {"slug": ["SLA policy with this Tenant and Slug already exists."]},
        ),
        ({"status": "gold"}, {"status": ["Unknown field."]}),
    ],
)
def test_create_policy_refuses_bad_input(desk, api_client, gold, body, fields):
    # Given another tenant with a calendar and a service of its own
    other = TenantFactory(slug="globex")
    BusinessCalendarFactory(tenant=other, slug="globex-hours")
    ServiceFactory(tenant=other, slug="globex-mail")
    before = _policy_rows(desk)

    response = api_client(desk.admin).post(
        _policies_url(desk), {**NEW_POLICY, **body}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json() == {"code": "invalid", "message": "Invalid input.", "fields": fields}
    assert _policy_rows(desk) == before


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"resolution_target": "00:00:00"}, {"resolution_target": ["Must be positive."]}),
        (
            {"warning_thresholds": [100]},
            {"warning_thresholds": {"0": ["Ensure this value is less than or equal to 99."]}},
        ),
        (
            {"calendar": "globex-hours"},
            {"calendar": ["Object with slug=globex-hours does not exist."]},
        ),
    ],
)
def test_edit_policy_refuses_bad_input(desk, api_client, gold, body, fields):
    BusinessCalendarFactory(tenant=TenantFactory(slug="globex"), slug="globex-hours")
    before = _policy_rows(desk)

    response = api_client(desk.admin).patch(_policies_url(desk, "gold/"), body, format="json")

    assert response.status_code == 400, response.content
    assert response.json() == {"code": "invalid", "message": "Invalid input.", "fields": fields}
    assert _policy_rows(desk) == before


def test_a_policy_may_use_the_tenants_own_calendar(desk, api_client, gold):
    BusinessCalendarFactory(tenant=desk.tenant, slug="office-hours")

    response = api_client(desk.admin).patch(
        _policies_url(desk, "gold/"), {"calendar": "office-hours"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["calendar"] == "office-hours"


def test_deleting_a_policy_in_use_is_a_conflict(desk, api_client, gold):
    # Given an incident whose clocks run on policy gold
    incident = make_incident(desk, impact=1, urgency=1)
    assert _clocks(api_client(desk.l1_agent), desk, incident.reference)["response"]["policy"] == (
        "gold"
    )
    before = _policy_rows(desk)

    # When the tenant admin deletes it
    response = api_client(desk.admin).delete(_policies_url(desk, "gold/"))

    # Then it is refused: deactivate it instead
    assert response.status_code == 409
    assert response.json() == {
        "code": "in_use",
        "message": "Gold is still in use; deactivate it instead.",
        "fields": {},
    }
    assert _policy_rows(desk) == before


# --- Calendars API -----------------------------------------------------------------------------


@pytest.fixture
def office_hours(desk) -> Any:
    calendar = BusinessCalendarFactory(
        tenant=desk.tenant, slug="office-hours", name="Office hours", time_zone="Europe/Berlin"
    )
    with rls.tenant_scope(desk.tenant.pk):
        for weekday in (4, 0):
            WorkingPeriod.objects.create(
                tenant=desk.tenant,
                calendar=calendar,
                weekday=weekday,
                starts_at=time(9),
                ends_at=time(17, 30),
            )
        Holiday.objects.create(
            tenant=desk.tenant, calendar=calendar, date=date(2026, 12, 25), name="Christmas Day"
        )
        Holiday.objects.create(tenant=desk.tenant, calendar=calendar, date=date(2026, 1, 1))
    return calendar


OFFICE_HOURS = {
    "slug": "office-hours",
    "name": "Office hours",
    "time_zone": "Europe/Berlin",
    "periods": [
        {"weekday": 0, "starts_at": "09:00:00", "ends_at": "17:30:00"},
        {"weekday": 4, "starts_at": "09:00:00", "ends_at": "17:30:00"},
    ],
    "holidays": [
        {"date": "2026-01-01", "name": ""},
        {"date": "2026-12-25", "name": "Christmas Day"},
    ],
}


def _calendars_url(tenant_slug: str, path: str = "") -> str:
    return f"/api/v1/t/{tenant_slug}/calendars/{path}"


def test_calendars_list_and_retrieve_with_periods_and_holidays(desk, api_client, office_hours):
    BusinessCalendarFactory(tenant=desk.tenant, slug="around-the-clock", name="Around the clock")
    client = api_client(desk.l1_agent)

    listed = client.get(_calendars_url("acme"))
    retrieved = client.get(_calendars_url("acme", "office-hours/"))

    assert listed.status_code == 200, listed.content
    assert listed.json() == {
        "next": None,
        "previous": None,
        "results": [
            {
                "slug": "around-the-clock",
                "name": "Around the clock",
                "time_zone": "Europe/Berlin",
                "periods": [],
                "holidays": [],
            },
            OFFICE_HOURS,
        ],
    }
    assert retrieved.status_code == 200, retrieved.content
    assert retrieved.json() == OFFICE_HOURS


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", (401, 401)),
        ("requester", (403, 403)),
        ("agent", (200, 200)),
        ("tenant admin", (200, 200)),
        ("other tenant's admin", (404, 404)),
    ],
)
def test_calendars_are_for_staff(desk, api_client, office_hours, who, expected):
    client = api_client(_user(desk, who))

    listed = client.get(_calendars_url("acme"))
    retrieved = client.get(_calendars_url("acme", "office-hours/"))

    assert (listed.status_code, retrieved.status_code) == expected


def test_calendars_are_read_only(desk, api_client, office_hours):
    client = api_client(desk.admin)

    created = client.post(_calendars_url("acme"), {"slug": "new", "name": "New"}, format="json")
    edited = client.patch(_calendars_url("acme", "office-hours/"), {"name": "X"}, format="json")
    deleted = client.delete(_calendars_url("acme", "office-hours/"))

    assert (created.status_code, edited.status_code, deleted.status_code) == (405, 405, 405)
    assert client.get(_calendars_url("acme", "office-hours/")).json() == OFFICE_HOURS


def test_another_tenants_calendar_is_not_found(desk, api_client, office_hours):
    client = api_client(_user(desk, "other tenant's admin"))

    assert client.get(_calendars_url("globex", "office-hours/")).status_code == 404
    assert client.get(_calendars_url("globex")).json()["results"] == []


def test_a_business_hours_policy_counts_only_working_time(desk, api_client, office_hours):
    # Given a policy on office hours (Mon and Fri 09:00-17:30 Berlin) for every incident
    SlaPolicyFactory(tenant=desk.tenant, slug="office", order=1, calendar=office_hours)

    incident = make_incident(desk)

    # Then the response clock is due 30 minutes of working time after it started
    response_clock = _clocks(api_client(desk.l1_agent), desk, incident.reference)["response"]
    with rls.tenant_scope(desk.tenant.pk):
        schedule = calendar_schedule(calendar=office_hours)
    started, due = _dt(response_clock["started_at"]), _dt(response_clock["due_at"])
    assert response_clock["policy"] == "office"
    assert due == schedule.add(started, timedelta(minutes=30))
    assert schedule.between(started, due) == timedelta(minutes=30)
    assert due.astimezone(schedule.zone).weekday() in (0, 4)


# --- Admin -------------------------------------------------------------------------------------


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@platform_db
def test_sla_policy_changelist_lists_every_tenants_policies(desk, admin_client, gold):
    SlaPolicyFactory(tenant=TenantFactory(slug="globex", name="Globex"), name="Globex basic")

    response = admin_client.get("/admin/incidents/slapolicy/")

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<tr><td class="action-checkbox">') == 2
    for text in ("Gold", "Acme", "Globex basic", "Globex", "0:10:00", "2:00:00", "[1, 2]"):
        assert text in page, text


@platform_db
def test_sla_policy_change_page_renders(desk, admin_client, gold):
    response = admin_client.get(f"/admin/incidents/slapolicy/{gold.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    for name in ("service", "category", "calendar"):
        assert f'id="id_{name}" class="vForeignKeyRawIdAdminField"' in page, name
    # Choices are boxes to tick, the policy's own ticked; thresholds a list of numbers
    form = response.context["adminform"].form
    assert [str(box.data["value"]) for box in form["priorities"] if box.data["selected"]] == [
        "1",
        "2",
    ]
    assert [box.data["value"] for box in form["pause_hold_reasons"] if box.data["selected"]] == [
        "awaiting_caller"
    ]
    assert 'type="checkbox" name="priorities" value="4"' in page
    assert 'name="warning_thresholds" value="50, 75, 90"' in page


@platform_db
def test_incident_change_page_shows_the_clocks(desk, admin_client):
    incident = make_incident(desk, state="in_progress")
    with rls.tenant_scope(desk.tenant.pk):
        policy = SlaPolicy.objects.get(slug="default-sev4")

    response = admin_client.get(f"/admin/incidents/incident/{incident.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="sla_clocks-group"' in page
    assert page.count(f'<a href="/admin/incidents/slapolicy/{policy.pk}/change/">') == 2
    for text in ("Response", "Resolution", "8:00:00", "5 days, 0:00:00"):
        assert text in page, text
    # read-only: no blank form to add a clock, no delete box
    assert 'name="sla_clocks-TOTAL_FORMS" value="2"' in page
    assert "sla_clocks-__prefix__" not in page
    assert "sla_clocks-0-DELETE" not in page


@platform_db
def test_sla_policy_can_be_added_in_the_admin(desk, admin_client):
    response = admin_client.post(
        "/admin/incidents/slapolicy/add/",
        {
            "tenant": desk.tenant.pk,
            "name": "Gold",
            "slug": "gold",
            "order": 5,
            "is_active": "on",
            "priorities": ["1", "2"],
            "service": desk.service.pk,
            "category": "",
            "calendar": "",
            "response_target": "00:10:00",
            "resolution_target": "02:00:00",
            "pause_hold_reasons": ["awaiting_caller", "awaiting_vendor"],
            "warning_thresholds": "90, 80",
            "breach_action": "escalate",
        },
    )

    # Then the ticked boxes are stored as the same JSON lists the API writes
    assert response.status_code == 302, response.content.decode()[:2000]
    with rls.tenant_scope(desk.tenant.pk):
        policy = SlaPolicy.objects.get(slug="gold")
    assert (
        policy.tenant_id,
        policy.priorities,
        policy.service_id,
        policy.response_target,
        policy.pause_hold_reasons,
        policy.warning_thresholds,
        policy.breach_action,
    ) == (
        desk.tenant.pk,
        [1, 2],
        desk.service.pk,
        timedelta(minutes=10),
        ["awaiting_caller", "awaiting_vendor"],
        [80, 90],
        "escalate",
    )


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("priorities", ["1", "5"], "Select a valid choice. 5 is not one of the available choices."),
        ("warning_thresholds", "50, 100", "Warning thresholds are percentages below 100."),
        (
            "warning_thresholds",
            "half",
            "Give whole percentages separated by commas, e.g. 50, 75, 90.",
        ),
        (
            "pause_hold_reasons",
            ["sleeping"],
            "Select a valid choice. sleeping is not one of the available choices.",
        ),
        ("response_target", "00:00:00", "Must be positive."),
    ],
)
@platform_db
def test_sla_policy_admin_refuses_bad_input(desk, admin_client, gold, field, value, error):
    with rls.tenant_scope(desk.tenant.pk):
        before = SlaPolicy.objects.filter(pk=gold.pk).values().get()
    form = {
        "name": "Gold",
        "slug": "gold",
        "order": 50,
        "is_active": "on",
        "priorities": ["1", "2"],
        "service": "",
        "category": "",
        "calendar": "",
        "response_target": "00:10:00",
        "resolution_target": "02:00:00",
        "pause_hold_reasons": ["awaiting_caller"],
        "warning_thresholds": "50, 75, 90",
        "breach_action": "notify",
    }

    response = admin_client.post(
        f"/admin/incidents/slapolicy/{gold.pk}/change/", {**form, field: value}
    )

    # Then the error is on its field, shown once, and nothing is written
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {field: [error]}
    assert response.content.decode().count(error) == 1
    with rls.tenant_scope(desk.tenant.pk):
        assert SlaPolicy.objects.filter(pk=gold.pk).values().get() == before


@platform_db
def test_a_tenant_admin_adds_an_sla_policy_from_their_tenants_choices(desk):
    # Given a business calendar in acme and one in globex
    ours = BusinessCalendarFactory(tenant=desk.tenant, name="Office")
    BusinessCalendarFactory(tenant=TenantFactory(slug="globex"), name="Globex office")
    client = Client()
    client.force_login(desk.admin)

    # When acme's administrator opens the add form: no tenant, acme's calendars and services
    page = client.get("/admin/incidents/slapolicy/add/")
    form = page.context["adminform"].form
    with rls.tenant_scope(desk.tenant.pk):
        calendars = [calendar.name for calendar in form.fields["calendar"].queryset]
        services = [service.slug for service in form.fields["service"].queryset]
    assert "tenant" not in form.fields
    assert (calendars, services) == (["Office"], ["email"])
    # select lists of acme's rows, not raw-id pop-ups onto lists that are not theirs
    content = page.content.decode()
    for name in ("service", "category", "calendar"):
        assert f'<select name="{name}"' in content, name
    assert "vForeignKeyRawIdAdminField" not in content

    # And adds a policy with ticked priorities on that calendar
    response = client.post(
        "/admin/incidents/slapolicy/add/",
        {
            "name": "Office hours",
            "slug": "office",
            "order": 5,
            "is_active": "on",
            "priorities": ["3", "4"],
            "calendar": ours.pk,
            "response_target": "01:00:00",
            "resolution_target": "08:00:00",
            "pause_hold_reasons": ["awaiting_caller"],
            "warning_thresholds": "75",
            "breach_action": "notify",
        },
    )

    # Then it is acme's
    assert response.status_code == 302, response.context and response.context["errors"]
    with rls.platform_scope():
        policy = SlaPolicy.objects.get(slug="office")
    assert (policy.tenant_id, policy.priorities, policy.calendar_id, policy.warning_thresholds) == (
        desk.tenant.pk,
        [3, 4],
        ours.pk,
        [75],
    )
