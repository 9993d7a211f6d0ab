from rest_framework.routers import SimpleRouter

from knowledgebase.api.views import ArticleViewSet

app_name = "knowledgebase-api"

router = SimpleRouter()
router.register("articles", ArticleViewSet, basename="article")

urlpatterns = router.urls
