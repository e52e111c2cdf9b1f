"""Companion: /export shows a person their data; /forget leaves no row about them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from scheduler.companion import ClaimResult, Companion, NotAllowed
from scheduler.model import Kind, Person
from scheduler.store.db import Database

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"


def wall(text: str) -> datetime:
    """A naive wall-clock time, as a patient types it."""
    return datetime.fromisoformat(text)


def traces(db: Database, person: Person) -> list[str]:
    """Every place in the database that still points at the person.

    Columns that reference ``people`` (found through the schema's foreign keys), ``people.id``,
    any ``chat_id`` column, and any text containing their display name.
    """
    found = []
    tables = [
        row["name"]
        for row in db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    for table in tables:
        person_columns = {
            fk["from"]
            for fk in db.conn.execute(f"PRAGMA foreign_key_list({table})")
            if fk["table"] == "people"
        }
        if table == "people":
            person_columns.add("id")
        for row in db.conn.execute(f"SELECT * FROM {table}"):
            for column in row.keys():  # noqa: SIM118 - sqlite3.Row is not a mapping
                value = row[column]
                if column in person_columns and value == person.id:
                    found.append(f"{table}.{column}")
                elif column == "chat_id" and value == person.chat_id:
                    found.append(f"{table}.chat_id")
                elif isinstance(value, str) and person.display_name in value:
                    found.append(f"{table}.{column} text")
    return found


@pytest.fixture
def family_of_two(companion: Companion) -> tuple[Person, Person, int]:
    """Zebediah (patient, two sessions, a ride claimed by Quentin, a dialog in progress)."""
    patient = companion.register_patient(501, "Zebediah", BERLIN, NOW)
    first = companion.add_session(patient.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    companion.add_session(patient.id, wall("2026-03-12 10:00"), Kind.NASAL, NOW)
    companion.create_invite(patient.id, NOW)  # left open
    token = companion.create_invite(patient.id, NOW)
    link_id, _ = companion.redeem_invite(token, 601, "Quentin", NOW)
    member = companion.approve_link(patient.id, link_id, NOW).person
    assert companion.claim_ride(member.id, first.id, NOW) is ClaimResult.CLAIMED
    companion.dialogs.set(501, "add.kind", {"when": "2026-03-20 10:00"}, NOW)
    companion.dialogs.set(601, "join.confirm", {}, NOW)
    return patient, member, first.id


def test_forget_patient_leaves_no_row_about_them(
    companion: Companion, db: Database, family_of_two: tuple[Person, Person, int]
) -> None:
    """Sessions, links, invites, rides, deliveries and the dialog go; the family member stays."""
    patient, member, _ = family_of_two
    assert traces(db, patient)  # the scan does find them before
    companion.forget(patient.id, NOW)
    assert traces(db, patient) == []
    assert companion.person(member.id) == member
    assert companion.linked_patients(member.id) == []
    assert db.conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0
    assert companion.dialogs.get(601) is not None
    companion.forget(patient.id, NOW)  # a second /forget is harmless


def test_forget_family_member_leaves_no_row_and_replans_the_patient(
    companion: Companion, db: Database, family_of_two: tuple[Person, Person, int]
) -> None:
    """Their link, ride and deliveries go; the patient keeps their own plan."""
    patient, member, session_id = family_of_two
    companion.forget(member.id, NOW)
    assert traces(db, member) == []
    assert companion.family(patient.id) == []
    assert companion.driver_for(session_id) is None
    pending = db.conn.execute(
        "SELECT DISTINCT recipient_id FROM deliveries WHERE status = 'pending'"
    ).fetchall()
    assert [row[0] for row in pending] == [patient.id]
    assert companion.dialogs.get(501) is not None


def test_export_patient(companion: Companion, family_of_two: tuple[Person, Person, int]) -> None:
    """JSON-ready: person, sessions with their driver's name, family, invites without hashes."""
    patient, _, session_id = family_of_two
    data = companion.export(patient.id)
    text = json.dumps(data)
    assert data["person"]["display_name"] == "Zebediah" and data["person"]["chat_id"] == 501
    assert [(s["local_start"], s["kind"], s["status"]) for s in data["sessions"]] == [
        ("2026-03-10T10:00", "iv", "active"),
        ("2026-03-12T10:00", "nasal", "active"),
    ]
    assert data["sessions"][0]["driver"] == "Quentin" and data["sessions"][0]["id"] == session_id
    assert [(f["name"], f["status"]) for f in data["family"]] == [("Quentin", "active")]
    assert len(data["invites"]) == 2 and "hash" not in text
    assert data["deliveries"] and all("text" not in d for d in data["deliveries"])
    assert {d["message_id"] for d in data["deliveries"]} >= {"rest_up", "dont_drive"}
    assert data["dialog"] == {"step": "add.kind", "data": {"when": "2026-03-20 10:00"}}
    assert "601" not in json.dumps(data["family"])  # the member's chat id is not theirs to see


def test_export_family_member(
    companion: Companion, family_of_two: tuple[Person, Person, int]
) -> None:
    """A family member sees their own rows: whom they help (by name), rides, deliveries."""
    _, member, session_id = family_of_two
    data: dict[str, Any] = companion.export(member.id)
    json.dumps(data)
    assert data["person"]["role"] == "family" and data["sessions"] == []
    assert [(p["name"], p["status"]) for p in data["linked_patients"]] == [("Zebediah", "active")]
    assert [r["session_id"] for r in data["rides"]] == [session_id]
    assert "family_welcome" in {d["message_id"] for d in data["deliveries"]}
    with pytest.raises(NotAllowed):
        companion.export(999)
