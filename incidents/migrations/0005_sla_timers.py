"""SLA thresholds fire through the timer engine: each clock gets a timer holding its next
threshold, and the thresholds that fired move to the engine's firing table."""

import django.db.models.deletion
from django.db import migrations, models


def to_timers(apps, schema_editor):
    SlaClock = apps.get_model("incidents", "SlaClock")
    SlaThresholdEvent = apps.get_model("incidents", "SlaThresholdEvent")
    Timer = apps.get_model("timers", "Timer")
    TimerFiring = apps.get_model("timers", "TimerFiring")
    clocks = list(SlaClock.objects.all())
    timers = Timer.objects.bulk_create(
        Timer(
            tenant_id=clock.tenant_id,
            kind="sla",
            step=clock.next_threshold if clock.next_threshold_at else None,
            fire_at=clock.next_threshold_at if clock.next_threshold is not None else None,
        )
        for clock in clocks
    )
    for clock, timer in zip(clocks, timers, strict=True):
        clock.timer_id = timer.pk
    SlaClock.objects.bulk_update(clocks, ["timer"], batch_size=1000)
    timer_of = {clock.pk: clock.timer_id for clock in clocks}
    TimerFiring.objects.bulk_create(
        (
            TimerFiring(
                tenant_id=event.tenant_id,
                timer_id=timer_of[event.clock_id],
                step=event.threshold,
                due_at=event.due_at,
                fired_at=event.fired_at,
            )
            for event in SlaThresholdEvent.objects.all()
        ),
        batch_size=1000,
    )
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
