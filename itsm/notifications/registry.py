"""What the engine can send and how: event types (registered by domain apps) and channels.

The engine knows no event type of its own. A domain app registers each kind of notification it
publishes, with a label for the preferences page and the channels it goes out on when nobody has
chosen otherwise:

    register_event_type("incident.assigned", label="Assigned to me or my team",
                        default_channels=("email", "in_app"))

A channel is a way out of the system: e-mail and in-app today; webhooks, Slack and Teams later.
Each is one `Channel` subclass registered with `register_channel`; nothing else in the engine
changes when one is added: publishing asks every registered channel whether it can reach a
recipient, and delivery hands each pending row to its channel's `send`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from itsm.notifications.models import Delivery


# --- Event types -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventType:
    """A kind of notification a domain app publishes, e.g. "incident.assigned"."""

    name: str
    label: str
    default_channels: frozenset[str]


_event_types: dict[str, EventType] = {}


def register_event_type(name: str, *, label: str, default_channels: tuple[str, ...]) -> EventType:
    """Declare an event type; registering the same name again replaces it (module reloads)."""
    event_type = EventType(name=name, label=label, default_channels=frozenset(default_channels))
    _event_types[name] = event_type
    return event_type


def event_types() -> list[EventType]:
    """Every registered event type, by name."""
    return [_event_types[name] for name in sorted(_event_types)]


def get_event_type(name: str) -> EventType:
    """The registered event type `name`.

    Raises:
        LookupError: nobody registered it (a programming error, not user input).
    """
    try:
        return _event_types[name]
    except KeyError:
        raise LookupError(f"Unknown notification event type {name!r}: register it.") from None


# --- Channels ----------------------------------------------------------------------------------

type Sender = Callable[["Delivery"], None]


class Channel(ABC):
    """A way a notification leaves the system. Subclass, then `register_channel(MyChannel())`.

    `send` raises on failure: the engine records the reason and retries with backoff. It may be
    called again for a delivery it already sent (a worker killed after sending but before the
    result was recorded), so a channel passes `delivery.idempotency_key` on to the far side
    where it can (a Message-ID, an Idempotency-Key header).
    """

    name: ClassVar[str]
    label: ClassVar[str]
    # True when the delivery row itself is what the user receives (in-app): it is written
    # delivered by publish, in the caller's transaction, and never goes through a worker.
    delivered_on_publish: ClassVar[bool] = False
    # True when the channel can reach a bare address with no user (a team's mailing list).
    reaches_addresses: ClassVar[bool] = False

    def address_of(self, user: Any) -> str | None:
        """Where this channel reaches `user` ("" when no address is needed); None: it cannot."""
        return ""

    @contextmanager
    def sending(self) -> Iterator[Sender]:
        """A sender for one batch; override to share a connection across the batch."""
        yield self.send

    @abstractmethod
    def send(self, delivery: Delivery) -> None:
        """Deliver one row, or raise with the reason."""


_channels: dict[str, Channel] = {}


def register_channel(channel: Channel) -> Channel:
    """Make a channel available to publishing, delivery and preferences."""
    _channels[channel.name] = channel
    return channel


def channels() -> list[Channel]:
    """Every registered channel, by name."""
    return [_channels[name] for name in sorted(_channels)]


def get_channel(name: str) -> Channel:
    """The registered channel `name`.

    Raises:
        LookupError: no such channel is registered (in this process).
    """
    try:
        return _channels[name]
    except KeyError:
        raise LookupError(f"Unknown notification channel {name!r}.") from None
