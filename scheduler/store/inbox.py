"""What comes in: the inbox of updates, and failed invite redemptions (for rate limiting).

The inbox closes the window in which an update could be lost. Telegram forgets an update once the
bot asks for the ones after it, so every update is written here first (``store``), confirmed
only after that commit, handled from here, and marked ``done`` when its handler has finished. A
crash at any moment leaves the rest ``pending`` for the next start.

**Order.** Each stored update gets ``seq``, its place in arrival order (within one fetched batch,
``update_id`` order). ``update_id`` is not an order: Telegram restarts it at a lower, random
number after a week without updates, and another bot token on the same database has ids of its
own. ``pending()`` serves chats round-robin: every waiting chat's oldest update (in arrival
order), then every chat's second, and so on. Each chat's own updates stay strictly in arrival
order, and 500 updates from one chat do not hold back another chat's single one. ``seq`` only
orders what is pending: a batch goes after the highest pending ``seq`` (an indexed lookup), so
numbering starts again at 1 whenever nothing waits.

**Duplicates.** Telegram sends an update again until a later ``getUpdates`` confirms it: after a
crash between storing and confirming, for instance. Such a copy has the same ``update_id`` and
comes within a day (Telegram keeps unconfirmed updates at most 24 hours), so ``store`` ignores
an id that a row received within ``KEEP_DONE`` already has, handled or not. An id seen before
that is a new update that happens to reuse a number (the ids were restarted, or the token
changed): it is stored, replacing the old row (one left unhandled for over a day is then lost,
logged by id: only one row can hold an id, and the new update is the one someone waits for).
Handled rows are kept ``KEEP_DONE`` for this and then pruned. The one case this gets wrong: a
different bot's update whose id equals one the old bot received less than a day before the token
change is taken for a copy (ids are large, effectively random numbers: a theoretical risk).

Payloads are opaque JSON text to this module (the domain never parses Telegram's format); they
are cleared once handled, because they hold what people wrote. An update whose handling crashed
the process ``MAX_ATTEMPTS`` times is ``abandoned`` rather than crashing it forever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from scheduler.store.db import Database, to_db

_LOGGER = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# Handled ids are kept this long (they hold no content) and an id received this recently is a
# copy, not a new update: Telegram keeps an unconfirmed update at most 24 hours after it arose,
# which is before we received it.
KEEP_DONE = timedelta(days=1)
INVITE_FAILURE_LIMIT = 5  # failed redemptions per chat within INVITE_FAILURE_WINDOW ...
INVITE_FAILURE_WINDOW = timedelta(hours=1)  # ... after which no token is even looked up


class Incoming(NamedTuple):
    """One fetched update, as ``store`` takes it."""

    update_id: int
    chat_id: int | None  # the chat it belongs to (``Update.effective_chat``), None if none
    payload: str


@dataclass(frozen=True)
class InboxItem:
    update_id: int
    payload: str
    attempts: int  # handling attempts started before this one (a crash leaves one behind)
    chat_id: int | None = None


class Inbox:
    """Repository for the ``inbox`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def store(self, updates: Iterable[Incoming], now: datetime) -> int:
        """Write fetched updates in one transaction, in ``update_id`` order after everything
        pending; returns how many were new (copies of recently received ids are not)."""
        batch = sorted({u.update_id: u for u in updates}.values(), key=lambda u: u.update_id)
        recent = to_db(now - KEEP_DONE)
        stored = 0
        with self.db.transaction() as conn:
            # Only pending rows need to stay behind new ones; the partial index answers this.
            row = conn.execute("SELECT max(seq) FROM inbox WHERE status = 'pending'").fetchone()
            seq = 0 if row[0] is None else int(row[0])
            for update in batch:
                old = conn.execute(
                    "SELECT status, received_at FROM inbox WHERE update_id = ?",
                    (update.update_id,),
                ).fetchone()
                if old is not None and old["received_at"] >= recent:
                    continue  # Telegram sent it again: stored (and maybe handled) already
                if old is not None and old["status"] == "pending":
                    # Unhandled for over a day, and now its id names another update: only one
                    # row can have the id, and the newer update is the one a person waits for.
                    _LOGGER.error(
                        "update %d: unhandled since before the ids restarted; replaced by a new"
                        " update with the same id",
                        update.update_id,
                    )
                seq += 1
                conn.execute(
                    "INSERT INTO inbox (update_id, chat_id, payload, received_at, seq)"
                    " VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (update_id) DO UPDATE SET chat_id = excluded.chat_id,"
                    " payload = excluded.payload, status = 'pending', attempts = 0,"
                    " received_at = excluded.received_at, processed_at = NULL,"
                    " seq = excluded.seq",
                    (update.update_id, update.chat_id, update.payload, to_db(now), seq),
                )
                stored += 1
        return stored

    def pending(self, limit: int = 100) -> list[InboxItem]:
        """Stored updates not yet handled, in the order to handle them: round-robin across
        chats, each chat's own in arrival order (see the module doc)."""
        # Ordered on ids and numbers alone, then the payloads of the first ``limit`` only.
        rows = self.db.conn.execute(
            "SELECT i.update_id, i.chat_id, i.payload, i.attempts FROM inbox i JOIN ("
            "  SELECT update_id, seq,"
            "   row_number() OVER (PARTITION BY chat_id ORDER BY seq) AS turn"
            "  FROM inbox WHERE status = 'pending'"
            "  ORDER BY turn, seq LIMIT ?"
            ") o USING (update_id) ORDER BY o.turn, o.seq",
            (limit,),
        ).fetchall()
        return [
            InboxItem(row["update_id"], row["payload"] or "", row["attempts"], row["chat_id"])
            for row in rows
        ]

    def begin(self, update_id: int) -> None:
        """Count a handling attempt, committed before the handler runs: if the handler crashes
        the process, the next start sees it."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE inbox SET attempts = attempts + 1"
                " WHERE update_id = ? AND status = 'pending'",
                (update_id,),
            )

    def mark_done(self, update_id: int, now: datetime) -> bool:
        """Handled: never handled again; the payload is erased."""
        return self._finish(update_id, "done", now)

    def abandon(self, update_id: int, now: datetime) -> bool:
        """Given up (unreadable, or it crashed the process ``MAX_ATTEMPTS`` times)."""
        return self._finish(update_id, "abandoned", now)

    def forget_chat(self, chat_id: int) -> None:
        """/forget: handled updates keep their ids a day (for deduplication) but no longer say
        which chat they came from."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE inbox SET chat_id = NULL WHERE chat_id = ? AND status != 'pending'",
                (chat_id,),
            )

    def prune(self, now: datetime, keep: timedelta = KEEP_DONE) -> int:
        """Forget ids handled longer than ``keep`` ago: Telegram can no longer send those again
        (a row is handled after it was received, so it is past the window ``store`` dedupes in)."""
        with self.db.transaction() as conn:
            return conn.execute(
                "DELETE FROM inbox WHERE status != 'pending' AND processed_at < ?",
                (to_db(now - keep),),
            ).rowcount

    def is_handled(self, update_id: int) -> bool:
        """True when this update was already handled or given up: a replay must change nothing."""
        row = self.db.conn.execute(
            "SELECT 1 FROM inbox WHERE update_id = ? AND status != 'pending'", (update_id,)
        ).fetchone()
        return row is not None

    def counts(self) -> dict[str, int]:
        """Rows per status, for logs and tests."""
        rows = self.db.conn.execute("SELECT status, count(*) AS n FROM inbox GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    def _finish(self, update_id: int, status: str, now: datetime) -> bool:
        with self.db.transaction() as conn:
            return (
                conn.execute(
                    "UPDATE inbox SET status = ?, payload = NULL, processed_at = ?"
                    " WHERE update_id = ? AND status = 'pending'",
                    (status, to_db(now), update_id),
                ).rowcount
                == 1
            )


class InviteFailures:
    """Failed invite redemptions per chat, so guessing tokens is slow as well as hopeless.

    Used as: ``if not failures.allowed(chat_id, now)`` answer "invalid" without looking the token
    up; after a lookup that failed, ``failures.record(chat_id, now)``. The answer is the same
    either way, so being throttled reveals nothing either.
    """

    def __init__(
        self,
        db: Database,
        *,
        limit: int = INVITE_FAILURE_LIMIT,
        window: timedelta = INVITE_FAILURE_WINDOW,
    ) -> None:
        self.db = db
        self.limit = limit
        self.window = window

    def allowed(self, chat_id: int, now: datetime) -> bool:
        row = self.db.conn.execute(
            "SELECT count(*) FROM invite_failures WHERE chat_id = ? AND at > ?",
            (chat_id, to_db(now - self.window)),
        ).fetchone()
        return int(row[0]) < self.limit

    def record(self, chat_id: int, now: datetime) -> None:
        """One more failure; rows older than the window go in the same step."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM invite_failures WHERE at <= ?", (to_db(now - self.window),))
            conn.execute(
                "INSERT INTO invite_failures (chat_id, at) VALUES (?, ?)", (chat_id, to_db(now))
            )

    def forget(self, chat_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM invite_failures WHERE chat_id = ?", (chat_id,))
