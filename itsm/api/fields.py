"""Related fields that only ever see the request's tenant.

Another tenant's object is reported exactly like a missing one, so its existence never leaks.
"""

from typing import Any

from django.db import models
from django.db.models import QuerySet
from rest_framework import serializers

from itsm.tenancy.config import tenant_rows
from itsm.tenancy.selectors import member_by_username


class TenantScopedRelatedFieldMixin:
    context: dict[str, Any]

    def get_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset()  # type: ignore[misc]
        return queryset.filter(tenant_id=self.context["request"].tenant.pk)


class TenantSlugRelatedField(TenantScopedRelatedFieldMixin, serializers.SlugRelatedField[Any]):
    """A link to a tenant object by its slug."""


class TenantConfigSlugField(TenantScopedRelatedFieldMixin, serializers.SlugRelatedField[Any]):
    """A link by slug to a row of a configuration table the tenant's cache holds (teams,
    services, categories: `itsm.tenancy.config.tenant_rows`), found without a query."""

    def __init__(self, model: type[models.Model], **kwargs: Any) -> None:
        kwargs.setdefault("queryset", model._default_manager.all())  # the schema's choices
        super().__init__(slug_field="slug", **kwargs)
        self.model = model

    def to_internal_value(self, data: Any) -> Any:
        slug = _slug_text(self, data)
        row = tenant_rows(self.context["request"].tenant, self.model).with_slug(slug)
        if row is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=slug)
        return row


class TenantPrimaryKeyRelatedField(
    TenantScopedRelatedFieldMixin, serializers.PrimaryKeyRelatedField[Any]
):
    """A link to a tenant object by its id."""


class TenantMemberField(serializers.SlugRelatedField[Any]):
    """A user, by username, who is an active member of the request's tenant (read with their
    role and teams there: `tenancy.selectors.member_by_username`)."""

    def __init__(self, **kwargs: Any) -> None:
        from django.contrib.auth import get_user_model

        kwargs.setdefault("queryset", get_user_model().objects.all())
        super().__init__(slug_field="username", **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        assert queryset is not None
        return queryset.filter(
            memberships__tenant_id=self.context["request"].tenant.pk,
            memberships__is_active=True,
        )

    def to_internal_value(self, data: Any) -> Any:
        # Read with the member's role and teams: the services' checks of them need no query.
        username = _slug_text(self, data)
        user = member_by_username(tenant=self.context["request"].tenant, username=username)
        if user is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=username)
        return user


def _slug_text(field: serializers.SlugRelatedField[Any], data: Any) -> str:
    """The slug a client sent: a string, or a number naming the slug it spells (as a queryset
    lookup would take it); anything else is invalid."""
    if isinstance(data, bool) or not isinstance(data, str | int):
        field.fail("invalid")
    return str(data)
