"""The suite over HTTP: the product behind gunicorn, as it runs in production, driven by
keep-alive clients of the standard library.

`Gunicorn()` starts `gunicorn --config gunicorn.conf.py` (2 workers, a free local port) with this
process's environment, its databases (the test database too, under pytest) and
DJANGO_SETTINGS_MODULE=benchmarks.settings, so it serves the floor views beside the product's
URLs. Requests carry the suite's API token or the workspace session cookie.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connections

from benchmarks.suite import Bench, Call, Case
from itsm.tenancy import rls

WORKERS = 2
STARTUP_SECONDS = 90


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _url(params: dict[str, Any], user: str, password: str) -> str:
    credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return f"postgres://{credentials}@{params['HOST']}:{params['PORT']}/{params['NAME']}"


def database_env() -> dict[str, str]:
    """DATABASE_URL and friends for the databases this process is connected to (under pytest,
    the test database, which the environment's URLs do not name)."""
    default = connections["default"].settings_dict
    if default["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("The HTTP benchmark needs PostgreSQL.")
    env = {"DATABASE_URL": _url(default, default["USER"], default.get("PASSWORD") or "")}
    if rls.PLATFORM_DB_ALIAS in connections:
        platform = connections[rls.PLATFORM_DB_ALIAS].settings_dict
        env["DATABASE_PLATFORM_URL"] = _url(
            default, platform["USER"], platform.get("PASSWORD") or ""
        )
    owner = settings.DATABASE_OWNER_CREDENTIALS
    if owner:
        env["DATABASE_OWNER_URL"] = _url(default, owner["USER"], owner.get("PASSWORD", ""))
    return env


class Gunicorn:
    """`with Gunicorn() as server:` the product on 127.0.0.1:`server.port`."""

    def __init__(self, workers: int = WORKERS) -> None:
        self.port = _free_port()
        self.workers = workers
        self.log = Path(tempfile.mkdtemp(prefix="benchmark-gunicorn-")) / "gunicorn.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        env = {
            **os.environ,
            **database_env(),
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(self.workers),
            "ITSM_ENV_FILE": "/nonexistent/.env",  # this environment only, no .env file
        }
        with self.log.open("wb") as output:
            self._process = subprocess.Popen(  # our own interpreter and arguments
                [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"gunicorn did not start; see {self.log}")
            time.sleep(0.2)
        return self

    def _answers(self) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            connection.request("GET", "/accounts/login/")
            return connection.getresponse().status == 200
        except OSError:
            return False

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)


class HttpClient:
    """One keep-alive connection, sending the suite's credentials."""

    def __init__(self, port: int, bench: Bench) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.credentials = {
            "token": {"Authorization": f"Token {bench.token}"},
            "session": {"Cookie": bench.session_cookie},
            "none": {},
        }

    def send(self, call: Call) -> bytes:
        body = json.dumps(call.body).encode() if call.body is not None else None
        headers = {**self.credentials[call.auth], **call.headers}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.connection.request(call.method, call.path, body=body, headers=headers)
        response = self.connection.getresponse()
        content = response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"{call.method} {call.path}: {response.status} {content[:500]!r}")
        return content

    def close(self) -> None:
        self.connection.close()


def run_over_http(case: Case, bench: Bench, server: Gunicorn, requests: int) -> list[float]:
    """A warm-up request per worker, then `requests` timed ones (ms), on one connection."""
    assert case.request is not None
    # Which sync worker accepts a request is chance: a warm-up per worker keeps a cold worker's
    # first answer (its database connection, its first serializers) out of the timings.
    warm_ups = server.workers
    items = list(case.prepare(requests + warm_ups))
    client = HttpClient(server.port, bench)
    timings = []
    try:
        for index, item in enumerate(items):
            call = case.request(item)
            started = time.perf_counter()
            client.send(call)
            if index >= warm_ups:
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        client.close()
    return timings


def creates_per_second(
    case: Case, bench: Bench, server: Gunicorn, *, clients: int, each: int
) -> float:
    """Creates per second from `clients` connections sending `each` creates at once."""
    assert case.request is not None
    calls = [case.request(item) for item in case.prepare(clients * each)]
    connections_ = [HttpClient(server.port, bench) for _ in range(clients)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def drive(client: HttpClient, mine: list[Call]) -> None:
        barrier.wait()
        try:
            for call in mine:
                client.send(call)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [
        threading.Thread(target=drive, args=(client, calls[index::clients]))
        for index, client in enumerate(connections_)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for client in connections_:
        client.close()
    if errors:
        raise errors[0]
    return len(calls) / elapsed
