"""The change calendar as an iCalendar feed, for calendar clients that cannot log in.

The `token` in the query string is the only credential: no session, no API token. An unknown,
revoked or other tenant's token, a tenant that does not exist and an owner who is no longer an
active staff member all get the same 404, so the feed never confirms what exists. The tenant is
resolved from the URL as the workspace pages do, and every read runs in its row-level-security
scope.
"""

from __future__ import annotations

from typing import ClassVar

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views import View

from changes.calendar import ical_feed
from changes.feeds import feed_token_resolve
from itsm.tenancy import rls
from itsm.tenancy.models import Tenant


class CalendarFeedView(View):
    """The tenant's scheduled changes and blackout windows, as text/calendar."""

    http_method_names = ["get", "head"]
    # No log-in page and no membership check of the workspace: the token is the credential
    # (the tenant pages sweep leaves such views to their own tests).
    authenticates_by_token: ClassVar[bool] = True

    def get(self, request: HttpRequest, tenant_slug: str) -> HttpResponse:
        token = request.GET.get("token", "")
        now = timezone.now()
        with rls.scope():
            tenant = Tenant.objects.filter(slug=tenant_slug, is_active=True).first()
            if tenant is None or not token:
                raise Http404("No such calendar.")
            rls.activate(rls.RlsContext(tenant_id=tenant.pk))
            if feed_token_resolve(tenant=tenant, token=token, now=now) is None:
                raise Http404("No such calendar.")
            base_url = f"{request.scheme}://{request.get_host()}"
            body = ical_feed(tenant=tenant, now=now, base_url=base_url)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{tenant.slug}-changes.ics"'
        # The URL holds a credential: keep it out of shared caches and referrers.
        response["Cache-Control"] = "private, no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response
