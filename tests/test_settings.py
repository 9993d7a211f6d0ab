"""Settings come from the environment: with DEBUG off a missing secret stops the start with a
clear message; with DEBUG on and nothing else set the embedded default (SQLite, file-system
broker) is used."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

PROJECT_DIR = Path(settings.BASE_DIR)
STRONG_KEY = "k3Y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP"
# Everything settings read that decides what the product connects to.
CONFIGURED = (
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "DATABASE_OWNER_URL",
    "CELERY_BROKER_URL",
    "CELERY_BROKER_DIR",
    "SQLITE_PATH",
    "ITSM_ENV_FILE",
)
REPORT = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default']['ENGINE']); "
    "print(settings.DATABASES['default']['NAME']); "
    "print(settings.CELERY_BROKER_URL); "
    "print(json.dumps(getattr(settings, 'CELERY_BROKER_TRANSPORT_OPTIONS', {})))"
)


def _boot(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in CONFIGURED}
    env.update(
        DJANGO_SETTINGS_MODULE="itsm.settings",
        # A developer's .env in the project must not fill in what the test leaves out.
        ITSM_ENV_FILE=str(tmp_path / "no.env"),
        # Where the embedded default writes, should it get that far.
        SQLITE_PATH=str(tmp_path / "itsm.sqlite3"),
        CELERY_BROKER_DIR=str(tmp_path / "broker"),
    )
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", REPORT],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variables", "missing"),
    [
        ({"DATABASE_URL": "postgres://itsm_app@127.0.0.1:5432/itsm"}, "SECRET_KEY"),
        ({"SECRET_KEY": "a-secret"}, "DATABASE_URL"),
        ({}, "SECRET_KEY, DATABASE_URL"),
    ],
)
def test_without_debug_a_missing_secret_stops_the_start(tmp_path, variables, missing):
    result = _boot(tmp_path, DEBUG="false", **variables)

    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        "django.core.exceptions.ImproperlyConfigured: "
        f"Missing required setting(s): {missing}. Set them in the environment or in .env"
    ) in result.stderr
    assert not (tmp_path / "broker").exists()  # stopped before touching anything


def test_without_debug_an_empty_secret_counts_as_missing(tmp_path):
    result = _boot(
        tmp_path,
        DEBUG="false",
        SECRET_KEY="",
        DATABASE_URL="postgres://itsm_app@127.0.0.1:5432/itsm",
    )

    assert result.returncode == 1
    assert "Missing required setting(s): SECRET_KEY." in result.stderr


def test_a_dotenv_file_fills_in_what_the_environment_leaves_unset(tmp_path):
    database = tmp_path / "from-the-file.sqlite3"
    env_file = tmp_path / "custom.env"
    env_file.write_text(f"SECRET_KEY={STRONG_KEY}\nDATABASE_URL=sqlite:///{database}\n")

    result = _boot(tmp_path, DEBUG="false", ITSM_ENV_FILE=str(env_file))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "django.db.backends.sqlite3",
        str(database),
        "filesystem://",
    ]


def test_with_debug_and_nothing_else_set_it_boots_on_sqlite_and_the_filesystem_broker(tmp_path):
    result = _boot(tmp_path, DEBUG="true")

    assert result.returncode == 0, result.stderr
    engine, name, broker_url, transport_options = result.stdout.splitlines()
    assert (engine, name, broker_url) == (
        "django.db.backends.sqlite3",
        str(tmp_path / "itsm.sqlite3"),
        "filesystem://",
    )
    # Every folder the file-system transport uses is in the broker directory, and exists.
    folders = {
        key: Path(value)
        for key, value in json.loads(transport_options).items()
        if key.endswith("_folder") or key.startswith("data_folder_")
    }
    assert set(folders) == {
        "data_folder_in",
        "data_folder_out",
        "processed_folder",
        "control_folder",
    }
    for key, folder in folders.items():
        assert folder.parent == tmp_path / "broker", key
        assert folder.is_dir(), key


@pytest.mark.parametrize(
    "weak",
    [
        "a-secret",  # short
        "x" * 60,  # long, but hardly random
        "django-insecure-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",  # Django's dev key
        "change-me-to-a-long-random-string-change-me-to-a-long-random",  # the example's
    ],
)
def test_without_debug_a_weak_secret_stops_the_start(tmp_path, weak):
    result = _boot(
        tmp_path,
        DEBUG="false",
        SECRET_KEY=weak,
        DATABASE_URL="postgres://itsm_app@127.0.0.1:5432/itsm",
    )

    assert result.returncode == 1
    assert "SECRET_KEY is too weak for DEBUG off" in result.stderr


def test_with_debug_any_secret_will_do(tmp_path):
    result = _boot(tmp_path, DEBUG="true", SECRET_KEY="x")

    assert result.returncode == 0, result.stderr


def _example_settings() -> dict[str, str]:
    """The production settings of .env.example, with a real secret in place of the example's."""
    values = {}
    for line in (PROJECT_DIR / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _sep, value = line.partition("=")
            values[name.strip()] = value.strip()
    values["SECRET_KEY"] = STRONG_KEY
    return values


def test_the_deployment_check_passes_with_the_example_production_settings(tmp_path):
    # Given the settings .env.example recommends for production, HSTS turned on as it advises
    variables = _example_settings() | {
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
        "SECURE_HSTS_PRELOAD": "true",
    }
    env = {key: value for key, value in os.environ.items() if key not in CONFIGURED}
    env.update(variables, ITSM_ENV_FILE=str(tmp_path / "no.env"), STATIC_ROOT=str(tmp_path))

    # When Django's deployment check runs on them
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then it finds nothing to warn about
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_production_server_loads_the_application(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in CONFIGURED}
    env.update(_example_settings(), ITSM_ENV_FILE=str(tmp_path / "no.env"))

    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "--config", "gunicorn.conf.py"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


DATABASES_REPORT = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps({'databases': settings.DATABASES, 'routers': settings.DATABASE_ROUTERS}, "
    "default=str))"
)
ON_POSTGRES = {
    "DEBUG": "false",
    "SECRET_KEY": STRONG_KEY,
    "DATABASE_URL": "postgres://itsm_app:app-secret@primary.example:5432/itsm",
    "DATABASE_PLATFORM_URL": "postgres://itsm_platform:platform-secret@primary.example:5432/itsm",
}


def _databases(tmp_path: Path, **variables: str) -> dict[str, Any]:
    """settings.DATABASES and DATABASE_ROUTERS as a process started with `variables` sees them."""
    env = {key: value for key, value in os.environ.items() if key not in CONFIGURED}
    for name in ("CONN_MAX_AGE", "DATABASE_PLATFORM_URL", "DATABASE_REPLICA_URL"):
        env.pop(name, None)
    env = {key: value for key, value in env.items() if not key.startswith("DATABASE_POOL")}
    env.update(
        DJANGO_SETTINGS_MODULE="itsm.settings", ITSM_ENV_FILE=str(tmp_path / "no.env"), **variables
    )
    result = subprocess.run(
        [sys.executable, "-c", DATABASES_REPORT],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return found


def test_connections_persist_without_a_pool_by_default(tmp_path):
    found = _databases(tmp_path, **ON_POSTGRES)

    default = found["databases"]["default"]
    assert default["CONN_MAX_AGE"] == 60
    assert "pool" not in default.get("OPTIONS", {})
    # No replica: no alias, so reports read the default database
    assert set(found["databases"]) == {"default", "platform"}
    assert found["routers"] == ["itsm.metrics.routing.ReportsRouter"]


def test_database_pool_builds_the_pool_options_from_the_environment(tmp_path):
    found = _databases(
        tmp_path,
        **ON_POSTGRES,
        CONN_MAX_AGE="120",  # Django refuses persistent connections with a pool
        DATABASE_POOL="true",
        DATABASE_POOL_MIN_SIZE="2",
        DATABASE_POOL_MAX_SIZE="8",
        DATABASE_POOL_TIMEOUT="5",
    )

    pool = {"min_size": 2, "max_size": 8, "timeout": 5.0}
    for alias in ("default", "platform"):  # each alias its own pool, of the same size
        database = found["databases"][alias]
        assert database["OPTIONS"]["pool"] == pool, alias
        assert database["CONN_MAX_AGE"] == 0, alias


def test_database_pool_has_defaults(tmp_path):
    found = _databases(tmp_path, **ON_POSTGRES, DATABASE_POOL="true")

    pool = found["databases"]["default"]["OPTIONS"]["pool"]
    assert pool == {"min_size": 1, "max_size": 4, "timeout": 10.0}


def test_a_replica_url_adds_the_replica_alias_as_the_application_role(tmp_path):
    found = _databases(
        tmp_path,
        **ON_POSTGRES,
        DATABASE_REPLICA_URL="postgres://itsm_app:app-secret@replica.example:5433/itsm",
    )

    default, replica = found["databases"]["default"], found["databases"]["replica"]
    assert (replica["HOST"], replica["PORT"], replica["NAME"]) == ("replica.example", 5433, "itsm")
    assert (replica["USER"], replica["PASSWORD"]) == ("itsm_app", "app-secret")
    # The default's shape otherwise: no transaction per request, the same connection handling
    assert replica["ATOMIC_REQUESTS"] is False
    assert replica["CONN_MAX_AGE"] == default["CONN_MAX_AGE"]
    assert replica["CONN_HEALTH_CHECKS"] is True
    assert replica["TEST"]["MIRROR"] == "default"  # a test run makes no database for it
