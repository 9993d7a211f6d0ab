from django.apps import AppConfig


class ChangesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "changes"
    verbose_name = "Change enablement"

    def ready(self) -> None:
        from changes import workspace

        # Header links, the search provider and the cards on problem and incident pages.
        workspace.register()
