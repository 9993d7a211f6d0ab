"""WSGI entry point for production servers."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")

application = get_wsgi_application()

# Import every view now, not on a worker's first request: gunicorn preloads this module
# (gunicorn.conf.py), so its workers fork with the URLs resolved and a broken import fails at start.
url_patterns = get_resolver().url_patterns
