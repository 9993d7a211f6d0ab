"""Business calendars: working hours per weekday, holidays, a time zone."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from itsm.audit.tracking import audited
from itsm.tenancy.models import TenantOwnedModel, config_version_trigger


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(zone)s."), params={"zone": value})


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


@audited()
class BusinessCalendar(TenantOwnedModel):
    """When SLA clocks run. Without working periods a calendar is 24×7."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, db_index=False)  # unique with tenant, indexed there
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "slug"], name="calendars_calendar_unique_slug"
            )
        ]
        # Cached with the SLA policies that name it (their time zone); periods and holidays are
        # read each time a schedule is built.
        triggers = [config_version_trigger()]

    def __str__(self) -> str:
        return self.name


@audited()
class WorkingPeriod(TenantOwnedModel):
    """One working interval on a weekday, in the calendar's local time (end 00:00 = midnight)."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField()
    ends_at = models.TimeField()

    class Meta:
        ordering = ["weekday", "starts_at"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"


@audited()
class Holiday(TenantOwnedModel):
    """A local date on which the calendar does not work."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="calendars_holiday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()
