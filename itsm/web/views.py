"""The agent workspace shell: the tenant picker and each tenant's home page.

Pages inside a tenant use `TenantPageMixin`, the page-side twin of the API's base viewset:
the same membership check (absent tenant and non-member are one 404), the same row-level
security scope, and the response rendered before the transaction ends.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.response import SimpleTemplateResponse
from django.views.generic import TemplateView

from itsm.catalog import selectors as catalog_selectors
from itsm.tenancy import rls
from itsm.tenancy.models import Membership, Tenant
from itsm.tenancy.selectors import team_list, tenant_membership_resolve, user_membership_list


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The tenants the user works in."""
    assert request.user.pk is not None  # login_required
    with rls.user_scope(request.user.pk):
        memberships = list(user_membership_list(user=request.user))
    return render(request, "web/home.html", {"memberships": memberships})


class TenantPageMixin:
    """Resolve the URL's tenant for a page, check membership, and scope the request to it."""

    request: HttpRequest
    tenant: Tenant
    membership: Membership

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        with rls.scope():
            membership = tenant_membership_resolve(
                user=request.user, tenant_slug=kwargs["tenant_slug"]
            )
            if membership is None:
                raise Http404("No such tenant.")
            self.membership, self.tenant = membership, membership.tenant
            response: HttpResponse = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
                response.render()
            return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(tenant=self.tenant, membership=self.membership)
        return context


class TenantHomeView(TenantPageMixin, TemplateView):
    """A tenant's front page: the member's role, the teams and the service catalogue."""

    template_name = "web/tenant_home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            teams=team_list(tenant=self.tenant),
            services=catalog_selectors.service_list(tenant=self.tenant).filter(is_active=True),
            categories=catalog_selectors.category_list(tenant=self.tenant).filter(is_active=True),
        )
        return context


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "message": "Not found.", "fields": {}}, status=404
        )
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "server_error", "message": "Internal server error.", "fields": {}},
            status=500,
        )
    return render(request, "500.html", status=500)
