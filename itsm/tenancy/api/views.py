from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from itsm.api.views import TenantModelViewSet, TenantReadOnlyViewSet
from itsm.tenancy import selectors, services
from itsm.tenancy.api.serializers import (
    MembershipReadSerializer,
    TeamReadSerializer,
    TeamWriteSerializer,
)
from itsm.tenancy.choices import ADMIN_ROLES, STAFF_ROLES, MembershipRole, TeamKind
from itsm.tenancy.models import Membership, Team, Tenant


class TeamFilterSet(filters.FilterSet):
    kind = filters.MultipleChoiceFilter(choices=TeamKind.choices)
    member = filters.CharFilter(field_name="members__username", distinct=True)

    class Meta:
        model = Team
        fields = ["kind", "member"]


class TeamViewSet(TenantModelViewSet):
    """The tenant's support teams and their members; tenant administrators change them."""

    queryset = Team.objects.none()
    serializer_class = TeamReadSerializer
    input_serializer_classes = {
        "create": TeamWriteSerializer,
        "partial_update": TeamWriteSerializer,
    }
    lookup_field = "slug"
    filterset_class = TeamFilterSet
    search_fields = ["name", "slug", "description"]
    ordering_fields = ["name", "kind", "created_at"]
    ordering = ["name", "id"]
    action_roles = {
        "list": STAFF_ROLES,
        "retrieve": STAFF_ROLES,
        "create": ADMIN_ROLES,
        "partial_update": ADMIN_ROLES,
        "destroy": ADMIN_ROLES,
    }

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Team]:
        return selectors.team_list(tenant=tenant)

    def perform_create_service(self, data: dict[str, Any]) -> Team:
        members = data.pop("members", [])
        team = services.team_create(tenant=self.tenant, data=data, members=members)
        return self._reloaded(team)

    def perform_update_service(self, instance: Team, data: dict[str, Any]) -> Team:
        members = data.pop("members", None)
        services.team_update(team=instance, data=data, members=members)
        return self._reloaded(instance)

    def perform_destroy_service(self, instance: Team) -> None:
        services.team_delete(team=instance)

    def _reloaded(self, team: Team) -> Team:
        # Members changed through their own table: read them back as the list shows them.
        return selectors.team_list(tenant=self.tenant).get(pk=team.pk)


class MembershipFilterSet(filters.FilterSet):
    role = filters.MultipleChoiceFilter(choices=MembershipRole.choices)

    class Meta:
        model = Membership
        fields = ["role", "is_active"]


class MembershipViewSet(TenantReadOnlyViewSet):
    """Who belongs to the tenant, with which role (managed by platform administrators)."""

    queryset = Membership.objects.none()
    serializer_class = MembershipReadSerializer
    filterset_class = MembershipFilterSet
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    ordering_fields = ["created_at", "role"]
    ordering = ["id"]
    action_roles = {"list": STAFF_ROLES, "retrieve": STAFF_ROLES}

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[Membership]:
        return selectors.membership_list(tenant=tenant)
