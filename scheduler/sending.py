"""The port between the dispatcher and whatever delivers a message (Telegram, a test fake).

Outcomes are a closed vocabulary so every sender maps its own errors onto the same four cases,
and the dispatcher decides what each means for the delivery row.
"""

from __future__ import annotations

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
class OutgoingMessage:
    delivery_id: int
    chat_id: int
    text: str  # HTML, already rendered and escaped
    buttons: tuple[Button, ...] = ()
    protect_content: bool = False  # family messages: no forwarding or saving


@dataclass(frozen=True)
class Sent:
    message_ref: int | None = None  # the platform's message id, kept for editing buttons later


@dataclass(frozen=True)
class RecipientGone:
    """Permanent for the person: blocked the bot, deleted the account, chat not found."""

    reason: str


@dataclass(frozen=True)
class RetryLater:
    """Transient: flood control or network. ``after`` is the platform's wait, if it gave one."""

    reason: str
    after: timedelta | None = None


@dataclass(frozen=True)
class Failed:
    """Permanent for this message only (a refused request); logged without its text."""

    reason: str


SendResult = Sent | RecipientGone | RetryLater | Failed


class Sender(Protocol):
    async def send(self, message: OutgoingMessage) -> SendResult:
        """Deliver one message and say what happened. Must not raise for platform errors."""
        ...
