from rest_framework.routers import SimpleRouter

from problems.api.views import KnownErrorViewSet, ProblemViewSet

app_name = "problems-api"

router = SimpleRouter()
router.register("problems", ProblemViewSet, basename="problem")
router.register("known-errors", KnownErrorViewSet, basename="known-error")

urlpatterns = router.urls
