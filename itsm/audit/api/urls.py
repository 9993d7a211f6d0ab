from rest_framework.routers import SimpleRouter

from itsm.audit.api.views import AuditEventViewSet

app_name = "audit-api"

router = SimpleRouter()
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = router.urls
