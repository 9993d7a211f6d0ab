"""Serializer bases shared by every app's API."""

from typing import Any

from rest_framework import serializers


class StrictInputMixin:
    """Refuse input keys that are unknown or read-only, instead of silently ignoring them.

    A client that sends `{"status": "closed"}` or a misspelt field learns so at once.
    """

    fields: Any
    initial_data: Any

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            errors = {
                key: ["This field is read-only." if key in self.fields else "Unknown field."]
                for key in data
                if key not in writable
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class InputSerializer(StrictInputMixin, serializers.Serializer[Any]):
    """Base of every input-only serializer: validates shape; services decide."""


class ModelInputSerializer(StrictInputMixin, serializers.ModelSerializer[Any]):
    """Base of model-shaped input serializers. They never save: views pass
    `validated_data` to a service."""

    def create(self, validated_data: Any) -> Any:
        raise NotImplementedError("Input serializers do not save; call the service.")

    def update(self, instance: Any, validated_data: Any) -> Any:
        raise NotImplementedError("Input serializers do not save; call the service.")
