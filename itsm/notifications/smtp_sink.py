"""A local SMTP server that records what it receives: for the delivery benchmark and the fault
tests. It can answer slowly (a worker can be killed mid-send) or refuse (5xx).

Needs aiosmtpd, a development dependency; nothing in the product imports this module.
"""

from __future__ import annotations

import asyncio
import email
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    message_id: str
    to: tuple[str, ...]
    subject: str
    at: float  # time.monotonic() when the message arrived


@dataclass
class _Handler:
    delay: float = 0.0
    refusal: str = ""  # e.g. "554 5.7.1 Refused by policy"; empty: accept
    received: list[Received] = field(default_factory=list)
    # Every DATA, accepted or refused: (Message-ID, time.monotonic()).
    attempts: list[tuple[str, float]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message = email.message_from_bytes(content)
        message_id = str(message.get("Message-ID", ""))
        with self.lock:
            self.attempts.append((message_id, time.monotonic()))
            if not self.refusal:
                self.received.append(
                    Received(
                        message_id=message_id,
                        to=tuple(envelope.rcpt_tos),
                        subject=str(message.get("Subject", "")),
                        at=time.monotonic(),
                    )
                )
        self.arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.refusal or "250 Message accepted for delivery"


class SmtpSink:
    """`with SmtpSink() as sink:` an SMTP server on 127.0.0.1:`sink.port`; see `received`."""

    def __init__(self, *, delay: float = 0.0, refusal: str = "") -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
        self.handler = _Handler(delay=delay, refusal=refusal)
        self.port = _free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        """For EMAIL_URL."""
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def attempts(self) -> list[tuple[str, float]]:
        with self.handler.lock:
            return list(self.handler.attempts)

    def answer(self, *, delay: float | None = None, refusal: str | None = None) -> None:
        """Change how the next messages are answered."""
        if delay is not None:
            self.handler.delay = delay
        if refusal is not None:
            self.handler.refusal = refusal

    def start(self) -> Self:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | Any) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
