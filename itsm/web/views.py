"""The agent workspace shell: the tenant picker and each tenant's home page.

Pages inside a tenant use `TenantPageMixin`, the page-side twin of the API's base viewset:
the same membership check (absent tenant and non-member are one 404), the same row-level
security scope, and the response rendered before the transaction ends.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import SimpleTemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from itsm.catalog import selectors as catalog_selectors
from itsm.notifications.selectors import inbox_list
from itsm.notifications.services import notification_mark_all_read, notification_mark_read
from itsm.tenancy import rls
from itsm.tenancy.choices import ALL_ROLES
from itsm.tenancy.models import Membership, Tenant
from itsm.tenancy.selectors import team_list, tenant_membership_resolve, user_membership_list
from itsm.web import workspace
from itsm.web.selectors import saved_view_list
from itsm.web.services import saved_query, saved_view_delete, saved_view_save

# The pages whose views can be saved (URL names taking the tenant slug).
QUEUE_PAGES = frozenset(
    {"incidents:list", "problems:list", "problems:known-errors", "changes:list"}
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The tenants the user works in."""
    assert request.user.pk is not None  # login_required
    with rls.user_scope(request.user.pk):
        memberships = list(user_membership_list(user=request.user))
    return render(request, "web/home.html", {"memberships": memberships})


class TenantPageMixin:
    """Resolve the URL's tenant for a page, check membership, and scope the request to it.

    `page_roles` says which membership roles may open the page (a 403 page for the others);
    the role matrix test reads it, as it reads the API's `action_roles`.
    """

    request: HttpRequest
    tenant: Tenant
    membership: Membership
    page_roles: ClassVar[frozenset[str]] = ALL_ROLES

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
            if membership.role not in self.page_roles:
                return forbidden(request)
            # As the API does: filters and the shell's context read them from the request.
            request.tenant, request.membership = self.tenant, membership  # type: ignore[attr-defined]
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


class SearchPage(TenantPageMixin, TemplateView):
    """The global search box's answer: an exact number jumps to its record, text lists hits."""

    template_name = "web/search.html"
    max_query_length = 200

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        query = request.GET.get("q", "").strip()[: self.max_query_length]
        result = workspace.search(self.tenant, self.membership, query) if query else None
        if result is not None and result.jump_to:
            return redirect(result.jump_to)
        return self.render_to_response(
            self.get_context_data(search_query=query, hits=result.hits if result else [])
        )


class NotificationsPage(TenantPageMixin, TemplateView):
    """The bell: the user's in-app notifications in this tenant, newest first."""

    template_name = "web/notifications.html"
    page_size = 50

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        items = inbox_list(tenant=self.tenant, user=self.request.user)
        context["items"] = list(items[: self.page_size])
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Mark one item read and follow its link, or mark them all read."""
        delivery_id = request.POST.get("delivery", "")
        if delivery_id.isdigit():
            item = get_object_or_404(
                inbox_list(tenant=self.tenant, user=request.user), pk=int(delivery_id)
            )
            notification_mark_read(delivery=item)
            link = item.notification.link
            if link and url_has_allowed_host_and_scheme(link, allowed_hosts=None):
                return redirect(link)
        else:
            notification_mark_all_read(tenant=self.tenant, user=request.user)
        return redirect("web:notifications", self.tenant.slug)


class SavedViewSavePage(TenantPageMixin, View):
    """Save the current filters of a queue page under a name (the same name overwrites)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        page, name = request.POST.get("page", ""), request.POST.get("name", "").strip()
        query = request.POST.get("query", "")
        if page not in QUEUE_PAGES or not name:
            messages.error(request, "Give the view a name.")
            return self._back(page, query)
        try:
            saved_view_save(
                tenant=self.tenant, user=request.user, page=page, name=name, query=query
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Saved the view “{name}”.")
        return self._back(page, query)

    def _back(self, page: str, query: str) -> HttpResponse:
        if page not in QUEUE_PAGES:
            return redirect("web:tenant-home", self.tenant.slug)
        return redirect(f"{reverse(page, args=[self.tenant.slug])}?{saved_query(query)}")


class SavedViewDeletePage(TenantPageMixin, View):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        view = get_object_or_404(
            saved_view_list(tenant=self.tenant, user=request.user), pk=kwargs["pk"]
        )
        saved_view_delete(view=view)
        messages.success(request, f"Deleted the view “{view.name}”.")
        return redirect(view.page, self.tenant.slug)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "permission_denied", "message": "Permission denied.", "fields": {}},
            status=403,
        )
    return render(request, "403.html", status=403)


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
