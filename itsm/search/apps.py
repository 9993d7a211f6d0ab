from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def on_post_migrate(using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    """Keep the search table, its functions and the triggers of searchable tables in step with
    the models, as the schema owner, after every migrate (framework glue, like tenancy's)."""
    from itsm.search import sql

    if plan is None:
        return
    sql.sync(connections[using])


class SearchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "itsm.search"
    label = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="search_sync")
