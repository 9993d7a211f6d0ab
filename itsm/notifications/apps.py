from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "itsm.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # The built-in channels register themselves on import; later channels (webhooks, Slack,
        # Teams) are modules of their own registered the same way.
        from itsm.notifications import channels  # noqa: F401
