"""Companion: people and sessions, each call stored and re-planned in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from messages.catalog import Wording
from scheduler.companion import Companion, NotAllowed, SessionRejected, ZoneRejected
from scheduler.model import Kind, Person, QuietHours, Role
from scheduler.store.db import Database

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"


def wall(text: str) -> datetime:
    """A naive wall-clock time, as a patient types it."""
    return datetime.fromisoformat(text)


def rows(db: Database, where: str = "1", *params: Any) -> list[dict[str, Any]]:
    found = db.conn.execute(
        f"SELECT * FROM deliveries WHERE {where} ORDER BY due_at, id", params
    ).fetchall()
    return [dict(row) for row in found]


def patient(companion: Companion, chat_id: int = 501) -> Person:
    return companion.register_patient(chat_id, "Ana", BERLIN, NOW)


def test_register_patient_is_idempotent(companion: Companion) -> None:
    """A second /start finds the same person; an unknown zone is refused with a code."""
    first = patient(companion)
    assert patient(companion) == first
    assert companion.person_by_chat(501) == first and first.role is Role.PATIENT
    with pytest.raises(ZoneRejected) as info:
        companion.register_patient(502, "Bo", "Mars/Olympus", NOW)
    assert info.value.code == "unknown_zone"


def test_add_session_plans_and_replanning_creates_no_duplicates(
    companion: Companion, db: Database
) -> None:
    """Adding plans the patient's messages; a settings change re-plans without new rows."""
    ana = patient(companion)
    session = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    planned = rows(db)
    assert planned and all(r["recipient_id"] == ana.id for r in planned)
    assert {"rest_up", "last_steps", "dont_drive"} <= {r["message_id"] for r in planned}
    assert all(r["session_id"] in (session.id, None) or r["message_id"] for r in planned)
    companion.set_wording(ana.id, Wording.DISCREET, NOW)
    companion.set_quiet_hours(ana.id, QuietHours(time(22, 0), time(7, 0)), NOW)
    again = rows(db)
    assert sorted(r["key"] for r in again) == sorted(r["key"] for r in planned)
    assert len({r["key"] for r in again}) == len(again)


def test_move_keeps_sent_history_and_plans_fresh_reminders(
    companion: Companion, db: Database
) -> None:
    """A sent row survives a move and any re-plan; the new time gets its own keys, once."""
    ana = patient(companion)
    session = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    db.conn.execute("UPDATE deliveries SET status = 'sent' WHERE message_id = 'rest_up'")
    sent_key = rows(db, "status = 'sent'")[0]["key"]
    change = companion.move_session(ana.id, session.id, wall("2026-03-12 15:30"), NOW)
    assert change.session.local_start == wall("2026-03-12 15:30")
    assert change.family_ids == () and change.driver_id is None
    assert [r["key"] for r in rows(db, "status = 'sent'")] == [sent_key]
    pending = rows(db, "status = 'pending'")
    session_keys = [r["key"] for r in pending if r["key"].startswith(f"s{session.id}@")]
    assert session_keys and all("@2026-03-12T15:30:" in key for key in session_keys)
    assert all("@2026-03-10T10:00:" not in r["key"] for r in pending)
    companion.move_session(ana.id, session.id, wall("2026-03-12 15:30"), NOW)
    assert len(rows(db)) == len({r["key"] for r in rows(db)})
    assert rows(db, "status = 'pending'") == pending


def test_moving_back_replans_the_original_time(companion: Companion, db: Database) -> None:
    """Moving a session away and back leaves exactly the original pending plan."""
    ana = patient(companion)
    session = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    before = sorted(r["key"] for r in rows(db, "status = 'pending'"))
    companion.move_session(ana.id, session.id, wall("2026-03-11 10:00"), NOW)
    companion.move_session(ana.id, session.id, wall("2026-03-10 10:00"), NOW)
    assert sorted(r["key"] for r in rows(db, "status = 'pending'")) == before


def test_cancel_withdraws_the_session_messages(companion: Companion, db: Database) -> None:
    """Pending rows of a cancelled session become cancelled; sent ones stay sent."""
    ana = patient(companion)
    keep = companion.add_session(ana.id, wall("2026-03-05 10:00"), Kind.IV, NOW)
    gone = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.NASAL, NOW)
    db.conn.execute(
        "UPDATE deliveries SET status = 'sent' WHERE session_id = ? AND message_id = ?",
        (gone.id, "rest_up_nasal"),
    )
    change = companion.cancel_session(ana.id, gone.id, NOW)
    assert change.session == gone
    statuses = {r["status"] for r in rows(db, "session_id = ?", gone.id)}
    assert statuses == {"sent", "cancelled"}
    assert {r["reason"] for r in rows(db, "status = 'cancelled'")} == {"session_cancelled"}
    assert companion.sessions(ana.id) == [keep]
    assert rows(db, "session_id = ? AND status = 'pending'", keep.id)


@pytest.mark.parametrize(
    ("local", "code"),
    [
        ("2026-03-01 09:59", "past"),  # 08:59 UTC, before NOW
        ("2027-03-03 10:00", "too_far"),
        ("2026-03-29 02:30", "nonexistent"),  # Berlin springs 02:00 -> 03:00
    ],
)
def test_add_session_rejections(companion: Companion, local: str, code: str) -> None:
    """Past, more than 366 days ahead and skipped wall-clock times are refused with a code."""
    ana = patient(companion)
    with pytest.raises(SessionRejected) as info:
        companion.add_session(ana.id, wall(local), Kind.IV, NOW)
    assert info.value.code == code
    assert companion.sessions(ana.id) == []


def test_dst_gap_rejection_carries_the_explanation(companion: Companion) -> None:
    """The patient is told what the clocks do that night, not just 'invalid'."""
    ana = patient(companion)
    with pytest.raises(SessionRejected) as info:
        companion.add_session(ana.id, wall("2026-03-29 02:30"), Kind.IV, NOW)
    assert "clocks jump from 02:00 to 03:00" in info.value.detail


def test_duplicate_and_not_found(companion: Companion) -> None:
    """Two active sessions at one instant are refused; others' or cancelled sessions not found."""
    ana = patient(companion)
    bo = patient(companion, chat_id=502)
    first = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    second = companion.add_session(ana.id, wall("2026-03-11 10:00"), Kind.IV, NOW)
    with pytest.raises(SessionRejected) as dup:
        companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.NASAL, NOW)
    assert dup.value.code == "duplicate"
    with pytest.raises(SessionRejected) as moved_onto:
        companion.move_session(ana.id, second.id, wall("2026-03-10 10:00"), NOW)
    assert moved_onto.value.code == "duplicate"
    companion.add_session(bo.id, wall("2026-03-10 10:00"), Kind.IV, NOW)  # another patient: fine
    with pytest.raises(SessionRejected) as foreign_move:
        companion.move_session(bo.id, first.id, wall("2026-03-12 10:00"), NOW)
    assert foreign_move.value.code == "not_found"
    with pytest.raises(SessionRejected) as foreign_cancel:
        companion.cancel_session(bo.id, first.id, NOW)
    assert foreign_cancel.value.code == "not_found"
    companion.cancel_session(ana.id, first.id, NOW)
    with pytest.raises(SessionRejected) as twice:
        companion.cancel_session(ana.id, first.id, NOW)
    assert twice.value.code == "not_found"
    # The cancelled session's instant is free again.
    companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)


def test_move_rejections_leave_the_session_unchanged(companion: Companion) -> None:
    """A refused move changes nothing."""
    ana = patient(companion)
    session = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    for local, code in (("2026-02-28 10:00", "past"), ("2026-03-29 02:15", "nonexistent")):
        with pytest.raises(SessionRejected) as info:
            companion.move_session(ana.id, session.id, wall(local), NOW)
        assert info.value.code == code
    assert companion.sessions(ana.id) == [session]


def test_fall_back_hour_fold_makes_two_sessions(companion: Companion) -> None:
    """02:30 on the fall-back night happens twice; fold picks which, and they are distinct."""
    ana = patient(companion)
    now = datetime(2026, 10, 1, 9, tzinfo=UTC)
    second = companion.add_session(ana.id, wall("2026-10-25 02:30"), Kind.IV, now, fold=1)
    first = companion.add_session(ana.id, wall("2026-10-25 02:30"), Kind.IV, now, fold=0)
    assert [s.id for s in companion.sessions(ana.id)] == [first.id, second.id]
    # Of 6: a new series is planned at six sessions until the patient says otherwise.
    assert companion.session_numbering(ana.id) == {first.id: (1, 6), second.id: (2, 6)}
    assert (first.local_start.fold, second.local_start.fold) == (0, 1)
    plain = companion.add_session(ana.id, wall("2026-10-26 10:00"), Kind.IV, now, fold=1)
    assert plain.local_start.fold == 0  # a fold only matters where the hour repeats


def test_numbering_follows_start_not_entry_order(companion: Companion) -> None:
    """Session numbers are by start instant; a cancel renumbers the rest. The total is the
    series' planned length (six by default), not the count entered so far."""
    ana = patient(companion)
    late = companion.add_session(ana.id, wall("2026-03-20 10:00"), Kind.IV, NOW)
    early = companion.add_session(ana.id, wall("2026-03-06 10:00"), Kind.IV, NOW)
    middle = companion.add_session(ana.id, wall("2026-03-13 10:00"), Kind.IV, NOW)
    assert companion.session_numbering(ana.id) == {
        early.id: (1, 6),
        middle.id: (2, 6),
        late.id: (3, 6),
    }
    companion.cancel_session(ana.id, middle.id, NOW)
    assert companion.session_numbering(ana.id) == {early.id: (1, 6), late.id: (2, 6)}


def test_only_patients_add_sessions(companion: Companion, db: Database) -> None:
    """An unknown id or a family member is refused before anything is stored."""
    with pytest.raises(NotAllowed) as info:
        companion.add_session(999, wall("2026-03-10 10:00"), Kind.IV, NOW)
    assert info.value.code == "not_found"
    assert db.conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_stop_cancels_and_plans_nothing_more_restart_revives(
    companion: Companion, db: Database
) -> None:
    """Stop withdraws every pending message; later changes plan none; restart brings them back."""
    ana = patient(companion)
    companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    pending_before = sorted(r["key"] for r in rows(db, "status = 'pending'"))
    stopped = companion.stop(ana.id, NOW)
    assert stopped.stopped
    assert rows(db, "status = 'pending'") == []
    assert {r["reason"] for r in rows(db, "status = 'cancelled'")} == {"stopped"}
    companion.add_session(ana.id, wall("2026-03-12 10:00"), Kind.IV, NOW)
    assert rows(db, "status = 'pending'") == []
    restarted = companion.restart(ana.id, NOW)
    assert not restarted.stopped
    pending_after = {r["key"] for r in rows(db, "status = 'pending'")}
    assert set(pending_before) <= pending_after
    assert any("@2026-03-12T10:00:" in key for key in pending_after)


def test_mark_gone_withdraws_and_restart_undoes_it(companion: Companion, db: Database) -> None:
    """A person who blocked the bot gets nothing planned until they come back."""
    ana = patient(companion)
    companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    companion.mark_gone(ana.id, NOW)
    assert rows(db, "status = 'pending'") == []
    companion.set_wording(ana.id, Wording.DISCREET, NOW)
    assert rows(db, "status = 'pending'") == []
    companion.restart(ana.id, NOW)
    assert rows(db, "status = 'pending'")


def test_settings_are_stored(companion: Companion) -> None:
    """Pause, resume, quiet hours, wording, locale, name and zone are kept on the person."""
    ana = patient(companion)
    until = NOW + timedelta(days=2)
    assert companion.pause(ana.id, until, NOW).paused_until == until
    assert companion.resume(ana.id, NOW).paused_until is None
    assert companion.set_quiet_hours(ana.id, None, NOW).quiet is None
    assert companion.set_wording(ana.id, Wording.DISCREET, NOW).wording is Wording.DISCREET
    assert companion.set_locale(ana.id, "de", NOW).locale == "de"
    assert companion.set_display_name(ana.id, "Anna", NOW).display_name == "Anna"
    with pytest.raises(ZoneRejected):
        companion.set_zone(ana.id, "Europe/Berlinn", NOW)
    with pytest.raises(NotAllowed):
        companion.pause(999, until, NOW)


def test_set_zone_keeps_existing_sessions_where_they_are(companion: Companion) -> None:
    """Existing sessions keep their zone (none silently moves); new ones take the new zone."""
    ana = patient(companion)
    old = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    companion.set_zone(ana.id, "America/New_York", NOW)
    new = companion.add_session(ana.id, wall("2026-03-11 10:00"), Kind.IV, NOW)
    assert [(s.id, s.zone) for s in companion.sessions(ana.id)] == [
        (old.id, BERLIN),
        (new.id, "America/New_York"),
    ]


def test_add_session_is_atomic_with_its_plan(
    companion: Companion, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If re-planning fails, the session is not stored either."""
    ana = patient(companion)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(companion.deliveries, "replace_plan", boom)
    with pytest.raises(RuntimeError):
        companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    assert companion.sessions(ana.id) == []
    assert not db.conn.in_transaction


def test_a_family_member_who_registers_becomes_a_patient_too(companion: Companion) -> None:
    """Their links stay; they can now add sessions of their own."""
    ana = patient(companion)
    token = companion.create_invite(ana.id, NOW)
    link_id, _ = companion.redeem_invite(token, 601, "Ben", NOW)
    ben = companion.approve_link(ana.id, link_id, NOW).person
    assert ben.role is Role.FAMILY
    again = companion.register_patient(601, "Ben", BERLIN, NOW)
    assert again.id == ben.id and again.role is Role.PATIENT
    assert [v.name for v in companion.linked_patients(ben.id)] == ["Ana"]
    companion.add_session(ben.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
