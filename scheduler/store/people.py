"""People: patients and family members, one row per Telegram chat."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, time

from messages import Wording

from scheduler.model import DEFAULT_QUIET_HOURS, Person, QuietHours, Role
from scheduler.store.db import Database, from_db, to_db


@dataclass(frozen=True)
class PersonState:
    """A person plus what only the store tracks: ``gone`` (blocked the bot) and ``created_at``."""

    person: Person
    gone: bool
    created_at: datetime


# Settable columns, so ``_set`` never formats a caller's string into SQL.
_COLUMNS = frozenset(
    {
        "role",
        "display_name",
        "zone",
        "locale",
        "wording",
        "quiet_start",
        "quiet_end",
        "paused_until",
        "stopped",
        "gone",
    }
)


class People:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, person_id: int) -> Person | None:
        state = self.state(person_id)
        return state.person if state else None

    def by_chat(self, chat_id: int) -> Person | None:
        row = self.db.conn.execute("SELECT * FROM people WHERE chat_id = ?", (chat_id,)).fetchone()
        return _person(row) if row else None

    def state(self, person_id: int) -> PersonState | None:
        row = self.db.conn.execute("SELECT * FROM people WHERE id = ?", (person_id,)).fetchone()
        if row is None:
            return None
        return PersonState(_person(row), bool(row["gone"]), from_db(row["created_at"]))

    def create(
        self,
        chat_id: int,
        role: Role,
        display_name: str,
        zone: str,
        now: datetime,
        quiet: QuietHours | None = DEFAULT_QUIET_HOURS,
    ) -> Person:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO people"
                " (chat_id, role, display_name, zone, quiet_start, quiet_end, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    role.value,
                    display_name,
                    zone,
                    _hhmm(quiet.start) if quiet else None,
                    _hhmm(quiet.end) if quiet else None,
                    to_db(now),
                ),
            )
            person_id = int(cur.lastrowid or 0)
        person = self.get(person_id)
        assert person is not None
        return person

    def set_role(self, person_id: int, role: Role) -> None:
        self._set(person_id, "role", role.value)

    def set_display_name(self, person_id: int, display_name: str) -> None:
        self._set(person_id, "display_name", display_name)

    def set_zone(self, person_id: int, zone: str) -> None:
        self._set(person_id, "zone", zone)

    def set_locale(self, person_id: int, locale: str) -> None:
        self._set(person_id, "locale", locale)

    def set_wording(self, person_id: int, wording: Wording) -> None:
        self._set(person_id, "wording", wording.value)

    def set_quiet(self, person_id: int, quiet: QuietHours | None) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE people SET quiet_start = ?, quiet_end = ? WHERE id = ?",
                (
                    _hhmm(quiet.start) if quiet else None,
                    _hhmm(quiet.end) if quiet else None,
                    person_id,
                ),
            )

    def set_paused_until(self, person_id: int, until: datetime | None) -> None:
        self._set(person_id, "paused_until", to_db(until) if until else None)

    def set_stopped(self, person_id: int, stopped: bool) -> None:
        self._set(person_id, "stopped", int(stopped))

    def set_gone(self, person_id: int, gone: bool) -> None:
        self._set(person_id, "gone", int(gone))

    def delete(self, person_id: int) -> None:
        """Forget: foreign keys cascade to sessions, links, invites, rides and deliveries."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM people WHERE id = ?", (person_id,))

    def _set(self, person_id: int, column: str, value: object) -> None:
        if column not in _COLUMNS:
            raise ValueError(f"not a settable column: {column}")
        with self.db.transaction() as conn:
            conn.execute(
                f"UPDATE people SET {column} = ? WHERE id = ?",  # noqa: S608 - allow-listed
                (value, person_id),
            )


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def _person(row: sqlite3.Row) -> Person:
    quiet = None
    if row["quiet_start"] is not None and row["quiet_end"] is not None:
        quiet = QuietHours(
            time.fromisoformat(row["quiet_start"]), time.fromisoformat(row["quiet_end"])
        )
    return Person(
        id=row["id"],
        chat_id=row["chat_id"],
        role=Role(row["role"]),
        zone=row["zone"],
        locale=row["locale"],
        wording=Wording(row["wording"]),
        quiet=quiet,
        paused_until=from_db(row["paused_until"]) if row["paused_until"] else None,
        stopped=bool(row["stopped"]),
        display_name=row["display_name"],
    )
