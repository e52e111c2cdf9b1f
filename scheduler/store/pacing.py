"""The ``chat_pacing`` table: per chat, the instant before which nothing may be sent to it.

Telegram allows about one message a second to a chat and names a wait (``retry_after``) when a
chat got more. Both are stored here rather than slept out in the sender, so one chat's wait never
holds up another chat, and a flood wait still holds after the dispatch run (or the process) that
met it has ended. ``Deliveries.claim_next`` skips rows whose chat is not free yet and
``Deliveries.next_due`` wakes the dispatcher when it is.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.store.db import Database, from_db, to_db


class ChatPacing:
    """Repository for ``chat_pacing``; every write joins the caller's transaction if one is open."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def hold(self, chat_id: int, until: datetime) -> None:
        """Nothing to ``chat_id`` before ``until``; a later wait already stored stays."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO chat_pacing (chat_id, not_before) VALUES (?, ?)"
                " ON CONFLICT(chat_id) DO UPDATE SET"
                " not_before = max(chat_pacing.not_before, excluded.not_before)",
                (chat_id, to_db(until)),
            )

    def not_before(self, chat_id: int) -> datetime | None:
        row = self.db.conn.execute(
            "SELECT not_before FROM chat_pacing WHERE chat_id = ?", (chat_id,)
        ).fetchone()
        return None if row is None else from_db(row["not_before"])

    def prune(self, now: datetime) -> int:
        """Forget waits that are over: the table stays as small as the chats still waiting."""
        with self.db.transaction() as conn:
            return conn.execute(
                "DELETE FROM chat_pacing WHERE not_before <= ?", (to_db(now),)
            ).rowcount
