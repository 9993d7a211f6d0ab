"""The audit trail in admin: look and filter, never change; tenant administrators see their
tenant's events."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from itsm.admin_site import VIEW, ReadOnlyAdminMixin, TenantScopedAdmin
from itsm.audit.display import event_actor, event_changes
from itsm.audit.models import AuditEvent
from itsm.audit.tracking import audited_models


class AuditedModelFilter(admin.SimpleListFilter):
    title = "model"
    parameter_name = "model"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [(audited.label, audited.label) for audited in audited_models()]

    def queryset(self, request: Any, queryset: Any) -> Any:
        return queryset.filter(model=self.value()) if self.value() else queryset


DETAIL = ("created_at", "tenant", "model", "record", "action", "who", "change_table")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, TenantScopedAdmin[AuditEvent]):
    tenant_admin_access = VIEW
    list_display = ["created_at", "tenant", "model", "record", "action", "who", "fields_changed"]
    list_filter = ["tenant", AuditedModelFilter, "action"]
    list_select_related = ["tenant"]
    # The trail of a large deployment is long: no exact count on every page.
    show_full_result_count = False
    fields = DETAIL
    readonly_fields = DETAIL

    @admin.display(description="record")
    def record(self, event: AuditEvent) -> str:
        return event.object_ref or str(event.object_id)

    @admin.display(description="who")
    def who(self, event: AuditEvent) -> str:
        actor = event_actor(event)
        who = actor["username"] or actor["task"] or actor["db_role"] or "-"
        return f"{who} ({actor['source']})"

    @admin.display(description="fields")
    def fields_changed(self, event: AuditEvent) -> str:
        return ", ".join(change["field"] for change in event_changes(event))

    @admin.display(description="changes")
    def change_table(self, event: AuditEvent) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((c["field"], _show(c["old"]), _show(c["new"])) for c in event_changes(event)),
        )
        return format_html(
            "<table><thead><tr><th>field</th><th>old</th><th>new</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )


def _show(value: Any) -> str:
    return "—" if value is None else str(value)
