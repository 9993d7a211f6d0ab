"""Reads of the workspace's own rows."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from itsm.tenancy.models import Tenant
from itsm.web.models import SavedView


def saved_view_list(*, tenant: Tenant, user: Any, page: str | None = None) -> QuerySet[SavedView]:
    views = SavedView.objects.for_tenant(tenant).filter(user_id=user.pk)
    return views.filter(page=page) if page is not None else views
