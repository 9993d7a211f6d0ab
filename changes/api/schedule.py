"""The schedule side of the changes API: the change calendar of a time range (with conflicts and
blackout windows), blackout windows, and the member's calendar feed token.

Roles: staff read the calendar and blackout windows and may hold a feed token; change managers
and tenant administrators maintain blackout windows; requesters see nothing of the schedule
(403 on the lists, 404 on a window).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.http import urlencode
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from changes import blackouts, feeds
from changes.api.serializers import ConflictSerializer
from changes.calendar import MAX_WINDOW, CalendarWindow, calendar_window
from changes.choices import CHANGE_MANAGERS
from changes.models import BlackoutWindow, CalendarFeedToken, Change
from itsm.api.fields import TenantConfigSlugField
from itsm.api.filters import StableOrderingFilter
from itsm.api.serializers import InputSerializer
from itsm.api.views import TenantModelViewSet, TenantScopedViewSet
from itsm.catalog.models import Service
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import Tenant

FEED_URL_NAME: Final = "changes-feed:calendar"


# --- Serializers ---------------------------------------------------------------------------------


class CalendarChangeSerializer(serializers.Serializer[Any]):
    """A change on the calendar, with what stands in its way."""

    reference = serializers.CharField(source="change.reference")
    title = serializers.CharField(source="change.title")
    change_type = serializers.CharField(source="change.change_type")
    status = serializers.CharField(source="change.status")
    risk = serializers.CharField(source="change.risk")
    planned_start = serializers.DateTimeField(source="change.planned_start")
    planned_end = serializers.DateTimeField(source="change.planned_end")
    owner = serializers.SerializerMethodField()
    implementer = serializers.SerializerMethodField()
    services = serializers.SerializerMethodField()
    conflicts = ConflictSerializer(many=True)

    def get_owner(self, entry: Any) -> str | None:
        return entry.change.owner.username if entry.change.owner else None

    def get_implementer(self, entry: Any) -> str | None:
        return entry.change.implementer.username if entry.change.implementer else None

    @extend_schema_field(serializers.ListField(child=serializers.SlugField()))
    def get_services(self, entry: Any) -> list[str]:
        window: CalendarWindow = self.context["window"]
        return window.slugs(entry.service_ids)


class CalendarBlackoutSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="window.pk")
    name = serializers.CharField(source="window.name")
    starts_at = serializers.DateTimeField(source="window.starts_at")
    ends_at = serializers.DateTimeField(source="window.ends_at")
    reason = serializers.CharField(source="window.reason")
    services = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.SlugField()))
    def get_services(self, entry: Any) -> list[str]:
        window: CalendarWindow = self.context["window"]
        return window.slugs(entry.service_ids)


class CalendarSerializer(serializers.Serializer[Any]):
    """The range asked for, its changes (`results`, as every list of the API) and its blackout
    windows; not paginated: the range bounds it."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    results = CalendarChangeSerializer(many=True, source="changes")
    blackout_windows = CalendarBlackoutSerializer(many=True, source="blackouts")


class CalendarRangeSerializer(serializers.Serializer[Any]):
    """The query of the calendar: a range [start, end), ISO 8601 with a UTC offset."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()

    def to_internal_value(self, data: Any) -> Any:
        errors = {
            name: ["Give a UTC offset (e.g. 2026-05-01T09:00:00+02:00 or …Z)."]
            for name in ("start", "end")
            if isinstance(data.get(name), str) and _is_naive(data[name])
        }
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["Must be after start."]})
        if attrs["end"] - attrs["start"] > MAX_WINDOW:
            raise serializers.ValidationError(
                {"end": [f"The range may span at most {MAX_WINDOW.days} days."]}
            )
        return attrs


def _is_naive(value: str) -> bool:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False  # the field itself says what is wrong
    return parsed.tzinfo is None


class BlackoutWindowReadSerializer(serializers.ModelSerializer[BlackoutWindow]):
    services = serializers.SerializerMethodField()

    class Meta:
        model = BlackoutWindow
        fields = ["id", "name", "starts_at", "ends_at", "services", "reason", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.SlugField()))
    def get_services(self, window: BlackoutWindow) -> list[str]:
        """The slugs of the services it covers (prefetched); empty: every service."""
        return sorted(link.service.slug for link in window.service_links.all())


class BlackoutWindowWriteSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    services = TenantConfigSlugField(Service, many=True, required=False)
    reason = serializers.CharField(max_length=5000, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: BlackoutWindow | None = self.instance
        starts_at = attrs.get("starts_at", instance.starts_at if instance else None)
        ends_at = attrs.get("ends_at", instance.ends_at if instance else None)
        if starts_at is not None and ends_at is not None and ends_at <= starts_at:
            raise serializers.ValidationError({"ends_at": ["Must be after starts_at."]})
        return attrs


class FeedTokenIssueSerializer(InputSerializer):
    """Issuing a feed token takes no input: the token is the caller's, in this tenant."""


class FeedTokenIssuedSerializer(serializers.Serializer[Any]):
    """The feed's address with its token: shown once, never again."""

    feed_url = serializers.CharField()
    token = serializers.CharField()
    created_at = serializers.DateTimeField()


# --- Views ---------------------------------------------------------------------------------------


class ChangeCalendarViewSet(TenantScopedViewSet):
    """The change calendar of a range: the changes whose planned window overlaps it (those
    holding the calendar, and closed ones), each with its conflicts, and the blackout windows."""

    queryset = Change.objects.none()
    serializer_class = CalendarSerializer
    pagination_class = None
    filter_backends: list[Any] = []
    action_roles = {"list": STAFF_ROLES}

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Change]:
        return Change.objects.for_tenant(tenant).none()  # the calendar is not a model list

    @extend_schema(
        parameters=[
            OpenApiParameter("start", datetime, required=True),
            OpenApiParameter("end", datetime, required=True),
        ],
        responses=CalendarSerializer,
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = CalendarRangeSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        window = calendar_window(tenant=self.tenant, **query.validated_data)
        return Response(CalendarSerializer(window, context={"window": window}).data)


class BlackoutWindowViewSet(TenantModelViewSet):
    """Times when no change but an emergency one may be made; without services, for all."""

    queryset = BlackoutWindow.objects.none()
    serializer_class = BlackoutWindowReadSerializer
    input_serializer_classes = {
        "create": BlackoutWindowWriteSerializer,
        "partial_update": BlackoutWindowWriteSerializer,
    }
    filter_backends = [StableOrderingFilter]
    ordering_fields = ["starts_at", "ends_at", "name", "created_at"]
    ordering = ["starts_at", "id"]
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "create": CHANGE_MANAGERS,
        "partial_update": CHANGE_MANAGERS,
        "destroy": CHANGE_MANAGERS,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[BlackoutWindow]:
        windows = blackouts.blackout_list(tenant=tenant)
        # Requesters see nothing of the schedule: a window is absent to them, not forbidden.
        return windows if self.request.membership.role in STAFF_ROLES else windows.none()

    def perform_create_service(self, data: dict[str, Any]) -> BlackoutWindow:
        window = blackouts.blackout_create(tenant=self.tenant, data=data)
        created: BlackoutWindow = self.get_queryset().get(pk=window.pk)
        return created

    def perform_update_service(self, instance: BlackoutWindow, data: dict[str, Any]) -> Any:
        blackouts.blackout_update(tenant=self.tenant, window_id=instance.pk, data=data)
        return self.get_queryset().get(pk=instance.pk)

    def perform_destroy_service(self, instance: BlackoutWindow) -> None:
        blackouts.blackout_delete(tenant=self.tenant, window_id=instance.pk)


class CalendarFeedTokenViewSet(TenantScopedViewSet):
    """The caller's calendar feed token in this tenant: POST issues a new one (replacing any)
    and shows the feed's address once; DELETE revokes it."""

    queryset = CalendarFeedToken.objects.none()
    serializer_class = FeedTokenIssuedSerializer
    pagination_class = None
    filter_backends: list[Any] = []
    action_roles = {"create": STAFF_ROLES, "revoke": STAFF_ROLES}
    input_serializer_classes = {"create": FeedTokenIssueSerializer}

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[CalendarFeedToken]:
        return feeds.feed_token_list(tenant=tenant, user=self.request.user)

    @extend_schema(request=FeedTokenIssueSerializer, responses={201: FeedTokenIssuedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.validated_input()  # nothing may be set: refuse what is sent
        issued = feeds.feed_token_issue(tenant=self.tenant, user=request.user)
        path = reverse(FEED_URL_NAME, kwargs={"tenant_slug": self.tenant.slug})
        feed_url = request.build_absolute_uri(f"{path}?{urlencode({'token': issued.token})}")
        data = {
            "feed_url": feed_url,
            "token": issued.token,
            "created_at": issued.feed_token.updated_at,
        }
        return Response(FeedTokenIssuedSerializer(data).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def revoke(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        feeds.feed_token_revoke(tenant=self.tenant, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
