"""Series on a real SQLite file: which series a session joins, its length, and its messages."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from messages.catalog import TimelineEntry, Wording
from scheduler.companion import Companion, SessionRejected
from scheduler.model import Kind, Person
from scheduler.store.db import Database
from scheduler.store.sessions import Sessions
from tests.test_store_migrations import _database_at_version

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"
SIX = [
    "2026-11-30 10:00",
    "2026-12-02 10:00",
    "2026-12-04 10:00",
    "2026-12-07 10:00",
    "2026-12-09 10:00",
    "2026-12-11 10:00",
]


def wall(text: str) -> datetime:
    return datetime.fromisoformat(text)


def patient(companion: Companion) -> Person:
    return companion.register_patient(501, "Ana", BERLIN, NOW)


def rows(db: Database, message_id: str) -> list[dict[str, Any]]:
    found = db.conn.execute(
        "SELECT * FROM deliveries WHERE message_id = ? ORDER BY due_at, id", (message_id,)
    ).fetchall()
    return [dict(row) for row in found]


def test_sessions_added_one_at_a_time_get_keep_building_only_after_the_sixth(
    companion: Companion, db: Database
) -> None:
    """The day after session 1 of 6 the series is not complete; after session 6 it is."""
    ana = patient(companion)
    added = []
    for count, start in enumerate(SIX, start=1):
        added.append(companion.add_session(ana.id, wall(start), Kind.IV, NOW))
        if count < 6:
            assert rows(db, "keep_building") == [], count
    series = companion.current_series(ana.id)
    assert series is not None and series.planned == 6
    assert {session.series_id for session in added} == {series.id}
    (end,) = rows(db, "keep_building")
    assert (end["key"], end["session_id"], end["status"]) == (
        f"series{series.id}:keep_building:p{ana.id}",
        added[-1].id,
        "pending",
    )
    (provider,) = rows(db, "provider_first")
    assert provider["key"] == f"series{series.id}:provider_first:p{ana.id}"
    assert companion.session_numbering(ana.id)[added[0].id] == (1, 6)


def test_a_booster_series_two_months_later_has_its_own_provider_note_and_numbering(
    companion: Companion, db: Database
) -> None:
    """More than 28 days after the last session a new series starts: its own talk-to-your-
    provider note, its own numbering, its own end; the first series keeps its messages."""
    ana = patient(companion)
    first = [companion.add_session(ana.id, wall(start), Kind.IV, NOW) for start in SIX]
    booster = companion.add_session(ana.id, wall("2027-02-01 10:00"), Kind.IV, NOW)
    second = companion.current_series(ana.id)
    assert second is not None and second.id != first[0].series_id and second.planned == 6
    assert booster.series_id == second.id
    nearby = companion.add_session(ana.id, wall("2027-02-03 10:00"), Kind.IV, NOW)
    assert nearby.series_id == second.id  # two days later: the same series
    numbering = companion.session_numbering(ana.id)
    assert numbering[first[-1].id] == (6, 6)
    assert (numbering[booster.id], numbering[nearby.id]) == ((1, 6), (2, 6))
    providers = {row["key"]: row["session_id"] for row in rows(db, "provider_first")}
    assert providers == {
        f"series{first[0].series_id}:provider_first:p{ana.id}": first[0].id,
        f"series{second.id}:provider_first:p{ana.id}": booster.id,
    }
    # Two of six booster sessions: only the first series has ended.
    assert [row["session_id"] for row in rows(db, "keep_building")] == [first[-1].id]
    companion.set_series_length(ana.id, 2, NOW)
    ends = [row["session_id"] for row in rows(db, "keep_building")]
    assert ends == [first[-1].id, nearby.id]
    assert companion.session_numbering(ana.id)[nearby.id] == (2, 2)


def test_adding_past_planned_extends_the_series(companion: Companion, db: Database) -> None:
    """Planned at two, a third session makes it three: 'of 3', and the end moves after it
    under the same key (a re-plan, not a second message)."""
    ana = patient(companion)
    companion.set_series_length(ana.id, 2, NOW)
    one, two = (companion.add_session(ana.id, wall(start), Kind.IV, NOW) for start in SIX[:2])
    (end,) = rows(db, "keep_building")
    assert end["session_id"] == two.id
    three = companion.add_session(ana.id, wall(SIX[2]), Kind.IV, NOW)
    series = companion.current_series(ana.id)
    assert series is not None and series.planned == 3
    assert companion.session_numbering(ana.id) == {one.id: (1, 3), two.id: (2, 3), three.id: (3, 3)}
    (moved,) = rows(db, "keep_building")
    assert (moved["key"], moved["session_id"]) == (end["key"], three.id)


def test_set_series_length_before_any_session_and_its_refusals(
    companion: Companion, db: Database
) -> None:
    """The onboarding answer can come first: the series exists with that length and the first
    session joins it. Out of range or shorter than what is entered is refused with a code."""
    ana = patient(companion)
    assert companion.current_series(ana.id) is None
    series = companion.set_series_length(ana.id, 4, NOW)
    assert (series.planned, companion.current_series(ana.id)) == (4, series)
    sessions = [companion.add_session(ana.id, wall(start), Kind.IV, NOW) for start in SIX[:3]]
    assert {session.series_id for session in sessions} == {series.id}
    assert companion.session_numbering(ana.id)[sessions[0].id] == (1, 4)
    for count, code in ((0, "series_length"), (25, "series_length"), (2, "fewer_than_entered")):
        with pytest.raises(SessionRejected) as info:
            companion.set_series_length(ana.id, count, NOW)
        assert info.value.code == code
    assert companion.current_series(ana.id) == series
    assert companion.set_series_length(ana.id, 3, NOW).planned == 3
    assert [row["session_id"] for row in rows(db, "keep_building")] == [sessions[-1].id]


def test_set_series_length_long_after_the_last_session_starts_the_next_series(
    companion: Companion,
) -> None:
    """When any session added now would open a new series, the length is for that one."""
    ana = patient(companion)
    old = companion.add_session(ana.id, wall(SIX[0]), Kind.IV, NOW)
    later = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)  # 41 days after it
    booster = companion.set_series_length(ana.id, 3, later)
    assert booster.id != old.series_id and booster.planned == 3
    session = companion.add_session(ana.id, wall("2027-01-20 10:00"), Kind.IV, later)
    assert session.series_id == booster.id
    assert companion.session_numbering(ana.id)[session.id] == (1, 3)


def test_a_session_stored_without_a_series_joins_one_at_the_next_replan(
    companion: Companion, db: Database
) -> None:
    """A path that stores sessions without choosing a series still gets series-wide messages
    right: the re-plan puts each such session in a series by the same rule."""
    ana = patient(companion)
    stray = Sessions(db).add(ana.id, wall(SIX[0]), BERLIN, Kind.IV, NOW)
    assert stray.series_id is None
    companion.set_wording(ana.id, Wording.DISCREET, NOW)
    placed = companion.session(ana.id, stray.id)
    series = companion.current_series(ana.id)
    assert placed is not None and series is not None and placed.series_id == series.id
    assert rows(db, "provider_first")[0]["key"] == f"series{series.id}:provider_first:p{ana.id}"


def test_migrated_series_keep_their_keys_and_sent_messages_are_not_planned_again(
    tmp_path: Path, timeline: tuple[TimelineEntry, ...]
) -> None:
    """A patient from before migration 4: their series has their id, so the stored
    ``series{patient id}`` keys are the keys the planner makes; a sent provider note is not
    planned twice, and a session added days later joins that series (and extends it)."""
    path = tmp_path / "v3.db"
    _database_at_version(path, 3)  # patient 1, Ana, Berlin
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "INSERT INTO sessions (patient_id, local_start, zone, kind, created_at)"
        " VALUES (1, '2026-11-30T10:00', 'Europe/Berlin', 'iv', '2026-11-01T09:00:00+00:00')"
    )
    conn.execute(
        "INSERT INTO deliveries (key, patient_id, recipient_id, session_id, message_id, due_at,"
        " deadline, status) VALUES ('series1:provider_first:p1', 1, 1, 1, 'provider_first',"
        " '2026-11-28T09:00:00.000000+00:00', '2026-11-30T07:00:00.000000+00:00', 'sent')"
    )
    conn.close()
    db = Database(path)
    try:
        companion = Companion(db, timeline)
        added = companion.add_session(1, wall(SIX[1]), Kind.IV, NOW)
        assert added.series_id == 1
        series = companion.current_series(1)
        assert series is not None and (series.id, series.planned) == (1, 2)
        keys = [row["key"] for row in rows(db, "provider_first")]
        assert keys == ["series1:provider_first:p1"]
        assert rows(db, "provider_first")[0]["status"] == "sent"
        (end,) = rows(db, "keep_building")
        assert (end["key"], end["session_id"]) == ("series1:keep_building:p1", added.id)
        assert companion.session_numbering(1) == {1: (1, 2), added.id: (2, 2)}
    finally:
        db.close()
