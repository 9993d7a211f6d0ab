"""The tenant's cached configuration (itsm/tenancy/config.py): every table it is read from bumps
the tenant's `config_version` when its rows change, so no request reads a stale copy."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from incidents import selectors
from incidents.models import IncidentSettings, PriorityLabel, PriorityMatrixCell
from itsm.calendars.models import BusinessCalendar
from itsm.notifications.models import NotificationPreference
from itsm.tenancy import rls
from itsm.tenancy.config import tenant_config
from itsm.tenancy.models import Tenant
from tests.factories import (
    BusinessCalendarFactory,
    SlaPolicyFactory,
    TeamFactory,
    TenantFactory,
)

pytestmark = pytest.mark.django_db

# A change to each configuration table, as any writer would make it.
CHANGES: dict[str, Callable[[Tenant], Any]] = {
    "priority label": lambda tenant: PriorityLabel.objects.create(
        tenant=tenant, priority=1, label="Critical"
    ),
    "priority matrix cell": lambda tenant: PriorityMatrixCell.objects.create(
        tenant=tenant, impact=3, urgency=3, priority=3
    ),
    "SLA policy": lambda tenant: SlaPolicyFactory(tenant=tenant),
    "incident settings": lambda tenant: IncidentSettings.objects.create(
        tenant=tenant, reopen_window=timedelta(days=1)
    ),
    "business calendar": lambda tenant: BusinessCalendarFactory(tenant=tenant),
    "team": lambda tenant: TeamFactory(tenant=tenant),
    "notification preference": lambda tenant: NotificationPreference.objects.create(
        tenant=tenant, event_type="incident.assigned", channel="email", is_enabled=False
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_to_a_configuration_table_bumps_the_tenants_version(change):
    tenant, other = TenantFactory(), TenantFactory()
    with rls.tenant_scope(tenant.pk):
        CHANGES[change](tenant)
    before = other.config_version
    tenant.refresh_from_db()
    other.refresh_from_db()
    assert tenant.config_version == 1
    assert other.config_version == before  # another tenant's copy stays valid


def test_a_calendars_new_time_zone_reaches_the_cached_policies():
    # Given a policy on a calendar, read (and cached) with the tenant's configuration
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        calendar = BusinessCalendarFactory(tenant=tenant, time_zone="Europe/Paris")
        SlaPolicyFactory(tenant=tenant, calendar=calendar)
        tenant.refresh_from_db()
        assert _policy_time_zone(tenant) == "Europe/Paris"

        # When the calendar moves to another zone
        BusinessCalendar.objects.filter(pk=calendar.pk).update(time_zone="Asia/Tokyo")

        # Then the next request (which reads the tenant afresh) reads the policies again
        tenant.refresh_from_db()
        assert _policy_time_zone(tenant) == "Asia/Tokyo"


def _policy_time_zone(tenant: Tenant) -> str:
    calendar = selectors.active_policies(tenant=tenant)[0].calendar
    assert calendar is not None
    return calendar.time_zone


def test_the_reopen_window_is_read_again_after_a_change():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        assert selectors.incident_settings(tenant=tenant).reopen_window == timedelta(days=7)
        IncidentSettings.objects.create(tenant=tenant, reopen_window=timedelta(days=2))
        tenant.refresh_from_db()
        assert selectors.incident_settings(tenant=tenant).reopen_window == timedelta(days=2)


def test_a_caller_holding_an_older_tenant_row_and_the_current_ones_both_stay_cached():
    tenant = TenantFactory()
    with rls.tenant_scope(tenant.pk):
        older = Tenant.objects.get(pk=tenant.pk)
        PriorityLabel.objects.create(tenant=tenant, priority=1, label="Critical")
        tenant.refresh_from_db()
    loads: list[int] = []

    def load() -> int:
        loads.append(len(loads) + 1)
        return loads[-1]

    # Each version is read once, whichever order the callers come in
    assert tenant_config(tenant, "test", load) == 1
    assert tenant_config(older, "test", load) == 2
    assert tenant_config(tenant, "test", load) == 1
    assert tenant_config(older, "test", load) == 2
    assert loads == [1, 2]

    # A third version makes room by dropping the oldest
    with rls.tenant_scope(tenant.pk):
        PriorityLabel.objects.create(tenant=tenant, priority=2, label="High")
        tenant.refresh_from_db()
    assert tenant_config(tenant, "test", load) == 3
    assert tenant_config(older, "test", load) == 4
    assert loads == [1, 2, 3, 4]
