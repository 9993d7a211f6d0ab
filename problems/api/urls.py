from rest_framework.routers import SimpleRouter

from problems.api.views import IncidentKnowledgeViewSet, KnownErrorViewSet, ProblemViewSet

app_name = "problems-api"

router = SimpleRouter()
router.register("problems", ProblemViewSet, basename="problem")
router.register("known-errors", KnownErrorViewSet, basename="known-error")
# Below the incidents API's own routes: /incidents/<INC-…>/knowledge/ and /apply-knowledge/.
router.register("incidents", IncidentKnowledgeViewSet, basename="incident-knowledge")

urlpatterns = router.urls
