"""Article pages: the list and search, the article with its actions, the editor with its
preview, and the versions with compare and restore.

Requesters use the same list and article URLs (they see the published articles meant for them),
so a link works for everyone who may read the article.
"""

from django.urls import path

from knowledgebase.views import articles, editor, record, versions

app_name = "knowledgebase"

TENANT = "t/<slug:tenant_slug>/articles/"

urlpatterns = [
    path(TENANT, articles.ArticleListPage.as_view(), name="list"),
    path(f"{TENANT}new/", editor.ArticleCreatePage.as_view(), name="create"),
    path(f"{TENANT}preview/", editor.ArticlePreviewPage.as_view(), name="preview"),
    path(f"{TENANT}<str:reference>/", record.ArticlePage.as_view(), name="detail"),
    path(f"{TENANT}<str:reference>/edit/", editor.ArticleEditPage.as_view(), name="edit"),
    path(
        f"{TENANT}<str:reference>/versions/",
        versions.ArticleVersionsPage.as_view(),
        name="versions",
    ),
    path(
        f"{TENANT}<str:reference>/<slug:action>/",
        record.ArticleActionPage.as_view(),
        name="action",
    ),
]
