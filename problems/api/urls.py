from rest_framework.routers import SimpleRouter

from problems.api.views import (
    IncidentKnowledgeViewSet,
    KnownErrorViewSet,
    ProblemViewSet,
    SuggestionViewSet,
    TrendRunViewSet,
)

app_name = "problems-api"

router = SimpleRouter()
router.register("problems", ProblemViewSet, basename="problem")
router.register("known-errors", KnownErrorViewSet, basename="known-error")
router.register("problem-suggestions", SuggestionViewSet, basename="suggestion")
router.register("trend-runs", TrendRunViewSet, basename="trend-run")
# Below the incidents API's own routes: /incidents/<INC-…>/knowledge/ and /apply-knowledge/.
router.register("incidents", IncidentKnowledgeViewSet, basename="incident-knowledge")

urlpatterns = router.urls
