from rest_framework.routers import SimpleRouter

from changes.api.views import (
    ApprovalRuleViewSet,
    CabMemberViewSet,
    ChangeTemplateViewSet,
    ChangeViewSet,
)

app_name = "changes-api"

router = SimpleRouter()
router.register("changes", ChangeViewSet, basename="change")
router.register("change-templates", ChangeTemplateViewSet, basename="change-template")
router.register("cab-members", CabMemberViewSet, basename="cab-member")
router.register("approval-rules", ApprovalRuleViewSet, basename="approval-rule")

urlpatterns = router.urls
