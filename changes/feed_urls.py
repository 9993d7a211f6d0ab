"""The change calendar's iCalendar feed, for calendar clients (the token in the URL is the
credential)."""

from django.urls import path

from changes.feed_views import CalendarFeedView

app_name = "changes-feed"

urlpatterns = [
    path("t/<slug:tenant_slug>/changes/calendar.ics", CalendarFeedView.as_view(), name="calendar"),
]
