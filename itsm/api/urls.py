"""API routes that are not inside a tenant: the caller, tokens, schema and docs."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import ObtainAuthToken

from itsm.api.views import MeView

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("auth/token/", ObtainAuthToken.as_view(), name="auth-token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
