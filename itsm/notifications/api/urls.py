from rest_framework.routers import SimpleRouter

from itsm.notifications.api.views import NotificationPreferenceViewSet, NotificationViewSet

app_name = "notifications-api"

router = SimpleRouter()
router.register("notifications", NotificationViewSet, basename="notification")
router.register(
    "notification-preferences", NotificationPreferenceViewSet, basename="notification-preference"
)

urlpatterns = router.urls
