"""The production web server: `gunicorn --config gunicorn.conf.py` (README, "Run it in production").

Every value can be set from the environment; the defaults suit a small host behind a proxy.
"""

import multiprocessing
import os

wsgi_app = "itsm.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Load the application before forking: a broken setting fails once, at start.
preload_app = True
# TLS ends at the proxy; trust its X-Forwarded-* headers only from where it runs.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
