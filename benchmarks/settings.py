"""The product's settings with the benchmark URLs (the product's plus the floor views), for the
gunicorn that `manage.py benchmark --http` starts: DJANGO_SETTINGS_MODULE=benchmarks.settings."""

from itsm.settings import *  # noqa: F403  (the product's settings, unchanged)

ROOT_URLCONF = "benchmarks.urls"
