from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class TimersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "itsm.timers"
    label = "timers"
    verbose_name = "Timers"

    def ready(self) -> None:
        # Each app declares its timer kinds in its own `timers.py`, found like its admin.py.
        autodiscover_modules("timers")
