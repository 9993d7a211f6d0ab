"""`Authorization: Token <key>` against knox's hashed tokens.

Knox finds the row by the key's first 15 characters and compares SHA-512 digests in constant
time; an expired token is deleted and refused (401). Two changes to knox's class:

- A key that is not printable ASCII is refused as an invalid token; knox would fail on it
  with a 500 (a non-UTF-8 header, or a NUL that PostgreSQL cannot take in a query).
- Knox also sweeps the user's *other* expired tokens on every request, one more query per
  API call; here the presented token's own expiry is checked and the sweep is a daily beat
  task (`purge_expired_credentials_task`).
"""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from knox.signals import token_expired
from rest_framework import exceptions

_TOKEN_SHAPE = re.compile(rb"[\x21-\x7e]{1,128}")


class ApiTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        if not _TOKEN_SHAPE.fullmatch(token):
            raise exceptions.AuthenticationFailed("Invalid token.")
        result: tuple[Any, Any] = super().authenticate_credentials(token)
        return result

    def _cleanup_token(self, auth_token: Any) -> bool:
        """Whether the presented token has expired (it is then deleted)."""
        if auth_token.expiry is None or auth_token.expiry >= timezone.now():
            return False
        username = auth_token.user.get_username()
        auth_token.delete()
        token_expired.send(sender=type(self), username=username, source="auth_token")
        return True


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The scheme in the OpenAPI document: the same header and name as before knox."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An API token from POST /api/v1/auth/token/, as "Token <key>".',
        }
