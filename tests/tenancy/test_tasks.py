"""Tenancy tasks: the welcome e-mail goes out through a real Celery worker on the Redis broker
once the membership is committed, and never for a rolled-back one; tasks for gone tenants and
memberships are no-ops; expired sessions are purged; beat only schedules registered tasks."""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.utils import timezone

from itsm.celery import app
from itsm.tenancy import rls, services
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership
from itsm.tenancy.tasks import purge_expired_sessions_task, send_membership_welcome_task
from tests.factories import MembershipFactory, TenantFactory, UserFactory

WELCOME_TASK = "itsm.tenancy.tasks.send_membership_welcome_task"
WAIT_SECONDS = 15.0
SETTLE_SECONDS = 0.5


@dataclass
class WorkerLog:
    """What the worker thread ran: (task name, kwargs, final state), in order."""

    runs: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)

    def wait_for(self, count: int) -> None:
        """Wait (bounded) until `count` tasks have run, then a little more for any extra one."""
        deadline = time.monotonic() + WAIT_SECONDS
        while len(self.runs) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"the worker ran {self.runs} within {WAIT_SECONDS:.0f} s, not {count}")
            time.sleep(0.05)
        time.sleep(SETTLE_SECONDS)


@pytest.fixture
def worker(transactional_db: None) -> Iterator[WorkerLog]:
    """A Celery worker thread consuming the settings' Redis broker, with an empty queue first.

    The worker thread opens its own database connection, so it only sees committed rows: hence
    `transactional_db` rather than `db`.
    """
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert not app.conf.task_always_eager
    app.control.purge()
    log = WorkerLog()

    def record(sender: Any, kwargs: dict[str, Any], state: str, **_: Any) -> None:
        log.runs.append((sender.name, dict(kwargs), state))

    signals.task_postrun.connect(record, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield log
    finally:
        signals.task_postrun.disconnect(record)


def _join(tenant: Any, role: str = MembershipRole.AGENT, **user_fields: Any) -> Membership:
    """A new user joins the tenant through the service, committed."""
    user = UserFactory(**user_fields)
    with rls.tenant_scope(tenant.pk):
        return services.membership_create(tenant=tenant, user=user, role=role)


def _join_then_fail(tenant: Any, user: Any) -> None:
    """The user joins, then the transaction fails and rolls back."""
    with rls.tenant_scope(tenant.pk):
        services.membership_create(tenant=tenant, user=user, role=MembershipRole.AGENT)
        raise RuntimeError("the request failed after the membership was written")


def _welcome(membership: Membership) -> dict[str, Any]:
    return {"tenant_id": membership.tenant_id, "membership_id": membership.pk}


def test_a_committed_membership_makes_the_worker_send_one_welcome_email(worker):
    tenant = TenantFactory(name="Initech")

    membership = _join(tenant, MembershipRole.CHANGE_MANAGER, username="peter")

    worker.wait_for(1)
    assert worker.runs == [(WELCOME_TASK, _welcome(membership), "SUCCESS")]
    assert [(email.to, email.subject, email.body) for email in mail.outbox] == [
        (
            ["peter@example.com"],
            "You have been added to Initech",
            "Hello peter,\n\nyou now have the role Change manager in Initech.\n",
        )
    ]


def test_a_rolled_back_membership_enqueues_nothing(worker):
    tenant = TenantFactory()
    user = UserFactory()

    with pytest.raises(RuntimeError, match="failed after the membership was written"):
        _join_then_fail(tenant, user)
    # The queue is first in, first out and the worker takes one task at a time: once a later
    # membership's task has run, anything the rolled-back one had enqueued would have run too.
    later = _join(tenant, username="later")

    worker.wait_for(1)
    assert worker.runs == [(WELCOME_TASK, _welcome(later), "SUCCESS")]
    assert [email.to for email in mail.outbox] == [["later@example.com"]]
    with rls.tenant_scope(tenant.pk):
        assert list(Membership.objects.values_list("user__username", flat=True)) == ["later"]


def test_the_welcome_task_for_an_inactive_tenant_is_a_no_op(worker):
    inactive = TenantFactory(is_active=False)
    active = TenantFactory()

    skipped = _join(inactive, username="skipped")
    welcomed = _join(active, username="welcomed")

    worker.wait_for(2)
    assert worker.runs == [
        (WELCOME_TASK, _welcome(skipped), "SUCCESS"),
        (WELCOME_TASK, _welcome(welcomed), "SUCCESS"),
    ]
    assert [email.to for email in mail.outbox] == [["welcomed@example.com"]]


def test_the_welcome_task_for_a_deleted_membership_is_a_no_op_every_time(db):
    tenant = TenantFactory()
    membership = MembershipFactory(tenant=tenant)
    with rls.tenant_scope(tenant.pk):
        services.membership_delete(membership=membership)

    first = send_membership_welcome_task(tenant_id=tenant.pk, membership_id=membership.pk)
    second = send_membership_welcome_task(tenant_id=tenant.pk, membership_id=membership.pk)

    assert (first, second) == (None, None)
    assert mail.outbox == []


def test_the_welcome_task_for_an_inactive_membership_sends_nothing(db):
    tenant = TenantFactory()
    membership = MembershipFactory(tenant=tenant, is_active=False)

    assert send_membership_welcome_task(tenant_id=tenant.pk, membership_id=membership.pk) is None
    assert mail.outbox == []


def test_purge_expired_sessions_deletes_only_expired_sessions(db):
    now = timezone.now()
    expiries = {
        "expired-long-ago": now - timedelta(days=30),
        "expired-just-now": now - timedelta(seconds=1),
        "expires-soon": now + timedelta(minutes=1),
        "expires-later": now + timedelta(days=14),
    }
    for key, expire_date in expiries.items():
        Session.objects.create(session_key=key, session_data="{}", expire_date=expire_date)

    deleted = purge_expired_sessions_task()

    assert deleted == 2
    assert sorted(Session.objects.values_list("session_key", flat=True)) == [
        "expires-later",
        "expires-soon",
    ]
    assert purge_expired_sessions_task() == 0


def test_the_beat_schedule_names_only_registered_tasks():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert scheduled  # there is something to check
    assert scheduled - set(app.tasks) == set()
    assert app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE
    assert {WELCOME_TASK, "itsm.tenancy.tasks.purge_expired_sessions_task"} <= set(app.tasks)
