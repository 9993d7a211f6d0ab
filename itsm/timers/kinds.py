"""Timer kinds: what a domain app registers so the engine can fire its timers.

    class ReviewDue(TimerKind):
        name = "problem_review"
        def claim(self, timers): ...   # lock and load the rows the timers belong to
        def fire(self, firings, *, now): ...   # act on new firings, set each timer's next step

    register(ReviewDue())            # in the app's timers.py, found at start-up

The engine never imports a domain app: it knows kinds only by the name on the timer row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from itsm.timers.models import Timer


@dataclass
class Firing:
    """One due step of one timer, as the sweep hands it to its kind."""

    timer: Timer
    step: int
    due_at: datetime
    subject: Any  # what the kind's claim() loaded for this timer
    is_new: bool = True  # False: this step had fired before; advance the timer, do not act again


class TimerKind(ABC):
    """The domain side of a kind of timer."""

    name: ClassVar[str]

    @abstractmethod
    def claim(self, timers: Sequence[Timer]) -> dict[int, Any]:
        """Lock and load what the due timers act on, by timer id, in the platform scope.

        Must not wait for a lock (use SKIP LOCKED): a timer left out is busy and stays due for
        the next sweep.
        """

    @abstractmethod
    def fire(self, firings: Sequence[Firing], *, now: datetime) -> None:
        """Act on the new firings and arm each timer's next step (or leave it idle).

        Runs in the sweep's transaction as the firings' tenant; the engine saves the timers.
        """


_kinds: dict[str, TimerKind] = {}


def register[K: TimerKind](kind: K) -> K:
    """Make the sweep fire timers of `kind.name`; registering the same name again replaces it."""
    _kinds[kind.name] = kind
    return kind


def registered() -> dict[str, TimerKind]:
    return dict(_kinds)
