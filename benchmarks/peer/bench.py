"""The peer's side of the "Performance at scale" comparison: ticket creates through
django-helpdesk 2.6.1's REST API, on 10,000 tickets, in process and over gunicorn.

Runs only inside the peer's virtualenv (var/peer-venv), from benchmarks/peer/__init__.py's
run_peer(); the product never imports it. Prints one JSON object on stdout and its progress on
stderr. What is measured, and why so, is in docs/benchmarks-peer.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent / "project"
sys.path.insert(0, str(PROJECT))
# Always the peer's settings, whatever the caller's environment names (the product's, under
# `manage.py benchmark`).
os.environ["DJANGO_SETTINGS_MODULE"] = "settings"

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core import mail  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from helpdesk.models import Queue, Ticket  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

QUEUE_SLUG = "bench"
AGENT = "bench-agent"
AGENTS = 10  # staff users: the create form offers every one of them as an owner
# The title prefix of the tickets the benchmark creates; they are deleted before and after each
# run, so every run starts on the same seeded tickets.
MARK = "[bench-create]"
CREATE_URL = "/helpdesk/api/tickets/"
GUNICORN_LOG = Path(__file__).resolve().parents[2] / "var" / "peer-gunicorn.log"


def log(message: str) -> None:
    sys.stderr.write(f"peer: {message}\n")
    sys.stderr.flush()


def seed(tickets: int) -> tuple[Queue, str]:
    """The queue, its agents and `tickets` tickets, made once; returns the queue and the
    measuring agent's API token."""
    queue, _ = Queue.objects.get_or_create(
        slug=QUEUE_SLUG,
        defaults={"title": "Service desk", "email_address": "desk@example.com"},
    )
    user_model = get_user_model()
    agent = None
    for n in range(AGENTS):
        username = AGENT if n == 0 else f"{AGENT}-{n}"
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@example.com", "is_staff": True},
        )
        if created:
            user.set_unusable_password()
            user.save()
        agent = agent or user
    token, _ = Token.objects.get_or_create(user=agent)

    Ticket.objects.filter(title__startswith=MARK).delete()
    have = Ticket.objects.filter(queue=queue).count()
    if have < tickets:
        log(f"seeding {tickets - have} tickets")
        agents = list(user_model.objects.filter(username__startswith=AGENT))
        batch = [
            Ticket(
                title=f"Seeded ticket {n}: printer on floor {n % 9} jams",
                queue=queue,
                submitter_email=f"user{n % 500}@example.com",
                status=(1, 1, 1, 2, 3, 4)[n % 6],
                priority=1 + n % 5,
                description=f"Seeded description {n}. The printer shows error E{n % 40}.",
                assigned_to=agents[n % len(agents)] if n % 3 else None,
            )
            for n in range(have, tickets)
        ]
        Ticket.objects.bulk_create(batch, batch_size=1000)
    return queue, token.key


def body(queue: Queue, n: int) -> str:
    return json.dumps(
        {
            "queue": queue.pk,
            "title": f"{MARK} VPN drops every few minutes ({n})",
            "description": "Since this morning the VPN disconnects every few minutes "
            "from the office network; reconnecting works until the next drop.",
            "submitter_email": f"reporter{n % 200}@example.com",
            "priority": 2,
        }
    )


def percentile_95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


class Creator:
    """Creates through the whole Django stack with the test client, numbered on from the last."""

    def __init__(self, queue: Queue, token: str) -> None:
        self.queue, self.next = queue, 0
        self.client = Client(headers={"authorization": f"Token {token}"})

    def create(self) -> None:
        self.next += 1
        response = self.client.post(
            CREATE_URL, body(self.queue, self.next), content_type="application/json"
        )
        if response.status_code != 201:
            raise SystemExit(f"create failed: {response.status_code} {response.content[:500]!r}")

    def warm_up(self, count: int) -> list[int]:
        """`count` creates, untimed; the queries each made."""
        query_counts = []
        for _ in range(count):
            with CaptureQueriesContext(connection) as queries:
                self.create()
            query_counts.append(len(queries))
        mail.outbox = []
        return query_counts

    def timed(self, count: int) -> dict[str, Any]:
        """`count` timed creates (wall and CPU time per request)."""
        wall: list[float] = []
        cpu: list[float] = []
        started = time.perf_counter()
        for _ in range(count):
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            self.create()
            cpu.append((time.process_time() - cpu_start) * 1000)
            wall.append((time.perf_counter() - wall_start) * 1000)
        elapsed = time.perf_counter() - started
        mails = len(getattr(mail, "outbox", []))
        mail.outbox = []
        return {
            "creates": count,
            "creates_per_s": round(count / elapsed, 1),
            "median_ms": round(statistics.median(wall), 1),
            "p95_ms": round(percentile_95(wall), 1),
            "cpu_ms": round(sum(cpu) / len(cpu), 1),
            "cpu_median_ms": round(statistics.median(cpu), 1),
            "mails_per_create": round(mails / count, 2),
        }


def in_process(queue: Queue, token: str, *, creates: int, warmup: int) -> dict[str, Any]:
    """Queries counted on the warm-up creates, then `creates` timed ones."""
    creator = Creator(queue, token)
    query_counts = creator.warm_up(warmup)
    return {
        **creator.timed(creates),
        "queries": max(query_counts),
        "queries_seen": sorted(set(query_counts)),
    }


def serve_rounds(queue: Queue, token: str, *, warmup: int) -> None:
    """Warm up, say "ready", then for each number read on stdin run that many timed creates
    and answer with their figures (one JSON line each), until stdin closes. The caller
    alternates these rounds with its own, so both meet the machine in the same state."""
    creator = Creator(queue, token)
    creator.warm_up(warmup)
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            break
        sys.stdout.write(json.dumps(creator.timed(int(line))) + "\n")
        sys.stdout.flush()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (gunicorn's master and workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        proc, parent = int(stat.parent.name), int(fields[1])
        if pid in (proc, parent):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def over_http(
    queue: Queue, token: str, *, creates: int, clients: int, workers: int, warmup: int
) -> dict[str, Any]:
    """gunicorn (sync workers, the app preloaded as the product's config does) on a free
    loopback port, driven by `clients` threads that share `creates` creates."""
    port = _free_port()
    GUNICORN_LOG.parent.mkdir(parents=True, exist_ok=True)
    log_file = GUNICORN_LOG.open("w")
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "wsgi:application",
            "--chdir",
            str(PROJECT),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--preload",
            # Access and error log as the product's gunicorn.conf.py has them, into a file.
            "--access-logfile",
            "-",
            "--error-logfile",
            "-",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn did not start: see {GUNICORN_LOG}") from None
                time.sleep(0.2)

        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        latencies: list[list[float]] = [[] for _ in range(clients)]
        errors: list[str] = []
        gate = threading.Barrier(clients + 1)

        def drive(index: int) -> None:
            # One connection per client, reused while the server keeps it open (gunicorn's sync
            # workers close it after each response; http.client then reconnects).
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            share = creates // clients + (index < creates % clients)

            def create(n: int) -> float:
                started = time.perf_counter()
                conn.request("POST", CREATE_URL, body(queue, n), headers)
                response = conn.getresponse()
                payload = response.read()
                if response.status != 201:
                    errors.append(f"{response.status} {payload[:300]!r}")
                return (time.perf_counter() - started) * 1000

            try:
                for n in range(warmup):
                    create(1_000_000 * (index + 1) + n)
                gate.wait()
                for n in range(share):
                    latencies[index].append(create(1_000_000 * (index + 1) + warmup + n))
            except Exception as error:
                errors.append(repr(error))
                gate.abort()
            finally:
                conn.close()

        threads = [threading.Thread(target=drive, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        gate.wait()
        cpu_start = _tree_cpu_seconds(server.pid)
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        server_cpu = _tree_cpu_seconds(server.pid) - cpu_start
        if errors:
            raise SystemExit(f"{len(errors)} HTTP creates failed, first: {errors[0]}")
        timings = [ms for per_client in latencies for ms in per_client]
        return {
            "clients": clients,
            "workers": workers,
            "creates": len(timings),
            "creates_per_s": round(len(timings) / elapsed, 1),
            "median_ms": round(statistics.median(timings), 1),
            "p95_ms": round(percentile_95(timings), 1),
            "server_cpu_ms": round(server_cpu * 1000 / len(timings), 1),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log_file.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--http-creates", type=int, default=600)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument(
        "--serve-rounds", action="store_true", help="Run rounds of creates asked for on stdin."
    )
    args = parser.parse_args()

    run_started = time.perf_counter()
    queue, token = seed(args.tickets)
    if args.serve_rounds:
        try:
            serve_rounds(queue, token, warmup=args.warmup)
        finally:
            Ticket.objects.filter(title__startswith=MARK).delete()
        return
    tickets = Ticket.objects.filter(queue=queue).count()
    result: dict[str, Any] = {
        "peer": "django-helpdesk",
        "tickets": tickets,
        "versions": {
            "django_helpdesk": _version("django-helpdesk"),
            "django": django.get_version(),
            "djangorestframework": _version("djangorestframework"),
            "psycopg": _version("psycopg"),
            "gunicorn": _version("gunicorn"),
            "python": platform.python_version(),
        },
    }
    try:
        if args.creates:
            log(f"{args.creates} creates in process")
            result["in_process"] = in_process(
                queue, token, creates=args.creates, warmup=args.warmup
            )
        if args.http_creates:
            log(f"{args.http_creates} creates over HTTP, {args.clients} clients")
            connection.close()  # gunicorn's workers open their own
            result["http"] = over_http(
                queue,
                token,
                creates=args.http_creates,
                clients=args.clients,
                workers=args.workers,
                warmup=args.warmup // 2 or 1,
            )
    finally:
        Ticket.objects.filter(title__startswith=MARK).delete()
    result["seconds"] = round(time.perf_counter() - run_started, 1)
    sys.stdout.write(json.dumps(result) + "\n")


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


if __name__ == "__main__":
    main()
