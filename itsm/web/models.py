"""What the workspace keeps per person: saved views of queues."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from itsm.tenancy.models import TenantOwnedModel


class SavedView(TenantOwnedModel):
    """A named set of filters of one queue page, personal to its owner in one tenant."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    page = models.CharField(max_length=100, help_text=_('The queue page: "incidents:list".'))
    name = models.CharField(max_length=80)
    query = models.CharField(
        max_length=1000, blank=True, help_text=_("The page's query string, without the cursor.")
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "page", "name"], name="web_savedview_unique_name"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "user", "page"], name="web_savedview_owner"),
        ]

    def __str__(self) -> str:
        return self.name
