"""`Authorization: Token <key>` against knox's hashed tokens.

Knox finds the row by the key's first 15 characters and compares SHA-512 digests in constant
time; an expired token is deleted and refused (401). Two changes to knox's class:

- A key that is not printable ASCII is refused as an invalid token; knox would fail on it
  with a 500 (a non-UTF-8 header, or a NUL that PostgreSQL cannot take in a query).
- Knox also sweeps the user's *other* expired tokens on every request, one more query per
  API call; here the presented token's own expiry is checked and the sweep is a daily beat
  task (`purge_expired_credentials_task`).
- Knox reads the token with its user through a queryset, which Django compiles to SQL anew on
  every request: 0.76 ms a call, measured, against 0.2-0.3 ms for the same SQL compiled once
  (`_token_read`). On PostgreSQL the read is that SQL; elsewhere it is knox's own (SQLite's
  rows would need Django's converters).
- A request inside a tenant (`TENANT_TO_ENTER`) enters it in the same statement: the token's
  row, matched by key and digest, and beside it the tenant entry (`tenant_entry_sql`) as its
  user. The request's round trip for the tenant goes.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Sequence
from functools import cache
from hmac import compare_digest
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions

from itsm.api.request import TENANT_TO_ENTER
from itsm.prepared import execute_prepared
from itsm.tenancy.selectors import tenant_entered, tenant_entry_sql

_TOKEN_SHAPE = re.compile(rb"[\x21-\x7e]{1,128}")


class ApiTokenAuthentication(TokenAuthentication):
    tenant_slug: str | None = None

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        self.tenant_slug = getattr(request, TENANT_TO_ENTER, None)
        result: tuple[Any, Any] | None = super().authenticate(request)
        return result

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        if not _TOKEN_SHAPE.fullmatch(token):
            raise exceptions.AuthenticationFailed("Invalid token.")
        alias = router.db_for_read(get_token_model())
        if connections[alias].vendor != "postgresql":
            result: tuple[Any, Any] = super().authenticate_credentials(token)
            return result
        # Knox's loop, over the compiled read (which matches the digest too).
        key = token.decode()
        try:
            digest = hash_token(key)
        except (TypeError, binascii.Error) as error:
            raise exceptions.AuthenticationFailed("Invalid token.") from error
        found = _tokens(alias, key[: CONSTANTS.TOKEN_KEY_LENGTH], digest, self.tenant_slug)
        for auth_token, entry in found:
            if self._cleanup_token(auth_token):
                continue
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                validated: tuple[Any, Any] = self.validate_user(auth_token)
                if self.tenant_slug is not None:
                    tenant_entered(validated[0], self.tenant_slug, entry)
                return validated
        raise exceptions.AuthenticationFailed("Invalid token.")

    def _cleanup_token(self, auth_token: Any) -> bool:
        """Whether the presented token has expired (it is then deleted)."""
        if auth_token.expiry is None or auth_token.expiry >= timezone.now():
            return False
        username = auth_token.user.get_username()
        auth_token.delete()
        token_expired.send(sender=type(self), username=username, source="auth_token")
        return True


@cache
def _token_read(alias: str, entering: bool) -> str:
    """The SQL of knox's read, a token by its key with its user (`select_related`), written
    once: each model's concrete columns in the model's order, as `from_db` takes them. It
    matches the digest too, so that an entry beside it (`entering`) runs for that token only."""
    quote = connections[alias].ops.quote_name
    token_model, user_model = get_token_model(), get_user_model()
    # (Every concrete field has a column; the condition only tells the type checker so.)
    columns = [f"t.{quote(f.column)}" for f in token_model._meta.concrete_fields if f.column]
    columns += [f"u.{quote(f.column)}" for f in user_model._meta.concrete_fields if f.column]
    user_key, key, digest, user_pk = (
        str(token_model._meta.get_field("user").column),
        str(token_model._meta.get_field("token_key").column),
        str(token_model._meta.get_field("digest").column),
        f"u.{quote(str(user_model._meta.pk.column))}",
    )
    entry = ""
    if entering:
        columns.append("e.*")
        entry = f"LEFT JOIN LATERAL ({tenant_entry_sql(user_pk)}) AS e ON TRUE "
    # Only the models' own names are interpolated; the key, the digest and the slug are
    # parameters (the slug's comes first, in the entry).
    return (
        f"SELECT {', '.join(columns)} FROM {quote(token_model._meta.db_table)} AS t "  # noqa: S608
        f"JOIN {quote(user_model._meta.db_table)} AS u ON {user_pk} = t.{quote(user_key)} "
        f"{entry}WHERE t.{quote(key)} = %s AND t.{quote(digest)} = %s"
    )


def _tokens(
    alias: str, token_key: str, digest: str, tenant_slug: str | None
) -> list[tuple[Any, Sequence[Any] | None]]:
    """The tokens with this key and digest, each with its user cached on it, as knox's queryset
    gives, and the row of the tenant entry read beside it (None when not entering)."""
    token_model, user_model = get_token_model(), get_user_model()
    token_fields = [field.attname for field in token_model._meta.concrete_fields]
    user_fields = [field.attname for field in user_model._meta.concrete_fields]
    entering = tenant_slug is not None
    params = [*([tenant_slug] if entering else []), token_key, digest]
    with connections[alias].cursor() as cursor:
        execute_prepared(cursor, _token_read(alias, entering), params)
        rows = cursor.fetchall()
    found: list[tuple[Any, Sequence[Any] | None]] = []
    for row in rows:
        users_at = len(token_fields)
        entry_at = users_at + len(user_fields)
        auth_token = token_model.from_db(alias, token_fields, row[:users_at])
        user = user_model.from_db(alias, user_fields, row[users_at:entry_at])
        token_model._meta.get_field("user").set_cached_value(auth_token, user)
        found.append((auth_token, row[entry_at:] if entering else None))
    return found


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
