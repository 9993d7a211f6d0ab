"""Celery tasks of sign-in."""

from __future__ import annotations

from celery import shared_task

from itsm.accounts.services import credentials_purge_expired


@shared_task
def purge_expired_credentials_task() -> dict[str, int]:
    """Delete expired API tokens and old log-in records (beat, daily)."""
    return credentials_purge_expired()
