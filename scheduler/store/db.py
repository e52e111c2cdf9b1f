"""The SQLite connection: pragmas, numbered migrations, transactions, and instant encoding.

One connection per process, used from the event loop thread only. SQLite calls block the loop,
so every statement here is short and indexed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

# Each entry is one migration; its position + 1 is the schema version it produces. Append only:
# a released migration is never edited, because user_version says it already ran.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE people (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('patient', 'family')),
        display_name TEXT NOT NULL DEFAULT '',
        zone TEXT NOT NULL,
        locale TEXT NOT NULL DEFAULT 'en',
        wording TEXT NOT NULL DEFAULT 'plain' CHECK (wording IN ('plain', 'discreet')),
        quiet_start TEXT DEFAULT '21:30',
        quiet_end TEXT DEFAULT '08:00',
        paused_until TEXT,
        stopped INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        local_start TEXT NOT NULL,
        fold INTEGER NOT NULL DEFAULT 0,
        zone TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('iv', 'nasal', 'other')),
        duration_min INTEGER,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
        created_at TEXT NOT NULL
    );
    CREATE INDEX sessions_patient ON sessions(patient_id, status);
    CREATE TABLE family_links (
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        family_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
        created_at TEXT NOT NULL,
        joined_at TEXT,
        UNIQUE (patient_id, family_id)
    );
    CREATE INDEX family_links_family ON family_links(family_id);
    CREATE TABLE invites (
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        revoked_at TEXT
    );
    CREATE INDEX invites_patient ON invites(patient_id);
    CREATE TABLE rides (
        session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        driver_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        claimed_at TEXT NOT NULL
    );
    CREATE INDEX rides_driver ON rides(driver_id);
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        recipient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        due_at TEXT NOT NULL,
        deadline TEXT NOT NULL,
        urgent INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN
            ('pending', 'sending', 'sent', 'skipped', 'cancelled', 'failed', 'unknown')),
        reason TEXT,
        planned_skip INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        claimed_at TEXT,
        sent_at TEXT,
        message_ref INTEGER,
        acknowledged_at TEXT
    );
    -- The dispatcher's only hot query: the earliest pending row.
    CREATE INDEX deliveries_due ON deliveries(due_at) WHERE status = 'pending';
    CREATE INDEX deliveries_patient ON deliveries(patient_id, status);
    CREATE INDEX deliveries_recipient ON deliveries(recipient_id, status);
    CREATE INDEX deliveries_session ON deliveries(session_id);
    CREATE TABLE dialogs (
        chat_id INTEGER PRIMARY KEY,
        step TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}',
        updated_at TEXT NOT NULL
    );
    """,
    # 2: the inbox of updates (stored before Telegram is told they arrived, so a crash between
    # "confirmed" and "handled" loses none) and failed invite redemptions (for rate limiting).
    """
    CREATE TABLE inbox (
        update_id INTEGER PRIMARY KEY,
        -- The update as Telegram sent it; NULL once handled, since it holds people's words.
        payload TEXT,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'done', 'abandoned')),
        attempts INTEGER NOT NULL DEFAULT 0,
        received_at TEXT NOT NULL,
        processed_at TEXT
    );
    CREATE INDEX inbox_pending ON inbox(update_id) WHERE status = 'pending';
    CREATE TABLE invite_failures (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX invite_failures_chat ON invite_failures(chat_id, at);
    """,
    # 3: crash recovery at start-up looks for rows left in 'sending'; without this index it read
    # the whole table (0.3 s at 1M deliveries, 3.7 s at 10M: benchmarks/, docs/benchmarks.md).
    """
    CREATE INDEX deliveries_sending ON deliveries(id) WHERE status = 'sending';
    """,
)


def to_db(instant: datetime) -> str:
    """Fixed-width UTC text, so comparing the text compares the instants."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime given where an instant is needed")
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Database:
    """Owns the connection. ``transaction()`` is the only way to write."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        # isolation_level=None: we issue BEGIN ourselves, so a read-modify-write can take the
        # write lock up front (BEGIN IMMEDIATE) instead of failing half-way with SQLITE_BUSY.
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA busy_timeout = 10000")
        # Deleted and shrunk rows are overwritten with zeros instead of lingering in free pages:
        # /forget and the inbox's cleared payloads must not stay readable in the file.
        self.conn.execute("PRAGMA secure_delete = ON")
        self.scrubs = 0  # how many times scrub() ran, so a caller can tell one happened
        self._scrub_after_commit = False
        self.migrate()
        # A crash right after an erasure can leave the erased rows' old pages in the WAL.
        self.scrub()

    @property
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply pending migrations, each with its version bump in one transaction."""
        while self.version < len(MIGRATIONS):
            target = self.version + 1
            with self.transaction():
                # executescript would COMMIT our transaction first; run statement by statement.
                for statement in _statements(MIGRATIONS[target - 1]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {target:d}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception.

        Re-entrant: inside an open transaction it just joins it, so repositories can always say
        ``with db.transaction()`` and a domain call can still compose several of them atomically.
        """
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._scrub_after_commit = False
            raise
        self.conn.execute("COMMIT")
        if self._scrub_after_commit:
            self._scrub_after_commit = False
            self.scrub()

    def scrub(self) -> bool:
        """Copy the WAL into the file and truncate it, after erasing data; True when done.

        The WAL keeps earlier versions of changed pages until a checkpoint resets it, so erased
        text would otherwise stay readable there (with ``secure_delete`` the file's own pages
        are already zeroed). Inside a transaction it runs right after that transaction commits,
        since uncommitted pages cannot be checkpointed. False when a reader elsewhere kept part
        of the WAL (it is then truncated by a later scrub or the next start).
        """
        if self.conn.in_transaction:
            self._scrub_after_commit = True
            return False
        self.scrubs += 1
        if self.path == ":memory:":
            return True
        busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    def close(self) -> None:
        self.conn.close()


def _statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buffer[:60]!r}")
