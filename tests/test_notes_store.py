"""The between-sessions record on a real SQLite file: wins by local day, answers replaced on a
second tap, "I noticed" kept once, the given-back facts, and switched-off messages never sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from messages import Catalog, load_catalog
from scheduler.companion import Companion, NoteRejected, NoticeOutcome
from scheduler.dispatch import Dispatcher
from scheduler.model import Kind
from scheduler.store.db import Database
from scheduler.store.deliveries import Deliveries
from tests.fakes import FakeRenderer, FakeSender

NOW = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # Tuesday morning in Tokyo, Monday in Berlin


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def companion(tmp_path: Path, catalog: Catalog) -> Companion:
    return Companion(Database(tmp_path / "companion.db"), catalog.timeline)


def test_a_win_is_filed_under_the_patients_own_day_as_one_line(companion: Companion) -> None:
    tokyo = companion.register_patient(1, "Aki", "Asia/Tokyo", NOW)
    berlin = companion.register_patient(2, "Ben", "Europe/Berlin", NOW)
    assert companion.note_win(tokyo.id, "  tidied\n the desk ", NOW).day.isoformat() == "2026-12-01"
    assert companion.note_win(berlin.id, "called mum", NOW).day.isoformat() == "2026-11-30"
    assert [w.text for w in companion.wins(tokyo.id)] == ["tidied the desk"]
    for bad, code in (("   ", "empty"), ("x" * 281, "too_long")):
        with pytest.raises(NoteRejected) as caught:
            companion.note_win(tokyo.id, bad, NOW)
        assert caught.value.code == code
    assert len(companion.wins(tokyo.id)) == 1


def test_given_back_counts_the_wins_and_names_the_latest(companion: Companion) -> None:
    patient = companion.register_patient(1, "Aki", "Europe/Berlin", NOW)
    assert companion.notes.given_back(patient.id) == (0, None)
    companion.note_win(patient.id, "went outside", NOW)
    companion.note_win(patient.id, "cooked", NOW + timedelta(hours=1))
    assert companion.notes.given_back(patient.id) == (2, "cooked")


def test_noticed_is_kept_only_when_on_and_only_once(companion: Companion) -> None:
    patient = companion.register_patient(1, "Ann", "Europe/Berlin", NOW)
    link_id, _ = companion.redeem_invite(companion.create_invite(patient.id, NOW), 2, "Bo", NOW)
    family = companion.approve_link(patient.id, link_id, NOW).person
    off = companion.notice(family.id, patient.id, "smiled", NOW)
    assert (off.outcome, off.noticed) == (NoticeOutcome.KEPT_PRIVATE, None)
    assert companion.notes.noticed_for(patient.id) == []
    companion.set_family_notes(patient.id, True, NOW)
    on = companion.notice(family.id, patient.id, "smiled", NOW)
    assert on.outcome is NoticeOutcome.PASSED_ON and on.noticed is not None
    stranger = companion.register_patient(3, "Cy", "Europe/Berlin", NOW)
    assert companion.notice(stranger.id, patient.id, "x", NOW).outcome is NoticeOutcome.NOT_LINKED
    assert companion.keep_noticed(stranger.id, on.noticed.id, NOW) is None  # not theirs
    kept = companion.keep_noticed(patient.id, on.noticed.id, NOW)
    assert kept is not None and (kept.text, kept.from_name) == ("smiled", "Bo")
    assert companion.keep_noticed(patient.id, on.noticed.id, NOW) is None
    assert len(companion.wins(patient.id)) == 1


async def test_a_switched_off_message_planned_earlier_is_cancelled_not_sent(
    tmp_path: Path, catalog: Catalog
) -> None:
    db = Database(tmp_path / "companion.db")
    try:
        companion = Companion(db, catalog.timeline)  # planned while the checklist was on
        start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
        patient = companion.register_patient(1, "Ann", "Europe/Berlin", start)
        companion.add_session(patient.id, datetime(2026, 12, 2, 10, 0), Kind.IV, start)  # noqa: DTZ001
        sender = FakeSender()
        dispatcher = Dispatcher(
            db,
            FakeRenderer(),
            sender,
            crisis_line="988",
            switched_off=frozenset({"checklist"}),
            chat_interval=timedelta(0),  # both rows to the one chat are judged in this run
        )
        evening = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)  # 20:00 in Berlin
        await dispatcher.dispatch_due(evening)
        rows = {r.message_id: r for r in Deliveries(db).for_person(patient.id)}
        assert (rows["checklist"].status.value, rows["checklist"].reason) == (
            "cancelled",
            "switched_off",
        )
        assert rows["rest_up"].status.value == "sent"
        assert all("checklist" not in m.text for m in sender.sent)
    finally:
        db.close()


def test_the_check_in_comes_in_the_evening_never_during_an_evening_session(
    catalog: Catalog,
) -> None:
    """19:30 after a morning session; at the end of one that runs past 19:30; skipped when the
    session ends in quiet hours or after 23:00 (nothing is sent the next morning)."""
    from scheduler.model import Person, Role, Session
    from scheduler.timeline import plan_deliveries

    patient = Person(id=1, chat_id=1, role=Role.PATIENT, zone="Europe/Berlin")
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def checkin(local: str) -> tuple[str, str | None]:
        session = Session(
            id=1, patient_id=1, local_start=datetime.fromisoformat(local), zone="Europe/Berlin"
        )
        planned = plan_deliveries(patient, [session], [], catalog.timeline, start)
        row = next(p for p in planned if p.message_id == "checkin")
        return f"{row.due_at:%H:%M}", row.reason

    assert checkin("2026-12-01 10:00") == ("18:30", None)  # 19:30 in Berlin
    assert checkin("2026-12-01 18:30") == ("19:10", None)  # the end: 20:10 in Berlin
    assert checkin("2026-12-01 20:00")[1] == "quiet_hours"  # ends 21:40, in quiet hours
    assert checkin("2026-12-01 21:30")[1] == "expired"  # ends after 23:00
