"""The embedded default boots: with no database, broker or .env configured, `make run`'s steps
(migrate, seed_demo, seed_demo_incidents, honcho start) give a working web app, worker and beat
on SQLite and the file-system broker."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import suppress
from pathlib import Path

import pytest
from django.conf import settings

from tests.processes import free_port

PROJECT_DIR = Path(settings.BASE_DIR)
VENV_BIN = PROJECT_DIR / ".venv" / "bin"
# Everything that could point the product at the test suite's PostgreSQL and Redis.
CONFIGURED = (
    "DATABASE_URL",
    "DATABASE_OWNER_URL",
    "CELERY_BROKER_URL",
    "CELERY_BROKER_DIR",
    "CELERY_TASK_ALWAYS_EAGER",
    "CACHE_URL",
    "EMAIL_URL",
    "SQLITE_PATH",
    "ITSM_ENV_FILE",
    "DEMO_PASSWORD",
)
BOOT_TIMEOUT = 60.0


def _embedded_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CONFIGURED}
    env.update(
        DEBUG="true",
        SECRET_KEY="embedded-default-test-secret",
        SQLITE_PATH=str(tmp_path / "itsm.sqlite3"),
        CELERY_BROKER_DIR=str(tmp_path / "broker"),
        ITSM_ENV_FILE=str(tmp_path / "no.env"),  # a developer's .env must not redirect us
        ITSM_PORT=str(port),
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        # Migrating a fresh SQLite file takes ~20 s here; a busy machine has taken over 60 s.
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _wait_for(predicate, what: str, deadline: float, output: Path) -> None:
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {BOOT_TIMEOUT:.0f} s; output:\n{output.read_text()}")
        time.sleep(0.25)


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop honcho and everything it started: the whole process group of the new session."""
    for sig, timeout in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
        # honcho is gone; make sure no pool child outlived it.
        time.sleep(0.5)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        break


@pytest.mark.slow
def test_make_run_boots_web_worker_and_beat_on_sqlite_and_the_filesystem_broker(tmp_path: Path):
    port = free_port()
    env = _embedded_env(tmp_path, port)
    base = f"http://127.0.0.1:{port}"

    _manage(env, "migrate", "--no-input")
    seeded = _manage(env, "seed_demo")
    assert "Demo data ready." in seeded
    assert "Demo incidents ready." in _manage(env, "seed_demo_incidents")
    assert (tmp_path / "itsm.sqlite3").is_file()

    output = tmp_path / "honcho.log"
    with output.open("wb") as sink:
        # As `make run` does, except that honcho's own .env is pointed away from the project's.
        process = subprocess.Popen(
            [str(VENV_BIN / "honcho"), "start", "--env", str(tmp_path / "no.env")],
            cwd=PROJECT_DIR,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT
        _wait_for(lambda: _port_answers(port), "the web port did not answer", deadline, output)

        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        with opener.open(f"{base}/accounts/login/", timeout=10) as response:
            assert response.status == 200
            page = response.read().decode()
        assert '<form method="post" action="/accounts/login/">' in page
        assert 'name="username"' in page
        assert 'name="password"' in page
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert match is not None

        form = urllib.parse.urlencode(
            {
                "username": "alice",
                "password": "demo-password",
                "csrfmiddlewaretoken": match.group(1),
                "next": "/t/acme/",
            }
        ).encode()
        with opener.open(f"{base}/accounts/login/", data=form, timeout=10) as response:
            # Logged in and redirected on to the tenant page.
            assert (response.status, response.url) == (200, f"{base}/t/acme/")

        with opener.open(f"{base}/t/acme/", timeout=10) as response:
            assert response.status == 200
            tenant_page = response.read().decode()
        assert "Acme Corporation" in tenant_page
        assert "Remote access VPN" in tenant_page

        with opener.open(f"{base}/t/acme/incidents/?queue=open", timeout=10) as response:
            assert response.status == 200
            incidents_page = response.read().decode()
        assert "Corporate website returns 502 Bad Gateway" in incidents_page

        def log() -> str:
            return output.read_text(errors="replace")

        _wait_for(
            lambda: re.search(r"worker\.1 +\|.*celery@\S+ ready\.", log()) is not None,
            "the worker was not ready",
            deadline,
            output,
        )
        _wait_for(
            lambda: re.search(r"beat\.1 +\|.*beat: Starting\.\.\.", log()) is not None,
            "beat did not start",
            deadline,
            output,
        )
        assert process.poll() is None, log()
        assert "Connected to filesystem://" in log()
        assert "stopped" not in log()  # honcho reports any process that exits
    finally:
        _stop(process)
