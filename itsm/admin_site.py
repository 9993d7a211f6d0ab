"""The admin site for platform administrators.

Admin pages list and filter rows of every tenant, so each admin view runs in one transaction
with row-level security's platform scope on. The response is rendered inside that transaction:
a lazily evaluated queryset in a template would otherwise run without it and see nothing.
"""

from functools import wraps
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.template.response import SimpleTemplateResponse

from itsm.services import object_delete, object_update, tenant_object_create
from itsm.tenancy import rls


class PlatformAdminSite(admin.AdminSite):
    site_header = "ITSM platform administration"
    site_title = "ITSM admin"
    index_title = "Platform administration"

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        @wraps(view)
        def platform_scoped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            with rls.platform_scope():
                response: HttpResponse = view(request, *args, **kwargs)
                if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
                    response.render()
                return response

        return super().admin_view(platform_scoped, cacheable)


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


class ServiceBackedAdmin[M: Model](admin.ModelAdmin[M]):
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

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
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
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        self.delete_object(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_object(request, obj)


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
