"""Series: runs of one patient's sessions (``sessions.series_id``), each with its planned length.

Which series a new session joins is the domain's rule (``Companion.add_session``); this module
only stores the answer. A patient's current series is their latest one (ids only grow: the table
is ``AUTOINCREMENT``). Series made by migration 4 carry their patient's id, so the series-wide
delivery keys stored before it (``series{patient_id}:...``) stay the keys of the same messages.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from scheduler.model import DEFAULT_SERIES_LENGTH, Series
from scheduler.store.db import Database, to_db


class SeriesStore:
    """Repository for the ``series`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, patient_id: int, now: datetime, *, planned: int = DEFAULT_SERIES_LENGTH
    ) -> Series:
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO series (patient_id, planned, created_at) VALUES (?, ?, ?)",
                (patient_id, planned, to_db(now)),
            )
            series_id = int(cursor.lastrowid or 0)
        return Series(id=series_id, patient_id=patient_id, planned=planned)

    def get(self, series_id: int) -> Series | None:
        row = self.db.conn.execute(
            "SELECT id, patient_id, planned FROM series WHERE id = ?", (series_id,)
        ).fetchone()
        return None if row is None else _series(row)

    def current(self, patient_id: int) -> Series | None:
        """The patient's latest series, or None before their first."""
        row = self.db.conn.execute(
            "SELECT id, patient_id, planned FROM series WHERE patient_id = ?"
            " ORDER BY id DESC LIMIT 1",
            (patient_id,),
        ).fetchone()
        return None if row is None else _series(row)

    def of_patient(self, patient_id: int) -> list[Series]:
        """Every series of the patient, oldest first."""
        rows = self.db.conn.execute(
            "SELECT id, patient_id, planned FROM series WHERE patient_id = ? ORDER BY id",
            (patient_id,),
        ).fetchall()
        return [_series(row) for row in rows]

    def set_planned(self, series_id: int, planned: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE series SET planned = ? WHERE id = ?", (planned, series_id))


def _series(row: sqlite3.Row) -> Series:
    return Series(id=row["id"], patient_id=row["patient_id"], planned=row["planned"])
