from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def on_post_migrate(using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    """Keep row-level security and the application role's grants in step with the tables.

    Framework glue: it runs once all migrations have been applied, as the schema owner.
    `flush` sends the signal too (without a plan); emptying tables changes no policy.
    """
    from itsm.tenancy import rls

    if plan is None:
        return

    connection = connections[using]
    rls.sync_policies(connection)
    rls.sync_link_guards(connection)
    rls.grant_app_role(connection)


class TenancyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "itsm.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        # Sent once per app after all migrations ran; this app's turn is enough.
        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="tenancy_rls_sync")
