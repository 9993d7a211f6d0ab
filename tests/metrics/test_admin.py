"""The rollups in the platform admin: each tenant's rollup and how fresh it is, "Rebuild now"
on selected rollups, and the rebuild of a tenant that has none yet (or of every tenant); the
queued task really rebuilds. Tenant administrators see none of it."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from incidents.metrics.rollups import ROLLUP
from incidents.models import Incident, IncidentDailyRollup
from itsm.metrics.models import RollupState
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Tenant
from tests.factories import IncidentFactory, MembershipFactory, TenantFactory, UserFactory
from tests.markers import platform_db

pytestmark = platform_db

CHANGELIST = "/admin/metrics/rollupstate/"
REBUILD = "/admin/metrics/rollupstate/rebuild/"


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def eager(settings: Any) -> None:
    """Queued tasks run at once, in the test (when the admin's transaction commits)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def tenants() -> tuple[Tenant, Tenant]:
    return TenantFactory(slug="tenant-a", name="Tenant A"), TenantFactory(
        slug="tenant-b", name="Tenant B"
    )


def two_days_ago_noon() -> datetime:
    day = timezone.now().astimezone(UTC).date() - timedelta(days=2)
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def make_incidents(tenant: Tenant, count: int) -> None:
    """`count` incidents created at noon (UTC, the tenant's zone) two days ago, one today."""
    made = [IncidentFactory(tenant=tenant) for _ in range(count + 1)]
    with rls.tenant_scope(tenant.pk):
        Incident.objects.filter(pk__in=[incident.pk for incident in made[:-1]]).update(
            created_at=two_days_ago_noon()
        )


def state_of(tenant: Tenant) -> RollupState | None:
    with rls.platform_scope():
        return RollupState.objects.filter(tenant=tenant, name=ROLLUP).first()


def created_in_rollup(tenant: Tenant) -> int | None:
    with rls.platform_scope():
        total: int | None = IncidentDailyRollup.objects.filter(tenant=tenant).aggregate(
            total=Sum("created_count")
        )["total"]
        return total


def make_state(tenant: Tenant, **fields: Any) -> RollupState:
    with rls.tenant_scope(tenant.pk):
        return RollupState.objects.create(tenant=tenant, name=ROLLUP, **fields)


def texts(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def run_queued(django_capture_on_commit_callbacks: Any) -> Any:
    """`with run_queued() as queued:` runs what the request queued on commit, at its end."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- Reading -----------------------------------------------------------------------------------


def test_the_list_shows_each_tenants_rollup_and_flags_the_stale_ones(
    admin_client: Client, tenants: tuple[Tenant, Tenant], settings: Any
) -> None:
    settings.METRICS_ROLLUP_INTERVAL = 600  # stale after 20 minutes
    tenant_a, tenant_b = tenants
    now = timezone.now()
    make_state(
        tenant_a,
        refreshed_at=now - timedelta(minutes=19),
        rebuilt_at=now - timedelta(hours=5),
        rows=17,
        last_duration=timedelta(seconds=2),
    )
    make_state(tenant_b, refreshed_at=now - timedelta(minutes=21), rows=4)
    with rls.tenant_scope(tenant_b.pk):
        RollupState.objects.create(tenant=tenant_b, name="never-run")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    rows = {(state.tenant.name, state.name): state for state in response.context["cl"].result_list}
    assert set(rows) == {
        ("Tenant A", ROLLUP),
        ("Tenant B", ROLLUP),
        ("Tenant B", "never-run"),
    }
    page = response.content.decode()
    assert "19\xa0minutes ago" in page
    assert "21\xa0minutes ago (stale)" in page
    assert "19\xa0minutes ago (stale)" not in page
    assert "never refreshed" in page
    for column in ("Refreshed at", "Rebuilt at", "Complete through", "Rows", "Last duration"):
        assert column in page


def test_the_rows_are_read_only(admin_client: Client, tenants: tuple[Tenant, Tenant]) -> None:
    state = make_state(tenants[0], rows=3)

    add = admin_client.get(f"{CHANGELIST}add/")
    post = admin_client.post(f"{CHANGELIST}{state.pk}/change/", {"rows": 99})

    assert add.status_code == 403
    assert post.status_code == 403
    assert state_of(tenants[0]).rows == 3  # type: ignore[union-attr]


# --- Rebuilding --------------------------------------------------------------------------------


@pytest.mark.usefixtures("eager")
def test_rebuild_now_rebuilds_the_selected_rollups(
    admin_client: Client, tenants: tuple[Tenant, Tenant], run_queued: Any
) -> None:
    # Given A's rollup never built whole, and B's built, both with incidents of two days ago
    tenant_a, tenant_b = tenants
    make_incidents(tenant_a, 3)
    make_incidents(tenant_b, 2)
    stale = make_state(tenant_a, refreshed_at=timezone.now() - timedelta(days=3))
    make_state(tenant_b)

    # When the platform admin rebuilds A's
    with run_queued() as queued:
        response = admin_client.post(
            CHANGELIST, {"action": "rebuild_now", "_selected_action": [stale.pk]}
        )

    # Then one rebuild ran: A's rollup holds its three incidents of two days ago (not today's)
    assert response.status_code == 302
    assert len(queued) == 1
    state = state_of(tenant_a)
    assert state is not None
    assert state.rebuilt_at is not None
    assert state.complete_through == timezone.now().astimezone(UTC).date() - timedelta(days=1)
    assert state.rows == 1  # one day, one priority; no SLA clocks
    assert created_in_rollup(tenant_a) == 3
    # B's was not touched
    assert state_of(tenant_b).rebuilt_at is None  # type: ignore[union-attr]
    assert created_in_rollup(tenant_b) is None
    assert texts(response) == [
        "Queued 1 full rollup rebuild; the list shows the result once the worker has run them."
    ]


@pytest.mark.usefixtures("eager")
def test_a_tenant_without_a_rollup_is_rebuilt_from_the_button(
    admin_client: Client, tenants: tuple[Tenant, Tenant], run_queued: Any
) -> None:
    tenant_a, tenant_b = tenants
    make_incidents(tenant_a, 1)
    make_incidents(tenant_b, 2)

    page = admin_client.get(CHANGELIST).content.decode()
    with run_queued():
        response = admin_client.post(REBUILD, {"tenant": tenant_b.pk})

    assert f'<option value="{tenant_b.pk}">Tenant B</option>' in page
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    state = state_of(tenant_b)
    assert state is not None
    assert state.rebuilt_at is not None
    assert created_in_rollup(tenant_b) == 2
    assert state_of(tenant_a) is None


@pytest.mark.usefixtures("eager")
def test_every_active_tenant_is_rebuilt_when_none_is_chosen(
    admin_client: Client, tenants: tuple[Tenant, Tenant], run_queued: Any
) -> None:
    tenant_a, tenant_b = tenants
    make_incidents(tenant_a, 1)
    make_incidents(tenant_b, 2)
    dormant = TenantFactory(slug="dormant", is_active=False)

    with run_queued() as queued:
        response = admin_client.post(REBUILD, {"tenant": ""})

    assert len(queued) == 2
    assert (created_in_rollup(tenant_a), created_in_rollup(tenant_b)) == (1, 2)
    assert state_of(dormant) is None
    assert texts(response) == [
        "Queued 2 full rollup rebuilds; the list shows the result once the worker has run them."
    ]


def test_an_inactive_or_unknown_tenant_is_refused(admin_client: Client, run_queued: Any) -> None:
    dormant = TenantFactory(slug="dormant", is_active=False)

    with run_queued() as queued:
        response = admin_client.post(REBUILD, {"tenant": dormant.pk})

    assert response.status_code == 302
    assert queued == []
    assert texts(response) == ["Choose an active tenant."]


def test_the_rebuild_is_a_post(admin_client: Client) -> None:
    assert admin_client.get(REBUILD).status_code == 405


def test_a_tenant_administrator_sees_none_of_it(tenants: tuple[Tenant, Tenant]) -> None:
    tenant_a, _ = tenants
    make_state(tenant_a)
    boss = MembershipFactory(tenant=tenant_a, role=MembershipRole.TENANT_ADMIN).user
    client = Client()
    client.force_login(boss)

    listing = client.get(CHANGELIST)
    rebuild = client.post(REBUILD, {"tenant": tenant_a.pk})
    index = client.get("/admin/").content.decode()

    assert (listing.status_code, rebuild.status_code) == (403, 403)
    assert "Rollup" not in index
