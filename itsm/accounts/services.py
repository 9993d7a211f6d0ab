"""Every write of API tokens: issue, revoke one, revoke all, purge the expired.

A token is shown once, when it is issued; the database keeps only its SHA-512 digest and its
first 15 characters (the prefix, which finds the row and names the token in lists and URLs).
Whoever reads the table learns no usable token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings

from itsm.accounts.selectors import api_token_list
from itsm.errors import ConflictError, NotFoundError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedToken:
    token: AuthToken
    key: str  # the secret: shown to the caller once and stored nowhere


def api_token_issue(*, user: Any) -> IssuedToken:
    """A new token for `user`, expiring after API_TOKEN_TTL_DAYS.

    A user holds at most API_TOKEN_LIMIT_PER_USER live tokens (ConflictError beyond that), so
    their list stays short and a stolen password cannot mint tokens without end.
    """
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit is not None and api_token_list(user=user).count() >= limit:
        raise ConflictError(
            f"You already have {limit} API tokens, the most allowed: revoke one first.",
            code="too_many_tokens",
        )
    token, key = AuthToken.objects.create(user=user)
    logger.info("API token %s issued to user %s", token.token_key, user.pk)
    return IssuedToken(token=token, key=key)


def api_token_revoke(*, user: Any, prefix: str) -> None:
    """Revoke the user's token with this prefix; another user's token is absent (NotFoundError)."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=prefix).delete()
    if not deleted:
        raise NotFoundError("No such token.")
    logger.info("API token %s of user %s revoked", prefix, user.pk)


def api_token_revoke_all(*, user: Any) -> int:
    """Revoke every token of the user (log out everywhere); returns how many went."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    logger.info("All %d API tokens of user %s revoked", deleted, user.pk)
    return int(deleted)


def credentials_purge_expired() -> dict[str, int]:
    """Delete expired API tokens, and log-in records older than LOGIN_LOG_RETENTION_DAYS.

    Expired tokens are refused whether or not they are still there; this only keeps the
    tables small.
    """
    tokens, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    age_days = settings.LOGIN_LOG_RETENTION_DAYS
    return {
        "api_tokens": tokens,
        "login_logs": int(AxesProxyHandler.reset_logs(age_days=age_days)),
        "login_failure_logs": int(AxesProxyHandler.reset_failure_logs(age_days=age_days)),
    }
