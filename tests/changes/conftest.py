"""A change desk: the incidents desk plus a change manager, a problem manager, and the boards
(two agents on the CAB, the manager on the emergency CAB); helpers that bring changes to a
state through the services."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from changes import services
from changes.choices import ApprovalBoard, ChangeType
from changes.models import CabMember, Change, ChangeEvent, ChangeTemplate, TemplateService
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from tests.factories import MembershipFactory, UserFactory
from tests.incidents.conftest import Desk, desk  # noqa: F401  (the fixture, re-exported)

START = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
END = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)

# The states each type of change passes through (standard changes need no approval).
STATES = {
    ChangeType.STANDARD: [
        "draft",
        "assessment",
        "scheduled",
        "implementing",
        "review",
        "closed",
        "cancelled",
    ],
    ChangeType.NORMAL: [
        "draft",
        "assessment",
        "awaiting_approval",
        "scheduled",
        "implementing",
        "review",
        "closed",
        "cancelled",
    ],
}
STATES[ChangeType.EMERGENCY] = STATES[ChangeType.NORMAL]


@dataclass
class ChangeDesk:
    desk: Desk
    manager: Any  # a change manager
    problem_manager: Any

    @property
    def tenant(self) -> Any:
        return self.desk.tenant

    @property
    def cab(self) -> list[Any]:
        return [self.desk.l2_agent, self.desk.l3_agent]

    @property
    def ecab(self) -> Any:
        return self.desk.manager

    def url(self, path: str = "") -> str:
        return f"/api/v1/t/{self.tenant.slug}/changes/{path}"

    def api(self, path: str) -> str:
        return f"/api/v1/t/{self.tenant.slug}/{path}"


@pytest.fixture
def cdesk(desk) -> ChangeDesk:  # noqa: F811
    def member(role: str, username: str) -> Any:
        return MembershipFactory(
            tenant=desk.tenant, role=role, user=UserFactory(username=username)
        ).user

    cdesk = ChangeDesk(
        desk=desk,
        manager=member(MembershipRole.CHANGE_MANAGER, "carl-changes"),
        problem_manager=member(MembershipRole.PROBLEM_MANAGER, "pia-problems"),
    )
    with rls.tenant_scope(desk.tenant.pk):
        for user in cdesk.cab:
            CabMember.objects.create(tenant=desk.tenant, user=user, board=ApprovalBoard.CAB)
        CabMember.objects.create(tenant=desk.tenant, user=cdesk.ecab, board=ApprovalBoard.ECAB)
    return cdesk


def make_template(cdesk: ChangeDesk, **data: Any) -> ChangeTemplate:
    with rls.tenant_scope(cdesk.tenant.pk):
        template = services.template_create(
            tenant=cdesk.tenant,
            actor=cdesk.manager,
            data={
                "name": "Restart the mail relay",
                "implementation_plan": "Drain, restart, check.",
                "backout_plan": "Start the old relay.",
                "risk_impact": 1,
                "risk_likelihood": 1,
                "risk_backout": 1,
                "duration_minutes": 30,
                "services": [cdesk.desk.service],
                **data,
            },
        )
        assert TemplateService.objects.filter(template=template).count() == 1
    return template


def make_change(
    cdesk: ChangeDesk,
    state: str = "draft",
    change_type: str = ChangeType.NORMAL,
    risk: tuple[int, int, int] = (2, 2, 2),
    **data: Any,
) -> Change:
    """A change of `change_type` brought to `state` through the services."""
    tenant, actor = cdesk.tenant, cdesk.manager
    with rls.tenant_scope(tenant.pk):
        if change_type == ChangeType.STANDARD:
            template = make_template(cdesk, name=f"Template {ChangeTemplate.objects.count()}")
            change = services.change_create_from_template(
                tenant=tenant,
                template_id=template.pk,
                actor=actor,
                data={"planned_start": data.pop("planned_start", START)},
            )
        else:
            change = services.change_create(
                tenant=tenant,
                actor=actor,
                data={
                    "title": "Upgrade the mail relay",
                    "change_type": change_type,
                    "implementation_plan": "Install 2.4 on the standby, switch over.",
                    "backout_plan": "Switch back to the old relay.",
                    "planned_start": START,
                    "planned_end": END,
                    "services": [cdesk.desk.service],
                    **data,
                },
            )
        ids = {"tenant": tenant, "change_id": change.pk, "actor": actor}
        order = STATES[ChangeType(change_type)]
        if state == "cancelled":
            services.change_cancel(**ids, reason="Not needed any more.")
        elif state != "draft":
            reached = order.index(state)
            services.change_submit(**ids)
            if change_type != ChangeType.STANDARD:
                impact, likelihood, backout = risk
                services.change_assess_risk(
                    **ids, risk_impact=impact, risk_likelihood=likelihood, risk_backout=backout
                )
            if reached >= order.index("scheduled") or state == "awaiting_approval":
                if change_type == ChangeType.STANDARD:
                    services.change_schedule(**ids)
                else:
                    services.change_request_approval(**ids)
                    if state != "awaiting_approval":
                        approvers = (
                            [cdesk.ecab] if change_type == ChangeType.EMERGENCY else cdesk.cab
                        )
                        change.refresh_from_db()
                        for approver in approvers[: change.approvals_required]:
                            services.change_approve(
                                tenant=tenant, change_id=change.pk, actor=approver
                            )
            if reached >= order.index("implementing"):
                services.change_start(**ids)
            if reached >= order.index("review"):
                services.change_complete(**ids)
            if state == "closed":
                services.change_close(**ids, outcome="successful")
        change.refresh_from_db()
        assert change.status == state
    return change


def change_state(cdesk: ChangeDesk, change: Change) -> tuple[dict[str, Any], int]:
    """The change's row and its number of events: what a refused request must not change."""
    with rls.tenant_scope(cdesk.tenant.pk):
        row = dict(Change.objects.filter(pk=change.pk).values().get())
        events = ChangeEvent.objects.filter(change=change).count()
    return row, events
