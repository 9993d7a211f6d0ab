from django.db import models
from django.utils.translation import gettext_lazy as _


class ServiceCriticality(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")
