"""Timelines: the immutable history of a record (an incident, a problem, a change ...).

Every app keeps its own event table, a subclass of `TimelineEvent`, and writes it only through
`timeline_write`, which inserts the events in one statement and then hands them, in the same
transaction, to the handlers the app registered for that table (notifications, say). Events
written in one statement with their record (`itsm.bulk.bulk_create_graph`) are handed over by
`timeline_written`. So a status
change, an assignment and an SLA breach found by a timer all reach the timeline, and whatever
follows from it, by one road.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, cast

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from itsm.tenancy.models import TenantOwnedModel, TenantQuerySet

type RecordedHandler = Callable[[Sequence[Any]], None]

_handlers: dict[type[models.Model], list[RecordedHandler]] = defaultdict(list)


class ImmutableQuerySet[M: models.Model](TenantQuerySet[M]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("Timeline events are immutable.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Timeline events are immutable.")


class TimelineEvent(TenantOwnedModel):
    """One immutable entry of a record's timeline: who did what, when.

    Subclasses add the foreign key to their record and their own `kind` choices. The database
    refuses UPDATE and DELETE on their tables too (a trigger on PostgreSQL, see the migrations).
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the system acted (a timer, an integration)."),
    )
    is_public = models.BooleanField(
        default=False, help_text=_("Shown to the reporter; work notes and routing are internal.")
    )
    body = models.TextField(blank=True, max_length=20000)
    data = models.JSONField(default=dict, blank=True)

    objects: ClassVar[Any] = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Timeline events are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Timeline events are immutable.")


def on_recorded[E: TimelineEvent](model: type[E], handler: Callable[[Sequence[E]], None]) -> None:
    """Call `handler` with every batch of `model` events written, inside the writer's transaction.

    Handlers must stay cheap and transactional (record an outbox row, not send an e-mail).
    """
    if handler not in _handlers[model]:
        _handlers[model].append(handler)


def timeline_write[E: TimelineEvent](events: Sequence[E]) -> list[E]:
    """Insert events of one table in one statement and run its handlers on them. Call it inside
    the transaction of the change the events describe, so both commit or neither does."""
    if not events:
        return []
    written = cast(list[E], type(events[0]).objects.bulk_create(events))
    timeline_written(written)
    return written


def timeline_written[E: TimelineEvent](events: Sequence[E]) -> None:
    """Run the handlers on events of one table the caller has written in one statement with the
    rows they describe (`itsm.bulk.bulk_create_graph`), in the same transaction."""
    if events:
        for handler in _handlers[type(events[0])]:
            handler(events)
