"""Celery entry point of the timer engine."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from itsm.timers.sweep import sweep


@shared_task(acks_late=True, expires=60)
def sweep_timers_task() -> int:
    """Beat entry point, every few seconds: fire the timer steps that are due, of every kind.

    Safe to run twice at once or to redeliver: timers are taken with SKIP LOCKED and each step
    is written once.
    """
    return sweep(batch_size=settings.TIMER_SWEEP_BATCH).fired
