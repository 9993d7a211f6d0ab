"""Run the benchmark suite: every case at every size, in process and over HTTP, as one table.

    manage.py benchmark --sizes 10000,500000 --requests 50 --write-docs docs/benchmarks.md
    manage.py benchmark --sizes 10000 --no-http --only list,detail,create,acknowledge
    manage.py benchmark --sizes 10000 --peer --write-docs docs/benchmarks.md

For each size: the tenant of that size (seeded once, reused after; benchmarks/suite.py,
`tenant_for_size`), then each case (benchmarks/suite.py: list first and deep page, detail,
create, every lifecycle action, search, matching known errors, similar incidents, the metrics
summary, the queue and record pages, the SLA sweep idle and with thresholds due, a trend run,
notification delivery) with its queries, median and p95 milliseconds, CPU milliseconds for
writes and the ratio to the bare-DRF floor measured in the same run; with --http (the default)
also over gunicorn (gunicorn.conf.py, 2 workers), and creates per second from 4 clients.
--peer adds django-helpdesk's creates per second (benchmarks/peer): in process in rounds
alternating with ours, and its own run in process and over gunicorn. --write-docs writes the
tables, the machine and this command line as Markdown. Reported, never asserted.
"""

from __future__ import annotations

import shlex
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from benchmarks import report, suite
from benchmarks.server import Gunicorn, creates_per_second, run_over_http
from benchmarks.suite import (
    Bench,
    Measurement,
    bench_for_size,
    cases,
    measuring,
    run_in_process,
)

HTTP_CLIENTS = 4
# Rounds of creates alternating with the peer's (--peer): the machine's speed drifts between
# blocks minutes apart, so the two are compared round by round.
ROUNDS = 5


class Command(BaseCommand):
    help = "Run the benchmark suite and print one table (optionally write docs/benchmarks.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sizes", default="10000,500000", help="Incidents per tenant, comma-separated."
        )
        parser.add_argument("--requests", type=int, default=50, help="Timed runs per case.")
        parser.add_argument("--http", action="store_true", default=True)
        parser.add_argument("--no-http", dest="http", action="store_false")
        parser.add_argument(
            "--only", default="", help="Case keys, comma-separated (the floors always run)."
        )
        parser.add_argument("--peer", action="store_true", help="Measure django-helpdesk too.")
        parser.add_argument("--write-docs", default="", metavar="PATH")
        parser.add_argument("--no-analyze", action="store_true", help="Skip ANALYZE (tests).")
        parser.add_argument(
            "--trend-incidents",
            type=int,
            default=suite.TREND_INCIDENTS,
            help="Incidents of the trend run at most (its tenant is seeded once per size).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sizes = [int(size.replace("_", "")) for size in options["sizes"].split(",") if size]
        only = {key.strip() for key in options["only"].split(",") if key.strip()}
        requests = options["requests"]
        suite.TREND_INCIDENTS = options["trend_incidents"]
        results = report.Results(command=self._command_line())
        with ExitStack() as stack:
            server = stack.enter_context(Gunicorn()) if options["http"] else None
            # The peer's in-process creates alternate with ours at the first size.
            peer = stack.enter_context(self._peer_rounds()) if options["peer"] else None
            for size in sizes:
                rows = self._size(
                    size, only, requests, server, options["no_analyze"], results, peer
                )
                results.sizes[size] = rows
                peer = None
        if options["peer"]:
            results.peer = self._peer(requests)
            self.stdout.write("\n".join(report.peer_lines(results)))
        if options["write_docs"]:
            path = Path(options["write_docs"])
            path.write_text(report.markdown(results), encoding="utf-8")
            self.stdout.write(f"Wrote {path}")

    def _size(
        self,
        size: int,
        only: set[str],
        requests: int,
        server: Gunicorn | None,
        no_analyze: bool,
        results: report.Results,
        peer: Any = None,
    ) -> list[Measurement]:
        bench = bench_for_size(size, analyze=not no_analyze, out=self.stdout)
        every = cases(bench)
        chosen = [case for case in every if case.kind == "floor" or not only or case.key in only]
        unknown = only - {case.key for case in every}
        if unknown:
            raise CommandError(f"Unknown case(s): {', '.join(sorted(unknown))}")
        self.stdout.write(
            f"\n{size:,} incidents in tenant {bench.tenant.slug}; {requests} runs each"
        )
        self.stdout.write(report.table_header())
        rows: list[Measurement] = []
        with measuring():
            floor_of = {case.floor: case for case in chosen if case.kind == "floor"}
            for case in chosen:
                # A request case's own runs are interleaved with its floor's (report.py).
                paired = case.request is not None and case.kind != "floor" and not case.once
                floor = floor_of[case.floor] if paired else None
                row = run_in_process(case, bench, requests, floor)
                if server is not None and case.request is not None:
                    row.http = run_over_http(case, bench, server, requests)
                rows.append(row)
                # Printed as it goes; the ratios need the floors, which run first.
                self.stdout.write(report.text_rows(rows)[-1])
                if case.key == "create":
                    figures = {"in process": len(row.timings) / (sum(row.timings) / 1000)}
                    if server is not None:
                        figures[f"HTTP, {HTTP_CLIENTS} clients"] = creates_per_second(
                            case, bench, server, clients=HTTP_CLIENTS, each=requests
                        )
                    results.creates_per_s[size] = figures
                    self.stdout.write(report.creates_line(size, figures))
                    if peer is not None:
                        results.alternating = self._alternate(case, bench, peer, requests)
                        self.stdout.write(report.alternating_line(results.alternating))
        return rows

    def _peer_rounds(self) -> Any:
        try:
            from benchmarks.peer import PeerRounds  # optional: set up on demand
        except ImportError as error:
            raise CommandError(f"--peer: benchmarks/peer is not available ({error})") from error
        self.stdout.write("Starting the peer (django-helpdesk) for alternating rounds ...")
        return PeerRounds()

    def _alternate(
        self, case: Any, bench: Bench, peer: Any, requests: int
    ) -> list[tuple[float, float]]:
        """ROUNDS rounds of `requests` creates each, ours then the peer's: creates per second
        of each, in process. Call inside `measuring()`."""
        rounds = []
        for _ in range(ROUNDS):
            ours = run_in_process(case, bench, requests)
            theirs = peer.round(requests)["creates_per_s"]
            rounds.append((len(ours.timings) / (sum(ours.timings) / 1000), theirs))
        return rounds

    def _peer(self, requests: int) -> dict[str, Any]:
        try:
            from benchmarks.peer import run_peer  # optional: set up on demand
        except ImportError as error:
            raise CommandError(f"--peer: benchmarks/peer is not available ({error})") from error
        self.stdout.write("Measuring the peer (django-helpdesk) ...")
        return run_peer()

    @staticmethod
    def _command_line() -> str:
        arguments = sys.argv[1:] if sys.argv[1:2] == ["benchmark"] else ["benchmark"]
        return shlex.join(["manage.py", *arguments])
