"""Create the three PostgreSQL roles and the database, idempotently, as a superuser.

    manage.py provision_db_roles --superuser-url postgres://postgres@127.0.0.1:5432/postgres

The owner role (DATABASE_OWNER_URL) owns the schema and runs migrations; it may create databases
(for the test suite) but is neither a superuser nor exempt from row-level security. The
application role (DATABASE_URL) owns nothing and only gets row privileges from `migrate`. The
platform role (DATABASE_PLATFORM_URL) is a member of the application role (the same row
privileges) and the only login besides the owner whose membership row-level security accepts
for the platform scope; the application role is never made a member of it.
"""

from typing import Any

import environ
import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from psycopg import sql


class Command(BaseCommand):
    help = "Create the schema-owner and application roles and the database on PostgreSQL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--superuser-url",
            default="postgres://postgres@127.0.0.1:5432/postgres",
            help="A connection with the right to create roles and databases.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app = settings.DATABASES["default"]
        platform = settings.DATABASES.get("platform", {})
        owner = settings.DATABASE_OWNER_CREDENTIALS
        if app["ENGINE"] != "django.db.backends.postgresql" or not owner or not platform:
            raise CommandError(
                "Set DATABASE_URL, DATABASE_OWNER_URL and DATABASE_PLATFORM_URL to PostgreSQL "
                "first."
            )
        superuser = environ.Env.db_url_config(options["superuser_url"])
        with psycopg.connect(
            dbname=superuser["NAME"],
            user=superuser["USER"],
            password=superuser.get("PASSWORD") or None,
            host=superuser.get("HOST") or None,
            port=superuser.get("PORT") or None,
            autocommit=True,
        ) as conn:
            self._ensure_role(conn, owner["USER"], owner["PASSWORD"], "CREATEDB")
            self._ensure_role(conn, app["USER"], app.get("PASSWORD", ""), "NOCREATEDB")
            self._ensure_role(conn, platform["USER"], platform.get("PASSWORD", ""), "NOCREATEDB")
            # Membership runs one way: platform -> application (inherits its row privileges),
            # owner -> platform (maintenance commands see every tenant). Never application ->
            # platform: that would let the application's connection open every tenant.
            memberships = ((platform["USER"], app["USER"]), (owner["USER"], platform["USER"]))
            for member, group in memberships:
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(member))
                )
            conn.execute(
                sql.SQL("REVOKE {} FROM {}").format(
                    sql.Identifier(platform["USER"]), sql.Identifier(app["USER"])
                )
            )
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [app["NAME"]]
            ).fetchone()
            if not exists:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(app["NAME"]), sql.Identifier(owner["USER"])
                    )
                )
        self.stdout.write(
            f"Roles {owner['USER']} (owner), {app['USER']} (application) and "
            f"{platform['USER']} (platform) ready."
        )

    def _ensure_role(
        self, conn: psycopg.Connection[Any], name: str, password: str, create: str
    ) -> None:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        attributes = sql.SQL(f"LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE {create}")
        conn.execute(
            sql.SQL("{} ROLE {} WITH {}").format(sql.SQL(verb), sql.Identifier(name), attributes)
        )
        if password:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
