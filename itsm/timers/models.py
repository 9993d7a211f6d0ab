"""Timers: rows with a next due time, and the record of each step that fired.

A timer belongs to a kind (registered by a domain app) and to the domain row that points at it
(an SLA clock, a problem's review date, an on-call escalation). It stores only what the sweep
needs: the next step to fire and when. Which step follows, and what firing it means, is the
kind's business.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from itsm.tenancy.models import TenantOwnedModel


class Timer(TenantOwnedModel):
    """When a kind's next step is due; idle (no step, no time) when nothing is due."""

    kind = models.CharField(max_length=40)
    step = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("The next step to fire; its meaning is the kind's.")
    )
    fire_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["fire_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(step__isnull=True, fire_at__isnull=True)
                | models.Q(step__isnull=False, fire_at__isnull=False),
                name="timers_timer_step_and_time_together",
            )
        ]
        indexes = [
            # The sweep's one query: timers due now, soonest first. Idle timers are not in it,
            # so its size follows what is scheduled, not how many rows exist.
            models.Index(
                fields=["fire_at"],
                name="timers_timer_due",
                condition=models.Q(fire_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} timer {self.pk}"

    @property
    def is_armed(self) -> bool:
        return self.fire_at is not None


class TimerFiring(TenantOwnedModel):
    """A step of a timer that fired. Unique per timer and step: a repeated sweep, a redelivered
    task or a second sweeper cannot fire it twice."""

    timer = models.ForeignKey(Timer, on_delete=models.PROTECT, related_name="firings")
    step = models.PositiveIntegerField()
    due_at = models.DateTimeField(help_text=_("When the step was reached."))
    fired_at = models.DateTimeField()

    class Meta:
        ordering = ["timer_id", "step"]
        constraints = [
            models.UniqueConstraint(fields=["timer", "step"], name="timers_firing_unique_step")
        ]

    def __str__(self) -> str:
        return f"step {self.step} of timer {self.timer_id}"
