"""Companion: invites, approval, removal and rides, on a real SQLite file."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from messages.catalog import TimelineEntry, Wording
from scheduler.companion import ClaimResult, Companion, InviteInvalid, NotAllowed
from scheduler.model import Kind, Person, Role
from scheduler.store.db import Database, to_db

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"
ANA, BEN, CY, DEE = 501, 601, 602, 701


def wall(text: str) -> datetime:
    """A naive wall-clock time, as a patient types it."""
    return datetime.fromisoformat(text)


def rows(db: Database, where: str = "1", *params: Any) -> list[dict[str, Any]]:
    found = db.conn.execute(
        f"SELECT * FROM deliveries WHERE {where} ORDER BY due_at, id", params
    ).fetchall()
    return [dict(row) for row in found]


def join(companion: Companion, patient: Person, chat_id: int, name: str) -> Person:
    """Invite, redeem and approve: the whole happy path."""
    token = companion.create_invite(patient.id, NOW)
    link_id, _ = companion.redeem_invite(token, chat_id, name, NOW)
    return companion.approve_link(patient.id, link_id, NOW).person


@pytest.fixture
def ana(companion: Companion) -> Person:
    return companion.register_patient(ANA, "Ana", BERLIN, NOW)


def test_invite_redeem_approve_happy_path(companion: Companion, db: Database, ana: Person) -> None:
    """Only the hash is stored; redeeming makes a pending link; approval activates it."""
    token = companion.create_invite(ana.id, NOW)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    stored = [tuple(row) for row in db.conn.execute("SELECT * FROM invites")]
    assert all(token not in str(value) for row in stored for value in row)
    [invite] = companion.pending_invites(ana.id, NOW)
    assert invite.expires_at == NOW + timedelta(hours=72)

    link_id, patient = companion.redeem_invite(token, BEN, "Ben", NOW)
    assert patient == ana
    ben = companion.person_by_chat(BEN)
    assert ben is not None and ben.role is Role.FAMILY and ben.zone == BERLIN
    assert [(v.name, v.status) for v in companion.family(ana.id)] == [("Ben", "pending")]
    assert companion.pending_invites(ana.id, NOW) == []
    assert rows(db, "recipient_id = ?", ben.id) == []  # nothing before the patient approves

    approved = companion.approve_link(ana.id, link_id, NOW)
    assert approved.person == ben and approved.joined_at == NOW
    assert [(v.name, v.status) for v in companion.family(ana.id)] == [("Ben", "active")]
    assert [v.name for v in companion.linked_patients(ben.id)] == ["Ana"]


def test_approve_plans_the_family_welcome_at_once(
    companion: Companion, db: Database, ana: Person
) -> None:
    """The welcome is due at the approval instant, even before any session exists."""
    ben = join(companion, ana, BEN, "Ben")
    [welcome] = rows(db, "recipient_id = ?", ben.id)
    assert welcome["message_id"] == "family_welcome"
    assert welcome["status"] == "pending" and welcome["due_at"] == to_db(NOW)


def test_every_bad_invite_gets_the_same_answer(companion: Companion, ana: Person) -> None:
    """Unknown, expired, used, revoked and own invites are indistinguishable."""
    used = companion.create_invite(ana.id, NOW)
    companion.redeem_invite(used, BEN, "Ben", NOW)
    revoked = companion.create_invite(ana.id, NOW)
    [pending] = companion.pending_invites(ana.id, NOW)
    assert companion.revoke_invite(ana.id, pending.id, NOW)
    assert not companion.revoke_invite(ana.id, pending.id, NOW)
    expiring = companion.create_invite(ana.id, NOW)
    own = companion.create_invite(ana.id, NOW)
    attempts = [
        (used, CY, NOW),  # reused by someone else
        (used, BEN, NOW),  # reused by the same person
        (revoked, CY, NOW),
        (expiring, CY, NOW + timedelta(hours=72)),
        (own, ANA, NOW),
        ("x" * 43, CY, NOW),  # well-formed but unknown
        ("not a token", CY, NOW),
        ("", CY, NOW),
    ]
    errors = []
    for token, chat_id, now in attempts:
        with pytest.raises(InviteInvalid) as info:
            companion.redeem_invite(token, chat_id, "Cy", now)
        errors.append((type(info.value), info.value.code, str(info.value)))
    assert set(errors) == {(InviteInvalid, "invalid", "invalid")}
    assert companion.person_by_chat(CY) is None  # a refused invite stores nothing
    companion.redeem_invite(own, CY, "Cy", NOW)  # the own-chat attempt did not use it up


def test_decline_and_foreign_links(companion: Companion, ana: Person) -> None:
    """A declined request disappears; nobody can act on another patient's link."""
    token = companion.create_invite(ana.id, NOW)
    link_id, _ = companion.redeem_invite(token, BEN, "Ben", NOW)
    bo = companion.register_patient(502, "Bo", BERLIN, NOW)
    with pytest.raises(NotAllowed) as info:
        companion.approve_link(bo.id, link_id, NOW)
    assert info.value.code == "not_found"
    with pytest.raises(NotAllowed):
        companion.remove_family(bo.id, link_id, NOW)
    ben = companion.person_by_chat(BEN)
    assert ben is not None and companion.decline_link(ana.id, link_id, NOW) == ben.id
    assert companion.family(ana.id) == []


def test_remove_withdraws_queued_family_messages(
    companion: Companion, db: Database, ana: Person
) -> None:
    """Removal cancels the member's pending rows for this patient, keeps sent ones."""
    companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    ben = join(companion, ana, BEN, "Ben")
    db.conn.execute("UPDATE deliveries SET status = 'sent' WHERE message_id = 'family_welcome'")
    assert rows(db, "recipient_id = ? AND status = 'pending'", ben.id)
    [link] = companion.family(ana.id)
    assert companion.remove_family(ana.id, link.id, NOW) == ben.id
    assert rows(db, "recipient_id = ? AND status = 'pending'", ben.id) == []
    assert {r["status"] for r in rows(db, "recipient_id = ?", ben.id)} == {"sent", "cancelled"}
    assert {r["reason"] for r in rows(db, "status = 'cancelled'")} == {"family_removed"}
    assert rows(db, "recipient_id = ? AND status = 'pending'", ana.id)  # patient unaffected
    companion.set_wording(ana.id, Wording.DISCREET, NOW)  # a later re-plan skips Ben
    assert rows(db, "recipient_id = ? AND status = 'pending'", ben.id) == []


def test_remove_is_one_transaction(
    companion: Companion, db: Database, ana: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the re-plan fails, the link, the queued rows and the ride are all still there."""
    session = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    ben = join(companion, ana, BEN, "Ben")
    assert companion.claim_ride(ben.id, session.id, NOW) is ClaimResult.CLAIMED
    before = rows(db)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(companion.deliveries, "replace_plan", boom)
    [link] = companion.family(ana.id)
    with pytest.raises(RuntimeError):
        companion.remove_family(ana.id, link.id, NOW)
    assert rows(db) == before
    assert [v.status for v in companion.family(ana.id)] == ["active"]
    assert companion.driver_for(session.id) == ben


def test_rejoining_after_removal_revives_the_reminders(
    companion: Companion, db: Database, ana: Person
) -> None:
    """A removed member invited again gets the session reminders again."""
    companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    ben = join(companion, ana, BEN, "Ben")
    session_keys = {r["key"] for r in rows(db, "recipient_id = ? AND session_id", ben.id)}
    [link] = companion.family(ana.id)
    companion.remove_family(ana.id, link.id, NOW)
    later = NOW + timedelta(hours=1)
    token = companion.create_invite(ana.id, later)
    link_id, _ = companion.redeem_invite(token, BEN, "Ben", later)
    companion.approve_link(ana.id, link_id, later)
    pending = {r["key"] for r in rows(db, "recipient_id = ? AND status = 'pending'", ben.id)}
    assert session_keys <= pending


def test_leave_withdraws_for_every_patient(companion: Companion, db: Database, ana: Person) -> None:
    """A family member who leaves stops hearing about everyone and drives nobody."""
    bo = companion.register_patient(502, "Bo", BERLIN, NOW)
    session = companion.add_session(bo.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    ben = join(companion, ana, BEN, "Ben")
    assert join(companion, bo, BEN, "Ben") == ben
    assert companion.claim_ride(ben.id, session.id, NOW) is ClaimResult.CLAIMED
    assert sorted(companion.leave(ben.id, NOW)) == sorted([ana.id, bo.id])
    assert rows(db, "recipient_id = ? AND status = 'pending'", ben.id) == []
    assert companion.linked_patients(ben.id) == []
    assert companion.driver_for(session.id) is None


def test_ride_claims(companion: Companion, ana: Person) -> None:
    """One driver; the other is told it is taken; outsiders and pending members may not."""
    session = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    ben = join(companion, ana, BEN, "Ben")
    cy = join(companion, ana, CY, "Cy")
    token = companion.create_invite(ana.id, NOW)
    companion.redeem_invite(token, DEE, "Dee", NOW)  # pending only
    dee = companion.person_by_chat(DEE)
    outsider = companion.register_patient(999, "Eve", BERLIN, NOW)
    assert dee is not None
    assert companion.claim_ride(ben.id, session.id, NOW) is ClaimResult.CLAIMED
    assert companion.claim_ride(cy.id, session.id, NOW) is ClaimResult.TAKEN
    assert companion.claim_ride(ben.id, session.id, NOW) is ClaimResult.ALREADY_YOURS
    for who in (dee.id, outsider.id, ana.id):
        assert companion.claim_ride(who, session.id, NOW) is ClaimResult.NOT_ALLOWED
    assert companion.claim_ride(ben.id, session.id + 100, NOW) is ClaimResult.NOT_ALLOWED
    after_start = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    assert companion.claim_ride(cy.id, session.id, after_start) is ClaimResult.NOT_ALLOWED
    assert companion.driver_for(session.id) == ben
    assert not companion.release_ride(cy.id, session.id, NOW)
    assert companion.release_ride(ben.id, session.id, NOW)
    assert companion.claim_ride(cy.id, session.id, NOW) is ClaimResult.CLAIMED


def test_two_simultaneous_claims_make_one_driver(
    db: Database, timeline: tuple[TimelineEntry, ...], companion: Companion, ana: Person
) -> None:
    """Two connections press at once: exactly one wins, the other is told it is taken."""
    session = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    drivers = [join(companion, ana, chat, name).id for chat, name in ((BEN, "Ben"), (CY, "Cy"))]
    barrier = threading.Barrier(2)
    results: dict[int, ClaimResult] = {}

    def press(driver_id: int) -> None:
        own = Database(db.path)  # its own connection, as a second process would have
        try:
            barrier.wait()
            results[driver_id] = Companion(own, timeline).claim_ride(driver_id, session.id, NOW)
        finally:
            own.close()

    threads = [threading.Thread(target=press, args=(d,)) for d in drivers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == sorted([ClaimResult.CLAIMED, ClaimResult.TAKEN])
    winner = next(d for d, r in results.items() if r is ClaimResult.CLAIMED)
    driver = companion.driver_for(session.id)
    assert driver is not None and driver.id == winner


def test_cancel_releases_the_ride_and_names_who_to_tell(companion: Companion, ana: Person) -> None:
    """The change lists the active family and the driver; the ride is gone afterwards."""
    session = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    ben = join(companion, ana, BEN, "Ben")
    cy = join(companion, ana, CY, "Cy")
    companion.claim_ride(cy.id, session.id, NOW)
    moved = companion.move_session(ana.id, session.id, wall("2026-03-10 11:00"), NOW)
    assert set(moved.family_ids) == {ben.id, cy.id} and moved.driver_id == cy.id
    # A move does not carry the ride over unasked: the driver is asked about the new time.
    assert companion.driver_for(session.id) is None
    companion.claim_ride(cy.id, session.id, NOW)  # Cy said yes to the new time
    cancelled = companion.cancel_session(ana.id, session.id, NOW)
    assert cancelled.driver_id == cy.id
    assert companion.driver_for(session.id) is None
