"""Fixtures of the schedule tests: a tenant with a change manager, staff and a requester, its
services, and changes made straight in the database (the schedule needs no lifecycle)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from changes.models import BlackoutService, BlackoutWindow, Change, ChangeService
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Tenant
from itsm.tenancy.services import allocate_number
from tests.factories import MembershipFactory, ServiceFactory, TenantFactory, UserFactory


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in May 2030, UTC."""
    return datetime(2030, 5, day, hour, minute, tzinfo=UTC)


@dataclass
class Schedule:
    tenant: Tenant
    change_manager: Any
    agent: Any
    admin: Any
    requester: Any
    mail: Any  # a service
    web: Any  # another service

    def url(self, path: str) -> str:
        return f"/api/v1/t/{self.tenant.slug}/{path}"


def _member(tenant: Tenant, role: str, username: str) -> Any:
    return MembershipFactory(tenant=tenant, role=role, user=UserFactory(username=username)).user


def make_schedule(slug: str) -> Schedule:
    tenant = TenantFactory(slug=slug, name=slug.title())
    return Schedule(
        tenant=tenant,
        change_manager=_member(tenant, MembershipRole.CHANGE_MANAGER, f"{slug}-cm"),
        agent=_member(tenant, MembershipRole.AGENT, f"{slug}-agent"),
        admin=_member(tenant, MembershipRole.TENANT_ADMIN, f"{slug}-admin"),
        requester=_member(tenant, MembershipRole.REQUESTER, f"{slug}-requester"),
        mail=ServiceFactory(tenant=tenant, slug="mail", name="Mail"),
        web=ServiceFactory(tenant=tenant, slug="web", name="Web"),
    )


@pytest.fixture
def sched(db) -> Schedule:
    return make_schedule("north")


@pytest.fixture
def other_sched(db) -> Schedule:
    return make_schedule("south")


def make_change(
    schedule: Schedule,
    start: datetime | None,
    end: datetime | None,
    *,
    services: list[Any] | None = None,
    status: str = "scheduled",
    title: str = "Patch the mail relay",
    **fields: Any,
) -> Change:
    """A change in `status` with the planned window [start, end) on `services` (mail)."""
    tenant = schedule.tenant
    with rls.tenant_scope(tenant.pk):
        change = Change.objects.create(
            tenant=tenant,
            number=allocate_number(tenant=tenant, key=Change.NUMBER_PREFIX),
            title=title,
            status=status,
            planned_start=start,
            planned_end=end,
            **fields,
        )
        for service in [schedule.mail] if services is None else services:
            ChangeService.objects.create(tenant=tenant, change=change, service=service)
    return change


def make_blackout(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    *,
    services: list[Any] = (),  # type: ignore[assignment]
    name: str = "Quarter close",
) -> BlackoutWindow:
    tenant = schedule.tenant
    with rls.tenant_scope(tenant.pk):
        window = BlackoutWindow.objects.create(
            tenant=tenant, name=name, starts_at=start, ends_at=end
        )
        for service in services:
            BlackoutService.objects.create(tenant=tenant, window=window, service=service)
    return window
