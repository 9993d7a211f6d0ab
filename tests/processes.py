"""Real processes for tests: a Celery worker or beat on the test database and broker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from itsm.tenancy.rls import PLATFORM_DB_ALIAS

PROJECT_DIR = Path(settings.BASE_DIR)


def child_process_env(**extra: str) -> dict[str, str]:
    """The environment for a child process that must use this test run's database."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": _url(connections[DEFAULT_DB_ALIAS].settings_dict),
            "DATABASE_PLATFORM_URL": _url(connections[PLATFORM_DB_ALIAS].settings_dict),
            "DEBUG": "false",
            "SECRET_KEY": settings.SECRET_KEY,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "EMAIL_URL": "dummymail://",
            "ITSM_ENV_FILE": "/nonexistent/.env",
            **extra,
        }
    )
    env.pop("DATABASE_OWNER_URL", None)  # children only need the application role
    return env


def _url(params: dict[str, Any]) -> str:
    return (
        f"postgres://{params['USER']}:{params.get('PASSWORD') or ''}@{params['HOST']}:"
        f"{params['PORT']}/{params['NAME']}"
    )


class ChildProcess:
    """A process in its own session, so that it and all its children can be signalled."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(  # our own interpreter and arguments
            args,
            cwd=PROJECT_DIR,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def signal(self, sig: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 15) -> None:
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=timeout)
        self.signal(signal.SIGKILL)  # stray children of the group
        self._log_file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def celery(*args: str, env: dict[str, str], log: Path) -> ChildProcess:
    return ChildProcess([sys.executable, "-m", "celery", "-A", "itsm", *args], env, log)


def celery_worker(
    env: dict[str, str], log: Path, *, include: str = "", concurrency: int = 2
) -> ChildProcess:
    """A prefork worker with two processes (by default), as production runs it; `include`
    names extra modules to import (a test-only timer kind, say)."""
    extra = [f"--include={include}"] if include else []
    return celery(
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
        *extra,
        env=env,
        log=log,
    )


def celery_beat(env: dict[str, str], folder: Path) -> ChildProcess:
    """Beat with its schedule file and log in `folder`."""
    return celery(
        "beat", "--loglevel=INFO", f"--schedule={folder / 'beat'}", env=env, log=folder / "beat.log"
    )


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server(port: int, folder: Path, log: Path) -> ChildProcess:
    """A broker of the test's own, without persistence: killing it loses every queued message."""
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(folder)]
    return ChildProcess(args, dict(os.environ), log)


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, *processes: ChildProcess
) -> float:
    """Poll until `predicate()` holds and return the seconds it took; on timeout fail the test
    with the processes' recent output."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            logs = "\n".join(process.output()[-4000:] for process in processes)
            raise AssertionError(f"{what} within {timeout} s\n{logs}")
        time.sleep(0.1)
    return time.monotonic() - started
