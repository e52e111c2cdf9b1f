"""What the patient keeps between sessions: wins (what got easier), check-in and checklist
answers, and "I noticed" lines from family, with the patient's choice to receive those.

All of it is the patient's private record: rows cascade away with the patient (``/forget``), and
nothing here is ever read for a family member's messages. A family member's "I noticed" line is
stored only when the patient turned them on, and only until the patient keeps or ignores it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from scheduler.store.db import Database, from_db, to_db


class WinSource(StrEnum):
    OWN = "own"  # written by the patient
    BUTTON = "button"  # one of the common small wins, tapped
    FAMILY = "family"  # an "I noticed" line from a family member, kept by the patient


@dataclass(frozen=True)
class Win:
    id: int
    day: date  # the patient's local day it was noted
    text: str
    source: WinSource
    from_name: str | None  # the family member's approved name, for ``FAMILY``
    created_at: datetime


@dataclass(frozen=True)
class Answer:
    """One answer to a check-in or checklist question, on the message it was asked in."""

    topic: str  # "checkin" | "checklist"
    question: str  # "evening" | "ride" | "meds" | "elevated"
    answer: str
    session_id: int | None
    answered_at: datetime


@dataclass(frozen=True)
class Noticed:
    id: int
    patient_id: int
    from_id: int | None
    from_name: str
    text: str
    created_at: datetime
    kept_at: datetime | None


class Notes:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- wins --------------------------------------------------------------------------------

    def add_win(
        self,
        patient_id: int,
        day: date,
        text: str,
        source: WinSource,
        now: datetime,
        *,
        from_id: int | None = None,
        from_name: str | None = None,
    ) -> Win:
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO wins (patient_id, day, text, source, from_id, from_name, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (patient_id, day.isoformat(), text, source.value, from_id, from_name, to_db(now)),
            )
            win_id = int(cursor.lastrowid or 0)
        return Win(win_id, day, text, source, from_name, now)

    def wins(self, patient_id: int) -> list[Win]:
        """Oldest first."""
        rows = self.db.conn.execute(
            "SELECT id, day, text, source, from_name, created_at FROM wins"
            " WHERE patient_id = ? ORDER BY id",
            (patient_id,),
        ).fetchall()
        return [_win(row) for row in rows]

    def has_win(self, patient_id: int, day: date, text: str) -> bool:
        row = self.db.conn.execute(
            "SELECT 1 FROM wins WHERE patient_id = ? AND day = ? AND text = ?",
            (patient_id, day.isoformat(), text),
        ).fetchone()
        return row is not None

    def given_back(self, patient_id: int) -> tuple[int, str | None]:
        """How many wins the patient noted, and the latest one's text."""
        row = self.db.conn.execute(
            "SELECT count(*) AS n, (SELECT text FROM wins WHERE patient_id = ?"
            " ORDER BY id DESC LIMIT 1) AS latest FROM wins WHERE patient_id = ?",
            (patient_id, patient_id),
        ).fetchone()
        return int(row["n"]), row["latest"]

    # -- answers -----------------------------------------------------------------------------

    def answer(
        self,
        patient_id: int,
        delivery_id: int,
        session_id: int | None,
        topic: str,
        question: str,
        answer: str,
        now: datetime,
    ) -> None:
        """Every press is kept with its time: a later tap (an old keyboard pressed again) adds
        an answer and never replaces one, so a "Not OK" is never lost; the latest counts."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO answers (patient_id, delivery_id, session_id, topic, question,"
                " answer, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (patient_id, delivery_id, session_id, topic, question, answer, to_db(now)),
            )

    def answers(self, patient_id: int, *, delivery_id: int | None = None) -> list[Answer]:
        sql = (
            "SELECT topic, question, answer, session_id, answered_at FROM answers"
            " WHERE patient_id = ?"
        )
        params: tuple[object, ...] = (patient_id,)
        if delivery_id is not None:
            sql += " AND delivery_id = ?"
            params += (delivery_id,)
        rows = self.db.conn.execute(sql + " ORDER BY id", params).fetchall()
        return [
            Answer(
                row["topic"],
                row["question"],
                row["answer"],
                row["session_id"],
                from_db(row["answered_at"]),
            )
            for row in rows
        ]

    # -- "I noticed" ---------------------------------------------------------------------------

    def family_notes_on(self, patient_id: int) -> bool:
        row = self.db.conn.execute(
            "SELECT family_notes FROM note_settings WHERE person_id = ?", (patient_id,)
        ).fetchone()
        return row is not None and bool(row["family_notes"])

    def set_family_notes(self, patient_id: int, on: bool) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO note_settings (person_id, family_notes) VALUES (?, ?)"
                " ON CONFLICT (person_id) DO UPDATE SET family_notes = excluded.family_notes",
                (patient_id, int(on)),
            )

    def add_noticed(
        self, patient_id: int, from_id: int, from_name: str, text: str, now: datetime
    ) -> Noticed:
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO noticed (patient_id, from_id, from_name, text, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (patient_id, from_id, from_name, text, to_db(now)),
            )
            noticed_id = int(cursor.lastrowid or 0)
        return Noticed(noticed_id, patient_id, from_id, from_name, text, now, None)

    def noticed(self, noticed_id: int) -> Noticed | None:
        row = self.db.conn.execute(
            f"SELECT {_NOTICED} FROM noticed WHERE id = ?",  # noqa: S608
            (noticed_id,),
        ).fetchone()
        return None if row is None else _noticed(row)

    def noticed_for(self, patient_id: int) -> list[Noticed]:
        rows = self.db.conn.execute(
            f"SELECT {_NOTICED} FROM noticed WHERE patient_id = ? ORDER BY id",  # noqa: S608
            (patient_id,),
        ).fetchall()
        return [_noticed(row) for row in rows]

    def noticed_by(self, family_id: int) -> list[Noticed]:
        rows = self.db.conn.execute(
            f"SELECT {_NOTICED} FROM noticed WHERE from_id = ? ORDER BY id",  # noqa: S608
            (family_id,),
        ).fetchall()
        return [_noticed(row) for row in rows]

    def mark_kept(self, noticed_id: int, now: datetime) -> bool:
        """True only the first time: a second tap must not note the same win twice."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE noticed SET kept_at = ? WHERE id = ? AND kept_at IS NULL",
                (to_db(now), noticed_id),
            )
            return cursor.rowcount == 1

    def forget_author(self, family_id: int) -> None:
        """A family member erased themselves: the lines they sent go (the foreign key), and
        wins kept from them stay the patient's but no longer carry their name."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE wins SET from_name = NULL, from_id = NULL WHERE from_id = ?", (family_id,)
            )
            conn.execute("DELETE FROM noticed WHERE from_id = ?", (family_id,))


_NOTICED = "id, patient_id, from_id, from_name, text, created_at, kept_at"


def _win(row: sqlite3.Row) -> Win:
    return Win(
        id=row["id"],
        day=date.fromisoformat(row["day"]),
        text=row["text"],
        source=WinSource(row["source"]),
        from_name=row["from_name"],
        created_at=from_db(row["created_at"]),
    )


def _noticed(row: sqlite3.Row) -> Noticed:
    return Noticed(
        id=row["id"],
        patient_id=row["patient_id"],
        from_id=row["from_id"],
        from_name=row["from_name"],
        text=row["text"],
        created_at=from_db(row["created_at"]),
        kept_at=from_db(row["kept_at"]) if row["kept_at"] else None,
    )
