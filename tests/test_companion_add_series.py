"""Companion.add_series (a repeat pattern in one step), Companion.overlaps, and place-only zones.

Real SQLite file per test (``companion`` and ``db`` fixtures). Issue 8.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduler.companion import Companion, NotAllowed, SessionRejected, ZoneRejected
from scheduler.model import Kind, Person
from scheduler.series import MAX_SERIES, series_dates
from scheduler.store.db import Database

# Sunday 1 March 2026, 10:00 in Berlin. Clocks there go forward on Sunday 29 March, 02:00->03:00.
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def wall(text: str) -> datetime:
    return datetime.fromisoformat(text)


def patient(companion: Companion, chat_id: int = 501) -> Person:
    return companion.register_patient(chat_id, "Ana", BERLIN, NOW)


def starts(companion: Companion, patient_id: int) -> list[datetime]:
    return [s.local_start for s in companion.sessions(patient_id)]


def count_replans(companion: Companion, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    replan = companion._replan

    def counted(patient_id: int, now: datetime) -> None:
        calls.append(patient_id)
        replan(patient_id, now)

    monkeypatch.setattr(companion, "_replan", counted)
    return calls


# -- the dates of a pattern ----------------------------------------------------------------------


def test_series_dates_include_the_first_and_follow_the_weekdays() -> None:
    assert series_dates(wall("2026-03-02 10:00"), (MON, WED, FRI), 6) == [
        wall("2026-03-02 10:00"),
        wall("2026-03-04 10:00"),
        wall("2026-03-06 10:00"),
        wall("2026-03-09 10:00"),
        wall("2026-03-11 10:00"),
        wall("2026-03-13 10:00"),
    ]
    # The first need not be on one of the weekdays.
    assert series_dates(wall("2026-03-03 09:30"), (MON,), 2) == [
        wall("2026-03-03 09:30"),
        wall("2026-03-09 09:30"),
    ]
    assert series_dates(wall("2026-03-03 09:30"), (), 1) == [wall("2026-03-03 09:30")]


@pytest.mark.parametrize(
    ("weekdays", "count"), [((MON,), 0), ((MON,), MAX_SERIES + 1), ((), 2), ((7,), 2)]
)
def test_series_dates_refuse_a_bad_pattern(weekdays: tuple[int, ...], count: int) -> None:
    with pytest.raises(ValueError):
        series_dates(wall("2026-03-02 10:00"), weekdays, count)


# -- add_series ----------------------------------------------------------------------------------


def test_add_series_adds_every_date_and_replans_once(
    companion: Companion, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = patient(companion)
    replans = count_replans(companion, monkeypatch)
    result = companion.add_series(
        ana.id, wall("2026-03-02 10:00"), Kind.IV, (MON, WED, FRI), 6, NOW
    )
    assert replans == [ana.id]
    assert result.skipped == () and result.booked is None
    assert [s.local_start for s in result.added] == series_dates(
        wall("2026-03-02 10:00"), (MON, WED, FRI), 6
    )
    assert all(s.kind is Kind.IV and s.zone == BERLIN for s in result.added)
    assert starts(companion, ana.id) == [s.local_start for s in result.added]
    planned = {
        row["session_id"]
        for row in db.conn.execute("SELECT session_id FROM deliveries WHERE session_id IS NOT NULL")
    }
    assert planned == {s.id for s in result.added}


def test_add_series_after_a_booked_session_skips_its_date_without_calling_it_skipped(
    companion: Companion,
) -> None:
    """Onboarding repeats the session just entered: that one is booked, the others are added."""
    ana = patient(companion)
    first = companion.add_session(ana.id, wall("2026-03-02 10:00"), Kind.NASAL, NOW)
    result = companion.add_series(
        ana.id,
        first.local_start,
        Kind.NASAL,
        (MON, THU),
        4,
        NOW,
        after_session_id=first.id,
    )
    assert result.booked is not None and result.booked.id == first.id
    assert result.skipped == ()
    assert [s.local_start for s in result.added] == [
        wall("2026-03-05 10:00"),
        wall("2026-03-09 10:00"),
        wall("2026-03-12 10:00"),
    ]
    assert len(companion.sessions(ana.id)) == 4


def test_a_spring_forward_night_inside_a_series_is_skipped_as_nonexistent(
    companion: Companion,
) -> None:
    """02:30 on Sunday 29 March 2026 does not exist in Berlin: that date alone is skipped."""
    ana = patient(companion)
    result = companion.add_series(ana.id, wall("2026-03-26 02:30"), Kind.IV, (THU, SUN), 4, NOW)
    assert [s.local_start for s in result.added] == [
        wall("2026-03-26 02:30"),
        wall("2026-04-02 02:30"),
        wall("2026-04-05 02:30"),
    ]
    assert len(result.skipped) == 1
    skipped = result.skipped[0]
    assert skipped.local_start == wall("2026-03-29 02:30")
    assert skipped.code == "nonexistent" and skipped.zone == BERLIN
    assert "clocks jump from 02:00 to 03:00" in skipped.detail


def test_add_series_says_which_dates_are_past_duplicate_or_too_far(companion: Companion) -> None:
    ana = patient(companion)
    companion.add_session(ana.id, wall("2026-03-08 08:00"), Kind.IV, NOW)
    # 08:00 today has passed (it is 10:00 in Berlin); next Sunday is already booked.
    result = companion.add_series(ana.id, wall("2026-03-01 08:00"), Kind.IV, (SUN,), 3, NOW)
    assert [(s.local_start, s.code) for s in result.skipped] == [
        (wall("2026-03-01 08:00"), "past"),
        (wall("2026-03-08 08:00"), "duplicate"),
    ]
    assert [s.local_start for s in result.added] == [wall("2026-03-15 08:00")]
    # Up to a year ahead is fine; the third Saturday is past it.
    later = companion.add_series(ana.id, wall("2027-02-20 10:00"), Kind.IV, (SAT,), 3, NOW)
    assert [s.local_start for s in later.added] == [
        wall("2027-02-20 10:00"),
        wall("2027-02-27 10:00"),
    ]
    assert [(s.local_start, s.code) for s in later.skipped] == [
        (wall("2027-03-06 10:00"), "too_far")
    ]


def test_add_series_with_nothing_to_add_changes_nothing(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = patient(companion)
    replans = count_replans(companion, monkeypatch)
    result = companion.add_series(ana.id, wall("2026-02-01 10:00"), Kind.IV, (SUN,), 2, NOW)
    assert result.added == () and [s.code for s in result.skipped] == ["past", "past"]
    assert replans == [] and companion.sessions(ana.id) == []


def test_add_series_is_one_transaction(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If re-planning fails, none of the dates is stored."""
    ana = patient(companion)

    def broken(patient_id: int, now: datetime) -> None:
        raise RuntimeError("planner failed")

    monkeypatch.setattr(companion, "_replan", broken)
    with pytest.raises(RuntimeError):
        companion.add_series(ana.id, wall("2026-03-02 10:00"), Kind.IV, (MON, WED, FRI), 6, NOW)
    monkeypatch.undo()
    assert companion.sessions(ana.id) == []


def test_add_series_refusals(companion: Companion) -> None:
    ana = patient(companion)
    bo = patient(companion, 502)
    bos = companion.add_session(bo.id, wall("2026-03-02 10:00"), Kind.IV, NOW)
    with pytest.raises(SessionRejected) as info:
        companion.add_series(
            ana.id, wall("2026-03-02 10:00"), Kind.IV, (MON,), 2, NOW, after_session_id=bos.id
        )
    assert info.value.code == "not_found"
    own = companion.add_session(ana.id, wall("2026-03-02 10:00"), Kind.IV, NOW)
    with pytest.raises(ValueError):  # the booked session is not the series' first date
        companion.add_series(
            ana.id, wall("2026-03-03 10:00"), Kind.IV, (MON,), 2, NOW, after_session_id=own.id
        )
    with pytest.raises(ValueError):
        companion.add_series(ana.id, wall("2026-03-03 10:00"), Kind.IV, (MON,), 0, NOW)
    with pytest.raises(ValueError):
        companion.add_series(
            ana.id, wall("2026-03-03 10:00").replace(tzinfo=UTC), Kind.IV, (MON,), 2, NOW
        )
    with pytest.raises(NotAllowed):
        companion.add_series(999, wall("2026-03-03 10:00"), Kind.IV, (MON,), 2, NOW)
    assert [s.id for s in companion.sessions(ana.id)] == [own.id]


# -- overlaps ------------------------------------------------------------------------------------


def test_two_sessions_30_minutes_apart_overlap(companion: Companion) -> None:
    """An infusion takes 100 minutes with observation: one starting 30 minutes later overlaps."""
    ana = patient(companion)
    first = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    second = companion.add_session(ana.id, wall("2026-03-10 10:30"), Kind.IV, NOW)
    elsewhere = companion.add_session(ana.id, wall("2026-03-12 10:00"), Kind.IV, NOW)
    assert [s.id for s in companion.overlaps(ana.id, first.id)] == [second.id]
    assert [s.id for s in companion.overlaps(ana.id, second.id)] == [first.id]
    assert companion.overlaps(ana.id, elsewhere.id) == []


def test_sessions_that_only_touch_do_not_overlap(companion: Companion) -> None:
    ana = patient(companion)
    first = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)  # to 11:40
    after = companion.add_session(ana.id, wall("2026-03-10 11:40"), Kind.IV, NOW)
    inside = companion.add_session(ana.id, wall("2026-03-10 11:39"), Kind.NASAL, NOW)
    assert [s.id for s in companion.overlaps(ana.id, first.id)] == [inside.id]
    assert [s.id for s in companion.overlaps(ana.id, after.id)] == [inside.id]


def test_overlaps_ignore_cancelled_and_other_peoples_sessions(companion: Companion) -> None:
    ana = patient(companion)
    bo = patient(companion, 502)
    mine = companion.add_session(ana.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    gone = companion.add_session(ana.id, wall("2026-03-10 10:30"), Kind.IV, NOW)
    companion.cancel_session(ana.id, gone.id, NOW)
    companion.add_session(bo.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    assert companion.overlaps(ana.id, mine.id) == []
    with pytest.raises(SessionRejected) as info:
        companion.overlaps(bo.id, mine.id)
    assert info.value.code == "not_found"


# -- zones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone", ["EST", "CET", "GMT", "UTC", "Etc/GMT+1", "EST5EDT", "US/Eastern", "Asia/Calcutta"]
)
def test_a_zone_that_is_no_place_is_refused_with_its_own_code(
    companion: Companion, zone: str
) -> None:
    with pytest.raises(ZoneRejected) as info:
        companion.register_patient(502, "Bo", zone, NOW)
    assert info.value.code == "not_a_region"
    assert companion.person_by_chat(502) is None
    ana = patient(companion)
    with pytest.raises(ZoneRejected) as info:
        companion.set_zone(ana.id, zone, NOW)
    assert info.value.code == "not_a_region"
    assert companion.person(ana.id) == ana


def test_an_old_alias_refusal_names_the_place(companion: Companion) -> None:
    with pytest.raises(ZoneRejected) as info:
        companion.register_patient(502, "Bo", "US/Eastern", NOW)
    assert "America/New_York" in info.value.detail


def test_an_unknown_zone_keeps_its_code(companion: Companion) -> None:
    with pytest.raises(ZoneRejected) as info:
        companion.register_patient(502, "Bo", "Mars/Olympus", NOW)
    assert info.value.code == "unknown_zone"
