"""Sessions: what the patient entered, as local wall-clock time in a zone, and their series.

``Session.local_start`` carries the stored ``fold`` in its own ``fold`` attribute, so whoever
resolves it to an instant passes ``fold=session.local_start.fold``. ``Sessions.series`` is the
repository of the series the sessions belong to (``sessions.series_id``; NULL on rows that
predate series, see ``Session.series_ref``).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from scheduler.localtime import session_start
from scheduler.model import Kind, Session
from scheduler.store.db import Database, to_db
from scheduler.store.series import SeriesStore

ACTIVE = "active"
CANCELLED = "cancelled"


class Sessions:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.series = SeriesStore(db)

    def add(
        self,
        patient_id: int,
        local_start: datetime,
        zone: str,
        kind: Kind,
        now: datetime,
        *,
        fold: int = 0,
        duration: timedelta | None = None,
        series_id: int | None = None,
    ) -> Session:
        """``series_id`` None leaves the session in no stored series (see ``Session.series_ref``);
        the companion always names one."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO sessions"
                " (patient_id, series_id, local_start, fold, zone, kind, duration_min, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    patient_id,
                    series_id,
                    _local_text(local_start),
                    fold,
                    zone,
                    kind.value,
                    _minutes(duration),
                    to_db(now),
                ),
            )
            session_id = int(cur.lastrowid or 0)
        session = self.get(session_id)
        assert session is not None
        return session

    def get(self, session_id: int, *, active_only: bool = True) -> Session | None:
        row = self.db.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None or (active_only and row["status"] != ACTIVE):
            return None
        return _session(row)

    def move(self, session_id: int, local_start: datetime, zone: str, *, fold: int = 0) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET local_start = ?, fold = ?, zone = ? WHERE id = ?",
                (_local_text(local_start), fold, zone, session_id),
            )

    def set_series(self, session_id: int, series_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE sessions SET series_id = ? WHERE id = ?", (series_id, session_id))

    def cancel(self, session_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE sessions SET status = ? WHERE id = ?", (CANCELLED, session_id))

    def active(self, patient_id: int) -> list[Session]:
        """The patient's active sessions, earliest start instant first."""
        rows = self.db.conn.execute(
            "SELECT * FROM sessions WHERE patient_id = ? AND status = ? ORDER BY id",
            (patient_id, ACTIVE),
        ).fetchall()
        # SQL cannot order by an instant that depends on the zone's rules; ~20 rows, so Python.
        return sorted((_session(row) for row in rows), key=lambda s: (session_start(s), s.id))

    def all(self, patient_id: int) -> list[tuple[Session, str]]:
        """Every session of the patient with its status, for ``/export``."""
        rows = self.db.conn.execute(
            "SELECT * FROM sessions WHERE patient_id = ? ORDER BY id", (patient_id,)
        ).fetchall()
        return [(_session(row), row["status"]) for row in rows]


def _local_text(local: datetime) -> str:
    if local.tzinfo is not None:
        raise ValueError("a session's local start is naive wall-clock time")
    return local.strftime("%Y-%m-%dT%H:%M")


def _minutes(duration: timedelta | None) -> int | None:
    return None if duration is None else int(duration.total_seconds() // 60)


def _session(row: sqlite3.Row) -> Session:
    local = datetime.fromisoformat(row["local_start"]).replace(fold=row["fold"])
    minutes = row["duration_min"]
    return Session(
        id=row["id"],
        patient_id=row["patient_id"],
        local_start=local,
        zone=row["zone"],
        kind=Kind(row["kind"]),
        duration=None if minutes is None else timedelta(minutes=minutes),
        series_id=row["series_id"],
    )
