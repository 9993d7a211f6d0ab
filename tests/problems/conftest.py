"""A problem desk: the incidents desk (teams, agents, admin, requesters) plus a problem manager
and a change manager, and helpers that bring problems to a state through the services."""

from dataclasses import dataclass
from typing import Any

import pytest

from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from problems import services
from problems.models import KnownError, Problem, ProblemEvent
from tests.factories import MembershipFactory, UserFactory
from tests.incidents.conftest import Desk, desk  # noqa: F401  (the fixture, re-exported)

PROBLEM_STATES = [
    "new",
    "under_investigation",
    "root_cause_known",
    "fix_in_progress",
    "resolved",
    "closed",
    "cancelled",
]


@dataclass
class ProblemDesk:
    desk: Desk
    manager: Any  # a problem manager
    change_manager: Any

    @property
    def tenant(self) -> Any:
        return self.desk.tenant

    def url(self, path: str = "") -> str:
        return f"/api/v1/t/{self.tenant.slug}/problems/{path}"

    def ke_url(self, path: str = "") -> str:
        return f"/api/v1/t/{self.tenant.slug}/known-errors/{path}"


@pytest.fixture
def pdesk(desk) -> ProblemDesk:  # noqa: F811
    def member(role: str, username: str) -> Any:
        return MembershipFactory(
            tenant=desk.tenant, role=role, user=UserFactory(username=username)
        ).user

    return ProblemDesk(
        desk=desk,
        manager=member(MembershipRole.PROBLEM_MANAGER, "pia-problems"),
        change_manager=member(MembershipRole.CHANGE_MANAGER, "carl-changes"),
    )


def make_problem(pdesk: ProblemDesk, state: str = "new", **data: Any) -> Problem:
    """A problem brought to `state` through the services, as a problem manager would."""
    tenant, actor = pdesk.tenant, pdesk.manager
    with rls.tenant_scope(tenant.pk):
        problem = services.problem_create(
            tenant=tenant,
            actor=actor,
            data={"title": "Mail relay drops connections", "problem_manager": actor, **data},
        )
        ids = {"tenant": tenant, "problem_id": problem.pk, "actor": actor}
        if state == "cancelled":
            services.problem_cancel(**ids, reason="Duplicate of another problem.")
        elif state != "new":
            services.problem_investigate(**ids)
            if state != "under_investigation":
                services.problem_identify_root_cause(
                    **ids,
                    root_cause="The relay's connection pool is too small.",
                    workaround="Restart the relay.",
                )
            if state in ("fix_in_progress", "resolved", "closed"):
                services.problem_start_fix(**ids)
            if state in ("resolved", "closed"):
                services.problem_resolve(**ids, fix_notes="Pool raised to 200 connections.")
            if state == "closed":
                services.problem_close(**ids)
        problem.refresh_from_db()
    return problem


def make_known_error(pdesk: ProblemDesk, state: str = "draft") -> KnownError:
    problem = make_problem(pdesk, "root_cause_known")
    tenant, actor = pdesk.tenant, pdesk.manager
    with rls.tenant_scope(tenant.pk):
        known_error = services.known_error_create(
            tenant=tenant, problem_id=problem.pk, actor=actor, data={"symptoms": "Mail waits."}
        )
        ids = {"tenant": tenant, "known_error_id": known_error.pk, "actor": actor}
        if state == "published":
            services.known_error_publish(**ids)
        elif state == "retired":
            services.known_error_retire(**ids)
        return KnownError.objects.select_related("problem").get(pk=known_error.pk)


def problem_state(pdesk: ProblemDesk, problem: Problem) -> tuple[dict[str, Any], int]:
    """The problem's row and its number of events: what a refused request must not change."""
    with rls.tenant_scope(pdesk.tenant.pk):
        row = dict(Problem.objects.filter(pk=problem.pk).values().get())
        events = ProblemEvent.objects.filter(problem=problem).count()
    return row, events
