"""Audit context for requests: source, method, path, and the user where it is known here."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse

from itsm.audit.context import audit_context, user_context

API_PREFIX = "/api/"


class AuditContextMiddleware:
    """Opens the audit context of a request; runs after AuthenticationMiddleware.

    Session users (pages, admin) are known here. API token users are only known once DRF has
    authenticated inside the view: the tenant base viewset adds them (itsm.api.views).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path
        if path.startswith(API_PREFIX):
            # Not request.user: the session lookup is wasted on token clients.
            source, user = "api", {"user_id": None, "username": None}
        else:
            source = "admin" if path.startswith(reverse("admin:index")) else "web"
            user = user_context(getattr(request, "user", None))
        with audit_context(source=source, method=request.method, path=path, **user):
            return self.get_response(request)
