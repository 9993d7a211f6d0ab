"""The shapes the metrics API answers with. The figures and tables are built by each app's
provider (`itsm.metrics.registry`); these serializers write them out unchanged and describe
them in the OpenAPI schema, so a client reads every app's metrics the same way."""

from __future__ import annotations

from typing import Any, get_args

from rest_framework import serializers

from itsm.metrics.query import DAY, WEEK
from itsm.metrics.registry import Chart, Unit

UNITS = get_args(Unit)
CHARTS = get_args(Chart)
# A table's key column is a label (a service, a band of age) or a date (a day, a week's Monday).
COLUMN_UNITS = (*UNITS, "label", "date")


class MetricPeriodSerializer(serializers.Serializer[Any]):
    """Whole days `from` … `to` (both included) in the tenant's time zone."""

    to = serializers.DateField(help_text="The last day reported on, included.")
    time_zone = serializers.CharField(
        help_text="The tenant's time zone (of its business calendars, else UTC): the days are "
        "its days."
    )
    interval = serializers.ChoiceField(
        choices=[DAY, WEEK], help_text="The tables' buckets: days, or ISO weeks from Monday."
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # `from` is a Python keyword: it cannot be declared above as a class attribute.
        fields = super().get_fields()
        return {
            "from": serializers.DateField(help_text="The first day reported on, included."),
            **fields,
        }


class MetricFiltersSerializer(serializers.Serializer[Any]):
    """The filters the figures were computed with; an empty list is "all"."""

    service = serializers.ListField(child=serializers.SlugField(), help_text="Service slugs.")
    team = serializers.ListField(child=serializers.SlugField(), help_text="Team slugs.")
    priority = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=4), help_text="Priorities 1–4."
    )
    category = serializers.ListField(child=serializers.SlugField(), help_text="Category slugs.")


class MetricFreshnessSerializer(serializers.Serializer[Any]):
    """How fresh one app's figures are: what came from its daily rollups, and as of when."""

    from_rollups = serializers.BooleanField()
    as_of = serializers.DateTimeField(
        allow_null=True, help_text="When the rollups were last refreshed; null without them."
    )
    live_from = serializers.DateField(
        allow_null=True,
        help_text="The first day computed from the records themselves rather than the rollups.",
    )
    note = serializers.CharField(allow_blank=True)


class MetricFigureSerializer(serializers.Serializer[Any]):
    """A metric's headline for the query, with the rule it follows."""

    key = serializers.SlugField()
    # The metaclass takes declared fields off the class: `label` hides no Field attribute.
    label = serializers.CharField()  # type: ignore[assignment]
    unit = serializers.ChoiceField(
        choices=UNITS,
        help_text="seconds: a duration; ratio: a share between 0 and 1; count: a number.",
    )
    definition = serializers.CharField(help_text="The exact rule the figure follows.")
    value = serializers.FloatField(
        allow_null=True,
        help_text="The mean of a duration, the share of a ratio, the number of a count; null "
        "when nothing was counted.",
    )
    count = serializers.IntegerField(help_text="How many records the figure is computed from.")
    median = serializers.FloatField(allow_null=True, help_text="A duration's median.")
    p90 = serializers.FloatField(allow_null=True, help_text="A duration's 90th percentile.")
    parts = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="Named parts of the figure: a ratio's components, counts per severity.",
    )


class MetricColumnSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="The key of this column's value in every row.")
    label = serializers.CharField()  # type: ignore[assignment]  # as on the figure
    unit = serializers.ChoiceField(choices=COLUMN_UNITS)


class MetricSummarySerializer(serializers.Serializer[Any]):
    """Every metric's headline for one period and set of filters."""

    period = MetricPeriodSerializer()
    filters = MetricFiltersSerializer()
    freshness = serializers.DictField(
        child=MetricFreshnessSerializer(), help_text="Per app (incidents, problems, …)."
    )
    metrics = MetricFigureSerializer(many=True)


class MetricDetailSerializer(MetricFigureSerializer):
    """One metric: its headline and its table (a series over the period or a breakdown)."""

    chart = serializers.ChoiceField(choices=CHARTS, help_text="How the dashboard draws the table.")
    columns = MetricColumnSerializer(many=True, help_text="The key column, then the values.")
    rows = serializers.ListField(
        child=serializers.DictField(),
        help_text="One object per row, keyed by the columns' keys; dates as ISO strings.",
    )
    period = MetricPeriodSerializer()
    filters = MetricFiltersSerializer()
    freshness = serializers.DictField(
        child=MetricFreshnessSerializer(), help_text="Of the app that defines the metric."
    )
