"""Shapes of the notifications API: in-app items, preferences, and what the actions take."""

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from itsm.notifications.choices import PreferenceSource
from itsm.notifications.models import Delivery


class NotificationReadSerializer(serializers.ModelSerializer[Delivery]):
    """One in-app item: the notification as this user received it, read or not."""

    event_type = serializers.CharField(source="notification.event_type", read_only=True)
    title = serializers.CharField(source="notification.title", read_only=True)
    body = serializers.CharField(source="notification.body", read_only=True)
    link = serializers.CharField(source="notification.link", read_only=True)
    reference = serializers.CharField(source="notification.reference", read_only=True)
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_type",
            "title",
            "body",
            "link",
            "reference",
            "created_at",
            "is_read",
            "read_at",
        ]
        read_only_fields = fields

    def get_is_read(self, delivery: Delivery) -> bool:
        return delivery.read_at is not None


class ReadAllResultSerializer(serializers.Serializer[Any]):
    marked_read = serializers.IntegerField(help_text="How many items were unread until now.")
    unread_count = serializers.IntegerField()


class NotificationPreferenceSerializer(serializers.Serializer[Any]):
    """Whether the user gets an event type on a channel, and which level decided it."""

    event_type = serializers.CharField(read_only=True)
    event_type_label = serializers.CharField(source="label", read_only=True)
    channel = serializers.CharField(read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    decided_by = serializers.ChoiceField(
        source="source",
        choices=PreferenceSource.choices,
        read_only=True,
        help_text="user: your own choice; tenant: the tenant's default; default: the built-in.",
    )


@extend_schema_serializer(many=False)  # one object holding the list, not a list itself
class NotificationPreferenceListSerializer(serializers.Serializer[Any]):
    results = NotificationPreferenceSerializer(many=True, read_only=True)


class NotificationPreferenceInputSerializer(serializers.Serializer[Any]):
    """Set one choice; `enabled: null` removes it, so the tenant's or built-in default applies."""

    event_type = serializers.CharField(max_length=64)
    channel = serializers.CharField(max_length=32)
    enabled = serializers.BooleanField(allow_null=True)
