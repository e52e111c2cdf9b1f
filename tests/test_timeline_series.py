"""Series-wide messages and numbering belong to a series, not to the patient: planner tables.

Rows read like ``tests/test_timeline.py``'s, plus the session's place in its series
(``s7 2/6``). Only series-wide messages and ``if_worse`` (after session 2 of each series) are
shown, since the per-session messages do not depend on series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.model import Kind, Person, PlannedDelivery, Role, Series, Session
from scheduler.timeline import number_sessions, plan_deliveries, starts_new_series
from tests.test_timeline import BERLIN, IV_STARTS, TIMELINE, at, local, table

PATIENT = Person(id=1, chat_id=101, role=Role.PATIENT, zone=BERLIN)
SERIES_WIDE = {"provider_first", "keep_building", "if_worse"}
NOW = at("2026-11-16 09:00")


def sessions_in(series_id: int, starts: Sequence[str], *, first_id: int = 1) -> list[Session]:
    return [
        Session(
            id=n,
            patient_id=1,
            local_start=local(text),
            zone=BERLIN,
            kind=Kind.IV,
            series_id=series_id,
        )
        for n, text in enumerate(starts, start=first_id)
    ]


def plan(
    sessions: Sequence[Session], series: Sequence[Series], now: datetime = NOW
) -> list[PlannedDelivery]:
    return plan_deliveries(PATIENT, sessions, [], TIMELINE, now, series=series)


def rows(
    deliveries: Sequence[PlannedDelivery],
    sessions: Sequence[Session],
    series: Sequence[Series],
) -> list[str]:
    """Series-wide rows with the anchor session's ``n/N`` and the key's series part."""
    numbered = {slot.session.id: slot for slot in number_sessions(sessions, series)}
    out = []
    for item in deliveries:
        if item.message_id not in SERIES_WIDE:
            continue
        when = item.due_at.astimezone(ZoneInfo(BERLIN))
        assert item.session_id is not None
        slot = numbered[item.session_id]
        key = item.key.split(":")[0] if item.key.startswith("series") else "-"
        place = f"s{item.session_id} {slot.number}/{slot.series_length}"
        out.append(f"{when:%a %Y-%m-%d %H:%M} {place} {item.message_id} {key}")
    return out


SERIES = (Series(id=7, patient_id=1, planned=6),)


def test_one_session_of_six_gets_the_provider_note_but_no_keep_building() -> None:
    """Session 1 of a six-session series entered alone: the series is not over after it."""
    first = sessions_in(7, IV_STARTS[:1])
    deliveries = plan(first, SERIES)
    assert rows(deliveries, first, SERIES) == table("""
        Sat 2026-11-28 10:00  s1 1/6  provider_first  series7
    """)


def test_keep_building_comes_after_the_sixth_session() -> None:
    """Once all six are entered, the end-of-series message follows the last, keyed by series."""
    six = sessions_in(7, IV_STARTS)
    deliveries = plan(six, SERIES)
    assert rows(deliveries, six, SERIES) == table("""
        Sat 2026-11-28 10:00  s1 1/6  provider_first  series7
        Thu 2026-12-03 17:00  s2 2/6  if_worse        -
        Sat 2026-12-12 11:00  s6 6/6  keep_building   series7
    """)
    assert {item.key for item in deliveries if item.message_id == "keep_building"} == {
        "series7:keep_building:p1"
    }


def test_five_of_six_is_not_the_end_and_each_count_on_the_way_says_of_six() -> None:
    """Entered one at a time, no count short of six plans the end message."""
    for count in range(1, 6):
        some = sessions_in(7, IV_STARTS[:count])
        deliveries = plan(some, SERIES)
        assert "keep_building" not in {item.message_id for item in deliveries}, count
        assert [slot.series_length for slot in number_sessions(some, SERIES)] == [6] * count


BOOSTER_STARTS = ["2027-02-01 10:00", "2027-02-03 10:00"]


def test_a_booster_series_two_months_later_gets_its_own_notes_and_numbering() -> None:
    """The booster (series 9, two sessions planned) has its own provider note two days before
    it, its own 'if worse' after its session 2, its own end, and numbers from 1 again."""
    first = sessions_in(7, IV_STARTS)
    booster = sessions_in(9, BOOSTER_STARTS, first_id=7)
    series = (*SERIES, Series(id=9, patient_id=1, planned=2))
    deliveries = plan(first + booster, series)
    assert rows(deliveries, first + booster, series) == table("""
        Sat 2026-11-28 10:00  s1 1/6  provider_first  series7
        Thu 2026-12-03 17:00  s2 2/6  if_worse        -
        Sat 2026-12-12 11:00  s6 6/6  keep_building   series7
        Sat 2027-01-30 10:00  s7 1/2  provider_first  series9
        Thu 2027-02-04 11:00  s8 2/2  keep_building   series9
        Thu 2027-02-04 17:00  s8 2/2  if_worse        -
    """)


def test_adding_past_planned_extends_the_series() -> None:
    """Three entered in a series planned at two: 'of 3', and the end follows the third."""
    three = sessions_in(7, IV_STARTS[:3])
    short = (Series(id=7, patient_id=1, planned=2),)
    numbered = number_sessions(three, short)
    assert [(slot.number, slot.series_length) for slot in numbered] == [(1, 3), (2, 3), (3, 3)]
    end = [item for item in plan(three, short) if item.message_id == "keep_building"]
    assert [(item.session_id, item.key) for item in end] == [(3, "series7:keep_building:p1")]


def test_sessions_without_a_series_keep_the_per_patient_keys_and_count() -> None:
    """Sessions stored before series existed form the patient's one series, keyed by the
    patient's id and as long as entered: the plan migration 4 must not change. A migrated
    series (id = patient id, planned = the count) plans exactly the same rows."""
    legacy = [
        Session(id=n, patient_id=1, local_start=local(text), zone=BERLIN)
        for n, text in enumerate(IV_STARTS[:2], start=1)
    ]
    migrated = [
        Session(id=n, patient_id=1, local_start=local(text), zone=BERLIN, series_id=1)
        for n, text in enumerate(IV_STARTS[:2], start=1)
    ]
    before = plan_deliveries(PATIENT, legacy, [], TIMELINE, NOW)
    after = plan(migrated, [Series(id=1, patient_id=1, planned=2)])
    assert after == before
    assert {item.key for item in after if item.key.startswith("series")} == {
        "series1:provider_first:p1",
        "series1:keep_building:p1",
    }


def test_the_gap_rule_is_more_than_28_days_after_the_last_session() -> None:
    """28 days to the minute joins the series; a minute more starts a new one; none: reuse."""
    last = at("2026-12-11 10:00")
    assert not starts_new_series(last, at("2027-01-08 10:00"))
    assert starts_new_series(last, at("2027-01-08 10:01"))
    assert not starts_new_series(None, at("2027-06-01 10:00"))
