from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "itsm.api"
    label = "itsm_api"
    verbose_name = "API"
