"""Calendar feed tokens: issue (or replace), revoke, and resolve the one a calendar client sends.

A token is shown once, when it is issued; the database keeps only its SHA-256 digest, so whoever
reads the table learns no usable token. A member has at most one per tenant: issuing again
replaces it (the old URL stops working), revoking deletes the row. The token is the feed's only
credential, so it works only while its owner is still an active staff member of the tenant.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from changes.models import CalendarFeedToken
from itsm.errors import NotFoundError
from itsm.tenancy import selectors as tenancy
from itsm.tenancy.models import Tenant

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32


@dataclass(frozen=True)
class IssuedFeedToken:
    """The stored row, and the token itself: shown to its owner now, never again."""

    feed_token: CalendarFeedToken
    token: str


def feed_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_token_list(*, tenant: Tenant, user: Any) -> QuerySet[CalendarFeedToken]:
    """The member's feed tokens in this tenant (at most one: issuing again replaces it)."""
    return CalendarFeedToken.objects.for_tenant(tenant).filter(user_id=user.pk)


@transaction.atomic
def feed_token_issue(*, tenant: Tenant, user: Any) -> IssuedFeedToken:
    """A new feed token for the member, replacing the one they had in this tenant."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed_token, created = CalendarFeedToken.objects.for_tenant(tenant).update_or_create(
        tenant=tenant,
        user=user,
        defaults={"digest": feed_token_digest(token), "last_used_at": None},
    )
    logger.info(
        "Calendar feed token %s for user %s in tenant %s",
        "issued" if created else "replaced",
        user.pk,
        tenant.pk,
    )
    return IssuedFeedToken(feed_token=feed_token, token=token)


@transaction.atomic
def feed_token_revoke(*, tenant: Tenant, user: Any) -> None:
    """Revoke the member's feed token in this tenant.

    Raises:
        NotFoundError: the member has none.
    """
    deleted, _ = CalendarFeedToken.objects.for_tenant(tenant).filter(user_id=user.pk).delete()
    if not deleted:
        raise NotFoundError("You have no calendar feed token.")
    logger.info("Calendar feed token of user %s in tenant %s revoked", user.pk, tenant.pk)


def feed_token_resolve(*, tenant: Tenant, token: str, now: datetime) -> CalendarFeedToken | None:
    """The tenant's feed token matching `token`, if its owner is still an active staff member;
    records its use. None otherwise: unknown, revoked, another tenant's, or an owner who left.

    Runs in the tenant's row-level-security scope.
    """
    if not token or len(token) > 200:
        return None
    feed_token = (
        CalendarFeedToken.objects.for_tenant(tenant)
        .filter(digest=feed_token_digest(token))  # uses the unique (tenant, digest) index
        .select_related("user")
        .first()
    )
    if feed_token is None or not feed_token.user.is_active:
        return None
    if not tenancy.is_tenant_agent(tenant=tenant, user=feed_token.user):
        return None
    CalendarFeedToken.objects.for_tenant(tenant).filter(pk=feed_token.pk).update(last_used_at=now)
    return feed_token
