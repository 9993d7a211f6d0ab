from typing import Any

from rest_framework import serializers

from itsm.api.fields import TenantConfigSlugField, TenantMemberField
from itsm.api.serializers import ModelInputSerializer
from itsm.tenancy.models import Membership, Team


class TeamReadSerializer(serializers.ModelSerializer[Team]):
    escalation_team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    members: serializers.ManyRelatedField = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="username", many=True, read_only=True
    )

    class Meta:
        model = Team
        fields = [
            "slug",
            "name",
            "kind",
            "description",
            "email",
            "escalation_team",
            "members",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TeamWriteSerializer(ModelInputSerializer):
    escalation_team = TenantConfigSlugField(Team, required=False, allow_null=True)
    members = TenantMemberField(many=True, required=False)

    class Meta:
        model = Team
        fields = ["slug", "name", "kind", "description", "email", "escalation_team", "members"]


class MembershipReadSerializer(serializers.ModelSerializer[Membership]):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "full_name", "role", "is_active", "created_at"]
        read_only_fields = fields

    def get_full_name(self, membership: Membership) -> str:
        user: Any = membership.user
        return str(user.get_full_name())
