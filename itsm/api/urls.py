"""API routes that are not inside a tenant: the caller, tokens, schema and docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from itsm.api.views import MeView

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    # auth/token/ (obtain), auth/tokens/ (list, revoke one, revoke all): itsm/accounts.
    path("", include("itsm.accounts.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as its own request: no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
]
