"""`itsm_next_number(tenant_id, key)`: the tenant counter's next value, for an INSERT to
evaluate, so that a record and its number are written in one statement (see
tenancy.services.next_number). PostgreSQL only: elsewhere the number is allocated apart."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION itsm_next_number(p_tenant_id bigint, p_key text)
RETURNS bigint LANGUAGE sql VOLATILE AS $$
    INSERT INTO tenancy_tenantcounter (tenant_id, key, last_value, created_at, updated_at)
    VALUES (p_tenant_id, p_key, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
    ON CONFLICT (tenant_id, key) DO UPDATE
    SET last_value = tenancy_tenantcounter.last_value + 1, updated_at = CURRENT_TIMESTAMP
    RETURNING last_value
$$
"""

DROP = "DROP FUNCTION IF EXISTS itsm_next_number(bigint, text)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0005_team_config_version_trigger")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
