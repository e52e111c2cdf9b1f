"""What comes in: the inbox of updates, and failed invite redemptions (for rate limiting).

The inbox closes the window in which an update could be lost. Telegram forgets an update once the
bot asks for the ones after it, so every update is written here first (``store``), confirmed
only after that commit, handled from here in ``update_id`` order, and marked ``done`` when its
handler has finished. A crash at any moment leaves the rest ``pending`` for the next start.

Payloads are opaque JSON text to this module (the domain never parses Telegram's format); they
are cleared once handled, because they hold what people wrote. ``update_id`` is the primary key,
so an update fetched twice is stored once and handled at most once. An update whose handling
crashed the process ``MAX_ATTEMPTS`` times is ``abandoned`` rather than crashing it forever.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.store.db import Database, to_db

MAX_ATTEMPTS = 3
KEEP_DONE = timedelta(days=1)  # ids of handled updates kept this long (they hold no content)
INVITE_FAILURE_LIMIT = 5  # failed redemptions per chat within INVITE_FAILURE_WINDOW ...
INVITE_FAILURE_WINDOW = timedelta(hours=1)  # ... after which no token is even looked up


@dataclass(frozen=True)
class InboxItem:
    update_id: int
    payload: str
    attempts: int  # handling attempts started before this one (a crash leaves one behind)


class Inbox:
    """Repository for the ``inbox`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def store(self, updates: Iterable[tuple[int, str]], now: datetime) -> int:
        """Write fetched updates in one transaction; returns how many were new.

        Ids at or below the highest id ever stored are ignored: Telegram's ids only grow, so such
        an update was stored before (and may since have been handled and pruned).
        """
        with self.db.transaction() as conn:
            top = self._top()
            rows = [(uid, payload, to_db(now)) for uid, payload in updates if uid > top]
            conn.executemany(
                "INSERT OR IGNORE INTO inbox (update_id, payload, received_at) VALUES (?, ?, ?)",
                rows,
            )
        return len(rows)

    def next_offset(self) -> int | None:
        """The ``offset`` for the next ``getUpdates``: one past the highest stored id, or None
        when nothing was ever stored (Telegram then starts at its oldest unconfirmed update)."""
        top = self._top()
        return None if top < 0 else top + 1

    def pending(self, limit: int = 100) -> list[InboxItem]:
        """Stored updates not yet handled, oldest first."""
        rows = self.db.conn.execute(
            "SELECT update_id, payload, attempts FROM inbox"
            " WHERE status = 'pending' ORDER BY update_id LIMIT ?",
            (limit,),
        ).fetchall()
        return [InboxItem(row["update_id"], row["payload"] or "", row["attempts"]) for row in rows]

    def begin(self, update_id: int) -> None:
        """Count a handling attempt, committed before the handler runs: if the handler crashes
        the process, the next start sees it."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE inbox SET attempts = attempts + 1"
                " WHERE update_id = ? AND status = 'pending'",
                (update_id,),
            )

    def retry(self, update_id: int) -> None:
        """The attempt ended without crashing but must be repeated (Telegram was unreachable):
        it does not count towards ``MAX_ATTEMPTS``."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE inbox SET attempts = max(attempts - 1, 0)"
                " WHERE update_id = ? AND status = 'pending'",
                (update_id,),
            )

    def mark_done(self, update_id: int, now: datetime) -> bool:
        """Handled: never handled again; the payload is erased."""
        return self._finish(update_id, "done", now)

    def abandon(self, update_id: int, now: datetime) -> bool:
        """Given up (unreadable, or it crashed the process ``MAX_ATTEMPTS`` times)."""
        return self._finish(update_id, "abandoned", now)

    def prune(self, now: datetime, keep: timedelta = KEEP_DONE) -> int:
        """Forget handled ids older than ``keep``, except the highest (it carries the offset)."""
        with self.db.transaction() as conn:
            return conn.execute(
                "DELETE FROM inbox WHERE status != 'pending' AND processed_at < ?"
                " AND update_id < (SELECT max(update_id) FROM inbox)",
                (to_db(now - keep),),
            ).rowcount

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

    def _top(self) -> int:
        row = self.db.conn.execute("SELECT max(update_id) FROM inbox").fetchone()
        return -1 if row[0] is None else int(row[0])


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
