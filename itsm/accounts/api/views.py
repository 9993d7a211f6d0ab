"""API tokens: obtain one with a password (throttled like every log-in), list and revoke your own.

Tokens belong to a user, not a tenant, so these live beside `/api/v1/me/`, outside
`/api/v1/t/<slug>/`: a user sees and revokes only their own, and another user's token is
absent (404), never forbidden.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.mixins import ListModelMixin
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from itsm.accounts import selectors, services
from itsm.accounts.api.serializers import (
    ApiTokenIssuedSerializer,
    ApiTokenObtainSerializer,
    ApiTokenSerializer,
)
from itsm.accounts.throttling import (
    LOCKED_OUT_CODE,
    lockout_message,
    lockout_retry_after,
    login_succeeded,
)

_ERROR = {"$ref": "#/components/schemas/Error"}
INVALID_CREDENTIALS = "Unable to log in with provided credentials."


class LoginLockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = LOCKED_OUT_CODE

    def __init__(self, request: Request) -> None:
        super().__init__(lockout_message(request))
        self.wait = lockout_retry_after(request)  # sent as Retry-After


class ApiTokenObtainView(APIView):
    """Exchange a username and password for an API token, shown once with its expiry.

    The check is Django's `authenticate(request=...)`, so login throttling counts and refuses
    here exactly as on the web and admin log-in pages.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_token_create",
        request=ApiTokenObtainSerializer,
        responses={
            200: ApiTokenIssuedSerializer,
            409: OpenApiResponse(_ERROR, description="The user has as many tokens as allowed."),
            429: OpenApiResponse(
                _ERROR,
                description="Too many failed log-ins for this username from this address; "
                "Retry-After says when to try again.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = ApiTokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        user = authenticate(
            request=request, username=username, password=serializer.validated_data["password"]
        )
        if user is None:
            if getattr(request, "axes_locked_out", False):
                raise LoginLockedOut(request)
            raise exceptions.ValidationError(INVALID_CREDENTIALS)
        login_succeeded(request, username=username)
        issued = services.api_token_issue(user=user)
        return Response(ApiTokenIssuedSerializer(issued).data)


class ApiTokenViewSet(ListModelMixin, GenericViewSet[AuthToken]):
    """The caller's own live API tokens: list (never the keys), revoke one, revoke all."""

    permission_classes = [IsAuthenticated]
    serializer_class = ApiTokenSerializer
    queryset = AuthToken.objects.none()
    lookup_field = "token_key"
    lookup_url_kwarg = "prefix"
    # Bounded by API_TOKEN_LIMIT_PER_USER: one short page.
    pagination_class = None
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return selectors.api_token_list(user=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Your live API tokens, newest first: prefix, created, expiry, and whether this request
        used it. The keys themselves are stored nowhere."""
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, prefix: str) -> Response:
        """Revoke one of your tokens by its prefix; it is refused from now on (401)."""
        services.api_token_revoke(user=request.user, prefix=prefix)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    @action(detail=False, methods=["post"], url_path="revoke-all")
    def revoke_all(self, request: Request) -> Response:
        """Revoke every token of the caller, the one in use included (log out everywhere)."""
        services.api_token_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
