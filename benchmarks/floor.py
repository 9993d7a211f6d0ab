"""The floor of the benchmark suite: the same incidents table read through bare DRF.

A plain `ListAPIView` and `RetrieveAPIView` over `incidents_incident`, filtered by tenant id from
the URL, with no authentication, no permissions, no throttling, no selectors and no related rows:
what the framework itself costs for a page of the same size, in the same order and with the same
keyset pagination as the product's list, and for one record. They read on the platform role's
connection (`rls.platform_scope()`), where row-level security is opened, so the policy's
per-tenant check is not part of the floor either. Served only by benchmarks/urls.py, never by
the product's own URLs.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import generics, pagination, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.models import Incident
from itsm.tenancy import rls

# The product list's order (IncidentViewSet.ordering).
ORDERING = ("-created_at", "-id")


class FloorIncidentSerializer(serializers.ModelSerializer[Incident]):
    """The incident's own columns, related rows as their keys: nothing is joined."""

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "title",
            "status",
            "priority",
            "impact",
            "urgency",
            "source",
            "service",
            "category",
            "reported_by",
            "assignment_team",
            "assignee",
            "is_major",
            "created_at",
            "updated_at",
            "resolved_at",
            "version",
        ]
        read_only_fields = fields


class FloorPagination(pagination.CursorPagination):
    """Keyset pagination, as the product's (itsm/api/pagination.py: DRF's, PAGE_SIZE 50 from
    the settings), in the product list's order."""

    ordering = ORDERING


class _Bare(generics.GenericAPIView[Incident]):
    """No authentication, permissions or throttling; the tenant is the URL's id."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    serializer_class = FloorIncidentSerializer

    def get_queryset(self) -> QuerySet[Incident]:
        return Incident.objects.filter(tenant_id=self.kwargs["tenant_id"]).order_by(*ORDERING)


class FloorIncidentList(generics.ListAPIView[Incident], _Bare):
    """`__floor__/incidents/<tenant id>/`: a page of 50, keyset-paginated."""

    pagination_class = FloorPagination

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with rls.platform_scope():
            return super().get(request, *args, **kwargs)


class FloorIncidentDetail(generics.RetrieveAPIView[Incident], _Bare):
    """`__floor__/incidents/<tenant id>/<number>/`: one incident by its number."""

    lookup_field = "number"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with rls.platform_scope():
            return super().get(request, *args, **kwargs)
