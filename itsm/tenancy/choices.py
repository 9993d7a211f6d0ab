from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _


class MembershipRole(models.TextChoices):
    REQUESTER = "requester", _("Requester")
    AGENT = "agent", _("Agent")
    PROBLEM_MANAGER = "problem_manager", _("Problem manager")
    CHANGE_MANAGER = "change_manager", _("Change manager")
    TENANT_ADMIN = "tenant_admin", _("Tenant administrator")


class TeamKind(models.TextChoices):
    L1 = "l1", _("L1 service desk")
    L2 = "l2", _("L2 support")
    L3 = "l3", _("L3 engineering")
    SPECIALIST = "specialist", _("Specialist")
    MANAGEMENT = "management", _("Management")


# Role groups that viewsets grant actions to.
ALL_ROLES: Final = frozenset(MembershipRole)
# Everyone who works tickets, as opposed to requesters (end users).
STAFF_ROLES: Final = frozenset(ALL_ROLES - {MembershipRole.REQUESTER})
ADMIN_ROLES: Final = frozenset({MembershipRole.TENANT_ADMIN})
