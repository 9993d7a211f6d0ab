"""On PostgreSQL the database itself refuses to change or delete a problem timeline event."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION problems_event_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'problem timeline events are immutable';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER problems_event_immutable
    BEFORE UPDATE OR DELETE ON problems_problemevent
    FOR EACH ROW EXECUTE FUNCTION problems_event_immutable();
"""

DROP = """
DROP TRIGGER IF EXISTS problems_event_immutable ON problems_problemevent;
DROP FUNCTION IF EXISTS problems_event_immutable();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("problems", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
