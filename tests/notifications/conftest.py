"""Event types of the tests' own, a team to notify, and helpers to publish and look."""

from collections.abc import Callable
from typing import Any

import pytest

from itsm.notifications import registry, services
from itsm.notifications.models import Delivery
from itsm.notifications.services import notification_publish
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant

ENQUEUE = services.enqueue_delivery
PING = "test.ping"  # e-mail and in-app unless someone chose otherwise
DIGEST = "test.digest"  # e-mail only by default


@pytest.fixture(autouse=True)
def _event_types(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, label, channels in [
        (PING, "Pings", ("email", "in_app")),
        (DIGEST, "Digests", ("email",)),
    ]:
        event_type = registry.EventType(name, label, frozenset(channels))
        monkeypatch.setitem(registry._event_types, name, event_type)


@pytest.fixture(autouse=True)
def doorbell(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tenants whose delivery was enqueued after commit; nothing reaches a broker."""
    rung: list[int] = []
    monkeypatch.setattr(services, "enqueue_delivery", lambda *, tenant_id: rung.append(tenant_id))
    return rung


@pytest.fixture
def eager(settings: Any, doorbell: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Enqueueing is real and tasks run in-process: delivery happens right after commit."""
    monkeypatch.setattr(services, "enqueue_delivery", ENQUEUE)
    settings.CELERY_TASK_ALWAYS_EAGER = True


def rows(tenant: Tenant) -> list[tuple[str, str, str]]:
    """Every delivery of the tenant as (channel, recipient, status), sorted."""
    with rls.tenant_scope(tenant.pk):
        return sorted(
            (delivery.channel, delivery.address or str(delivery.user), delivery.status)
            for delivery in Delivery.objects.for_tenant(tenant).select_related("user")
        )


@pytest.fixture
def publish(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[..., Any]:
    """publish(tenant, **fields): publish in a committed tenant transaction (callbacks run)."""

    def run(tenant: Tenant, **fields: Any) -> Any:
        fields.setdefault("event_type", PING)
        fields.setdefault("title", "Ping")
        fields.setdefault("body", "Hello.")
        with django_capture_on_commit_callbacks(execute=True), rls.tenant_scope(tenant.pk):
            # As a request would: the tenant as it is now, so the cached preferences are current.
            tenant.refresh_from_db(fields=["config_version"])
            return notification_publish(tenant=tenant, **fields)

    return run
