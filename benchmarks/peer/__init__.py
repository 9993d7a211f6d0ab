"""The peer of the "Performance at scale" comparison, django-helpdesk 2.6.1, run as a subprocess
in a virtualenv of its own (var/peer-venv), so that the product never imports it and its
dependencies never meet ours. `run_peer()` sets that virtualenv up once, creates and migrates the
peer's database and runs benchmarks/peer/bench.py there, which measures ticket creates through
the peer's REST API in process and over gunicorn; docs/benchmarks-peer.md says what exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV = ROOT / "var" / "peer-venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = HERE / "requirements.txt"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/peer_helpdesk"


class PeerError(RuntimeError):
    """A step of setting up or running the peer failed; the message carries its output."""


def _run(command: list[str], *, env: dict[str, str] | None = None, timeout: float) -> str:
    result = subprocess.run(  # noqa: S603 (our own fixed commands)
        command, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if result.returncode:
        tail = (result.stdout + result.stderr)[-3000:]
        raise PeerError(f"{' '.join(command)} exited {result.returncode}:\n{tail}")
    return result.stdout


def _base_python() -> str:
    """The machine's Python 3.13, found as the Makefile finds it."""
    pyenv = shutil.which("pyenv")
    if pyenv:
        found = subprocess.run(  # noqa: S603
            [pyenv, "which", "python3.13"], capture_output=True, text=True, check=False
        )
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    return shutil.which("python3.13") or shutil.which("python3") or sys.executable


def ensure_venv() -> Path:
    """Create var/peer-venv and install the peer's pinned requirements, once per version of
    requirements.txt (a stamp file records the one installed)."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    stamp = VENV / f".installed-{digest}"
    if stamp.exists():
        return PYTHON
    if not PYTHON.exists():
        _run([_base_python(), "-m", "venv", str(VENV)], timeout=300)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "-r", str(REQUIREMENTS)], timeout=900)
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return PYTHON


def ensure_database(url: str) -> None:
    """Create the peer's database when it is missing, connecting to the server's `postgres`
    database with the same credentials."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _peer_env(database_url: str) -> dict[str, str]:
    """The caller's environment without what points at the product (its settings module, its
    import path, its virtualenv), plus the peer's database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["DJANGO_SETTINGS_MODULE"] = "settings"
    env["PEER_DATABASE_URL"] = database_url
    return env


def _prepared(database_url: str | None) -> tuple[str, dict[str, str]]:
    """The peer's Python and environment, its virtualenv and migrated database ready."""
    url = database_url or os.environ.get("PEER_DATABASE_URL") or DEFAULT_DATABASE_URL
    python = str(ensure_venv())
    ensure_database(url)
    env = _peer_env(url)
    manage = str(HERE / "project" / "manage.py")
    _run([python, manage, "migrate", "--noinput", "-v", "0"], env=env, timeout=600)
    return python, env


class PeerRounds:
    """The peer in a process of its own, warmed up, running a round of in-process creates
    whenever asked (bench.py --serve-rounds): the caller alternates them with rounds of its own,
    so that both are measured while the machine is in the same state.

        with PeerRounds() as peer:
            figures = peer.round(50)  # creates_per_s, median_ms, cpu_ms, ...
    """

    def __init__(self, *, tickets: int = 10_000, database_url: str | None = None) -> None:
        self.tickets, self.database_url = tickets, database_url
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> PeerRounds:
        python, env = _prepared(self.database_url)
        self.process = subprocess.Popen(  # noqa: S603 (our own fixed command)
            [python, str(HERE / "bench.py"), f"--tickets={self.tickets}", "--serve-rounds"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._answer()  # ready
        return self

    def round(self, creates: int) -> dict[str, Any]:
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write(f"{creates}\n")
        self.process.stdin.flush()
        return self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.process is not None
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise PeerError(f"the peer exited ({self.process.wait()}) before answering")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()  # the peer deletes its tickets and exits
        try:
            self.process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_peer(
    creates: int = 300,
    http_creates: int = 600,
    *,
    clients: int = 4,
    workers: int = 2,
    tickets: int = 10_000,
    database_url: str | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """Set the peer up (once) and measure it: `creates` ticket creates in process and
    `http_creates` over gunicorn with `workers` sync workers and `clients` client threads, on
    `tickets` seeded tickets. Returns bench.py's figures (keys: tickets, versions, in_process,
    http, seconds). The database is PEER_DATABASE_URL's, else the local peer_helpdesk."""
    python, env = _prepared(database_url)
    output = _run(
        [
            python,
            str(HERE / "bench.py"),
            f"--tickets={tickets}",
            f"--creates={creates}",
            f"--http-creates={http_creates}",
            f"--clients={clients}",
            f"--workers={workers}",
        ],
        env=env,
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result
