from django.apps import AppConfig


class WebConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "itsm.web"
    label = "web"
    verbose_name = "Web workspace"
