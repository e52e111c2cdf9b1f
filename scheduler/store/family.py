"""Family: invites (hashed tokens), links between a patient and a family member, and rides."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from scheduler.model import FamilyLink
from scheduler.store.db import Database, from_db, to_db
from scheduler.store.people import People

PENDING = "pending"
ACTIVE = "active"


def token_hash(token: str) -> str:
    """Only this is stored: a leaked database must not let anyone join a family."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Invite:
    id: int
    patient_id: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class LinkView:
    """One link as a list shows it; ``name`` is the other side's display name."""

    id: int
    patient_id: int
    family_id: int
    status: str  # pending | active
    created_at: datetime
    joined_at: datetime | None
    name: str


@dataclass(frozen=True)
class Ride:
    session_id: int
    driver_id: int
    claimed_at: datetime


@dataclass(frozen=True)
class RideRequest:
    """A ride request ("I can drive") sent to one family member: the message to edit once
    someone else drives (``message_ref`` is Telegram's message id; None if it was not kept)."""

    delivery_id: int
    recipient_id: int
    chat_id: int
    message_ref: int | None
    key: str  # the delivery's key: it names the session time the request was for


class Invites:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, patient_id: int, token: str, now: datetime, expires_at: datetime) -> Invite:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO invites (patient_id, token_hash, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (patient_id, token_hash(token), to_db(now), to_db(expires_at)),
            )
            invite_id = int(cur.lastrowid or 0)
        invite = self.get(invite_id)
        assert invite is not None
        return invite

    def get(self, invite_id: int) -> Invite | None:
        row = self.db.conn.execute("SELECT * FROM invites WHERE id = ?", (invite_id,)).fetchone()
        return _invite(row) if row else None

    def by_token(self, token: str) -> Invite | None:
        row = self.db.conn.execute(
            "SELECT * FROM invites WHERE token_hash = ?", (token_hash(token),)
        ).fetchone()
        return _invite(row) if row else None

    def mark_used(self, invite_id: int, now: datetime) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE invites SET used_at = ? WHERE id = ? AND used_at IS NULL",
                (to_db(now), invite_id),
            )
            return cur.rowcount == 1

    def revoke(self, patient_id: int, invite_id: int, now: datetime) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE invites SET revoked_at = ? WHERE id = ? AND patient_id = ?"
                " AND used_at IS NULL AND revoked_at IS NULL",
                (to_db(now), invite_id, patient_id),
            )
            return cur.rowcount == 1

    def pending(self, patient_id: int, now: datetime) -> list[Invite]:
        rows = self.db.conn.execute(
            "SELECT * FROM invites WHERE patient_id = ? AND used_at IS NULL"
            " AND revoked_at IS NULL AND expires_at > ? ORDER BY id",
            (patient_id, to_db(now)),
        ).fetchall()
        return [_invite(row) for row in rows]

    def all(self, patient_id: int) -> list[Invite]:
        rows = self.db.conn.execute(
            "SELECT * FROM invites WHERE patient_id = ? ORDER BY id", (patient_id,)
        ).fetchall()
        return [_invite(row) for row in rows]


class Links:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.people = People(db)

    def create_pending(self, patient_id: int, family_id: int, now: datetime) -> int:
        """A pending link, or the existing link's id if the two are already linked."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO family_links (patient_id, family_id, status, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (patient_id, family_id) DO NOTHING",
                (patient_id, family_id, PENDING, to_db(now)),
            )
            row = conn.execute(
                "SELECT id FROM family_links WHERE patient_id = ? AND family_id = ?",
                (patient_id, family_id),
            ).fetchone()
            return int(row["id"])

    def get(self, link_id: int) -> LinkView | None:
        row = self.db.conn.execute(
            "SELECT l.*, p.display_name AS name FROM family_links l"
            " JOIN people p ON p.id = l.family_id WHERE l.id = ?",
            (link_id,),
        ).fetchone()
        return _link(row) if row else None

    def approve(self, link_id: int, now: datetime) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE family_links SET status = ?, joined_at = ? WHERE id = ? AND status = ?",
                (ACTIVE, to_db(now), link_id, PENDING),
            )
            return cur.rowcount == 1

    def remove(self, link_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM family_links WHERE id = ?", (link_id,))

    def for_patient(self, patient_id: int) -> list[LinkView]:
        """The patient's family, with each family member's name."""
        rows = self.db.conn.execute(
            "SELECT l.*, p.display_name AS name FROM family_links l"
            " JOIN people p ON p.id = l.family_id WHERE l.patient_id = ? ORDER BY l.id",
            (patient_id,),
        ).fetchall()
        return [_link(row) for row in rows]

    def of_family(self, family_id: int) -> list[LinkView]:
        """The patients a family member is linked to, with each patient's name."""
        rows = self.db.conn.execute(
            "SELECT l.*, p.display_name AS name FROM family_links l"
            " JOIN people p ON p.id = l.patient_id WHERE l.family_id = ? ORDER BY l.id",
            (family_id,),
        ).fetchall()
        return [_link(row) for row in rows]

    def active_link(self, patient_id: int, family_id: int) -> bool:
        row = self.db.conn.execute(
            "SELECT 1 FROM family_links WHERE patient_id = ? AND family_id = ? AND status = ?",
            (patient_id, family_id, ACTIVE),
        ).fetchone()
        return row is not None

    def for_planning(self, patient_id: int) -> list[FamilyLink]:
        """Active links whose family member still wants messages (not stopped, not gone)."""
        rows = self.db.conn.execute(
            "SELECT l.family_id, l.joined_at FROM family_links l JOIN people p"
            " ON p.id = l.family_id WHERE l.patient_id = ? AND l.status = ?"
            " AND p.stopped = 0 AND p.gone = 0 ORDER BY l.id",
            (patient_id, ACTIVE),
        ).fetchall()
        links = []
        for row in rows:
            person = self.people.get(row["family_id"])
            assert person is not None
            links.append(FamilyLink(person=person, joined_at=from_db(row["joined_at"])))
        return links


class Rides:
    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, session_id: int, driver_id: int, now: datetime) -> bool:
        """True if this call made ``driver_id`` the driver; the primary key lets one win."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO rides (session_id, driver_id, claimed_at) VALUES (?, ?, ?)"
                " ON CONFLICT (session_id) DO NOTHING",
                (session_id, driver_id, to_db(now)),
            )
            return cur.rowcount == 1

    def get(self, session_id: int) -> Ride | None:
        row = self.db.conn.execute(
            "SELECT * FROM rides WHERE session_id = ?", (session_id,)
        ).fetchone()
        return _ride(row) if row else None

    def release(self, session_id: int, *, driver_id: int | None = None) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM rides WHERE session_id = ? AND (? IS NULL OR driver_id = ?)",
                (session_id, driver_id, driver_id),
            )
            return cur.rowcount > 0

    def release_driver(self, driver_id: int, *, patient_id: int | None = None) -> list[int]:
        """Release the driver's rides (only that patient's sessions if given); the session ids."""
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT r.session_id FROM rides r JOIN sessions s ON s.id = r.session_id"
                " WHERE r.driver_id = ? AND (? IS NULL OR s.patient_id = ?)",
                (driver_id, patient_id, patient_id),
            ).fetchall()
            released = [int(row["session_id"]) for row in rows]
            conn.executemany("DELETE FROM rides WHERE session_id = ?", [(sid,) for sid in released])
            return released

    def drivers(self, patient_id: int) -> dict[int, int]:
        """Session id -> driver id, for the patient's sessions with a ride claimed (planning)."""
        rows = self.db.conn.execute(
            "SELECT r.session_id, r.driver_id FROM rides r JOIN sessions s ON s.id = r.session_id"
            " WHERE s.patient_id = ?",
            (patient_id,),
        ).fetchall()
        return {int(row["session_id"]): int(row["driver_id"]) for row in rows}

    def requests(self, session_id: int, message_id: str) -> list[RideRequest]:
        """The ride requests (timeline message ``message_id``) sent for this session, to
        whoever got one: their messages are what a claim turns into "covered"."""
        rows = self.db.conn.execute(
            "SELECT d.id, d.recipient_id, p.chat_id, d.message_ref, d.key FROM deliveries d"
            " JOIN people p ON p.id = d.recipient_id"
            " WHERE d.session_id = ? AND d.message_id = ? AND d.status = 'sent'"
            " AND d.recipient_id != d.patient_id ORDER BY d.id",
            (session_id, message_id),
        ).fetchall()
        return [
            RideRequest(
                delivery_id=int(row["id"]),
                recipient_id=int(row["recipient_id"]),
                chat_id=int(row["chat_id"]),
                message_ref=None if row["message_ref"] is None else int(row["message_ref"]),
                key=str(row["key"]),
            )
            for row in rows
        ]

    def of_driver(self, driver_id: int) -> list[Ride]:
        rows = self.db.conn.execute(
            "SELECT * FROM rides WHERE driver_id = ? ORDER BY session_id", (driver_id,)
        ).fetchall()
        return [_ride(row) for row in rows]

    # -- a moved session's driver, asked "does the new time suit you?" and not yet answering --

    def ask(self, session_id: int, driver_id: int, now: datetime) -> None:
        """Record the open question (a later move of the same session asks anew)."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO ride_questions (session_id, driver_id, asked_at) VALUES (?, ?, ?)"
                " ON CONFLICT (session_id) DO UPDATE SET driver_id = excluded.driver_id,"
                " asked_at = excluded.asked_at",
                (session_id, driver_id, to_db(now)),
            )

    def asked(self, session_id: int) -> int | None:
        """The driver asked about this session's new time and not answered yet, or None."""
        row = self.db.conn.execute(
            "SELECT driver_id FROM ride_questions WHERE session_id = ?", (session_id,)
        ).fetchone()
        return None if row is None else int(row["driver_id"])

    def questions_of(self, driver_id: int) -> list[Ride]:
        """The driver's open questions, as (session, driver, asked at)."""
        rows = self.db.conn.execute(
            "SELECT session_id, driver_id, asked_at AS claimed_at FROM ride_questions"
            " WHERE driver_id = ? ORDER BY session_id",
            (driver_id,),
        ).fetchall()
        return [_ride(row) for row in rows]

    def settle_question(self, session_id: int, *, driver_id: int | None = None) -> bool:
        """The question is answered, or moot (the session cancelled, the driver gone)."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM ride_questions WHERE session_id = ? AND (? IS NULL OR driver_id = ?)",
                (session_id, driver_id, driver_id),
            )
            return cur.rowcount > 0

    def drop_questions(self, driver_id: int, *, patient_id: int | None = None) -> None:
        """The driver's open questions go (only that patient's sessions if given)."""
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM ride_questions WHERE driver_id = ? AND (? IS NULL OR session_id IN"
                " (SELECT id FROM sessions WHERE patient_id = ?))",
                (driver_id, patient_id, patient_id),
            )


def _opt(text: str | None) -> datetime | None:
    return from_db(text) if text else None


def _invite(row: sqlite3.Row) -> Invite:
    return Invite(
        id=row["id"],
        patient_id=row["patient_id"],
        created_at=from_db(row["created_at"]),
        expires_at=from_db(row["expires_at"]),
        used_at=_opt(row["used_at"]),
        revoked_at=_opt(row["revoked_at"]),
    )


def _link(row: sqlite3.Row) -> LinkView:
    return LinkView(
        id=row["id"],
        patient_id=row["patient_id"],
        family_id=row["family_id"],
        status=row["status"],
        created_at=from_db(row["created_at"]),
        joined_at=_opt(row["joined_at"]),
        name=row["name"],
    )


def _ride(row: sqlite3.Row) -> Ride:
    return Ride(row["session_id"], row["driver_id"], from_db(row["claimed_at"]))
