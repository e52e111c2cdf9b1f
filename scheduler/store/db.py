"""The SQLite connection: pragmas, numbered migrations, transactions, and instant encoding.

One connection per process, used from the event loop thread only. SQLite calls block the loop,
so every statement here is short and indexed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
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
    # 4: ids are never reused (AUTOINCREMENT): after /forget and a new sign-up, an old button in
    # the same chat must not act on a new row that got the old id. Deliveries also carry the
    # replies people's commands cause (``body``: rendered, erased once sent) to a ``chat_id``
    # that may have no person (a stranger, or someone who just erased everything). A series
    # groups a patient's sessions; series-wide messages belong to it. The inbox keeps the order
    # updates arrived in (``seq``), since Telegram may restart update ids lower, and each
    # update's chat, so one chat's flood does not hold the others back.
    # Tables are rebuilt with foreign keys off (``Database.migrate``); migrated series take
    # their patient's id, so the series-wide delivery keys already stored stay the same.
    """
    CREATE TABLE people_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    INSERT INTO people_new SELECT * FROM people;
    DROP TABLE people;
    ALTER TABLE people_new RENAME TO people;
    CREATE TABLE series (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        planned INTEGER NOT NULL DEFAULT 6 CHECK (planned >= 1),
        created_at TEXT NOT NULL
    );
    CREATE INDEX series_patient ON series(patient_id);
    INSERT INTO series (id, patient_id, planned, created_at)
        SELECT p.id, p.id,
            max(1, (SELECT count(*) FROM sessions s WHERE s.patient_id = p.id
                    AND s.status = 'active')),
            p.created_at
        FROM people p WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.patient_id = p.id);
    CREATE TABLE sessions_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        series_id INTEGER REFERENCES series(id) ON DELETE CASCADE,
        local_start TEXT NOT NULL,
        fold INTEGER NOT NULL DEFAULT 0,
        zone TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('iv', 'nasal', 'other')),
        duration_min INTEGER,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
        created_at TEXT NOT NULL
    );
    INSERT INTO sessions_new (id, patient_id, series_id, local_start, fold, zone, kind,
                              duration_min, status, created_at)
        SELECT id, patient_id, patient_id, local_start, fold, zone, kind, duration_min, status,
               created_at FROM sessions;
    DROP TABLE sessions;
    ALTER TABLE sessions_new RENAME TO sessions;
    CREATE INDEX sessions_patient ON sessions(patient_id, status);
    CREATE INDEX sessions_series ON sessions(series_id);
    CREATE TABLE family_links_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        family_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
        created_at TEXT NOT NULL,
        joined_at TEXT,
        UNIQUE (patient_id, family_id)
    );
    INSERT INTO family_links_new SELECT * FROM family_links;
    DROP TABLE family_links;
    ALTER TABLE family_links_new RENAME TO family_links;
    CREATE INDEX family_links_family ON family_links(family_id);
    CREATE TABLE invites_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        revoked_at TEXT
    );
    INSERT INTO invites_new SELECT * FROM invites;
    DROP TABLE invites;
    ALTER TABLE invites_new RENAME TO invites;
    CREATE INDEX invites_patient ON invites(patient_id);
    CREATE TABLE rides_new (
        session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        driver_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        claimed_at TEXT NOT NULL
    );
    INSERT INTO rides_new SELECT * FROM rides;
    DROP TABLE rides;
    ALTER TABLE rides_new RENAME TO rides;
    CREATE INDEX rides_driver ON rides(driver_id);
    CREATE TABLE deliveries_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        -- NULL only on a reply to a chat with no person (body set, chat_id set).
        patient_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
        recipient_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
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
        acknowledged_at TEXT,
        -- Replies: where to (NULL: the recipient's chat) and what, as rendered JSON.
        chat_id INTEGER,
        body TEXT,
        CHECK (recipient_id IS NOT NULL OR chat_id IS NOT NULL)
    );
    INSERT INTO deliveries_new (id, key, patient_id, recipient_id, session_id, message_id,
            due_at, deadline, urgent, status, reason, planned_skip, attempts, claimed_at,
            sent_at, message_ref, acknowledged_at)
        SELECT id, key, patient_id, recipient_id, session_id, message_id, due_at, deadline,
            urgent, status, reason, planned_skip, attempts, claimed_at, sent_at, message_ref,
            acknowledged_at FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_new RENAME TO deliveries;
    CREATE INDEX deliveries_due ON deliveries(due_at) WHERE status = 'pending';
    CREATE INDEX deliveries_patient ON deliveries(patient_id, status);
    CREATE INDEX deliveries_recipient ON deliveries(recipient_id, status);
    CREATE INDEX deliveries_session ON deliveries(session_id);
    CREATE INDEX deliveries_sending ON deliveries(id) WHERE status = 'sending';
    ALTER TABLE inbox ADD COLUMN chat_id INTEGER;
    ALTER TABLE inbox ADD COLUMN seq INTEGER;
    UPDATE inbox SET seq = update_id;
    CREATE INDEX inbox_seq ON inbox(seq) WHERE status = 'pending';
    """,
    # issue 10 (notes): what got easier, check-in and checklist answers, "I noticed" lines from
    # family, and whether the patient receives those. All the patient's, so they cascade with
    # the patient; a win kept from a family member outlives that member's erasure, nameless.
    """
    CREATE TABLE wins (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        text TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('own', 'button', 'family')),
        from_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
        from_name TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX wins_patient ON wins(patient_id, id);
    CREATE INDEX wins_from ON wins(from_id) WHERE from_id IS NOT NULL;
    CREATE TABLE answers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        delivery_id INTEGER NOT NULL,
        session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
        topic TEXT NOT NULL CHECK (topic IN ('checkin', 'checklist')),
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        answered_at TEXT NOT NULL,
        UNIQUE (delivery_id, question)
    );
    CREATE INDEX answers_patient ON answers(patient_id);
    CREATE TABLE noticed (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        from_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
        from_name TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        kept_at TEXT
    );
    CREATE INDEX noticed_patient ON noticed(patient_id);
    CREATE INDEX noticed_from ON noticed(from_id);
    CREATE TABLE note_settings (
        person_id INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
        family_notes INTEGER NOT NULL DEFAULT 0
    );
    """,
    # Outside testing: a moved session's driver who was asked "does the new time suit you?" and
    # has not answered is stored (``ride_questions``), so the patient hears when that driver goes
    # away with the question open. Check-in and checklist answers keep every press with its time
    # (no more one row per question), so an old keyboard's "Fine" never overwrites a "Not OK".
    """
    CREATE TABLE ride_questions (
        session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        driver_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        asked_at TEXT NOT NULL
    );
    CREATE INDEX ride_questions_driver ON ride_questions(driver_id);
    CREATE TABLE answers_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        patient_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        delivery_id INTEGER NOT NULL,
        session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
        topic TEXT NOT NULL CHECK (topic IN ('checkin', 'checklist')),
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        answered_at TEXT NOT NULL
    );
    INSERT INTO answers_new SELECT * FROM answers;
    DROP TABLE answers;
    ALTER TABLE answers_new RENAME TO answers;
    CREATE INDEX answers_patient ON answers(patient_id);
    CREATE INDEX answers_delivery ON answers(delivery_id);
    """,
    # chat pacing (issue 9): the instant before which nothing may be sent to a chat, its 1 s
    # spacing after a send or the flood wait Telegram named, so a wait outlives a dispatch run
    # and a restart; the pending replies of a chat found by index; due rows walked urgent first.
    """
    CREATE TABLE chat_pacing (
        chat_id INTEGER PRIMARY KEY,
        not_before TEXT NOT NULL
    );
    CREATE INDEX deliveries_chat ON deliveries(chat_id, due_at)
        WHERE status = 'pending' AND chat_id IS NOT NULL;
    CREATE INDEX deliveries_claim ON deliveries(urgent, due_at, id) WHERE status = 'pending';
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
        self._after_commit: list[Callable[[], None]] = []
        self.migrate()
        # A crash right after an erasure can leave the erased rows' old pages in the WAL.
        self.scrub()

    @property
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply pending migrations, each with its version bump in one transaction."""
        if self.version >= len(MIGRATIONS):
            return
        # A migration may rebuild a table (SQLite cannot change a column's constraints in
        # place); with foreign keys on, dropping the old table would cascade-delete its
        # children. The pragma is a no-op inside a transaction, so it is set around them, and
        # each migration checks the keys itself before it commits.
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            while self.version < len(MIGRATIONS):
                target = self.version + 1
                with self.transaction():
                    # executescript would COMMIT our transaction first: statement by statement.
                    for statement in _statements(MIGRATIONS[target - 1]):
                        self.conn.execute(statement)
                    broken = self.conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration {target}: {len(broken)} broken references")
                    self.conn.execute(f"PRAGMA user_version = {target:d}")
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")

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
            self._after_commit.clear()
            raise
        self.conn.execute("COMMIT")
        if self._scrub_after_commit:
            self._scrub_after_commit = False
            self.scrub()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current outermost transaction commits (never on a rollback);
        outside a transaction, at once. Registering the same callback twice runs it once: it says
        "something changed", so a use case that re-plans three patients wakes the timer once."""
        if not self.conn.in_transaction:
            callback()
        elif callback not in self._after_commit:
            self._after_commit.append(callback)

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
