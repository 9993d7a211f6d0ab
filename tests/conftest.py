"""Shared fixtures: two tenants with members of every role, API clients, and the database
set up the way production runs it: created and migrated by the schema owner, used by the
application role that row-level security applies to."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from knox.models import AuthToken
from rest_framework.test import APIClient

from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory

_APP_CREDENTIALS: dict[str, Any] = {}


def _use_credentials(credentials: dict[str, Any]) -> None:
    connection = connections["default"]
    connection.close()
    connection.settings_dict.update(credentials)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Create and migrate the test database as the schema owner."""
    owner = settings.DATABASE_OWNER_CREDENTIALS
    if owner:
        default = connections["default"].settings_dict
        _APP_CREDENTIALS.update({key: default.get(key) for key in owner})
        _use_credentials(owner)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Then run every test as the application role, and drop the database as the owner."""
    if _APP_CREDENTIALS:
        _use_credentials(_APP_CREDENTIALS)
    if rls.PLATFORM_DB_ALIAS in connections.settings:
        # Same database, so Django's test setup made the alias share the default's settings
        # (a mirror): give it back its own login, the platform role.
        platform = settings.DATABASES[rls.PLATFORM_DB_ALIAS]
        connections[rls.PLATFORM_DB_ALIAS].close()
        connections[rls.PLATFORM_DB_ALIAS].settings_dict = {
            **connections["default"].settings_dict,
            "USER": platform["USER"],
            "PASSWORD": platform.get("PASSWORD", ""),
        }
    yield
    if _APP_CREDENTIALS:
        _use_credentials(settings.DATABASE_OWNER_CREDENTIALS)


@pytest.fixture
def _platform_role_routing(request: pytest.FixtureRequest, django_db_setup: None) -> Iterator[None]:
    """A test that declares the "platform" database runs all of it on the platform role's
    connection, under the test's one transaction.

    Platform work (admin, the sweep) uses its own connection, which could not see the rows a
    test made in a transaction of the application's connection; so such a test makes them on
    the platform connection instead. Tenant scopes there are as narrow as the application's
    (the platform clause needs the setting too); tests without the declaration run as the
    application role, and `rls.platform_scope()` fails loudly in them. Transactional tests
    are not routed: their rows are committed, so they show the platform connection as it runs.
    It needs the test database set up first (the first test of a run may be one of these).
    """
    marker = request.node.get_closest_marker("django_db")
    databases = (marker.kwargs.get("databases") if marker else None) or ()
    transactional = bool(marker and marker.kwargs.get("transaction"))
    if (
        rls.PLATFORM_DB_ALIAS not in databases
        or rls.PLATFORM_DB_ALIAS not in connections.settings
        or transactional  # rows are committed: platform work takes its own connection, as live
    ):
        yield
        return
    app = connections["default"]
    connections["default"] = connections[rls.PLATFORM_DB_ALIAS]
    try:
        yield
    finally:
        connections["default"] = app


@pytest.fixture
def _django_db_helper(_platform_role_routing: None, _django_db_helper: None) -> None:
    """pytest-django's transaction per test, entered after the routing above."""


@pytest.fixture(autouse=True)
def _test_settings(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The real hasher costs ~0.5 s a password by design; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tenant_a(db: None) -> Tenant:
    return TenantFactory(slug="tenant-a", name="Tenant A")


@pytest.fixture
def tenant_b(db: None) -> Tenant:
    return TenantFactory(slug="tenant-b", name="Tenant B")


@pytest.fixture
def make_member(db: None) -> Callable[..., Any]:
    """make_member(tenant, role) -> a user with that role in the tenant."""

    def make(tenant: Tenant, role: str = MembershipRole.AGENT, **user_fields: Any) -> Any:
        return MembershipFactory(tenant=tenant, role=role, user=UserFactory(**user_fields)).user

    return make


@pytest.fixture
def admin_a(tenant_a: Tenant, make_member: Callable[..., Any]) -> Any:
    return make_member(tenant_a, MembershipRole.TENANT_ADMIN, username="admin-a")


@pytest.fixture
def agent_a(tenant_a: Tenant, make_member: Callable[..., Any]) -> Any:
    return make_member(tenant_a, MembershipRole.AGENT, username="agent-a")


@pytest.fixture
def requester_a(tenant_a: Tenant, make_member: Callable[..., Any]) -> Any:
    return make_member(tenant_a, MembershipRole.REQUESTER, username="requester-a")


@pytest.fixture
def admin_b(tenant_b: Tenant, make_member: Callable[..., Any]) -> Any:
    return make_member(tenant_b, MembershipRole.TENANT_ADMIN, username="admin-b")


@pytest.fixture
def api_client() -> Callable[[Any], APIClient]:
    """api_client(user) -> a client authenticated with an API token of the user."""

    def make(user: Any = None) -> APIClient:
        client = APIClient()
        if user is not None:
            _, key = AuthToken.objects.create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def in_tenant() -> Callable[[Tenant], Any]:
    """`with in_tenant(tenant): ...` reads rows as that tenant's requests would."""
    return lambda tenant: rls.tenant_scope(tenant.pk)


@pytest.fixture
def as_platform() -> Callable[[], Any]:
    """`with as_platform(): ...` reads every tenant's rows, as platform administration."""
    return rls.platform_scope


def api_url(tenant: Tenant, path: str) -> str:
    return f"/api/v1/t/{tenant.slug}/{path}"
