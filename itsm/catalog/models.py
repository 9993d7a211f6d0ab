"""The tenant's service catalogue: business services and ticket categories."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from itsm.audit.tracking import audited
from itsm.catalog.choices import ServiceCriticality
from itsm.tenancy.models import TenantOwnedModel, config_version_trigger


@audited()
class Service(TenantOwnedModel):
    """A service the organisation runs; incidents and changes name the service they affect."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, db_index=False)  # unique with tenant, indexed there
    description = models.TextField(blank=True, max_length=10000)
    owner_team = models.ForeignKey(
        "tenancy.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_services",
        help_text=_("The team accountable for the service."),
    )
    criticality = models.CharField(
        max_length=16, choices=ServiceCriticality.choices, default=ServiceCriticality.MEDIUM
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        # Cached with the tenant's configuration (itsm.tenancy.config.tenant_rows).
        triggers = [config_version_trigger()]
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="catalog_service_unique_slug")
        ]

    def __str__(self) -> str:
        return self.name


@audited()
class Category(TenantOwnedModel):
    """A category for classifying tickets, optionally under a parent category."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, db_index=False)  # unique with tenant, indexed there
    description = models.TextField(blank=True, max_length=5000)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        # Cached with the tenant's configuration (itsm.tenancy.config.tenant_rows).
        triggers = [config_version_trigger()]
        ordering = ["name", "id"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="catalog_category_unique_slug")
        ]

    def __str__(self) -> str:
        return self.name
