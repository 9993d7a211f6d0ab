from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "problems"
    verbose_name = "Problem management"

    def ready(self) -> None:
        from itsm.metrics import registry as metrics
        from itsm.search.registry import Searchable, register
        from problems import workspace
        from problems.metrics import ProblemMetrics
        from problems.models import KnownError

        # Header links and the search provider of the workspace shell.
        workspace.register()

        # Known errors in the search structure: what the first line matches incidents against.
        register(
            Searchable(
                KnownError,
                kind="known_error",
                title="title",
                body=("symptoms", "workaround", "root_cause"),
                status="status",
            )
        )
        # The problem figures on the metrics API and dashboard.
        metrics.register(ProblemMetrics())
