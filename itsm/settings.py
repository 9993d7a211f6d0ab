"""Settings for every environment, read from the environment (and a local `.env` file).

With nothing set the product runs on the embedded default: a SQLite file and a file-system
Celery broker under `var/`. Production points DATABASE_URL at PostgreSQL and CELERY_BROKER_URL at
Redis. With DEBUG off, a missing secret stops the process at start with a clear message.
"""

from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
import pghistory
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# Real environment variables win over the file: environ only fills in what is unset.
# ITSM_ENV_FILE points elsewhere (a nonexistent path reads nothing).
environ.Env.read_env(env.str("ITSM_ENV_FILE", default=str(BASE_DIR / ".env")))

# --- Django core -------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)

_missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not env.str(name, default="")]
if _missing and not DEBUG:
    raise ImproperlyConfigured(
        f"Missing required setting(s): {', '.join(_missing)}. Set them in the environment or in "
        ".env (see .env.example), or set DEBUG=true to run on the embedded defaults."
    )

SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-only-used-with-debug")
# Signing (sessions, password resets, CSRF) is only as strong as this key: with DEBUG off refuse
# the kinds of keys Django's own deployment check calls weak, and the example's placeholder.
if not DEBUG and (
    len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
    or SECRET_KEY.startswith("django-insecure-")
    or "change-me" in SECRET_KEY
):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for DEBUG off: use at least 50 random characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Shared engines first: their management commands (migrate, flush) take precedence.
    "itsm.tenancy",
    "itsm.catalog",
    "itsm.calendars",
    "itsm.notifications",
    "itsm.timers",
    "itsm.search",
    "itsm.web",
    "django_htmx",
    "itsm.api",
    "itsm.accounts",
    "itsm.metrics",
    # After tenancy: its post_migrate revokes what tenancy grants on the audit tables.
    "itsm.audit",
    # Domain apps, in dependency order.
    "incidents",
    "problems",
    "changes",
    "knowledgebase",
    # The benchmark suite and its data at scale (management commands only).
    "benchmarks",
    # Framework.
    "itsm.apps.ITSMAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "pgtrigger",
    "pghistory",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (SECURE_CSP below).
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Serves collected static files (admin, API docs) without a separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who and which request, on every audit event written during the request (itsm/audit).
    "itsm.audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.htmx: pages answer htmx requests with a fragment instead of the whole page.
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a log-in refused by the lockout into the lockout page (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "itsm.urls"
WSGI_APPLICATION = "itsm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "itsm.web.context_processors.workspace",
            ],
        },
    },
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username + address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# WhiteNoise serves the installed apps' static files (admin, API docs) straight from the
# packages, so no collectstatic step is needed; `collectstatic` still works for a CDN.
WHITENOISE_USE_FINDERS = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# HTTPS: off by default because TLS usually ends at a proxy; see .env.example.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Only our own origin may run script, style, fonts and fetches; inline script or style needs the
# per-response nonce (templates: {{ csp_nonce }}); nothing may frame the pages. Swagger UI's
# icons are data: images.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Behind that proxy, the addresses it connects from (the ones gunicorn trusts) may name the client
# in X-Forwarded-For, which login throttling counts against; without a proxy nobody may.
TRUSTED_PROXY_IPS: list[str] = (
    env.list("GUNICORN_FORWARDED_ALLOW_IPS", default=["127.0.0.1"])
    if env.bool("SECURE_PROXY_SSL_HEADER", default=False)
    else []
)

# --- Database ----------------------------------------------------------------------------------
# DATABASE_URL is the application's role: on PostgreSQL it owns no table and is not a superuser,
# so row-level security applies to it. DATABASE_OWNER_URL is the role that owns the schema;
# `manage.py migrate` (and `flush`) connect with it. Without it both are the same connection.
# DATABASE_PLATFORM_URL is the platform role, the only login that may open the platform scope
# (every tenant: admin, the timer sweep); it has its own connection alias, "platform".

# Without DATABASE_URL: the embedded SQLite file, at SQLITE_PATH.
_SQLITE_PATH = Path(env.str("SQLITE_PATH", default=str(VAR_DIR / "itsm.sqlite3"))).resolve()
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{_SQLITE_PATH}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # tenant views open their own transaction
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share one file: wait for locks and take the write lock up front.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    if env.bool("DATABASE_POOL", default=False):
        # A pool of connections per process and alias (psycopg's), instead of one connection
        # kept open per thread: Django requires CONN_MAX_AGE 0 with it, and "closing" a
        # connection gives it back. A connection given back never carries a tenant: row-level
        # security's settings are transaction-local (set_config(..., true), itsm/tenancy/rls.py),
        # so they end with the transaction that set them, before the connection is returned.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=4),
            # Seconds a request waits for a free connection before it fails.
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        }
    else:
        DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Row-level security's platform clause needs membership of this role, not just a setting
    # that any SQL on the application's connection could flip.
    if not env.str("DATABASE_PLATFORM_URL", default=""):
        raise ImproperlyConfigured(
            "DATABASE_PLATFORM_URL is required on PostgreSQL: the role that platform "
            "administration and the timer sweep connect as (see .env.example)."
        )
    DATABASES["platform"] = {
        **DATABASES["default"],
        **{
            key: value
            for key, value in env.db_url("DATABASE_PLATFORM_URL").items()
            if key in ("USER", "PASSWORD")
        },
    }
    # DATABASE_REPLICA_URL: a read replica (hot standby) of the same database, logged in as the
    # application's role; reports and metrics read from it (itsm/metrics/routing.py). Without
    # it they read the default database.
    if env.str("DATABASE_REPLICA_URL", default=""):
        _replica = env.db_url("DATABASE_REPLICA_URL")
        DATABASES["replica"] = {
            **DATABASES["default"],
            **{
                key: value
                for key, value in _replica.items()
                if key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")
            },
            "OPTIONS": {**DATABASES["default"].get("OPTIONS", {}), **_replica.get("OPTIONS", {})},
            # The test run makes no second database for it: it is the default's copy.
            "TEST": {"MIRROR": "default"},
        }
# Reads of reports to the replica, when there is one; everything else to the default database.
DATABASE_ROUTERS = ["itsm.metrics.routing.ReportsRouter"]

_owner = env.db_url("DATABASE_OWNER_URL", default="") if env.str("DATABASE_OWNER_URL", "") else {}
DATABASE_OWNER_CREDENTIALS: dict[str, str] = (
    {"USER": _owner.get("USER", ""), "PASSWORD": _owner.get("PASSWORD", "")} if _owner else {}
)
# The role migrations grant table privileges to; empty when there is only one role.
DATABASE_APP_ROLE: str = DATABASES["default"].get("USER", "") if _owner else ""
# The role whose members may open the platform scope; empty on SQLite (no policies there).
DATABASE_PLATFORM_ROLE: str = DATABASES.get("platform", {}).get("USER", "")
# The hot statements are prepared once per connection (itsm/prepared.py); false behind a pooler
# that moves a client's transactions between server connections (PgBouncer in transaction mode).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)

# --- Workspace -----------------------------------------------------------------------------------

# "Breaching soon": open incidents whose earliest running SLA clock is due within this many seconds.
WORKSPACE_BREACHING_SOON = env.int("WORKSPACE_BREACHING_SOON", default=2 * 60 * 60)

# --- Cache -------------------------------------------------------------------------------------

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# --- E-mail ------------------------------------------------------------------------------------

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ITSM <itsm@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- REST framework ----------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # `Authorization: Token <key>`, hashed knox tokens (itsm/accounts).
        "itsm.accounts.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Fail closed: every view must say who may use it.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Bodies are bounded in size (413) and JSON in depth (400) before a view reads them.
    "DEFAULT_PARSER_CLASSES": ["itsm.api.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "itsm.api.parsers.BoundedContentNegotiation",
    "DEFAULT_FILTER_BACKENDS": [
        "itsm.api.filters.GivenFiltersBackend",
        "itsm.api.filters.IndexedSearchFilter",
        "itsm.api.filters.StableOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "itsm.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "itsm.api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "itsm.api.schema.TenantAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ITSM API",
    "DESCRIPTION": (
        "Multi-tenant IT service management. Every resource lives under /api/v1/t/{tenant}/; "
        "authenticate with `Authorization: Token <key>` or a session."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Served from the installed sidecar package, so the docs work without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One schema name per choice set, wherever fields reuse it.
    "ENUM_NAME_OVERRIDES": {
        "TeamKindEnum": "itsm.tenancy.choices.TeamKind",
        "MembershipRoleEnum": "itsm.tenancy.choices.MembershipRole",
        "IncidentStatusEnum": "incidents.choices.IncidentStatus",
        "HoldReasonEnum": "incidents.choices.HoldReason",
        "IncidentEventKindEnum": "incidents.choices.EventKind",
        "EscalationKindEnum": "incidents.choices.EscalationKind",
        "SlaClockKindEnum": "incidents.choices.SlaClockKind",
        "ArticleStatusEnum": "knowledgebase.choices.ArticleStatus",
        "ArticleAudienceEnum": "knowledgebase.choices.ArticleAudience",
        "ChangeTypeEnum": "changes.choices.ChangeType",
        "ChangeStatusEnum": "changes.choices.ChangeStatus",
        "ApprovedChangeTypeEnum": ["normal", "emergency"],  # types that ask for approval
        "RiskFactorEnum": "changes.choices.RiskFactor",
        "ApprovalBoardEnum": "changes.choices.ApprovalBoard",
        "MetricUnitEnum": "itsm.metrics.api.serializers.UNITS",
    },
}

# --- Celery ------------------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The timer sweep fires SLA warnings and breaches and every other kind of timer.
TIMER_SWEEP_INTERVAL = env.float("TIMER_SWEEP_INTERVAL", default=5.0)  # seconds
TIMER_SWEEP_BATCH = env.int("TIMER_SWEEP_BATCH", default=500)  # timers per transaction
# Changes: how long before a scheduled change's planned start its owner is reminded.
CHANGE_REMINDER_BEFORE = timedelta(minutes=env.int("CHANGE_REMINDER_MINUTES", default=60))
# Notifications: the outbox sweep finds pending deliveries whose time has come (enqueue lost,
# worker died, retry due); a failed attempt is retried after base, 2 × base, 4 × base ... seconds
# (capped), and the delivery fails for good after the last attempt. A worker's claim on a batch
# lasts NOTIFICATIONS_LEASE seconds: longer than sending a batch takes, so a mail server that
# hangs gives up (EMAIL_TIMEOUT, per SMTP operation) well before the lease runs out.
NOTIFICATIONS_SWEEP_INTERVAL = env.float("NOTIFICATIONS_SWEEP_INTERVAL", default=5.0)  # seconds
NOTIFICATIONS_DELIVERY_BATCH = env.int("NOTIFICATIONS_DELIVERY_BATCH", default=50)
NOTIFICATIONS_DELIVERY_MAX_BATCHES = env.int("NOTIFICATIONS_DELIVERY_MAX_BATCHES", default=20)
NOTIFICATIONS_LEASE = env.float("NOTIFICATIONS_LEASE", default=300.0)  # seconds
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=6)
NOTIFICATIONS_RETRY_BASE = env.float("NOTIFICATIONS_RETRY_BASE", default=30.0)  # seconds
NOTIFICATIONS_RETRY_MAX_DELAY = env.float("NOTIFICATIONS_RETRY_MAX_DELAY", default=3600.0)
# The domain of the Message-ID of notification e-mails; empty: DEFAULT_FROM_EMAIL's domain.
NOTIFICATIONS_MESSAGE_ID_DOMAIN = env.str("NOTIFICATIONS_MESSAGE_ID_DOMAIN", default="")
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)  # seconds
# Metrics: the daily rollups' recent days are recomputed every few minutes, everything nightly.
METRICS_ROLLUP_DAYS = env.int("METRICS_ROLLUP_DAYS", default=14)
METRICS_ROLLUP_INTERVAL = env.int("METRICS_ROLLUP_INTERVAL", default=10 * 60)  # seconds
CELERY_BEAT_SCHEDULE = {
    "sweep-timers": {
        "task": "itsm.timers.tasks.sweep_timers_task",
        "schedule": TIMER_SWEEP_INTERVAL,
        "options": {"expires": max(TIMER_SWEEP_INTERVAL * 2, 10)},
    },
    "close-resolved-incidents": {
        "task": "incidents.tasks.schedule_incident_auto_close_task",
        "schedule": env.int("INCIDENT_AUTO_CLOSE_INTERVAL", default=15 * 60),
    },
    # Trend analysis: problem suggestions from clusters of similar incidents, every tenant, at
    # fixed hours (not when beat starts: a restarted beat must not set every tenant's run off).
    "analyse-trends": {
        "task": "problems.tasks.schedule_trend_analysis_task",
        "schedule": crontab(minute=17, hour=env.str("TREND_ANALYSIS_HOURS", default="*/6")),
    },
    "refresh-incident-rollups": {
        "task": "incidents.tasks.schedule_incident_rollups_task",
        "schedule": METRICS_ROLLUP_INTERVAL,
        "options": {"expires": METRICS_ROLLUP_INTERVAL},
    },
    # The whole rollup, every night at a fixed time (in UTC; days are the tenants' own).
    "rebuild-incident-rollups": {
        "task": "incidents.tasks.schedule_incident_rollups_task",
        "schedule": crontab(minute=41, hour=2),
        "kwargs": {"full": True},
    },
    "deliver-pending-notifications": {
        "task": "itsm.notifications.tasks.schedule_notification_delivery_task",
        "schedule": NOTIFICATIONS_SWEEP_INTERVAL,
        "options": {"expires": max(NOTIFICATIONS_SWEEP_INTERVAL * 2, 10)},
    },
    "purge-expired-credentials": {
        "task": "itsm.accounts.tasks.purge_expired_credentials_task",
        "schedule": 24 * 60 * 60,
    },
    "purge-expired-sessions": {
        "task": "itsm.tenancy.tasks.purge_expired_sessions_task",
        "schedule": 6 * 60 * 60,
    },
}

# --- Audit (django-pghistory) -----------------------------------------------------------------
# Snapshots of foreign keys in the event tables are plain columns: the audit indexes its own
# (tenant, time) and (object, time) pairs, and an index per snapshotted key would only slow writes.
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)

# --- Sign-in: login throttling (django-axes) and API tokens (django-rest-knox) ----------------
# docs/security.md. Failures are counted per username *and* client address: one address cannot
# guess one user's password, and one attacker cannot lock out every user behind a shared NAT.
# A locked-out pair is refused even with the right password until the cool-off has passed; a
# failure during the lock starts the cool-off again; a successful log-in clears the count.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "itsm.accounts.throttling.client_ip_address"
AXES_LOCKOUT_CALLABLE = "itsm.accounts.throttling.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure, and whether the lock refused it
AXES_ENABLE_ADMIN = False  # itsm/accounts/admin.py registers read-only admins instead
# Successful and failed log-in records older than this are deleted by the daily purge.
LOGIN_LOG_RETENTION_DAYS = env.int("LOGIN_LOG_RETENTION_DAYS", default=90)
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=30)),
    "TOKEN_LIMIT_PER_USER": env.int("API_TOKEN_LIMIT_PER_USER", default=20),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

# --- Guardian ----------------------------------------------------------------------------------

ANONYMOUS_USER_NAME = None  # no guardian anonymous user row: anonymous users get nothing
GUARDIAN_RAISE_403 = False

# --- Logging -----------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Demo --------------------------------------------------------------------------------------

DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="demo-password")
