from rest_framework.routers import SimpleRouter

from incidents.api.views import IncidentViewSet

app_name = "incidents-api"

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")

urlpatterns = router.urls
