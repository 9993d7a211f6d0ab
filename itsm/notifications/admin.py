"""Platform administration of the outbox: read-only notifications and deliveries, a retry
action for the ones that failed, and the tenants' default preferences."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from itsm.admin_site import (
    EDIT,
    ReadOnlyAdminMixin,
    TenantAdminForm,
    TenantConfigAdmin,
    admin_tenant,
)
from itsm.notifications import registry, services
from itsm.notifications.models import Delivery, Notification, NotificationPreference


class DeliveryInline(ReadOnlyAdminMixin, admin.TabularInline[Delivery, Notification]):
    model = Delivery
    fields = readonly_fields = (
        "channel",
        "user",
        "address",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "read_at",
    )
    extra = 0
    can_delete = False
    ordering = ["channel", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).select_related("user")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Notification]):
    list_display = ["title", "event_type", "reference", "tenant", "created_at"]
    list_filter = ["tenant", "event_type"]
    list_select_related = ["tenant"]
    search_fields = ["title", "reference"]
    date_hierarchy = "created_at"
    fields = readonly_fields = ("tenant", "event_type", "title", "body", "link", "reference")
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Delivery]):
    list_display = [
        "id",
        "notification",
        "channel",
        "recipient_display",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "tenant",
    ]
    list_filter = ["status", "channel", "tenant"]
    list_select_related = ["tenant", "notification", "user"]
    search_fields = ["address", "notification__reference", "notification__title", "last_error"]
    fields = readonly_fields = (
        "tenant",
        "notification",
        "channel",
        "user",
        "address",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "claimed_until",
        "delivered_at",
        "read_at",
        "created_at",
    )
    actions = ["retry"]

    @admin.display(description="recipient")
    def recipient_display(self, delivery: Delivery) -> str:
        return delivery.address or str(delivery.user)

    @admin.action(
        description="Retry the selected deliveries (not those already delivered)",
        permissions=["retry"],
    )
    def retry(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        retried = services.delivery_retry(delivery_ids=selected)
        skipped = len(selected) - retried
        self.message_user(
            request,
            f"{retried} deliveries queued again"
            + (f"; {skipped} delivered or being sent were left alone." if skipped else "."),
            messages.SUCCESS if retried else messages.WARNING,
        )

    def has_retry_permission(self, request: HttpRequest) -> bool:
        # The rows are read-only here; retrying through the service is the one write staff do.
        return bool(request.user.is_active and request.user.is_staff)


def _event_type_choices() -> list[tuple[str, str]]:
    return [(event_type.name, event_type.label) for event_type in registry.event_types()]


def _channel_choices() -> list[tuple[str, str]]:
    return [(channel.name, channel.label) for channel in registry.channels()]


class NotificationPreferenceAdminForm(TenantAdminForm):
    """Event types and channels from the registry, as lists to choose from."""

    event_type = forms.ChoiceField(choices=_event_type_choices)
    channel = forms.ChoiceField(choices=_channel_choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A row of an event type or channel no longer registered still shows what it is.
        for name in ("event_type", "channel"):
            field: Any = self.fields.get(name)
            current = getattr(self.instance, name, "")
            if field is not None and current and current not in dict(field.choices):
                field.choices = [*field.choices, (current, current)]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(TenantConfigAdmin):
    """Tenant defaults (no user) and users' own choices; tenant administrators set the defaults
    of their tenant (a user's own choices are the user's)."""

    tenant_admin_access = EDIT
    form = NotificationPreferenceAdminForm
    list_display = ["event_type", "channel", "is_enabled", "user", "tenant"]
    list_filter = ["tenant", "channel", "is_enabled"]
    list_select_related = ["tenant", "user"]
    search_fields = ["event_type"]
    raw_id_fields = ["user"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[NotificationPreference]:
        queryset = super().get_queryset(request)
        if admin_tenant(request) is None:
            return queryset
        return queryset.filter(user__isnull=True)

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = super().get_exclude(request, obj)
        if admin_tenant(request) is None:
            return exclude
        return [*(exclude or ()), "user"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if admin_tenant(request) is None:
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "user"]})
            for name, options in fieldsets
        ]
