"""Filter helpers: a filter that names a related object only accepts the request's tenant's."""

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet


def tenant_queryset(model: type[Model]) -> Callable[[Any], QuerySet[Any]]:
    """A ModelChoiceFilter queryset limited to the request's tenant.

    Another tenant's value is an invalid choice (400), exactly like a value that does not exist.
    """

    def scoped(request: Any) -> QuerySet[Any]:
        manager: Any = model._default_manager
        if request is None or getattr(request, "tenant", None) is None:  # schema generation
            return manager.none()  # type: ignore[no-any-return]
        return manager.for_tenant(request.tenant)  # type: ignore[no-any-return]

    return scoped
