from rest_framework.routers import SimpleRouter

from itsm.calendars.api.views import BusinessCalendarViewSet

app_name = "calendars-api"

router = SimpleRouter()
router.register("calendars", BusinessCalendarViewSet, basename="calendar")

urlpatterns = router.urls
