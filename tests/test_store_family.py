"""Invites, links and rides repositories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.model import Kind, Role
from scheduler.store.db import Database
from scheduler.store.family import Invites, Links, Rides, token_hash
from scheduler.store.people import People
from scheduler.store.sessions import Sessions

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=72)


def wall(text: str) -> datetime:
    """A naive wall-clock time, as a patient types it."""
    return datetime.fromisoformat(text)


def _two_people(db: Database) -> tuple[int, int]:
    people = People(db)
    patient = people.create(501, Role.PATIENT, "Ana", "Europe/Berlin", NOW).id
    family = people.create(601, Role.FAMILY, "Ben", "Europe/Berlin", NOW).id
    return patient, family


def test_invite_stores_only_the_hash(db: Database) -> None:
    """The token itself is nowhere in the table; the hash finds the invite."""
    patient, _ = _two_people(db)
    invites = Invites(db)
    invite = invites.create(patient, "secret-token", NOW, LATER)
    rows = db.conn.execute("SELECT * FROM invites").fetchall()
    assert all("secret-token" not in str(value) for row in rows for value in tuple(row))
    assert rows[0]["token_hash"] == token_hash("secret-token")
    assert invites.by_token("secret-token") == invite
    assert invites.by_token("other") is None


def test_invite_lifecycle(db: Database) -> None:
    """Pending until used, revoked or expired; each can happen once."""
    patient, _ = _two_people(db)
    invites = Invites(db)
    used = invites.create(patient, "a", NOW, LATER)
    revoked = invites.create(patient, "b", NOW, LATER)
    open_ = invites.create(patient, "c", NOW, LATER)
    assert invites.mark_used(used.id, NOW) and not invites.mark_used(used.id, NOW)
    assert invites.revoke(patient, revoked.id, NOW) and not invites.revoke(patient, revoked.id, NOW)
    assert not invites.revoke(patient + 1, open_.id, NOW)
    assert [i.id for i in invites.pending(patient, NOW)] == [open_.id]
    assert invites.pending(patient, LATER) == []
    assert len(invites.all(patient)) == 3


def test_links_pending_then_active(db: Database) -> None:
    """A link is pending until approved; only active links are planned, with names attached."""
    patient, family = _two_people(db)
    links = Links(db)
    link_id = links.create_pending(patient, family, NOW)
    assert links.create_pending(patient, family, NOW) == link_id
    assert links.for_planning(patient) == [] and not links.active_link(patient, family)
    assert links.approve(link_id, NOW) and not links.approve(link_id, NOW)
    [view] = links.for_patient(patient)
    assert (view.name, view.status, view.joined_at) == ("Ben", "active", NOW)
    assert [v.name for v in links.of_family(family)] == ["Ana"]
    [planned] = links.for_planning(patient)
    assert planned.person.id == family and planned.joined_at == NOW
    People(db).set_stopped(family, True)
    assert links.for_planning(patient) == []
    links.remove(link_id)
    assert links.for_patient(patient) == []


def test_ride_primary_key_makes_one_driver(db: Database) -> None:
    """The second claim loses; release frees the seat."""
    patient, family = _two_people(db)
    other = People(db).create(602, Role.FAMILY, "Cy", "Europe/Berlin", NOW).id
    session = Sessions(db).add(patient, wall("2026-04-01 10:00"), "Europe/Berlin", Kind.IV, NOW)
    rides = Rides(db)
    assert rides.claim(session.id, family, NOW)
    assert not rides.claim(session.id, other, NOW)
    ride = rides.get(session.id)
    assert ride is not None and ride.driver_id == family
    assert not rides.release(session.id, driver_id=other)
    assert rides.release_driver(family, patient_id=patient) == [session.id]
    assert rides.get(session.id) is None
