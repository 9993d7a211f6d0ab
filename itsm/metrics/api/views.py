"""The metrics API: every metric's headline, one metric's table, and the records behind a metric
as CSV, for a period and filters read from the query string.

The figures come from the providers the apps register (`itsm.metrics.registry`); this module
never names an app. Each provider's report is built once per request: it reads each fact once,
however many figures it is asked for. Staff read the metrics; requesters are refused (403), as
on the other staff-only endpoints. A metric no app defines is absent (404).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from itsm.api.views import TenantScopedViewSet
from itsm.calendars.selectors import tenant_time_zone
from itsm.metrics.api.serializers import MetricDetailSerializer, MetricSummarySerializer
from itsm.metrics.export import csv_response
from itsm.metrics.models import RollupState
from itsm.metrics.query import DAY, DEFAULT_DAYS, MAX_DAYS, WEEK, MetricQuery, MetricQueryForm
from itsm.metrics.registry import MetricProvider, MetricReport, provider_of, providers
from itsm.metrics.routing import reports_database
from itsm.tenancy.choices import STAFF_ROLES
from itsm.tenancy.models import Tenant

METRIC_KEY_KWARG = "key"

QUERY_PARAMETERS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.DATE,
        description=(
            f"The first day, included, in the tenant's time zone. Default: {DEFAULT_DAYS - 1} "
            f"days before `to`. A report covers at most {MAX_DAYS} days."
        ),
    ),
    OpenApiParameter(
        "to", OpenApiTypes.DATE, description="The last day, included. Default: today."
    ),
    OpenApiParameter(
        "interval",
        str,
        enum=[DAY, WEEK],
        description="The tables' buckets: days, or ISO weeks from Monday. Default: week.",
    ),
    OpenApiParameter(
        "service", str, many=True, description="A service's slug; repeat for several."
    ),
    OpenApiParameter("team", str, many=True, description="A team's slug; repeat for several."),
    OpenApiParameter(
        "priority", int, many=True, enum=[1, 2, 3, 4], description="1–4; repeat for several."
    ),
    OpenApiParameter(
        "category", str, many=True, description="A category's slug; repeat for several."
    ),
]


class MetricViewSet(TenantScopedViewSet):
    """`metrics/` (summary), `metrics/<key>/` (retrieve) and `metrics/<key>/export/` (export)."""

    queryset = RollupState.objects.none()
    serializer_class = MetricSummarySerializer
    pagination_class = None
    filter_backends: list[Any] = []
    action_roles = {"summary": STAFF_ROLES, "retrieve": STAFF_ROLES, "export": STAFF_ROLES}

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet[RollupState]:
        return RollupState.objects.for_tenant(tenant).none()  # metrics are not a model list

    def get_object(self) -> MetricProvider:
        """The provider of the URL's metric; a metric no app defines is absent. Called before a
        role is refused too, so a requester learns no more than that a metric does not exist."""
        provider = provider_of(self.kwargs[METRIC_KEY_KWARG])
        if provider is None:
            raise exceptions.NotFound("No such metric.")
        return provider

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # The export answers CSV whatever the client accepts, and its errors in JSON: a client
        # asking for text/csv alone is not refused for it.
        negotiated: tuple[BaseRenderer, str] = super().perform_content_negotiation(
            request, force=force or self.action == "export"
        )
        return negotiated

    @extend_schema(
        operation_id="t_metrics_summary",
        parameters=QUERY_PARAMETERS,
        responses=MetricSummarySerializer,
    )
    def summary(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Every metric's headline for the period and filters, with how fresh each app's
        figures are."""
        query = self.metric_query()
        with reports_database(self.tenant.pk):  # the read replica, when there is one
            reports = [(provider, provider.report(self.tenant, query)) for provider in providers()]
            answer = {
                **_described(query),
                "freshness": {provider.name: _freshness(report) for provider, report in reports},
                "metrics": [
                    figure.as_dict() for _, report in reports for figure in report.summary()
                ],
            }
        return Response(MetricSummarySerializer(answer).data)

    @extend_schema(parameters=QUERY_PARAMETERS, responses=MetricDetailSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One metric: its headline and its table, drawn on the dashboard as its chart."""
        provider = self.get_object()
        query = self.metric_query()
        with reports_database(self.tenant.pk):
            report = provider.report(self.tenant, query)
            (detail,) = report.details([self.kwargs[METRIC_KEY_KWARG]])
            answer = {
                **detail.as_dict(),
                **_described(query),
                "freshness": {provider.name: _freshness(report)},
            }
        return Response(MetricDetailSerializer(answer).data)

    @extend_schema(
        parameters=QUERY_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The records behind the metric, a header line first; streamed.",
            )
        },
    )
    def export(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        """The records behind a metric's figure, as CSV."""
        provider = self.get_object()
        query = self.metric_query()
        with reports_database(self.tenant.pk):  # the rows stream in a scope of their own
            export = provider.report(self.tenant, query).export(self.kwargs[METRIC_KEY_KWARG])
        return csv_response(self.tenant.pk, export)

    def metric_query(self) -> MetricQuery:
        """The period and filters of the query string; 400 naming each field that is wrong."""
        form = MetricQueryForm(
            self.request.query_params,
            tenant=self.tenant,
            zone=tenant_time_zone(tenant=self.tenant),
        )
        if not form.is_valid():
            raise exceptions.ValidationError(
                {
                    api_settings.NON_FIELD_ERRORS_KEY if name == NON_FIELD_ERRORS else name: [
                        str(message) for message in messages
                    ]
                    for name, messages in form.errors.items()
                }
            )
        return form.query()


def _described(query: MetricQuery) -> dict[str, Any]:
    """The period and the filters a report was computed for, as the answer states them."""
    period = query.period.as_dict()
    filters = {name: value for name, value in query.as_dict().items() if name not in period}
    return {"period": period, "filters": filters}


def _freshness(report: MetricReport) -> dict[str, Any]:
    return asdict(report.freshness())
