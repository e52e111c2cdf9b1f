"""Sessions repository: wall-clock storage, fold, ordering by instant across zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.localtime import session_start
from scheduler.model import Kind, Role, Series
from scheduler.store.db import Database
from scheduler.store.people import People
from scheduler.store.sessions import Sessions

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def wall(text: str) -> datetime:
    """A naive wall-clock time, as a patient types it."""
    return datetime.fromisoformat(text)


def _patient(db: Database) -> int:
    return People(db).create(501, Role.PATIENT, "Ana", "Europe/Berlin", NOW).id


def test_add_get_round_trip_keeps_fold_and_duration(db: Database) -> None:
    """The naive start, its fold, zone, kind and duration come back as entered."""
    sessions = Sessions(db)
    pid = _patient(db)
    local = wall("2026-10-25 02:30")
    added = sessions.add(
        pid, local, "Europe/Berlin", Kind.NASAL, NOW, fold=1, duration=timedelta(minutes=150)
    )
    assert sessions.get(added.id) == added
    assert added.local_start == local and added.local_start.fold == 1
    assert added.duration == timedelta(minutes=150) and added.kind is Kind.NASAL
    assert session_start(added) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_active_orders_by_instant_not_by_wall_clock_or_id(db: Database) -> None:
    """10:00 in New York comes after 12:00 in Berlin on the same day."""
    sessions = Sessions(db)
    pid = _patient(db)
    new_york = sessions.add(pid, wall("2026-04-02 10:00"), "America/New_York", Kind.IV, NOW)
    berlin = sessions.add(pid, wall("2026-04-02 12:00"), "Europe/Berlin", Kind.IV, NOW)
    earlier = sessions.add(pid, wall("2026-04-01 12:00"), "Europe/Berlin", Kind.IV, NOW)
    assert [s.id for s in sessions.active(pid)] == [earlier.id, berlin.id, new_york.id]


def test_move_and_cancel(db: Database) -> None:
    """A moved session reads its new start; a cancelled one leaves the active list."""
    sessions = Sessions(db)
    pid = _patient(db)
    session = sessions.add(pid, wall("2026-04-01 12:00"), "Europe/Berlin", Kind.IV, NOW)
    sessions.move(session.id, wall("2026-04-03 09:15"), "Europe/Berlin")
    moved = sessions.get(session.id)
    assert moved is not None and moved.local_start == wall("2026-04-03 09:15")
    sessions.cancel(session.id)
    assert sessions.get(session.id) is None
    assert sessions.get(session.id, active_only=False) is not None
    assert sessions.active(pid) == []
    assert [status for _, status in sessions.all(pid)] == ["cancelled"]


def test_series_repository_and_a_session_s_series_round_trip(db: Database) -> None:
    """Series ids only grow; the current series is the latest; a session keeps its series."""
    sessions = Sessions(db)
    pid = _patient(db)
    assert sessions.series.current(pid) is None
    first = sessions.series.create(pid, NOW)
    second = sessions.series.create(pid, NOW, planned=3)
    assert (first.planned, second.planned) == (6, 3) and second.id > first.id
    assert sessions.series.current(pid) == second
    assert sessions.series.of_patient(pid) == [first, second]
    sessions.series.set_planned(first.id, 8)
    assert sessions.series.get(first.id) == Series(id=first.id, patient_id=pid, planned=8)
    added = sessions.add(pid, wall("2026-04-01 12:00"), "Europe/Berlin", Kind.IV, NOW)
    assert added.series_id is None and added.series_ref == pid
    sessions.set_series(added.id, second.id)
    placed = sessions.get(added.id)
    assert placed is not None and placed.series_id == second.id == placed.series_ref
    other = sessions.add(
        pid, wall("2026-04-03 12:00"), "Europe/Berlin", Kind.IV, NOW, series_id=first.id
    )
    assert sessions.get(other.id) == other and other.series_id == first.id
