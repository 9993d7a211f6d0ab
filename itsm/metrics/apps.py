from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created

from itsm.metrics.aggregates import register_sqlite_functions


def on_connection_created(connection: Any, **kwargs: Any) -> None:
    """SQLite has no percentile_cont: give each new connection ours (framework glue)."""
    if connection.vendor == "sqlite":
        register_sqlite_functions(connection.connection)


class MetricsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "itsm.metrics"
    label = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        from itsm.metrics import workspace

        connection_created.connect(on_connection_created, dispatch_uid="metrics_sqlite")
        # The dashboard's header link.
        workspace.register()
