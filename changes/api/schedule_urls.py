"""Routes of the change schedule API, below /api/v1/t/<slug>/: the calendar, blackout windows
and the caller's calendar feed token."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from changes.api.schedule import (
    BlackoutWindowViewSet,
    CalendarFeedTokenViewSet,
    ChangeCalendarViewSet,
)

app_name = "changes-schedule-api"

router = SimpleRouter()
router.register("change-calendar", ChangeCalendarViewSet, basename="change-calendar")
router.register("blackout-windows", BlackoutWindowViewSet, basename="blackout-window")

urlpatterns = [
    *router.urls,
    path(
        "calendar-feed-token/",
        CalendarFeedTokenViewSet.as_view({"post": "create", "delete": "revoke"}),
        name="calendar-feed-token",
    ),
]
