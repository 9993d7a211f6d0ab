"""Demo incidents for the demo tenants, walked through the real services. Safe to run again:
a tenant that has incidents already is left alone. Run after `seed_demo`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from incidents import services
from incidents.models import Incident
from itsm.catalog.models import Category, Service
from itsm.tenancy import rls
from itsm.tenancy.models import Team, Tenant

# title, service, category, reporter, impact, urgency, then steps:
# (action, actor, arguments) with team and people by slug/username.
DEMO: dict[
    str, list[tuple[str, str, str, str, int, int, list[tuple[str, str, dict[str, Any]]]]]
] = {
    "acme": [
        (
            "Corporate website returns 502 Bad Gateway",
            "website",
            "network",
            "alice",
            1,
            1,
            [
                ("assign", "alice", {"team": "platform-engineering"}),
                ("acknowledge", "carol", {}),
                (
                    "declare_major",
                    "maria",
                    {"commander": "maria", "reason": "The public website is down for everyone."},
                ),
            ],
        ),
        (
            "ERP invoice run fails with a timeout",
            "erp",
            "business-apps",
            "rita",
            1,
            2,
            [
                ("assign", "alice", {"team": "application-support", "assignee": "bob"}),
                ("acknowledge", "bob", {}),
            ],
        ),
        (
            "Outlook cannot connect to Exchange after update",
            "email",
            "office-apps",
            "rita",
            2,
            1,
            [],
        ),
        (
            "VPN drops every hour for remote staff",
            "vpn",
            "connectivity",
            "rita",
            2,
            2,
            [
                ("assign", "alice", {"team": "service-desk", "assignee": "alice"}),
                ("acknowledge", "alice", {}),
                (
                    "escalate",
                    "alice",
                    {
                        "kind": "functional",
                        "team": "network",
                        "reason": "Tunnel resets point at the concentrator.",
                    },
                ),
            ],
        ),
        ("Payroll export is missing overtime hours", "payroll", "business-apps", "rita", 2, 2, []),
        (
            "Printer on the third floor keeps jamming",
            "workplace",
            "printer",
            "rita",
            3,
            3,
            [
                ("assign", "alice", {"team": "service-desk", "assignee": "alice"}),
                ("acknowledge", "alice", {}),
                (
                    "hold",
                    "alice",
                    {
                        "hold_reason": "awaiting_caller",
                        "note": "Asked for the printer's asset tag.",
                    },
                ),
            ],
        ),
        (
            "Password reset link has expired",
            "sso",
            "password-reset",
            "rita",
            3,
            2,
            [
                ("assign", "alice", {"team": "service-desk", "assignee": "alice"}),
                ("acknowledge", "alice", {}),
                (
                    "resolve",
                    "alice",
                    {
                        "resolution_code": "user_guidance",
                        "resolution_notes": "Sent a new link and explained the expiry.",
                    },
                ),
            ],
        ),
        (
            "Laptop fan is very loud",
            "workplace",
            "laptop",
            "rita",
            3,
            3,
            [
                ("assign", "alice", {"team": "service-desk", "assignee": "alice"}),
                ("acknowledge", "alice", {}),
                (
                    "resolve",
                    "alice",
                    {
                        "resolution_code": "fixed",
                        "resolution_notes": "Cleaned the fan and updated the BIOS.",
                    },
                ),
                ("close", "rita", {"note": "Quiet now, thanks."}),
            ],
        ),
    ],
    "globex": [
        ("Handheld scanners cannot sync in depot 4", "warehouse", "scanner", "gina", 2, 1, []),
    ],
}

SERVICES: dict[str, Callable[..., Any]] = {
    "assign": services.incident_assign,
    "acknowledge": services.incident_acknowledge,
    "escalate": services.incident_escalate,
    "hold": services.incident_hold,
    "resolve": services.incident_resolve,
    "close": services.incident_close,
    "declare_major": services.incident_declare_major,
}


class Command(BaseCommand):
    help = "Create demo incidents in the demo tenants (after seed_demo; idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = {user.username: user for user in get_user_model().objects.all()}
        for slug, incidents in DEMO.items():
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                continue
            with rls.tenant_scope(tenant.pk):
                if Incident.objects.for_tenant(tenant).exists():
                    continue
                for title, service, category, reporter, impact, urgency, steps in incidents:
                    self._incident(
                        tenant, users, title, service, category, reporter, impact, urgency, steps
                    )
        self.stdout.write(self.style.SUCCESS("Demo incidents ready."))

    def _incident(
        self,
        tenant: Tenant,
        users: dict[str, Any],
        title: str,
        service: str,
        category: str,
        reporter: str,
        impact: int,
        urgency: int,
        steps: list[tuple[str, str, dict[str, Any]]],
    ) -> None:
        incident = services.incident_create(
            tenant=tenant,
            actor=users[reporter],
            data={
                "title": title,
                "service": Service.objects.for_tenant(tenant).get(slug=service),
                "category": Category.objects.for_tenant(tenant).filter(slug=category).first(),
                "impact": impact,
                "urgency": urgency,
                "description": f"Reported by {reporter}: {title.lower()}.",
            },
        )
        teams = {team.slug: team for team in Team.objects.for_tenant(tenant)}
        for action, actor, arguments in steps:
            resolved = {
                name: teams[value]
                if name == "team"
                else users[value]
                if name in ("assignee", "commander")
                else value
                for name, value in arguments.items()
            }
            SERVICES[action](tenant=tenant, incident_id=incident.pk, actor=users[actor], **resolved)
