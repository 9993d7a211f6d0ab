"""The change calendar's query (`?view=`, `?date=`, `?service=`, `?tz=`) and its feed-token POSTs.

The query form checks shape only: a bad parameter is a 400 page naming it, never a 500 (a date
of year 1 would overflow the grid's arithmetic, so years are bounded).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Sequence
from typing import Any, Final

from django import forms

MONTH: Final = "month"
WEEK: Final = "week"
VIEWS: Final = ((MONTH, "Month"), (WEEK, "Week"))
EARLIEST: Final = dt.date(1900, 1, 1)
LATEST: Final = dt.date(2999, 12, 31)
CREATE_FEED: Final = "create-feed"
REVOKE_FEED: Final = "revoke-feed"


@functools.cache
def known_time_zones() -> frozenset[str]:
    """The IANA zone names (read once: listing them scans the zone database)."""
    return frozenset(zoneinfo.available_timezones())


class CalendarQueryForm(forms.Form):
    """The calendar's GET parameters; every one optional (month, today, every service)."""

    view = forms.ChoiceField(
        label="View",
        choices=VIEWS,
        required=False,
        error_messages={"invalid_choice": "Choose “month” or “week”, not “%(value)s”."},
    )
    date = forms.DateField(
        label="Day",
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Give a real day as YYYY-MM-DD (e.g. 2027-01-04)."},
    )
    service = forms.ChoiceField(
        label="Service",
        choices=(),
        required=False,
        error_messages={"invalid_choice": "There is no service “%(value)s” in this workspace."},
    )
    tz = forms.CharField(required=False, max_length=64, label="Time zone")

    def __init__(self, *args: Any, services: Sequence[tuple[str, str]] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["service"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = list(services)

    def clean_date(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get("date")
        if day is not None and not EARLIEST <= day <= LATEST:
            raise forms.ValidationError(
                f"Choose a day between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}."
            )
        return day

    def clean_tz(self) -> str:
        name: str = self.cleaned_data.get("tz", "").strip()
        if name and name not in known_time_zones():
            raise forms.ValidationError(
                f"“{name}” is not a time zone: give an IANA name such as Europe/Berlin."
            )
        return name


class FeedTokenForm(forms.Form):
    """A POST of the calendar page: issue a feed token, or revoke one (by its id)."""

    op = forms.ChoiceField(
        choices=((CREATE_FEED, "Create a feed address"), (REVOKE_FEED, "Revoke")),
        error_messages={
            "required": "Say what to do (op).",
            "invalid_choice": "Unknown operation “%(value)s”.",
        },
    )
    token_id = forms.IntegerField(required=False, min_value=1)

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("op") == REVOKE_FEED and not data.get("token_id"):
            self.add_error("token_id", "Say which feed address to revoke.")
        return data
