from rest_framework.routers import SimpleRouter

from incidents.api.views import IncidentViewSet, SlaPolicyViewSet

app_name = "incidents-api"

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")

urlpatterns = router.urls
