"""The port between the dispatcher and whatever delivers a message (Telegram, a test fake).

Outcomes are a closed vocabulary so every sender maps its own errors onto the same five cases,
and the dispatcher decides what each means for the delivery row. What separates a retry from an
ambiguous outcome is whether the request may have reached the platform: only an error before it
went out (no connection, no free connection) is safe to repeat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol


@dataclass(frozen=True)
class Button:
    """An inline button: ``action`` is what it does (``got_it``, ``snooze_30``, ``ride``),
    ``ref`` the row it acts on (a delivery id), ``label`` what the person reads."""

    action: str
    ref: int
    label: str


@dataclass(frozen=True)
class KeyboardButton:
    """A button of a reply's keyboard: ``data`` is its callback data, as the adapter made it."""

    label: str
    data: str


@dataclass(frozen=True)
class OutgoingMessage:
    delivery_id: int
    chat_id: int
    text: str  # HTML, already rendered and escaped
    buttons: tuple[Button, ...] = ()  # timed messages: one button a row, acting on this row
    protect_content: bool = False  # family messages: no forwarding or saving
    keyboard: tuple[tuple[KeyboardButton, ...], ...] = ()  # replies: rows of any buttons

    def body(self) -> str:
        """The queued form of a reply (``Deliveries.queue_reply``): everything but the row."""
        return json.dumps(
            {
                "text": self.text,
                "protect": self.protect_content,
                "keyboard": [[[b.label, b.data] for b in row] for row in self.keyboard],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_body(cls, delivery_id: int, chat_id: int, body: str) -> OutgoingMessage:
        data = json.loads(body)
        return cls(
            delivery_id=delivery_id,
            chat_id=chat_id,
            text=str(data["text"]),
            protect_content=bool(data.get("protect", False)),
            keyboard=tuple(
                tuple(KeyboardButton(str(label), str(value)) for label, value in row)
                for row in data.get("keyboard", [])
            ),
        )


@dataclass(frozen=True)
class Sent:
    message_ref: int | None = None  # the platform's message id, kept for editing buttons later


@dataclass(frozen=True)
class RecipientGone:
    """Permanent for the person: blocked the bot, deleted the account, chat not found."""

    reason: str


@dataclass(frozen=True)
class RetryLater:
    """Transient, and nothing was delivered: flood control, a connection that could not be made
    (refused, timed out, no free connection in the pool), or the sender's own pacing. ``after``
    is the wait the platform (or the sender) asked for, if any; such a retry is the platform's
    pace, not a failure, so it does not use up an attempt."""

    reason: str
    after: timedelta | None = None


@dataclass(frozen=True)
class Failed:
    """Permanent for this message only (a refused request); logged without its text."""

    reason: str


@dataclass(frozen=True)
class Ambiguous:
    """The request went out and no usable answer came: a read timeout, the connection lost after
    the request was written, a 5xx, an answer that could not be read. The person may or may not
    have the message. Recorded as ``unknown`` and not resent, except an urgent message still
    before its deadline, which is tried once more (a duplicate "don't drive" is harmless).
    The dispatcher treats an exception a sender raises the same way: it cannot know how far the
    send got."""

    reason: str


class NothingSent(Exception):
    """Raised by a sender that can send nothing at all (the platform refused the bot's token):
    this message did not go out, so the dispatcher puts it back and stops the run."""


SendResult = Sent | RecipientGone | RetryLater | Ambiguous | Failed


class Sender(Protocol):
    async def send(self, message: OutgoingMessage) -> SendResult:
        """Deliver one message and say what happened. Must not raise for platform errors; raises
        ``NothingSent`` (or a subclass) only when no message can go out at all."""
        ...
