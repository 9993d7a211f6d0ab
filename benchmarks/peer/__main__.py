"""`.venv/bin/python -m benchmarks.peer [--creates N] [--http-creates M]`: measure the peer on
its own and print its figures as JSON (the suite calls run_peer() instead)."""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks.peer import run_peer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer", description=__doc__)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--http-creates", type=int, default=600)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tickets", type=int, default=10_000)
    args = parser.parse_args()
    result = run_peer(
        args.creates,
        args.http_creates,
        clients=args.clients,
        workers=args.workers,
        tickets=args.tickets,
    )
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
