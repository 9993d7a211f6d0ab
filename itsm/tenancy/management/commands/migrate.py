"""`migrate`, run as the schema owner (DATABASE_OWNER_URL) rather than the application role."""

from typing import Any

from django.core.management.commands import migrate

from itsm.tenancy import rls


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        with rls.owner_connection(options["database"]):
            super().handle(*args, **options)
