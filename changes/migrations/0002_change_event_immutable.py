"""On PostgreSQL the database itself refuses to change or delete a change timeline event."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION changes_event_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'change timeline events are immutable';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER changes_event_immutable
    BEFORE UPDATE OR DELETE ON changes_changeevent
    FOR EACH ROW EXECUTE FUNCTION changes_event_immutable();
"""

DROP = """
DROP TRIGGER IF EXISTS changes_event_immutable ON changes_changeevent;
DROP FUNCTION IF EXISTS changes_event_immutable();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("changes", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
