from rest_framework.routers import SimpleRouter

from itsm.catalog.api.views import CategoryViewSet, ServiceViewSet

app_name = "catalog-api"

router = SimpleRouter()
router.register("services", ServiceViewSet, basename="service")
router.register("categories", CategoryViewSet, basename="category")

urlpatterns = router.urls
