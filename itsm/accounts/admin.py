"""Platform administration of sign-in: log-in attempts, lockouts and API tokens, read-only.

Staff look and filter. The one write allowed is a delete where it means something: deleting a
log-in attempt lifts that lockout, deleting an API token revokes it. Nobody adds or edits these
rows here: issuing a token in admin would hand staff a key to another user's account.
"""

from typing import Any

import knox.admin  # noqa: F401  # registers knox's own admin first, replaced below
from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.http import HttpRequest
from knox.models import AuthToken

from itsm.admin_site import ReadOnlyAdminMixin


@admin.register(AccessAttempt)
class LoginAttemptAdmin(ReadOnlyAdminMixin, AccessAttemptAdmin):
    """Failures per (username, address, browser) within the cool-off; delete to unlock."""

    actions: list[Any] = []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("axes.delete_accessattempt"))


@admin.register(AccessFailureLog)
class LoginFailureLogAdmin(ReadOnlyAdminMixin, AccessFailureLogAdmin):
    """Every failed log-in, and whether it was refused by a lockout."""


@admin.register(AccessLog)
class LoginLogAdmin(ReadOnlyAdminMixin, AccessLogAdmin):
    """Successful web and admin log-ins, and when the session logged out."""


admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[AuthToken]):
    """API tokens by prefix; the key itself is stored nowhere. Delete to revoke."""

    list_display = ["token_key", "user", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["token_key", "user__username"]
    fields = ["token_key", "user", "created", "expiry"]
    raw_id_fields = ["user"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("knox.delete_authtoken"))
