from rest_framework import serializers

from itsm.api.fields import TenantConfigSlugField, TenantSlugRelatedField
from itsm.api.serializers import ModelInputSerializer
from itsm.catalog.models import Category, Service
from itsm.tenancy.models import Team


class ServiceReadSerializer(serializers.ModelSerializer[Service]):
    owner_team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = Service
        fields = [
            "slug",
            "name",
            "description",
            "owner_team",
            "criticality",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ServiceWriteSerializer(ModelInputSerializer):
    owner_team = TenantConfigSlugField(Team, required=False, allow_null=True)

    class Meta:
        model = Service
        fields = ["slug", "name", "description", "owner_team", "criticality", "is_active"]


class CategoryReadSerializer(serializers.ModelSerializer[Category]):
    # `parent` shadows Field.parent for the type checker only: DRF's metaclass moves declared
    # fields off the class.
    parent: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="slug", read_only=True
    )

    class Meta:
        model = Category
        fields = ["slug", "name", "description", "parent", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class CategoryWriteSerializer(ModelInputSerializer):
    parent = TenantSlugRelatedField(  # type: ignore[assignment]
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Category
        fields = ["slug", "name", "description", "parent", "is_active"]
