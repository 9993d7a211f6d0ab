"""OpenAPI generation that knows our split of input and output serializers."""

from typing import Any

from drf_spectacular.openapi import AutoSchema


class TenantAutoSchema(AutoSchema):
    """Requests use the view's input serializer for the action; responses its read serializer."""

    def get_request_serializer(self) -> Any:
        input_classes = getattr(self.view, "input_serializer_classes", {})
        action = getattr(self.view, "action", None)
        if action in input_classes:
            return input_classes[action]
        return super().get_request_serializer()
