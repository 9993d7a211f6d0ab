"""Administration of tenants (platform only), memberships and teams (tenant administrators
too, in their own tenant)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpRequest

from itsm.admin_site import (
    EDIT,
    ReadOnlyAdminMixin,
    ServiceBackedAdmin,
    TenantAdminForm,
    admin_tenant,
)
from itsm.tenancy import services
from itsm.tenancy.models import Membership, Team, Tenant, TenantCounter
from itsm.tenancy.selectors import member_list, users_outside_tenant


@admin.register(Tenant)
class TenantAdmin(ServiceBackedAdmin[Tenant]):
    tenant_admin_access = None  # tenants are the platform's to create, rename and deactivate
    list_display = ["name", "slug", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    service_excluded_fields = ()

    def create_object(self, request: HttpRequest, tenant: Any, data: dict[str, Any]) -> Tenant:
        created = services.tenant_create(name=data["name"], slug=data["slug"])
        if data.get("is_active") is False:
            services.tenant_update(tenant=created, data={"is_active": False})
        return created

    def update_object(self, request: HttpRequest, instance: Tenant, data: dict[str, Any]) -> Tenant:
        return services.tenant_update(tenant=instance, data=data)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: a tenant's records are kept


class MemberAddForm(TenantAdminForm):
    """A tenant administrator adds an existing account by its username or e-mail address: the
    list of every user on the platform is not theirs to browse."""

    user = forms.CharField(
        label="User",
        max_length=254,
        help_text="The username or e-mail address of an existing account.",
    )

    class Meta:
        model = Membership
        fields = ["user", "role", "is_active"]

    def clean_user(self) -> Any:
        given = self.cleaned_data["user"].strip()
        found = list(
            get_user_model().objects.filter(Q(username=given) | Q(email__iexact=given))[:2]
        )
        if not found:
            raise forms.ValidationError("No account has this username or e-mail address.")
        if len(found) > 1:
            raise forms.ValidationError(
                "Several accounts have this e-mail address: give the username."
            )
        return found[0]


@admin.register(Membership)
class MembershipAdmin(ServiceBackedAdmin[Membership]):
    tenant_admin_access = EDIT
    list_display = ["user", "tenant", "role", "is_active", "created_at"]
    list_filter = ["tenant", "role", "is_active"]
    list_select_related = ["user", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__name"]
    raw_id_fields = ["user"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["tenant", "user", "created_at"] if obj else ["created_at"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None and admin_tenant(request) is not None:
            kwargs["form"] = MemberAddForm
        return super().get_form(request, obj, change, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _own(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not _own(request, obj) and super().has_delete_permission(request, obj)

    def create_object(self, request: HttpRequest, tenant: Any, data: dict[str, Any]) -> Membership:
        membership = services.membership_create(tenant=tenant, user=data["user"], role=data["role"])
        if data.get("is_active") is False:
            services.membership_update(membership=membership, data={"is_active": False})
        return membership

    def update_object(
        self, request: HttpRequest, instance: Membership, data: dict[str, Any]
    ) -> Membership:
        return services.membership_update(membership=instance, data=data)

    def delete_object(self, request: HttpRequest, instance: Membership) -> None:
        services.membership_delete(membership=instance)


def _own(request: HttpRequest, membership: Membership | None) -> bool:
    """A tenant administrator's own membership: another administrator changes it, so nobody
    demotes or removes themselves by a slip of the mouse."""
    return (
        admin_tenant(request) is not None
        and membership is not None
        and membership.user_id == request.user.pk
    )


class TeamAdminForm(TenantAdminForm):
    members = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.order_by("username"),
        required=False,
        widget=FilteredSelectMultiple("members", is_stacked=False),
    )

    class Meta:
        model = Team
        fields = ["tenant", "name", "slug", "kind", "description", "email", "escalation_team"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members: Any = self.fields["members"]
        if self.instance.tenant_id:
            # Only the tenant's members are valid choices; a platform administrator adding a
            # team picks the tenant on the same form, so clean() checks them then.
            members.queryset = member_list(tenant=self.instance.tenant_id)
        if self.instance.pk:
            members.initial = list(self.instance.members.all())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # On add without a valid tenant the field has its own error; there is nothing to check.
        tenant = cleaned.get("tenant") or (
            self.instance.tenant if self.instance.tenant_id else None
        )
        members = cleaned.get("members")
        if tenant and members:
            outsiders = users_outside_tenant(tenant=tenant, users=members)
            if outsiders:
                names = ", ".join(sorted(user.get_username() for user in outsiders))
                self.add_error("members", f"Not members of {tenant}: {names}.")
        return cleaned


@admin.register(Team)
class TeamAdmin(ServiceBackedAdmin[Team]):
    tenant_admin_access = EDIT
    form = TeamAdminForm
    list_display = ["name", "tenant", "kind", "escalation_team"]
    list_filter = ["tenant", "kind"]
    list_select_related = ["tenant", "escalation_team"]
    search_fields = ["name", "slug", "tenant__name"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["escalation_team"]

    def create_object(self, request: HttpRequest, tenant: Any, data: dict[str, Any]) -> Team:
        members = data.pop("members", [])
        return services.team_create(tenant=tenant, data=data, members=members)

    def update_object(self, request: HttpRequest, instance: Team, data: dict[str, Any]) -> Team:
        members = data.pop("members", None)
        return services.team_update(team=instance, data=data, members=members)

    def delete_object(self, request: HttpRequest, instance: Team) -> None:
        services.team_delete(team=instance)


@admin.register(TenantCounter)
class TenantCounterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[TenantCounter]):
    """Read-only: numbers are handed out by the services, never edited."""

    list_display = ["tenant", "key", "last_value", "updated_at"]
    list_filter = ["tenant", "key"]
    list_select_related = ["tenant"]
