"""`itsm_enter_tenant(slug, user_id)`: a request's tenant, row-level security and membership in
one round trip (see rls.enter_tenant). PostgreSQL only: SQLite has no policies to set."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION itsm_enter_tenant(p_slug text, p_user_id bigint)
RETURNS SETOF tenancy_membership LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    found_tenant bigint;
BEGIN
    -- Transaction-local, as rls.activate sets them: the membership is visible from here on.
    -- An absent tenant sets nothing visible: the user's own memberships only, and none match.
    SELECT id INTO found_tenant FROM tenancy_tenant WHERE slug = p_slug AND is_active;
    PERFORM set_config('app.tenant_id', COALESCE(found_tenant::text, ''), true),
            set_config('app.user_id', p_user_id::text, true),
            set_config('app.platform', '', true);
    RETURN QUERY SELECT * FROM tenancy_membership
        WHERE tenant_id = found_tenant AND user_id = p_user_id AND is_active;
    IF NOT FOUND THEN
        -- No tenant, or not a member: the transaction sees nothing.
        PERFORM set_config('app.tenant_id', '', true), set_config('app.user_id', '', true);
    END IF;
END $$
"""

DROP = "DROP FUNCTION IF EXISTS itsm_enter_tenant(text, bigint)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0002_audit_trail")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
