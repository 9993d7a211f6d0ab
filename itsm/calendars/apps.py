from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "itsm.calendars"
    label = "calendars"
    verbose_name = "Business calendars"
