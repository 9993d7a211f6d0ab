"""Routes of the metrics API, below /api/v1/t/<slug>/: the summary of every metric, one
metric's table, and the records behind a metric as CSV."""

from django.urls import path

from itsm.metrics.api.views import METRIC_KEY_KWARG, MetricViewSet

app_name = "metrics-api"

urlpatterns = [
    path("metrics/", MetricViewSet.as_view({"get": "summary"}), name="metric-summary"),
    path(
        f"metrics/<slug:{METRIC_KEY_KWARG}>/",
        MetricViewSet.as_view({"get": "retrieve"}, detail=True),
        name="metric-detail",
    ),
    path(
        f"metrics/<slug:{METRIC_KEY_KWARG}>/export/",
        MetricViewSet.as_view({"get": "export"}, detail=True),
        name="metric-export",
    ),
]
