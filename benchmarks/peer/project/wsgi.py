"""The peer's WSGI application, for gunicorn (bench.py starts it with this directory as cwd)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

application = get_wsgi_application()
