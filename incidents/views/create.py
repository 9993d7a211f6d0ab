"""The incident create form (being built)."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.views import View

from itsm.web.views import TenantPageMixin


class IncidentCreatePage(TenantPageMixin, View):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise Http404
