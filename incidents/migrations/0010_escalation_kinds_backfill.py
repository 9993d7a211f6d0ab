"""Split the escalations counted so far into functional and hierarchical, from the timeline,
where each escalation event names its kind."""

from typing import Any

from django.db import migrations
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce


def _count(apps: Any, kind: str) -> Any:
    IncidentEvent = apps.get_model("incidents", "IncidentEvent")
    events = (
        IncidentEvent.objects.filter(incident=OuterRef("pk"), kind="escalation", data__kind=kind)
        .values("incident")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(events, output_field=IntegerField()), Value(0))


def split_escalations(apps: Any, schema_editor: Any) -> None:
    Incident = apps.get_model("incidents", "Incident")
    Incident.objects.filter(escalation_count__gt=0).update(
        functional_escalation_count=_count(apps, "functional"),
        hierarchical_escalation_count=_count(apps, "hierarchical"),
    )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0009_metrics")]

    operations = [migrations.RunPython(split_escalations, migrations.RunPython.noop)]
