"""Context of the workspace shell: the tenant switcher, the navigation and the bell.

Lazy, so a page that does not render the shell pays nothing; pages render inside the tenant
page mixin's transaction, where row-level security lets the user's own memberships (in every
tenant) and the tenant's rows be read.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from itsm.notifications.selectors import inbox_unread_count
from itsm.tenancy.selectors import user_membership_list
from itsm.web.workspace import nav_for


def workspace(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    user: Any = request.user  # authenticated: the tenant page mixin let the request in
    tenant = membership.tenant
    view_name = request.resolver_match.view_name if request.resolver_match else ""
    return {
        "nav_links": [
            {
                "label": item.label,
                "url": item.url(tenant),
                "current": view_name.startswith(item.section or (item.url_name,)),
            }
            for item in nav_for(membership.role)
        ],
        "switch_memberships": SimpleLazyObject(lambda: list(user_membership_list(user=user))),
        "unread_notifications": SimpleLazyObject(
            lambda: inbox_unread_count(tenant=tenant, user=user)
        ),
    }
