"""Reads of API tokens: only ever the caller's own, and only the ones still valid."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from knox.models import AuthToken


def api_token_list(*, user: Any) -> QuerySet[AuthToken]:
    """The user's tokens that have not expired, newest first."""
    tokens: QuerySet[AuthToken] = (
        AuthToken.objects.filter(user=user)
        .filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))
        .order_by("-created", "token_key")
    )
    return tokens
