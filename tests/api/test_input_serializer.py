"""itsm/api/serializers.py InputSerializer: declared fields copied once per class, yet each
instance validates with fields bound to itself."""

from rest_framework import serializers

from itsm.api.serializers import InputSerializer


class Sample(InputSerializer):
    name = serializers.CharField(max_length=5)
    tags = serializers.ListField(child=serializers.CharField(max_length=3), required=False)


def test_each_instance_binds_fields_of_its_own():
    first, second = Sample(data={"name": "ok"}), Sample(data={"name": "too long"})

    assert first.fields["name"] is not second.fields["name"]
    assert first.fields["name"].parent is first
    assert second.fields["name"].parent is second
    # A field holding fields is copied whole: its child is bound to this instance's copy
    assert first.fields["tags"].child.parent is first.fields["tags"]
    assert first.fields["tags"].child is not second.fields["tags"].child


def test_instances_validate_independently():
    good = Sample(data={"name": "ok", "tags": ["a", "b"]})
    bad = Sample(data={"name": "too long", "tags": ["long"], "extra": 1})

    assert good.is_valid(), good.errors
    assert not bad.is_valid()
    assert set(bad.errors) == {"extra"}  # unknown keys are refused before the fields run
    assert Sample(data={"name": "too long", "tags": ["long"]}).is_valid() is False
    assert good.validated_data == {"name": "ok", "tags": ["a", "b"]}
