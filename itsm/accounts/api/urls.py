"""Routes of API tokens, included under /api/v1/ (itsm/api/urls.py)."""

from django.urls import path

from itsm.accounts.api.views import ApiTokenObtainView, ApiTokenViewSet

urlpatterns = [
    path("auth/token/", ApiTokenObtainView.as_view(), name="auth-token"),
    path("auth/tokens/", ApiTokenViewSet.as_view({"get": "list"}), name="auth-token-list"),
    path(
        "auth/tokens/revoke-all/",
        ApiTokenViewSet.as_view({"post": "revoke_all"}),
        name="auth-token-revoke-all",
    ),
    path(
        "auth/tokens/<str:prefix>/",
        ApiTokenViewSet.as_view({"delete": "destroy"}),
        name="auth-token-detail",
    ),
]
