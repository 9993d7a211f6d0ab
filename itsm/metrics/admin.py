"""The rollups in admin: how fresh each tenant's rollups are, and their rebuild on demand.

Platform administrators only (the rows say nothing a tenant administrator could act on). The
rows are written by the rollup tasks alone, so the list is read-only; "Rebuild now" queues a
full rebuild of the selected rollups, and the button above the list queues one for a tenant
that has no rollup yet (a new tenant before the first scheduled refresh) or for every tenant.
A rebuild is queued when the admin's transaction commits and runs on a worker; the list shows
its result once it has run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from functools import partial
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from itsm.admin_site import ReadOnlyAdminMixin, TenantScopedAdmin
from itsm.metrics import registry
from itsm.metrics.models import RollupState
from itsm.tenancy.models import Tenant


def stale_after() -> timedelta:
    """A rollup is stale when it missed two scheduled refreshes."""
    return timedelta(seconds=2 * settings.METRICS_ROLLUP_INTERVAL)


def queue_rebuilds(pairs: Iterable[tuple[int, str]]) -> tuple[int, list[str]]:
    """Queue a full rebuild of each (tenant id, rollup name) when the transaction commits;
    returns how many were queued and the names no app registers any more."""
    queued, unknown = 0, []
    for tenant_id, name in pairs:
        rebuild = registry.rollup_rebuilder(name)
        if rebuild is None:
            unknown.append(name)
            continue
        transaction.on_commit(partial(rebuild, tenant_id))
        queued += 1
    return queued, sorted(set(unknown))


class RebuildForm(forms.Form):
    """The tenant whose rollups are rebuilt, or every active tenant (left empty)."""

    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.filter(is_active=True).order_by("name"),
        required=False,
        empty_label="Every active tenant",
    )


@admin.register(RollupState)
class RollupStateAdmin(ReadOnlyAdminMixin, TenantScopedAdmin[RollupState]):
    list_display = [
        "tenant",
        "name",
        "freshness",
        "refreshed_at",
        "rebuilt_at",
        "complete_through",
        "rows",
        "last_duration",
    ]
    list_filter = ["name", "tenant"]
    list_select_related = ["tenant"]
    ordering = ["tenant__name", "name"]
    actions = ["rebuild_now"]

    @admin.display(description="freshness", ordering="refreshed_at")
    def freshness(self, state: RollupState) -> str:
        """How long ago the rollup was refreshed; flagged when it missed two refreshes."""
        if state.refreshed_at is None:
            return format_html("<strong>{}</strong>", "never refreshed")
        age = f"{timesince(state.refreshed_at, timezone.now())} ago"
        if timezone.now() - state.refreshed_at > stale_after():
            return format_html("<strong>{} (stale)</strong>", age)
        return age

    @admin.action(description="Rebuild now (queue a full rebuild)", permissions=["rebuild"])
    def rebuild_now(self, request: HttpRequest, queryset: QuerySet[RollupState]) -> None:
        pairs = list(queryset.values_list("tenant_id", "name"))
        self._report(request, *queue_rebuilds(pairs))

    def has_rebuild_permission(self, request: HttpRequest) -> bool:
        # The rows are read-only; queuing a rebuild is the one thing platform staff do here.
        user: Any = request.user
        return bool(user.is_active and user.is_staff)

    def get_urls(self) -> list[URLPattern]:
        rebuild = path(
            "rebuild/",
            self.admin_site.admin_view(self.rebuild_view),
            name="metrics_rollupstate_rebuild",
        )
        return [rebuild, *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "rebuild_form": RebuildForm()}
        return super().changelist_view(request, extra_context)

    def rebuild_view(self, request: HttpRequest) -> HttpResponse:
        """POST: queue a full rebuild of every rollup of one tenant, or of every tenant."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_rebuild_permission(request):
            raise PermissionDenied
        form = RebuildForm(request.POST)
        if form.is_valid():
            tenant: Tenant | None = form.cleaned_data["tenant"]
            active = Tenant.objects.filter(is_active=True).values_list("pk", flat=True)
            tenant_ids = [tenant.pk] if tenant else list(active)
            names = registry.rollup_names()
            pairs = [(tenant_id, name) for tenant_id in tenant_ids for name in names]
            self._report(request, *queue_rebuilds(pairs))
        else:
            self.message_user(request, "Choose an active tenant.", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:metrics_rollupstate_changelist"))

    def _report(self, request: HttpRequest, queued: int, unknown: list[str]) -> None:
        if queued:
            self.message_user(
                request,
                f"Queued {queued} full rollup rebuild{'s' if queued != 1 else ''}; "
                "the list shows the result once the worker has run them.",
                messages.SUCCESS,
            )
        if unknown:
            self.message_user(
                request,
                f"No app registers these rollups any more: {', '.join(unknown)}.",
                messages.WARNING,
            )
        if not queued and not unknown:
            self.message_user(request, "Nothing to rebuild.", messages.WARNING)
