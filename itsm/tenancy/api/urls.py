from rest_framework.routers import SimpleRouter

from itsm.tenancy.api.views import MembershipViewSet, TeamViewSet

app_name = "tenancy-api"

router = SimpleRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("memberships", MembershipViewSet, basename="membership")

urlpatterns = router.urls
