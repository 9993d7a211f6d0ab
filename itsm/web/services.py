"""Writes of the workspace's own rows: saved views."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import ValidationError

from itsm.services import tenant_object_create
from itsm.tenancy.models import Tenant
from itsm.web.models import SavedView

# A saved view keeps filters and order, never a position in the list.
NOT_SAVED = frozenset({"cursor", "csrfmiddlewaretoken"})
MAX_SAVED_VIEWS = 50


def saved_query(query: str) -> str:
    """The part of a query string a saved view keeps: filters and order, no position."""
    return urlencode([(k, v) for k, v in parse_qsl(query) if k not in NOT_SAVED and v])


def saved_view_save(*, tenant: Tenant, user: Any, page: str, name: str, query: str) -> SavedView:
    """Save (or overwrite, by name) the user's view of a page."""
    kept = saved_query(query)
    existing = SavedView.objects.for_tenant(tenant).filter(user=user, page=page, name=name.strip())
    view = existing.first()
    if view is not None:
        view.query = kept
        view.full_clean()
        view.save(update_fields=["query", "updated_at"])
        return view
    if SavedView.objects.for_tenant(tenant).filter(user=user, page=page).count() >= MAX_SAVED_VIEWS:
        raise ValidationError({"name": f"At most {MAX_SAVED_VIEWS} saved views per page."})
    return tenant_object_create(
        SavedView,
        tenant=tenant,
        data={"user": user, "page": page, "name": name.strip(), "query": kept},
    )


def saved_view_delete(*, view: SavedView) -> None:
    view.delete()
