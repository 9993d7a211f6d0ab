"""How fresh each tenant's daily rollups are."""

from __future__ import annotations

from django.db import models

from itsm.tenancy.models import TenantOwnedModel


class RollupState(TenantOwnedModel):
    """One tenant's rollup `name` (for instance "incidents"): when its recent days were last
    recomputed, when it was last rebuilt whole, and through which day it is complete.

    Reports read a rollup only once it has been rebuilt whole, and only for the days through
    `complete_through`; later days come from the records themselves."""

    name = models.CharField(max_length=40)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    complete_through = models.DateField(
        null=True, blank=True, help_text="The last day whose rollup was computed after it ended."
    )
    rows = models.PositiveIntegerField(default=0, help_text="Rows the last run wrote.")
    last_duration = models.DurationField(null=True, blank=True)

    class Meta:
        ordering = ["tenant_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="metrics_rollup_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} rollup of tenant {self.tenant_id}"
