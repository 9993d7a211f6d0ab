"""`flush`, run as the schema owner: the application role may not truncate tables."""

from typing import Any

from django.core.management.commands import flush

from itsm.tenancy import rls


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with rls.owner_connection(options["database"]):
            super().handle(**options)
