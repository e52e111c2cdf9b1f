"""One update's effects, applied exactly once: the state change, the messages it causes, and the
mark that the update was handled commit in one transaction, or none of them does.

A bot handler runs inside ``Companion.handling(update_id, now)``: its domain calls join the
transaction, and what it wants said (a reply, a note to the family, an approval request) is
collected here and queued in the deliveries table, as rows the dispatcher sends like any timed
message, with the same retries and crash policy. So a reply that fails is retried by the
dispatcher, never by re-running the command, and a button pressed too late for Telegram to take
its answer still delivers every follow-up. A replayed update (handled already) raises
``AlreadyHandled`` before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scheduler.sending import OutgoingMessage

# How long a reply stays worth sending if Telegram cannot be reached: after that the person has
# moved on, and an answer to something they did yesterday only confuses.
REPLY_RELEVANCE = timedelta(hours=12)


class AlreadyHandled(Exception):
    """This update was handled before (a replay after a crash, or a duplicate delivery)."""


@dataclass(frozen=True)
class Queued:
    message: OutgoingMessage  # delivery_id is 0 until queued
    recipient_id: int | None  # the person it goes to, None for a chat with no person


@dataclass
class Handling:
    """What one update causes: filled by the handler, queued by ``Companion.handling``."""

    update_id: int | None
    now: datetime
    outbox: list[Queued] = field(default_factory=list)

    def send(self, message: OutgoingMessage, recipient_id: int | None) -> None:
        self.outbox.append(Queued(message, recipient_id))
