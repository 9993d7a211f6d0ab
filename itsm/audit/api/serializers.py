"""Audit events as the API shows them: who, what (field, old, new), when."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from itsm.audit.display import event_actor, event_changes
from itsm.audit.models import AuditEvent

ACTIONS = {"insert": "create", "update": "update", "delete": "delete"}


class AuditActorSerializer(serializers.Serializer[Any]):
    """Who or what made the change: a user through a source, a task, or SQL with no user."""

    # A declared field, not DRF's Field.source attribute (the metaclass takes it out).
    source = serializers.CharField(help_text="api, web, admin, task or sql.")  # type: ignore[assignment]
    user_id = serializers.IntegerField(allow_null=True)
    username = serializers.CharField(allow_null=True)
    task = serializers.CharField(allow_null=True, help_text="The Celery task's name.")
    method = serializers.CharField(allow_null=True)
    path = serializers.CharField(allow_null=True)
    db_role = serializers.CharField(
        allow_null=True, help_text="The database role, for changes made outside the application."
    )


class AuditChangeSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    """One audit event. `changes` lists every field the statement set or changed."""

    object_reference = serializers.CharField(source="object_ref", allow_null=True)
    action = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "model",
            "object_id",
            "object_reference",
            "action",
            "created_at",
            "actor",
            "changes",
        ]

    def get_action(self, event: AuditEvent) -> str:
        return ACTIONS.get(event.action, event.action)

    @extend_schema_field(AuditActorSerializer)
    def get_actor(self, event: AuditEvent) -> dict[str, Any]:
        return event_actor(event)

    @extend_schema_field(AuditChangeSerializer(many=True))
    def get_changes(self, event: AuditEvent) -> list[dict[str, Any]]:
        return event_changes(event)
