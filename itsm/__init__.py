"""The ITSM suite's project package: settings, URLs, the Celery app and the shared engines."""

from itsm.celery import app as celery_app

__all__ = ["celery_app"]
