"""On PostgreSQL the database itself refuses to change or delete a timeline event."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION incidents_event_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'incident timeline events are immutable';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_event_immutable
    BEFORE UPDATE OR DELETE ON incidents_incidentevent
    FOR EACH ROW EXECUTE FUNCTION incidents_event_immutable();
"""

DROP = """
DROP TRIGGER IF EXISTS incidents_event_immutable ON incidents_incidentevent;
DROP FUNCTION IF EXISTS incidents_event_immutable();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
