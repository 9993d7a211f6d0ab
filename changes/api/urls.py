from rest_framework.routers import SimpleRouter

from changes.api.views import (
    ApprovalRuleViewSet,
    CabMemberViewSet,
    ChangeTemplateViewSet,
    ChangeViewSet,
    IncidentChangesViewSet,
    KnownErrorChangesViewSet,
    ProblemChangesViewSet,
)

app_name = "changes-api"

router = SimpleRouter()
router.register("changes", ChangeViewSet, basename="change")
router.register("change-templates", ChangeTemplateViewSet, basename="change-template")
router.register("cab-members", CabMemberViewSet, basename="cab-member")
router.register("approval-rules", ApprovalRuleViewSet, basename="approval-rule")
# Below the lower apps' own routes: problems/<PRB-…>/changes/, known-errors/<KE-…>/changes/ and
# incidents/<INC-…>/changes/ (the other ends of the links).
router.register("problems", ProblemChangesViewSet, basename="problem-changes")
router.register("known-errors", KnownErrorChangesViewSet, basename="known-error-changes")
router.register("incidents", IncidentChangesViewSet, basename="incident-changes")

urlpatterns = router.urls
