# API tokens moved from rest_framework.authtoken (keys stored in plain text) to knox (hashed).
# The old app is no longer installed, so nothing else would ever remove its table: drop it, and
# with it every plain-text key, and forget its migrations. Old tokens stop working either way
# (README, docs/security.md). Nothing to undo: the keys are not to come back.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[
                "DROP TABLE IF EXISTS authtoken_token",
                "DELETE FROM django_migrations WHERE app = 'authtoken'",
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
