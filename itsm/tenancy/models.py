"""Tenants, memberships, teams, per-tenant counters, and the base of every tenant-owned model."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from itsm.audit.tracking import audited
from itsm.tenancy.choices import MembershipRole, TeamKind

CONFIG_VERSION_TRIGGER = "bump_tenant_config_version"


def config_version_trigger() -> pgtrigger.Trigger:
    """The trigger a configuration table declares (Meta.triggers): any change to its rows bumps
    their tenant's `config_version`, in the writer's transaction."""
    return pgtrigger.Trigger(
        name=CONFIG_VERSION_TRIGGER,
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        level=pgtrigger.Row,
        func=(
            "UPDATE tenancy_tenant SET config_version = config_version + 1 "
            "WHERE id = COALESCE(NEW.tenant_id, OLD.tenant_id); RETURN NULL;"
        ),
    )


# The tenant row is its own tenant: its events are filed under its id.
@audited(tenant_column="pgh_obj_id", exclude=["config_version"])
class Tenant(models.Model):
    """An organisation: everything else belongs to exactly one tenant."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    config_version = models.PositiveBigIntegerField(
        default=0,
        db_default=0,  # rows inserted outside the ORM (raw SQL) start at 0 too
        editable=False,
        help_text=_(
            "Bumped by the database whenever the tenant's configuration changes "
            "(itsm.tenancy.config): caches of it are keyed on it."
        ),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantQuerySet[M: models.Model](models.QuerySet[M]):
    def for_tenant(self, tenant: Tenant | int) -> Self:
        """Rows of one tenant: the first wall, explicit at every call site."""
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        return self.filter(tenant_id=tenant_id)


class TenantOwnedModel(models.Model):
    """Base of every tenant-owned model: a non-null tenant and tenant-scoped queries.

    `clean()` refuses a foreign key to another tenant's object, so admin forms and services
    that call `full_clean()` cannot link across tenants.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Any]] = TenantQuerySet.as_manager()

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        errors = {
            field.name: _("Must belong to the same tenant.")
            for field in self._meta.concrete_fields
            if isinstance(field, models.ForeignKey)
            and field.name != "tenant"
            and _belongs_to_other_tenant(self, field)
        }
        if errors:
            raise ValidationError(errors)


def _belongs_to_other_tenant(obj: TenantOwnedModel, field: models.ForeignKey[Any, Any]) -> bool:
    if not issubclass(field.related_model, TenantOwnedModel) or not obj.tenant_id:
        return False
    related = getattr(obj, field.name)
    return related is not None and related.tenant_id != obj.tenant_id


@audited()
class Membership(TenantOwnedModel):
    """A user's role in a tenant. A user works in a tenant only through an active membership."""

    # Row-level security also shows users their own memberships in every tenant.
    rls_visible_to_user_column: ClassVar[str] = "user_id"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=32, choices=MembershipRole.choices)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["tenant_id", "user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user"], name="tenancy_membership_unique_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.get_role_display()})"


@audited()
class Team(TenantOwnedModel):
    """A support team. Its kind gives the support tier (L1/L2/L3) or function."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, db_index=False)  # unique with tenant, indexed there
    kind = models.CharField(max_length=16, choices=TeamKind.choices)
    description = models.TextField(blank=True, max_length=5000)
    email = models.EmailField(blank=True, help_text=_("Where team notifications go."))
    escalation_team = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The next tier's team for functional escalation."),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMember", related_name="teams", blank=True
    )

    class Meta:
        # Cached with the tenant's configuration (tenancy.selectors.tenant_teams).
        triggers = [config_version_trigger()]
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="tenancy_team_unique_slug")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.pk is not None and self.escalation_team_id == self.pk:
            raise ValidationError({"escalation_team": _("A team cannot escalate to itself.")})


@audited()
class TeamMember(TenantOwnedModel):
    """A user's place in a team; the user must be a member of the team's tenant."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_lead = models.BooleanField(default=False)

    class Meta:
        ordering = ["team_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="tenancy_teammember_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"

    def clean(self) -> None:
        super().clean()
        if (
            self.tenant_id
            and self.user_id
            and not Membership.objects.for_tenant(self.tenant_id)
            .filter(user_id=self.user_id, is_active=True)
            .exists()
        ):
            raise ValidationError({"user": _("Must be a member of the team's tenant.")})


class TenantCounter(TenantOwnedModel):
    """The last human number handed out per tenant and kind (INC, PRB, CHG ...)."""

    key = models.CharField(max_length=16)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="tenancy_counter_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.last_value}"


class NumberedModel(TenantOwnedModel):
    """A tenant-owned model addressed by a per-tenant human number such as INC-000042.

    Subclasses set NUMBER_PREFIX; services take `number` with `next_number` (in the INSERT) or
    `allocate_number`.
    """

    NUMBER_PREFIX: ClassVar[str] = ""
    NUMBER_DIGITS: ClassVar[int] = 6

    number = models.PositiveBigIntegerField(editable=False)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "number"], name="%(app_label)s_%(class)s_unique_tenant_number"
            )
        ]

    @property
    def reference(self) -> str:
        return format_reference(self.NUMBER_PREFIX, self.number, self.NUMBER_DIGITS)


def format_reference(prefix: str, number: int, digits: int = 6) -> str:
    return f"{prefix}-{number:0{digits}d}"


MAX_NUMBER = 2**62  # beyond any number a tenant hands out, and within bigint


def parse_reference(prefix: str, reference: str) -> int | None:
    """The number in 'INC-000042' (or a bare '42'); None if it is not one of ours."""
    head, _sep, tail = reference.upper().rpartition("-")
    if head not in ("", prefix) or not tail.isdigit():
        return None
    return int(tail)
