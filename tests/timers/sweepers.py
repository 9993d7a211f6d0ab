"""Sweepers racing each other, as two beat deliveries or two workers would."""

import threading

from django.db import connection

from itsm.timers.sweep import sweep


def sweep_in_parallel(*, batch_size: int, sweepers: int = 2) -> list[int]:
    """Run `sweepers` sweeps at once, each on its own connection; how many each fired."""
    results: list[int] = []

    def sweeper() -> None:
        try:
            results.append(sweep(batch_size=batch_size).fired)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(sweepers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
