"""Vocabularies of the notifications engine."""

from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class PreferenceSource(models.TextChoices):
    """Where a user's effective preference comes from."""

    USER = "user", _("The user's own choice")
    TENANT = "tenant", _("The tenant's default")
    DEFAULT = "default", _("The event type's default")


# The names of the built-in channels (a channel's name is stored on every delivery row).
EMAIL: Final = "email"
IN_APP: Final = "in_app"
