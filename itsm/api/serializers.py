"""Serializer bases shared by every app's API."""

import copy
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
    """Base of every input-only serializer: validates shape; services decide.

    DRF deep-copies the declared fields for every instance (about half a millisecond of CPU
    for a create's dozen fields, re-running each field's constructor). Here they are
    deep-copied once per class and each instance binds shallow copies: a field keeps no state
    of its own until it is bound. A field holding fields (a list, a many-relation, a nested
    serializer) is deep-copied as before, since binding it binds its children.
    """

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        declared = _declared_once.get(type(self))
        if declared is None:
            declared = _declared_once[type(self)] = super().get_fields()
        return {
            name: copy.deepcopy(field)
            if isinstance(field, _HOLDING_FIELDS)
            else _shallow_copy(field)
            for name, field in declared.items()
        }


def _shallow_copy[F](field: F) -> F:
    """What `copy.copy` makes of a field (a new instance sharing its attributes), without the
    generic protocol it goes through: a create's answer and input copy some seventy fields."""
    clone: F = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone


# Each input serializer class's declared fields, deep-copied once.
_declared_once: dict[type, dict[str, serializers.Field[Any, Any, Any, Any]]] = {}
_HOLDING_FIELDS = (
    serializers.BaseSerializer,
    serializers.ListField,
    serializers.DictField,
    serializers.HStoreField,
    serializers.ManyRelatedField,
)


class ModelInputSerializer(StrictInputMixin, serializers.ModelSerializer[Any]):
    """Base of model-shaped input serializers. They never save: views pass
    `validated_data` to a service."""

    def create(self, validated_data: Any) -> Any:
        raise NotImplementedError("Input serializers do not save; call the service.")

    def update(self, instance: Any, validated_data: Any) -> Any:
        raise NotImplementedError("Input serializers do not save; call the service.")


# Each output serializer class's fields, as ModelSerializer built them from the model.
_built_fields: dict[type, dict[str, serializers.Field[Any, Any, Any, Any]]] = {}


class FieldsBuiltOnceMixin:
    """For output-only ModelSerializers: the fields are built from the model once per class.

    DRF introspects the model for every serializer instance (a couple of milliseconds for the
    thirty fields of an incident, the larger part of a create's answer). Each instance binds
    shallow copies of the fields built once: a read-only field keeps no state of its own until
    it is bound. Not for serializers whose fields depend on the request.
    """

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        built = _built_fields.get(type(self))
        if built is None:
            built = _built_fields[type(self)] = super().get_fields()  # type: ignore[misc]
        return {name: _shallow_copy(field) for name, field in built.items()}
