"""Measure the outbox: how fast notifications are published, and delivered by one worker.

    manage.py benchmark_notifications --notifications 2000
    manage.py benchmark_notifications --notifications 2000 --celery-worker

Seeds a tenant `notify-bench` with users, publishes N notifications (each in a transaction of
its own, as requests would; one user each: an e-mail and an in-app item), then delivers them
through ONE worker to a local SMTP server (`itsm.notifications.smtp_sink`, needs aiosmtpd):
by default the delivery task's body run in this process, as a solo worker runs it; with
`--celery-worker` a real `celery worker --pool=solo` process on the configured broker.
Reported, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import override_settings

from itsm.notifications.choices import EMAIL, IN_APP, DeliveryStatus
from itsm.notifications.delivery import DeliveryRun, deliveries_deliver_due
from itsm.notifications.models import Delivery
from itsm.notifications.registry import register_event_type
from itsm.notifications.services import delivery_deferred, notification_publish
from itsm.notifications.smtp_sink import SmtpSink
from itsm.notifications.tasks import deliver_notifications_task
from itsm.tenancy import rls
from itsm.tenancy.models import Membership, Tenant

EVENT = "benchmark.ping"
SLUG = "notify-bench"


class Command(BaseCommand):
    help = "Benchmark the notifications outbox: publish rate and delivery rate of one worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--notifications", type=int, default=2000)
        parser.add_argument("--users", type=int, default=50)
        parser.add_argument("--celery-worker", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["notifications"]
        register_event_type(EVENT, label="Benchmark", default_channels=(EMAIL, IN_APP))
        tenant, users = self._seed(options["users"])
        self.stdout.write(f"{connection.vendor}: {count} notifications, 1 user each")
        before = self._count(tenant, DeliveryStatus.DELIVERED)
        with SmtpSink() as sink:
            self._publish(tenant, users, count)
            if options["celery_worker"]:
                seconds = self._celery_worker(tenant, sink, count)
            else:
                seconds = self._in_process(tenant, sink)
            received = len(sink.received)
        delivered = self._count(tenant, DeliveryStatus.DELIVERED) - before
        self.stdout.write(
            f"delivered: {received} e-mails (+{count} in-app items written on publish) in "
            f"{seconds:.2f} s: {received / seconds:.0f} notifications/s through one worker"
        )
        self.stdout.write(f"e-mail deliveries recorded delivered: {delivered}")

    def _publish(self, tenant: Tenant, users: list[Any], count: int) -> None:
        started = time.perf_counter()
        # No doorbell per notification: the worker below is told once, when all are written.
        with delivery_deferred():
            for index in range(count):
                with rls.tenant_scope(tenant.pk):
                    notification_publish(
                        tenant=tenant,
                        event_type=EVENT,
                        title=f"Benchmark {index}",
                        body="Measured, not asserted.",
                        users=[users[index % len(users)]],
                    )
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"published: {count} in {seconds:.2f} s ({count / seconds:.0f}/s, one transaction "
            f"each, two delivery rows each)"
        )

    def _in_process(self, tenant: Tenant, sink: SmtpSink) -> float:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=sink.port,
            EMAIL_USE_TLS=False,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
        ):
            started = time.perf_counter()
            while deliveries_deliver_due(tenant_id=tenant.pk) != DeliveryRun():
                pass
            return time.perf_counter() - started

    def _celery_worker(self, tenant: Tenant, sink: SmtpSink, count: int) -> float:
        params = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{params['USER']}:{params.get('PASSWORD') or ''}@"
            f"{params['HOST']}:{params['PORT']}/{params['NAME']}",
            "EMAIL_URL": sink.url,
            "ITSM_ENV_FILE": "/nonexistent/.env",
        }
        env.pop("DATABASE_OWNER_URL", None)
        log = Path(tempfile.mkdtemp()) / "worker.log"
        with log.open("wb") as output:
            worker = subprocess.Popen(  # our own interpreter and arguments
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "itsm",
                    "worker",
                    "--pool=solo",
                    "--loglevel=INFO",
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + 120
                while b" ready." not in log.read_bytes():
                    if worker.poll() is not None or time.monotonic() > deadline:
                        raise CommandError(f"The worker did not start; see {log}")
                    time.sleep(0.1)
                started = time.perf_counter()
                per_task = settings.NOTIFICATIONS_DELIVERY_BATCH * (
                    settings.NOTIFICATIONS_DELIVERY_MAX_BATCHES
                )
                for _ in range(-(-count // per_task)):
                    deliver_notifications_task.delay(tenant_id=tenant.pk)
                while self._count(tenant, DeliveryStatus.PENDING):
                    if worker.poll() is not None or time.monotonic() > deadline + 600:
                        raise CommandError(f"The worker stopped or stalled; see {log}")
                    time.sleep(0.05)
                return time.perf_counter() - started
            finally:
                worker.terminate()
                worker.wait(timeout=30)

    def _count(self, tenant: Tenant, status: str) -> int:
        with rls.tenant_scope(tenant.pk):
            return int(
                Delivery.objects.for_tenant(tenant).filter(channel=EMAIL, status=status).count()
            )

    def _seed(self, count: int) -> tuple[Tenant, list[Any]]:
        tenant, _ = Tenant.objects.get_or_create(slug=SLUG, defaults={"name": "Notify bench"})
        with rls.tenant_scope(tenant.pk):
            Delivery.objects.for_tenant(tenant).filter(status=DeliveryStatus.PENDING).delete()
            users = []
            for index in range(count):
                user, _ = get_user_model().objects.get_or_create(
                    username=f"{SLUG}-{index}", defaults={"email": f"{SLUG}-{index}@example.com"}
                )
                Membership.objects.get_or_create(
                    tenant=tenant, user=user, defaults={"role": "agent"}
                )
                users.append(user)
        return tenant, users
