"""Load demo tenants, people, teams and a service catalogue. Safe to run again.

Everything is written through the services, inside each tenant's RLS scope, as real use would.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from itsm.catalog import services as catalog_services
from itsm.catalog.models import Category, Service
from itsm.tenancy import rls, services
from itsm.tenancy.choices import MembershipRole as Role
from itsm.tenancy.choices import TeamKind
from itsm.tenancy.models import Membership, Team, Tenant


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    people: dict[str, Role]  # username -> role
    teams: list[
        tuple[str, str, TeamKind, list[str], str | None]
    ]  # slug, name, kind, members, escalates to
    services: list[
        tuple[str, str, str, str | None, str]
    ]  # slug, name, criticality, owner, description
    categories: list[tuple[str, str, str | None]]  # slug, name, parent


PEOPLE = {
    "alice": ("Alice", "Archer", "L1 service desk agent"),
    "bob": ("Bob", "Baker", "L2 support engineer"),
    "carol": ("Carol", "Chen", "L3 platform engineer"),
    "dave": ("Dave", "Diaz", "problem manager"),
    "erin": ("Erin", "Evans", "change manager"),
    "frank": ("Frank", "Fischer", "tenant administrator"),
    "maria": ("Maria", "Moreau", "IT operations manager"),
    "rita": ("Rita", "Rossi", "requester (end user)"),
    "gina": ("Gina", "Gray", "service desk agent at Globex"),
}

TENANTS = [
    DemoTenant(
        slug="acme",
        name="Acme Corporation",
        people={
            "alice": Role.AGENT,
            "bob": Role.AGENT,
            "carol": Role.AGENT,
            "dave": Role.PROBLEM_MANAGER,
            "erin": Role.CHANGE_MANAGER,
            "frank": Role.TENANT_ADMIN,
            "maria": Role.AGENT,
            "rita": Role.REQUESTER,
        },
        teams=[
            ("it-management", "IT Management", TeamKind.MANAGEMENT, ["maria"], None),
            ("platform-engineering", "Platform Engineering", TeamKind.L3, ["carol"], None),
            (
                "application-support",
                "Application Support",
                TeamKind.L2,
                ["bob"],
                "platform-engineering",
            ),
            ("service-desk", "Service Desk", TeamKind.L1, ["alice"], "application-support"),
            ("network", "Network Operations", TeamKind.SPECIALIST, ["carol"], None),
        ],
        services=[
            (
                "email",
                "E-mail and calendars",
                "critical",
                "application-support",
                "Exchange Online mailboxes, shared calendars and distribution lists.",
            ),
            (
                "vpn",
                "Remote access VPN",
                "high",
                "network",
                "Always-on VPN for staff working off site.",
            ),
            (
                "erp",
                "ERP (finance and supply chain)",
                "critical",
                "application-support",
                "Orders, invoicing, stock and the general ledger.",
            ),
            (
                "website",
                "Corporate website",
                "high",
                "platform-engineering",
                "The public website and its content management system.",
            ),
            (
                "payroll",
                "Payroll",
                "high",
                "application-support",
                "Monthly payroll runs and payslips.",
            ),
            (
                "workplace",
                "Laptops and desktops",
                "medium",
                "service-desk",
                "Staff laptops, docking stations and peripherals.",
            ),
            ("wifi", "Office Wi-Fi", "medium", "network", "Wireless networks in every office."),
            (
                "sso",
                "Identity and single sign-on",
                "critical",
                "platform-engineering",
                "Accounts, passwords, MFA and SSO to every application.",
            ),
        ],
        categories=[
            ("hardware", "Hardware", None),
            ("laptop", "Laptop", "hardware"),
            ("printer", "Printer", "hardware"),
            ("software", "Software", None),
            ("office-apps", "Office applications", "software"),
            ("business-apps", "Business applications", "software"),
            ("network", "Network", None),
            ("connectivity", "Connectivity", "network"),
            ("access", "Access and accounts", None),
            ("password-reset", "Password reset", "access"),
            ("permissions", "Permissions", "access"),
        ],
    ),
    DemoTenant(
        slug="globex",
        name="Globex Logistics",
        people={"gina": Role.AGENT, "alice": Role.REQUESTER, "frank": Role.TENANT_ADMIN},
        teams=[
            ("ops-management", "Operations Management", TeamKind.MANAGEMENT, [], None),
            ("helpdesk", "Helpdesk", TeamKind.L1, ["gina"], None),
        ],
        services=[
            (
                "tracking",
                "Shipment tracking",
                "critical",
                "helpdesk",
                "Customer-facing parcel tracking.",
            ),
            (
                "warehouse",
                "Warehouse management",
                "high",
                "helpdesk",
                "Scanning, picking and stock in every depot.",
            ),
        ],
        categories=[("hardware", "Hardware", None), ("scanner", "Handheld scanner", "hardware")],
    ),
]


class Command(BaseCommand):
    help = "Create demo tenants, users, teams, services and categories (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = self._users()
        for demo in TENANTS:
            tenant = Tenant.objects.filter(slug=demo.slug).first() or services.tenant_create(
                name=demo.name, slug=demo.slug
            )
            with rls.tenant_scope(tenant.pk):
                self._tenant(tenant, demo, users)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Platform admin:  admin / {settings.DEMO_PASSWORD}  (at /admin/)")
        for username, (_first, _last, what) in PEOPLE.items():
            self.stdout.write(f"  {username:<8} / {settings.DEMO_PASSWORD}  {what}")

    def _users(self) -> dict[str, Any]:
        user_model = get_user_model()
        admin = user_model.objects.filter(username="admin").first()
        if admin is None:
            user_model.objects.create_superuser(
                "admin", "admin@example.com", settings.DEMO_PASSWORD
            )
        users = {}
        for username, (first, last, _what) in PEOPLE.items():
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user = user_model.objects.create_user(
                    username,
                    f"{username}@example.com",
                    settings.DEMO_PASSWORD,
                    first_name=first,
                    last_name=last,
                )
            users[username] = user
        return users

    def _tenant(self, tenant: Tenant, demo: DemoTenant, users: dict[str, Any]) -> None:
        existing = set(
            Membership.objects.for_tenant(tenant).values_list("user__username", flat=True)
        )
        for username, role in demo.people.items():
            if username not in existing:
                services.membership_create(
                    tenant=tenant, user=users[username], role=role, notify=False
                )
        teams = {team.slug: team for team in Team.objects.for_tenant(tenant)}
        for slug, name, kind, members, escalates_to in demo.teams:
            if slug not in teams:
                teams[slug] = services.team_create(
                    tenant=tenant,
                    data={
                        "slug": slug,
                        "name": name,
                        "kind": kind,
                        "escalation_team": teams.get(escalates_to or ""),
                    },
                    members=[users[username] for username in members],
                )
        known_services = set(Service.objects.for_tenant(tenant).values_list("slug", flat=True))
        for slug, name, criticality, owner, description in demo.services:
            if slug not in known_services:
                catalog_services.service_create(
                    tenant=tenant,
                    data={
                        "slug": slug,
                        "name": name,
                        "criticality": criticality,
                        "owner_team": teams.get(owner or ""),
                        "description": description,
                    },
                )
        categories = {category.slug: category for category in Category.objects.for_tenant(tenant)}
        for slug, name, parent in demo.categories:
            if slug not in categories:
                categories[slug] = catalog_services.category_create(
                    tenant=tenant,
                    data={"slug": slug, "name": name, "parent": categories.get(parent or "")},
                )
