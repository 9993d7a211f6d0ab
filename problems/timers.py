"""The review timer kind: when a problem's review date passes, its manager is told, once.

Registered at start-up (the timer engine loads every app's timers.py). A step is one review
date (services arm a step that has not fired yet whenever the date changes), so the engine's
unique (timer, step) firing makes a repeated or concurrent sweep tell nobody twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from itsm.timers.kinds import Firing, TimerKind, register
from itsm.timers.models import Timer
from problems import timeline
from problems.choices import REVIEW_TIMER_KIND, TERMINAL_PROBLEM_STATUSES, ProblemEventKind
from problems.models import Problem
from problems.notifications import notify_review_due


class ReviewDue(TimerKind):
    """One step per review date; nothing follows it (the timer goes idle)."""

    name = REVIEW_TIMER_KIND

    def claim(self, timers: Sequence[Timer]) -> dict[int, Any]:
        # A problem manager editing the problem holds it: skip it rather than wait with timers
        # held (lock order is problem → timer in the services). Only the problem row is locked.
        problems = (
            Problem.objects.filter(review_timer_id__in=[timer.pk for timer in timers])
            .select_related("tenant", "problem_manager")
            .select_for_update(skip_locked=True, of=("self",))
        )
        return {
            problem.review_timer_id: problem
            for problem in problems
            if problem.review_timer_id is not None
        }

    def fire(self, firings: Sequence[Firing], *, now: datetime) -> None:
        by_tenant: dict[int, list[Problem]] = defaultdict(list)
        for firing in firings:
            problem: Problem = firing.subject
            if firing.is_new and problem.status not in TERMINAL_PROBLEM_STATUSES:
                by_tenant[problem.tenant_id].append(problem)
        for problems in by_tenant.values():
            timeline.record_many(
                [
                    timeline.event(
                        problem,
                        ProblemEventKind.REVIEW_DUE,
                        None,
                        data={
                            "review_at": problem.review_at.isoformat()
                            if problem.review_at
                            else None
                        },
                    )
                    for problem in problems
                ]
            )
            notify_review_due(problems[0].tenant, problems)


register(ReviewDue())
