"""The incident record page and its actions (being built)."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.views import View

from itsm.web.views import TenantPageMixin


class IncidentRecordPage(TenantPageMixin, View):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise Http404


class IncidentActionPage(TenantPageMixin, View):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise Http404
