from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"
    verbose_name = "Incident management"

    def ready(self) -> None:
        from incidents import tasks, workspace
        from incidents.metrics.provider import IncidentMetrics
        from incidents.metrics.rollups import ROLLUP
        from incidents.models import Incident, IncidentEvent
        from incidents.notifications import notify_incident_events
        from itsm.metrics import registry as metrics
        from itsm.search.registry import Searchable
        from itsm.search.registry import register as register_searchable
        from itsm.timeline import on_recorded

        # Importing incidents.notifications registers the incident event types with the
        # notifications engine in every process (web, worker, beat); every batch of incident
        # events the timeline writes is handed to it in the writer's transaction.
        on_recorded(IncidentEvent, notify_incident_events)
        # Header links and the search provider of the workspace shell.
        workspace.register()
        # Titles and descriptions in the search structure (itsm/search).
        register_searchable(
            Searchable(
                Incident,
                kind="incident",
                title="title",
                body=("description",),
                service="service_id",
                category="category_id",
                owner="reported_by_id",
                status="status",
            )
        )
        # The incident figures on the metrics API and dashboard; the admin's rollup rebuild.
        metrics.register(IncidentMetrics())
        metrics.register_rollup(
            ROLLUP,
            lambda tenant_id: tasks.refresh_incident_rollups_task.delay(
                tenant_id=tenant_id, full=True
            ),
        )
