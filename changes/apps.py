from django.apps import AppConfig


class ChangesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "changes"
    verbose_name = "Change enablement"

    def ready(self) -> None:
        from changes import workspace
        from changes.metrics import ChangeMetrics
        from itsm.metrics import registry as metrics

        # Header links, the search provider and the cards on problem and incident pages.
        workspace.register()
        # The change figures on the metrics API and dashboard.
        metrics.register(ChangeMetrics())
