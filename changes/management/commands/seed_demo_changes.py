"""Demo change management for the demo tenant, walked through the real services: the boards, a
standard change template, a blackout window and changes in several states (one awaiting the
CAB, so the approvers' queue is not empty). Safe to run again: a tenant that has changes
already is left alone. Run after `seed_demo` and `seed_demo_incidents`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from changes import blackouts, services
from changes.choices import ApprovalBoard, ChangeType
from changes.models import Change
from itsm.catalog.models import Service
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant

TENANT = "acme"
CAB = {"bob": ApprovalBoard.CAB, "carol": ApprovalBoard.CAB, "maria": ApprovalBoard.ECAB}
PLANS = {
    "implementation_plan": "Announce, apply in the maintenance window, verify the service.",
    "backout_plan": "Restore the previous version from the snapshot taken before.",
    "test_plan": "Smoke tests of the service's main journeys.",
}


class Command(BaseCommand):
    help = "Create demo changes in the demo tenant (after seed_demo; idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=TENANT).first()
        if tenant is not None:
            with rls.tenant_scope(tenant.pk):
                if not Change.objects.for_tenant(tenant).exists():
                    self._seed(tenant)
        self.stdout.write(self.style.SUCCESS("Demo changes ready."))

    def _seed(self, tenant: Tenant) -> None:
        users = {user.username: user for user in get_user_model().objects.all()}
        erin = users["erin"]
        services_by_slug = {service.slug: service for service in Service.objects.for_tenant(tenant)}
        for username, board in CAB.items():
            services.cab_member_add(tenant=tenant, actor=erin, user=users[username], board=board)
        # Planned windows from next Monday 20:00 (UTC: the demo's business calendars are).
        now = timezone.now()
        monday = (now + timedelta(days=7 - now.weekday())).replace(
            hour=20, minute=0, second=0, microsecond=0
        )
        blackouts.blackout_create(
            tenant=tenant,
            data={
                "name": "Month-end close",
                "starts_at": monday + timedelta(days=21),
                "ends_at": monday + timedelta(days=24),
                "reason": "Finance closes the books: no changes to the ERP.",
                "services": [services_by_slug["erp"]],
            },
        )
        template = services.template_create(
            tenant=tenant,
            actor=erin,
            data={
                "name": "Restart the mail relay",
                "description": "Drain and restart the outbound mail relay.",
                "services": [services_by_slug["email"]],
                **PLANS,
                "risk_impact": 1,
                "risk_likelihood": 1,
                "risk_backout": 1,
                "duration_minutes": 30,
            },
        )
        standard = services.change_create_from_template(
            tenant=tenant,
            template_id=template.pk,
            actor=erin,
            data={"planned_start": monday + timedelta(days=1)},
        )
        # Pre-approved: assessed and scheduled without the CAB.
        services.change_submit(tenant=tenant, change_id=standard.pk, actor=erin)
        services.change_schedule(tenant=tenant, change_id=standard.pk, actor=erin)
        website = [services_by_slug["website"]]
        self._change(tenant, erin, "Upgrade the web servers' TLS library", website, monday, 2)
        self._change(tenant, erin, "Move the website to the new load balancer", website, monday, 0)

    def _change(
        self,
        tenant: Tenant,
        actor: Any,
        title: str,
        services_: list[Service],
        start: datetime,
        steps: int,
    ) -> None:
        """A normal change with plans and a window, taken `steps` steps: 0 draft, 1 assessed,
        2 awaiting the CAB's approval."""
        change = services.change_create(
            tenant=tenant,
            actor=actor,
            data={
                "title": title,
                "change_type": ChangeType.NORMAL,
                "description": f"{title}.",
                "services": services_,
                "planned_start": start,
                "planned_end": start + timedelta(hours=2),
                **PLANS,
            },
        )
        kwargs = {"tenant": tenant, "change_id": change.pk, "actor": actor}
        services.change_assess_risk(**kwargs, risk_impact=2, risk_likelihood=2, risk_backout=1)
        if steps >= 1:
            services.change_submit(**kwargs)
        if steps >= 2:
            services.change_request_approval(**kwargs)
