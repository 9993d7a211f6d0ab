"""The notifications API: the caller's own in-app inbox and preferences, in one tenant.

Everyone who belongs to the tenant, requesters included, has an inbox; nobody sees anyone
else's: another user's item, like another tenant's, is a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from itsm.api.pagination import CursorPagination
from itsm.api.views import TenantScopedViewSet
from itsm.notifications import selectors, services
from itsm.notifications.api import serializers as s
from itsm.notifications.api.filters import InboxFilterSet
from itsm.notifications.models import Delivery, NotificationPreference
from itsm.tenancy.choices import ALL_ROLES
from itsm.tenancy.models import Tenant


class InboxPagination(CursorPagination):
    """Cursor pages of the inbox, with the unread count beside them (for the badge)."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["unread_count"] = {
            "type": "integer",
            "description": "How many of the user's in-app notifications are unread, in total.",
        }
        paginated["required"] = [*paginated.get("required", []), "unread_count"]
        return paginated


class NotificationViewSet(ListModelMixin, TenantScopedViewSet):
    """The caller's in-app notifications, newest first (`?unread=true` for the unread ones).

    The list carries `unread_count`; `GET notifications/?page_size=1` is the cheap poll for a
    badge.
    """

    queryset = Delivery.objects.none()
    serializer_class = s.NotificationReadSerializer
    pagination_class = InboxPagination
    filterset_class = InboxFilterSet
    search_fields: list[str] = []
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
    action_roles = {"list": ALL_ROLES, "read": ALL_ROLES, "read_all": ALL_ROLES}

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Delivery]:
        return selectors.inbox_list(tenant=tenant, user=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        response.data["unread_count"] = selectors.inbox_unread_count(
            tenant=self.tenant, user=self.request.user
        )
        return response

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, **kwargs: Any) -> Response:
        """Mark one notification read (again: no change)."""
        return self.respond_with(services.notification_mark_read(delivery=self.get_object()))

    @extend_schema(request=None, responses=s.ReadAllResultSerializer)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request, **kwargs: Any) -> Response:
        """Mark every notification of the caller in this tenant read."""
        marked = services.notification_mark_all_read(tenant=self.tenant, user=self.request.user)
        result = {"marked_read": marked, "unread_count": 0}
        return Response(s.ReadAllResultSerializer(result).data)


class NotificationPreferenceViewSet(TenantScopedViewSet):
    """The caller's choices: which event types reach them on which channel.

    GET lists every event type × channel with the effective choice and which level decided it;
    POST sets (or, with `enabled: null`, removes) the caller's own choice for one of them.
    """

    queryset = NotificationPreference.objects.none()
    serializer_class = s.NotificationPreferenceSerializer
    input_serializer_classes = {"create": s.NotificationPreferenceInputSerializer}
    pagination_class = None
    filter_backends: list[Any] = []
    action_roles = {"list": ALL_ROLES, "create": ALL_ROLES}

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[NotificationPreference]:
        return selectors.notification_preference_rows(tenant=tenant, user=self.request.user)

    @extend_schema(responses=s.NotificationPreferenceListSerializer)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Every event type × channel, with the caller's effective choice."""
        preferences = selectors.notification_preference_list(
            tenant=self.tenant, user=self.request.user
        )
        return Response(s.NotificationPreferenceListSerializer({"results": preferences}).data)

    @extend_schema(responses={200: s.NotificationPreferenceSerializer})  # sets, so 200 not 201
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Set the caller's choice for one event type and channel; answers the effective one."""
        data = self.validated_input()
        services.notification_preference_set(
            tenant=self.tenant,
            user=self.request.user,
            event_type=data["event_type"],
            channel=data["channel"],
            enabled=data["enabled"],
        )
        preference = next(
            item
            for item in selectors.notification_preference_list(
                tenant=self.tenant, user=self.request.user
            )
            if (item.event_type, item.channel) == (data["event_type"], data["channel"])
        )
        return Response(s.NotificationPreferenceSerializer(preference).data)
