"""The operator's queries: counts for ``stats``, the rows retention erases, and the backup copy.

Nothing here returns a name, a chat id or anything a person wrote: counts, ids and instants only.
Which series have ended is the domain's rule (``scheduler.retention``: it needs the zone rules);
this module finds the candidates cheaply and erases what it is told.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from scheduler.model import Session
from scheduler.store.db import Database, from_db, to_db
from scheduler.store.deliveries import REPLY
from scheduler.store.sessions import _session

# A session's local start is naive wall-clock text; zones are at most 14 h from UTC. A series
# whose latest local start is a day and a half before the cutoff's UTC date cannot have ended
# after the cutoff (the domain checks each candidate exactly).
_LOCAL_SLACK = timedelta(hours=36)


@dataclass(frozen=True)
class SeriesRef:
    """A series as its sessions name it: ``sessions.series_id``, or the patient's id for sessions
    stored before series existed (``Session.series_ref``)."""

    patient_id: int
    series_ref: int
    created_at: datetime | None  # the series row's, None when it has none


@dataclass(frozen=True)
class Counts:
    """Raw counts for ``scheduler.stats``."""

    patients: int
    family: int
    due_next_day: int
    outcomes: dict[str, int]  # timed messages due in the last week, by status
    replies_sent: int  # answers to what people did, sent in the last week
    oldest_due: datetime | None  # the earliest pending row already due, if any


class Upkeep:
    """Repository for the operator's reads and retention's erasures."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- stats -----------------------------------------------------------------------------

    def counts(self, now: datetime, *, week: timedelta, day: timedelta) -> Counts:
        conn = self.db.conn
        roles = dict(conn.execute("SELECT role, count(*) FROM people GROUP BY role").fetchall())
        due = conn.execute(
            "SELECT count(*) FROM deliveries WHERE status = 'pending' AND message_id != ?"
            " AND due_at > ? AND due_at <= ?",
            (REPLY, to_db(now), to_db(now + day)),
        ).fetchone()[0]
        outcomes = dict(
            conn.execute(
                "SELECT status, count(*) FROM deliveries WHERE message_id != ?"
                " AND due_at > ? AND due_at <= ? GROUP BY status",
                (REPLY, to_db(now - week), to_db(now)),
            ).fetchall()
        )
        replies = conn.execute(
            "SELECT count(*) FROM deliveries WHERE message_id = ? AND status = 'sent'"
            " AND sent_at > ? AND sent_at <= ?",
            (REPLY, to_db(now - week), to_db(now)),
        ).fetchone()[0]
        # The partial index on pending rows answers this.
        oldest = conn.execute(
            "SELECT min(due_at) FROM deliveries WHERE status = 'pending' AND due_at <= ?",
            (to_db(now),),
        ).fetchone()[0]
        return Counts(
            patients=int(roles.get("patient", 0)),
            family=int(roles.get("family", 0)),
            due_next_day=int(due),
            outcomes={str(k): int(v) for k, v in outcomes.items()},
            replies_sent=int(replies),
            oldest_due=_instant(oldest),
        )

    def sessions_since(self, local_floor: datetime) -> list[Session]:
        """Active sessions whose local start is after ``local_floor`` (naive, compared as text):
        the candidates of "still to come or under way"."""
        rows = self.db.conn.execute(
            "SELECT * FROM sessions WHERE status = 'active' AND local_start >= ?",
            (local_floor.strftime("%Y-%m-%dT%H:%M"),),
        ).fetchall()
        return [_session(row) for row in rows]

    # -- retention -------------------------------------------------------------------------

    def series_ended_before(self, cutoff: datetime) -> list[tuple[SeriesRef, list[Session]]]:
        """Series whose every session (active or cancelled) started before ``cutoff`` give or
        take a zone, with all their sessions; series with no session at all, created before
        ``cutoff``, with none. A series with a pending or in-flight message is never a candidate.
        """
        floor = (cutoff + _LOCAL_SLACK).strftime("%Y-%m-%dT%H:%M")
        conn = self.db.conn
        candidates = conn.execute(
            "SELECT s.patient_id, coalesce(s.series_id, s.patient_id) AS ref,"
            " series.created_at AS created_at"
            " FROM sessions s LEFT JOIN series ON series.id = s.series_id"
            " GROUP BY s.patient_id, ref HAVING max(s.local_start) < ?",
            (floor,),
        ).fetchall()
        found: list[tuple[SeriesRef, list[Session]]] = []
        for row in candidates:
            ref = SeriesRef(row["patient_id"], row["ref"], _instant(row["created_at"]))
            sessions = [
                _session(s)
                for s in conn.execute(
                    "SELECT * FROM sessions WHERE patient_id = ?"
                    " AND coalesce(series_id, patient_id) = ?",
                    (ref.patient_id, ref.series_ref),
                ).fetchall()
            ]
            if not self._in_flight(sessions):
                found.append((ref, sessions))
        empty = conn.execute(
            "SELECT patient_id, id, created_at FROM series WHERE created_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.series_id = series.id)",
            (to_db(cutoff),),
        ).fetchall()
        found.extend(
            (SeriesRef(row["patient_id"], row["id"], _instant(row["created_at"])), [])
            for row in empty
        )
        return found

    def latest_series(self, patient_id: int) -> int | None:
        """The patient's current series id (their latest; see ``scheduler.store.series``)."""
        row = self.db.conn.execute(
            "SELECT max(id) FROM series WHERE patient_id = ?", (patient_id,)
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def erase_series(self, ref: SeriesRef, session_ids: list[int]) -> int:
        """Erase a series: its sessions (their deliveries, rides and snoozed copies go with them
        by the foreign keys), any row left keyed to it, and the series row. Returns the number
        of sessions erased."""
        with self.db.transaction() as conn:
            conn.executemany("DELETE FROM sessions WHERE id = ?", [(i,) for i in session_ids])
            prefix = f"series{ref.series_ref}:"
            conn.execute(
                "DELETE FROM deliveries WHERE patient_id = ? AND key >= ? AND key < ?"
                " AND status NOT IN ('pending', 'sending')",
                (ref.patient_id, prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)),
            )
            conn.execute(
                "DELETE FROM series WHERE id = ? AND patient_id = ?",
                (ref.series_ref, ref.patient_id),
            )
        return len(session_ids)

    def erase_old_replies(self, cutoff: datetime) -> int:
        """Answers to what people did, due before ``cutoff`` and long since settled. (The
        family welcome, the other row of no session, stays with its link: the planner would
        only write it again.)"""
        with self.db.transaction() as conn:
            return conn.execute(
                "DELETE FROM deliveries WHERE message_id = ? AND due_at < ?"
                " AND status NOT IN ('pending', 'sending')",
                (REPLY, to_db(cutoff)),
            ).rowcount

    def erase_stale_dialogs(self, cutoff: datetime) -> int:
        """Guided steps (a set-up left half-way) untouched since before ``cutoff``."""
        with self.db.transaction() as conn:
            return conn.execute(
                "DELETE FROM dialogs WHERE updated_at < ?", (to_db(cutoff),)
            ).rowcount

    def erase_old_invites(self, cutoff: datetime) -> int:
        """Invite hashes that expired, were used or revoked before ``cutoff``."""
        with self.db.transaction() as conn:
            return conn.execute(
                "DELETE FROM invites WHERE expires_at < ? OR used_at < ? OR revoked_at < ?",
                (to_db(cutoff), to_db(cutoff), to_db(cutoff)),
            ).rowcount

    def secure_delete(self) -> bool:
        """Whether erased rows are overwritten with zeros on this connection; turned on if not."""
        self.db.conn.execute("PRAGMA secure_delete = ON")
        return bool(self.db.conn.execute("PRAGMA secure_delete").fetchone()[0])

    def _in_flight(self, sessions: list[Session]) -> bool:
        if not sessions:
            return False
        marks = ",".join("?" * len(sessions))
        row = self.db.conn.execute(
            "SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending')"  # noqa: S608
            f" AND session_id IN ({marks}) LIMIT 1",
            [s.id for s in sessions],
        ).fetchone()
        return row is not None


def _instant(text: str | None) -> datetime | None:
    return None if text is None else from_db(text)


def backup(source: str | Path, target: str | Path) -> int:
    """Copy the database at ``source`` to ``target`` with SQLite's online backup API; returns
    the number of pages copied.

    Safe while the bot runs: the copy is one read transaction (``pages=-1``), which in WAL mode
    blocks no writer and sees only committed data. The copy is written beside ``target`` and
    renamed over it when complete and checked, so ``target`` is never half a database; it is
    created 0600 (it holds everything the bot stores) and left in rollback-journal mode, one
    self-contained file.
    """
    if not Path(source).is_file():
        raise FileNotFoundError(f"no database at {source}")
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(Path(source), timeout=10.0)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"the copy failed its check: {check}")
            pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(partial, target)
    return pages
