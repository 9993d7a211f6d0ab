"""The admin site: platform administrators see every tenant, tenant administrators their own.

Two kinds of people use Django admin:

- platform administrators (`is_staff`: superusers and platform staff) see and filter the rows of
  every tenant: each of their admin views runs in row-level security's platform scope, with
  Django's own permission checks;
- tenant administrators (an active `tenant_admin` membership, usually not staff) administer one
  tenant at a time, the one kept in their session (switched on the index page). Each of their
  views runs in that tenant's scope, so the second wall hides every other tenant, and the model
  admins filter by it too (the first wall, `TenantScopedAdmin`). What they may do with a model
  is declared by its admin's `tenant_admin_access`: "edit", "view" or None (the default, also
  for every third-party admin: hidden and refused).

Every view runs in one transaction and its response is rendered inside it: a lazily evaluated
queryset in a template would otherwise run without the scope and see nothing.
"""

from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any, ClassVar, Final, Literal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Field, Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse

from itsm.errors import DomainError
from itsm.services import object_delete, object_update, tenant_object_create
from itsm.tenancy import rls
from itsm.tenancy.choices import MembershipRole
from itsm.tenancy.models import Membership, Tenant
from itsm.tenancy.selectors import member_list, user_membership_list

TenantAdminAccess = Literal["edit", "view"] | None
EDIT: Final = "edit"
VIEW: Final = "view"

# The tenant a tenant administrator is working in, by id; checked against their memberships on
# every request.
ADMIN_TENANT_SESSION_KEY: Final = "admin_tenant_id"


def admin_tenant(request: HttpRequest) -> Tenant | None:
    """The tenant this admin request works in; None for a platform administrator."""
    tenant: Tenant | None = getattr(request, "admin_tenant", None)
    return tenant


def tenant_admin_access(model_admin: Any) -> TenantAdminAccess:
    """What a tenant administrator may do through this (model or inline) admin."""
    access: TenantAdminAccess = getattr(model_admin, "tenant_admin_access", None)
    return access


def tenant_admin_memberships(user: Any) -> list[Membership]:
    """The user's active tenant-administrator memberships in active tenants, by tenant name."""
    if not user.is_authenticated or not user.is_active:
        return []
    with rls.user_scope(user.pk):
        return list(user_membership_list(user=user).filter(role=MembershipRole.TENANT_ADMIN))


def _has_tenant(model: type[Model]) -> bool:
    return any(field.name == "tenant" for field in model._meta.concrete_fields)


def tenant_choices(model: type[Model], tenant: Tenant) -> QuerySet[Any] | None:
    """What a tenant administrator may pick for a link to `model`: the tenant's rows, its
    members for a user, the tenant itself; None for a model that is no one tenant's."""
    if _has_tenant(model):
        return model._default_manager.filter(tenant=tenant)
    if model is get_user_model():
        return member_list(tenant=tenant)
    if model is Tenant:
        return Tenant.objects.filter(pk=tenant.pk)
    return None


class AdminLoginForm(AdminAuthenticationForm):
    """Admin log-in for platform staff and tenant administrators; anyone else is refused as a
    wrong password would be, so the form tells nothing about the account."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": (
            "Please enter the correct %(username)s and password of an administrator's account. "
            "Note that both fields may be case-sensitive."
        ),
    }

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)
        if not (user.is_staff or tenant_admin_memberships(user)):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class AdminTenantForm(forms.Form):
    """The tenant a tenant administrator works in: one of theirs."""

    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none(), empty_label=None)

    def __init__(self, *args: Any, tenants: Iterable[Tenant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["tenant"]
        field.queryset = Tenant.objects.filter(pk__in=[tenant.pk for tenant in tenants])


class PlatformAdminSite(admin.AdminSite):
    site_header = "ITSM platform administration"
    site_title = "ITSM admin"
    index_title = "Platform administration"
    index_template = "admin/itsm/index.html"
    login_form = AdminLoginForm

    # --- Who gets in, and where ----------------------------------------------------------------

    def has_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        if not user.is_active:
            return False
        return bool(user.is_staff) or bool(self.tenant_admin_memberships(request))

    def tenant_admin_memberships(self, request: HttpRequest) -> list[Membership]:
        """The requesting user's tenant-administrator memberships, read once per request."""
        cached: list[Membership] | None = getattr(request, "_tenant_admin_memberships", None)
        if cached is None:
            cached = tenant_admin_memberships(request.user)
            request._tenant_admin_memberships = cached  # type: ignore[attr-defined]
        return cached

    def current_admin_tenant(self, request: HttpRequest) -> Tenant | None:
        """The tenant kept in the session if the user still administers it, else their first."""
        tenants = [membership.tenant for membership in self.tenant_admin_memberships(request)]
        if not tenants:
            return None
        chosen = request.session.get(ADMIN_TENANT_SESSION_KEY)
        tenant = next((tenant for tenant in tenants if tenant.pk == chosen), tenants[0])
        if tenant.pk != chosen:
            request.session[ADMIN_TENANT_SESSION_KEY] = tenant.pk
        return tenant

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        model_admin = getattr(view, "__self__", None)
        # Fail closed: a model admin that declares nothing (Django's users and groups, axes,
        # the beat schedule, …) is refused to tenant administrators.
        refused = (
            isinstance(model_admin, BaseModelAdmin) and tenant_admin_access(model_admin) is None
        )

        @wraps(view)
        def scoped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user: Any = request.user
            if user.is_staff:
                request.admin_tenant = None  # type: ignore[attr-defined]
                with rls.platform_scope():
                    return _rendered(view(request, *args, **kwargs))
            tenant = self.current_admin_tenant(request)
            if tenant is None or refused:
                raise PermissionDenied
            request.admin_tenant = tenant  # type: ignore[attr-defined]
            with rls.tenant_scope(tenant.pk, user_id=user.pk):
                return _rendered(view(request, *args, **kwargs))

        return super().admin_view(scoped, cacheable)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        switch = path("tenant/", self.admin_view(self.switch_tenant), name="switch_tenant")
        return [switch, *super().get_urls()]

    def switch_tenant(self, request: HttpRequest) -> HttpResponse:
        """POST: work in another of the tenant administrator's tenants."""
        if admin_tenant(request) is None or request.method != "POST":
            raise Http404
        tenants = [membership.tenant for membership in self.tenant_admin_memberships(request)]
        form = AdminTenantForm(request.POST, tenants=tenants)
        if not form.is_valid():
            response = self.index(request, extra_context={"admin_tenant_form": form})
            response.status_code = 400
            return response
        tenant = form.cleaned_data["tenant"]
        request.session[ADMIN_TENANT_SESSION_KEY] = tenant.pk
        messages.success(request, f"You are now administering {tenant}.")
        return HttpResponseRedirect(reverse("admin:index", current_app=self.name))

    # --- What the pages show -------------------------------------------------------------------

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        tenant = admin_tenant(request)
        if tenant is not None:
            tenants = [membership.tenant for membership in self.tenant_admin_memberships(request)]
            context.update(
                site_header=f"{tenant.name}: administration",
                site_title=f"{tenant.name} admin",
                admin_tenant=tenant,
                admin_tenant_form=AdminTenantForm(initial={"tenant": tenant.pk}, tenants=tenants)
                if len(tenants) > 1
                else None,
            )
        return context

    def index(self, request: HttpRequest, extra_context: Any = None) -> TemplateResponse:
        tenant = admin_tenant(request)
        if tenant is not None:
            extra_context = {"title": f"Administration of {tenant.name}", **(extra_context or {})}
        return super().index(request, extra_context)

    def _build_app_dict(self, request: HttpRequest, label: Any = None) -> Any:
        app_dict = super()._build_app_dict(request, label)
        if admin_tenant(request) is None or not app_dict:
            return app_dict
        # Tenant administrators: only the models whose admin declares what they may do.
        apps = [app_dict] if label else list(app_dict.values())
        for app in apps:
            app["models"] = [
                model
                for model in app["models"]
                if tenant_admin_access(self._registry[model["model"]]) is not None
            ]
        if label:
            return app_dict if app_dict["models"] else None
        return {name: app for name, app in app_dict.items() if app["models"]}


def _rendered(response: HttpResponse) -> HttpResponse:
    if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
        response.render()
    return response


# --- Model admins ------------------------------------------------------------------------------


class TenantAdminAccessMixin:
    """Permissions of a (model or inline) admin: Django's for platform administrators; for a
    tenant administrator what `tenant_admin_access` declares ("edit", "view", None).

    It stands right before Django's admin class in the MRO: a subclass's own refusals (read-only
    rows, no deletes) still apply to everyone.
    """

    tenant_admin_access: ClassVar[TenantAdminAccess] = None

    def has_module_permission(self, request: HttpRequest) -> bool:
        if admin_tenant(request) is None:
            return bool(super().has_module_permission(request))  # type: ignore[misc]
        return self.tenant_admin_access is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if admin_tenant(request) is None:
            return bool(super().has_view_permission(request, obj))  # type: ignore[misc]
        return self.tenant_admin_access in (EDIT, VIEW)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if admin_tenant(request) is None:
            return bool(super().has_add_permission(request, *args))  # type: ignore[misc]
        return self.tenant_admin_access == EDIT

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if admin_tenant(request) is None:
            return bool(super().has_change_permission(request, obj))  # type: ignore[misc]
        return self.tenant_admin_access == EDIT

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if admin_tenant(request) is None:
            return bool(super().has_delete_permission(request, obj))  # type: ignore[misc]
        return self.tenant_admin_access == EDIT


class TenantScopedInline[M: Model, P: Model](TenantAdminAccessMixin, admin.TabularInline[M, P]):
    """An inline whose parent's tenant is the rows' tenant."""


class TenantScopedAdmin[M: Model](TenantAdminAccessMixin, admin.ModelAdmin[M]):
    """The first wall for tenant administrators: their tenant's rows only, the tenant fixed
    (never a field), links offered from their tenant only (select lists, since the raw-id
    pop-ups of global models are not theirs to open). Platform administrators see it as
    Django's ModelAdmin."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[M]:
        queryset = super().get_queryset(request)
        tenant = admin_tenant(request)
        if tenant is None:
            return queryset
        if _has_tenant(self.model):
            return queryset.filter(tenant=tenant)
        return queryset.none()

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)
        if admin_tenant(request) is None:
            return filters
        return [item for item in filters if _field_name(item) != "tenant"]

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = super().get_list_display(request)
        if admin_tenant(request) is None:
            return columns
        return [column for column in columns if column != "tenant"]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = super().get_exclude(request, obj)
        if admin_tenant(request) is None or not _has_tenant(self.model):
            return exclude
        return [*(exclude or ()), "tenant"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if admin_tenant(request) is None:
            return fieldsets
        return [
            (name, {**options, "fields": _without_tenant(options["fields"])})
            for name, options in fieldsets
        ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        tenant = admin_tenant(request)
        if tenant is None or obj is not None or not _has_tenant(self.model):
            return form
        return _in_tenant(form, tenant)

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        self._limit_to_tenant(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelMultipleChoiceField[Any] | None:
        self._limit_to_tenant(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _limit_to_tenant(
        self, db_field: Field[Any, Any], request: HttpRequest, kwargs: dict[str, Any]
    ) -> None:
        tenant = admin_tenant(request)
        if tenant is None or db_field.related_model is None:
            return
        related: Any = db_field.related_model
        choices = tenant_choices(related, tenant)
        if choices is None:
            return
        kwargs["queryset"] = choices
        if db_field.name in self.raw_id_fields and not db_field.many_to_many:
            kwargs.setdefault("widget", forms.Select)


def _field_name(list_filter: Any) -> Any:
    return list_filter[0] if isinstance(list_filter, tuple | list) else list_filter


def _without_tenant(fields: Iterable[Any]) -> list[Any]:
    kept: list[Any] = []
    for field in fields:
        if isinstance(field, tuple | list):  # several fields on one line
            line = [name for name in field if name != "tenant"]
            if line:
                kept.append(tuple(line))
        elif field != "tenant":
            kept.append(field)
    return kept


def _in_tenant(form_class: Any, tenant: Tenant) -> Any:
    """The form class with the new row's tenant set before validation, so the model's checks
    (same-tenant links, per-tenant uniqueness) and create_object see it."""

    class InTenant(form_class):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if kwargs.get("instance") is None:
                kwargs["instance"] = self._meta.model(tenant=tenant)
            super().__init__(*args, **kwargs)

    InTenant.__name__ = InTenant.__qualname__ = form_class.__name__
    return InTenant


class ReadOnlyAdminMixin:
    """For rows that only code writes (timelines, timers, deliveries, counters): staff look and
    filter, and act through services where they may act at all; they never edit a row."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TenantAdminForm(forms.ModelForm[Any]):
    """Validates the (tenant, …) constraints too when the tenant is read-only on the page.

    Django leaves fields that are not on the form out of uniqueness checks, so without this a
    duplicate slug would only surface as an error inside the service, after the form passed.
    """

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # Django API, not in the stubs
        if "tenant" in self.fields or not getattr(self.instance, "tenant_id", None):
            return
        for constraint in self.instance._meta.constraints:
            fields = list(getattr(constraint, "fields", ()))
            if "tenant" not in fields:
                continue
            try:
                constraint.validate(type(self.instance), self.instance)
            except ValidationError as error:
                # Unique within the tenant: the tenant is implied, so name the other field.
                others = [name for name in fields if name != "tenant" and name in self.fields]
                self.add_error(others[0] if len(others) == 1 else None, error)


class ServiceBackedAdmin[M: Model](TenantScopedAdmin[M]):
    """A ModelAdmin whose writes go through the app's services, as the API's do.

    The form validates (the model's `clean()` refuses cross-tenant links); saving and deleting
    call the subclass's `create_object`, `update_object` and `delete_object`.
    """

    form = TenantAdminForm
    service_excluded_fields: tuple[str, ...] = ("tenant",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # An object never moves between tenants.
        readonly = list(super().get_readonly_fields(request, obj))
        has_tenant = any(field.name == "tenant" for field in self.model._meta.fields)
        if obj is not None and has_tenant and "tenant" not in readonly:
            readonly.insert(0, "tenant")
        return readonly

    def create_object(self, request: HttpRequest, tenant: Any, data: dict[str, Any]) -> M:
        raise NotImplementedError

    def update_object(self, request: HttpRequest, instance: M, data: dict[str, Any]) -> M:
        raise NotImplementedError

    def delete_object(self, request: HttpRequest, instance: M) -> None:
        raise NotImplementedError

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _ServiceRefusedError as refused:
            # The service said no after the form passed (a rule only it checks): the attempt
            # was rolled back with the view's transaction; show the same form again, with the
            # service's reasons as its errors, and write nothing.
            request._service_refusal = refused.error  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "_service_refusal", None)
        return form if refusal is None else _refused(form, refusal)

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        try:
            with transaction.atomic():  # the form is shown again, with the refusal, after it
                self._save_through_service(request, obj, form, change)
        except (DomainError, ValidationError) as error:
            raise _ServiceRefusedError(error) from error

    def _save_through_service(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        if change:
            data = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in form.cleaned_data and name not in self.service_excluded_fields
            }
            fresh = type(obj)._default_manager.get(pk=obj.pk)
            self.update_object(request, fresh, data)
        else:
            data = {
                name: value
                for name, value in form.cleaned_data.items()
                if name not in self.service_excluded_fields
            }
            created = self.create_object(request, getattr(obj, "tenant", None), data)
            # The admin carries on with `obj` (its log entry, message and redirect), so make it
            # the saved row, with what the service set (a number, derived fields) included.
            for field in obj._meta.concrete_fields:
                setattr(obj, field.attname, getattr(created, field.attname))
            obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Related rows are part of the service call in save_model.
        try:
            for formset in formsets:
                self.save_formset(request, form, formset, change=change)
        except (DomainError, ValidationError) as error:
            raise _ServiceRefusedError(error) from error

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        self.delete_object(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_object(request, obj)


# The lifecycle actions of a record: name -> (its service, the form fields it takes).
ActionTable = Mapping[str, tuple[Callable[..., Any], list[str]]]


class ActionForm(forms.Form):
    """Every input any of a record's actions takes; the service decides what the chosen action
    needs, so the fields an action does not use are ignored."""

    action = forms.ChoiceField()

    def __init__(self, *args: Any, obj: Any, actions: Iterable[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.obj = obj
        field: Any = self.fields["action"]
        field.choices = [(name, name.replace("_", " ")) for name in actions]


class ActionAdmin[M: Model](ServiceBackedAdmin[M]):
    """A ServiceBackedAdmin with an "Act on this …" page (`<id>/act/`, named
    `<app>_<model>_act`): one lifecycle action at a time, through the same service as the API,
    with the acting user as the actor. A subclass names its `lifecycle_actions`, its
    `action_form` (an ActionForm) and the keyword its services take the record's id by.

    The page is the admin's own: the record comes from the tenant-scoped `get_object` (absent
    is a 404) and acting needs the change permission (a view-only tenant administrator is
    refused). A service's refusal is shown on the form; the transaction is rolled back with the
    view's, so nothing is written."""

    change_form_template = "admin/act_change_form.html"
    act_template = "admin/act.html"
    lifecycle_actions: ClassVar[ActionTable] = {}
    action_form: ClassVar[type[ActionForm]] = ActionForm
    record_keyword: ClassVar[str] = ""  # e.g. "incident_id"

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        act = path(
            "<int:object_id>/act/",
            self.admin_site.admin_view(self.act_view),
            name=f"{opts.app_label}_{opts.model_name}_act",
        )
        return [act, *super().get_urls()]

    def record_label(self, obj: M) -> str:
        """How messages and titles name the record: its reference if it has one."""
        return str(getattr(obj, "reference", None) or obj)

    def act_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Perform one lifecycle action through its service, like the API does."""
        obj = self.get_object(request, str(object_id))
        if obj is None:
            raise Http404
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        form = self.action_form(request.POST or None, obj=obj, actions=list(self.lifecycle_actions))
        label = self.record_label(obj)
        if request.method == "POST" and form.is_valid():
            action = form.cleaned_data["action"]
            service, inputs = self.lifecycle_actions[action]
            arguments = {name: form.cleaned_data[name] for name in inputs}
            try:
                with transaction.atomic():  # the form is shown again, with the refusal, after it
                    service(
                        tenant=obj.tenant,  # type: ignore[attr-defined]  # a tenant's record
                        actor=request.user,
                        **{self.record_keyword: obj.pk},
                        **arguments,
                    )
            except (DomainError, ValidationError) as error:
                add_service_error(form, error)
            else:
                messages.success(request, f"{label}: {action} done.")
                opts = self.model._meta
                return HttpResponseRedirect(
                    reverse(
                        f"admin:{opts.app_label}_{opts.model_name}_change",
                        args=[obj.pk],
                        current_app=self.admin_site.name,
                    )
                )
        status = getattr(obj, "get_status_display", None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "record_label": label,
            "record_status": status() if status else "",
            "form": form,
            "title": f"Act on {label}",
        }
        return TemplateResponse(request, self.act_template, context)


class _ServiceRefusedError(Exception):
    """A service refused a write the form had let through; carries the service's error."""

    def __init__(self, error: DomainError | ValidationError) -> None:
        super().__init__(str(error))
        self.error = error


def _refused(form_class: Any, error: DomainError | ValidationError) -> Any:
    """The form class again, invalid with the service's reasons."""

    class Refused(form_class):
        def _post_clean(self) -> None:
            super()._post_clean()
            add_service_error(self, error)

    Refused.__name__ = Refused.__qualname__ = form_class.__name__
    return Refused


def add_service_error(form: forms.BaseForm, error: DomainError | ValidationError) -> None:
    """Show a service's refusal on a form, each reason once: on its field when the form has
    it, above the form otherwise; a domain error's message only if no field already says it."""
    shown: set[str] = set()
    if isinstance(error, ValidationError):
        reasons = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        message = None
    else:
        reasons = {name: list(texts) for name, texts in error.fields.items()}
        message = error.message
    for name, texts in reasons.items():
        if name in form.fields:
            form.add_error(name, texts)
        elif name is None or name == NON_FIELD_ERRORS:
            form.add_error(None, texts)
        else:
            form.add_error(None, [f"{name}: {text}" for text in texts])
        shown.update(texts)
    if message and message not in shown:
        form.add_error(None, message)


class TenantConfigAdmin(ServiceBackedAdmin[Any]):
    """Plain tenant configuration rows, validated and saved by the generic write helpers."""

    list_filter = ["tenant"]
    list_select_related = ["tenant"]

    def create_object(self, request: HttpRequest, tenant: Any, data: dict[str, Any]) -> Any:
        return tenant_object_create(self.model, tenant=tenant, data=data)

    def update_object(self, request: HttpRequest, instance: Any, data: dict[str, Any]) -> Any:
        object_update(instance, data=data)
        return instance

    def delete_object(self, request: HttpRequest, instance: Any) -> None:
        object_delete(instance)
