"""SLA thresholds fire through the timer engine: each clock gets a timer holding its next
threshold, and the thresholds that fired move to the engine's firing table."""

import django.db.models.deletion
from django.db import migrations, models


def to_timers(apps, schema_editor):
    # In SQL, so that a deployment with millions of clocks migrates in seconds, not hours. Each
    # clock's timer takes the clock's own id: the one-to-one mapping needs no lookup table.
    run = schema_editor.execute
    run(
        "INSERT INTO timers_timer (id, tenant_id, kind, step, fire_at, created_at, updated_at) "
        "SELECT id, tenant_id, 'sla', "
        "CASE WHEN next_threshold_at IS NULL THEN NULL ELSE next_threshold END, "
        "CASE WHEN next_threshold IS NULL THEN NULL ELSE next_threshold_at END, "
        "created_at, updated_at FROM incidents_slaclock"
    )
    run("UPDATE incidents_slaclock SET timer_id = id")
    run(
        "INSERT INTO timers_timerfiring (tenant_id, timer_id, step, due_at, fired_at, "
        "created_at, updated_at) SELECT tenant_id, clock_id, threshold, due_at, fired_at, "
        "created_at, updated_at FROM incidents_slathresholdevent"
    )
    if schema_editor.connection.vendor == "postgresql":
        run(
            "SELECT setval(pg_get_serial_sequence('timers_timer', 'id'), "
            "COALESCE((SELECT MAX(id) FROM timers_timer), 0) + 1, false)"
        )
        # Check the new foreign keys now: pending deferred checks would make PostgreSQL refuse
        # the ALTER TABLE below ("pending trigger events").
        run("SET CONSTRAINTS ALL IMMEDIATE")
    # The sweep is now the timer engine's beat task; the old entry would name a task that is gone.
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name="sweep-sla-clocks").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0004_sla_summary"),
        ("timers", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="slaclock",
            name="timer",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="timers.timer",
            ),
        ),
        migrations.RunPython(to_timers, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="slaclock",
            name="timer",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="timers.timer"
            ),
        ),
        migrations.RemoveIndex(model_name="slaclock", name="incidents_slaclock_due"),
        migrations.RemoveField(model_name="slaclock", name="next_threshold"),
        migrations.RemoveField(model_name="slaclock", name="next_threshold_at"),
        migrations.DeleteModel(name="SlaThresholdEvent"),
    ]
