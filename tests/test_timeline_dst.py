"""The plan across DST changes: sessions and "the evening before at 20:00" keep their wall-clock
time, elapsed offsets keep their exact length, and a fall-back session keeps its chosen fold."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from messages.loader import load_timeline
from scheduler.localtime import NonexistentLocalTime, to_utc, utc_offset_label
from scheduler.model import FamilyLink, Kind, Person, PlannedDelivery, Role, Session
from scheduler.timeline import number_sessions, plan_deliveries

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
TIMELINE = load_timeline()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def person(zone: str, person_id: int = 1, role: Role = Role.PATIENT) -> Person:
    return Person(id=person_id, chat_id=100 + person_id, role=role, zone=zone, quiet=None)


def sessions_at(zone: str, *starts: str, fold: int = 0) -> list[Session]:
    return [
        Session(id=n, patient_id=1, local_start=local(text).replace(fold=fold), zone=zone)
        for n, text in enumerate(starts, start=1)
    ]


def local_times(
    deliveries: Sequence[PlannedDelivery], message_id: str, zone: str, recipient_id: int = 1
) -> list[str]:
    """The message's due times, read on the recipient's clock, with their UTC offsets."""
    return [
        item.due_at.astimezone(ZoneInfo(zone)).isoformat(sep=" ", timespec="minutes")
        for item in deliveries
        if item.message_id == message_id and item.recipient_id == recipient_id
    ]


def plan_for(zone: str, *starts: str, fold: int = 0) -> list[PlannedDelivery]:
    now = to_utc(local("2026-01-01 09:00"), zone)
    return plan_deliveries(person(zone), sessions_at(zone, *starts, fold=fold), [], TIMELINE, now)


@pytest.mark.parametrize(
    ("zone", "starts", "last_steps", "rest_up"),
    [
        (  # Berlin springs forward in the night to Sunday 29 March 2026
            BERLIN,
            ("2026-03-27 10:00", "2026-03-29 10:00", "2026-03-30 10:00"),
            ["2026-03-27 09:30+01:00", "2026-03-29 09:30+02:00", "2026-03-30 09:30+02:00"],
            ["2026-03-26 20:00+01:00", "2026-03-28 20:00+01:00", "2026-03-29 20:00+02:00"],
        ),
        (  # Berlin falls back in the night to Sunday 25 October 2026
            BERLIN,
            ("2026-10-24 10:00", "2026-10-25 10:00", "2026-10-26 10:00"),
            ["2026-10-24 09:30+02:00", "2026-10-25 09:30+01:00", "2026-10-26 09:30+01:00"],
            ["2026-10-23 20:00+02:00", "2026-10-24 20:00+02:00", "2026-10-25 20:00+01:00"],
        ),
        (  # New York springs forward on Sunday 8 March 2026
            NEW_YORK,
            ("2026-03-07 10:00", "2026-03-08 10:00", "2026-03-09 10:00"),
            ["2026-03-07 09:30-05:00", "2026-03-08 09:30-04:00", "2026-03-09 09:30-04:00"],
            ["2026-03-06 20:00-05:00", "2026-03-07 20:00-05:00", "2026-03-08 20:00-04:00"],
        ),
        (  # New York falls back on Sunday 1 November 2026
            NEW_YORK,
            ("2026-10-31 10:00", "2026-11-01 10:00", "2026-11-02 10:00"),
            ["2026-10-31 09:30-04:00", "2026-11-01 09:30-05:00", "2026-11-02 09:30-05:00"],
            ["2026-10-30 20:00-04:00", "2026-10-31 20:00-04:00", "2026-11-01 20:00-05:00"],
        ),
    ],
)
def test_sessions_and_the_evening_before_keep_their_local_time_across_dst(
    zone: str, starts: tuple[str, ...], last_steps: list[str], rest_up: list[str]
) -> None:
    """10:00 sessions stay 10:00 (so 'last steps' is 09:30) and 'rest up' stays 20:00."""
    deliveries = plan_for(zone, *starts)
    assert local_times(deliveries, "last_steps", zone) == last_steps
    assert local_times(deliveries, "rest_up", zone) == rest_up


def test_elapsed_offsets_are_exact_across_spring_forward() -> None:
    """A session at 01:00 CET lasts 100 minutes: it ends at 03:40 CEST on the clock."""
    deliveries = plan_for(BERLIN, "2026-03-29 01:00")
    start = to_utc(local("2026-03-29 01:00"), BERLIN)
    assert local_times(deliveries, "dont_drive", BERLIN) == ["2026-03-29 03:40+02:00"]
    assert local_times(deliveries, "use_the_window", BERLIN) == ["2026-03-29 05:40+02:00"]
    dont_drive = next(item for item in deliveries if item.message_id == "dont_drive")
    assert dont_drive.due_at - start == timedelta(minutes=100)
    assert dont_drive.deadline - dont_drive.due_at == timedelta(hours=6)


def test_elapsed_offsets_are_exact_across_fall_back() -> None:
    """A session at 01:30 CEST ends 100 minutes later, in the repeated hour: 02:10 CET."""
    deliveries = plan_for(BERLIN, "2026-10-25 01:30")
    start = to_utc(local("2026-10-25 01:30"), BERLIN)
    assert local_times(deliveries, "dont_drive", BERLIN) == ["2026-10-25 02:10+01:00"]
    dont_drive = next(item for item in deliveries if item.message_id == "dont_drive")
    assert dont_drive.due_at - start == timedelta(minutes=100)


def test_elapsed_offsets_are_exact_in_new_york_too() -> None:
    """01:00 EST + 100 min is 03:40 EDT; 00:30 EDT + 100 min is the second 01:10 (EST)."""
    deliveries = plan_for(NEW_YORK, "2026-03-08 01:00")
    assert local_times(deliveries, "dont_drive", NEW_YORK) == ["2026-03-08 03:40-04:00"]
    deliveries = plan_for(NEW_YORK, "2026-11-01 00:30")
    assert local_times(deliveries, "dont_drive", NEW_YORK) == ["2026-11-01 01:10-05:00"]


@pytest.mark.parametrize(
    ("zone", "start", "fold", "label", "last_steps"),
    [
        (BERLIN, "2026-10-25 02:30", 0, "UTC+02:00", "2026-10-25 02:00+02:00"),
        (BERLIN, "2026-10-25 02:30", 1, "UTC+01:00", "2026-10-25 02:00+01:00"),
        (NEW_YORK, "2026-11-01 01:30", 0, "UTC-04:00", "2026-11-01 01:00-04:00"),
        (NEW_YORK, "2026-11-01 01:30", 1, "UTC-05:00", "2026-11-01 01:00-05:00"),
    ],
)
def test_a_session_in_the_repeated_hour_keeps_its_fold(
    zone: str, start: str, fold: int, label: str, last_steps: str
) -> None:
    """The first occurrence by default, the second when chosen; labelled with its offset."""
    assert utc_offset_label(local(start), zone, fold) == label
    (numbered,) = number_sessions(sessions_at(zone, start, fold=fold))
    assert numbered.start == to_utc(local(start), zone, fold)
    deliveries = plan_for(zone, start, fold=fold)
    assert local_times(deliveries, "last_steps", zone) == [last_steps]


@pytest.mark.parametrize(
    ("zone", "start", "message"),
    [
        (BERLIN, "2026-03-29 02:30", "clocks jump from 02:00 to 03:00"),
        (NEW_YORK, "2026-03-08 02:30", "clocks jump from 02:00 to 03:00"),
    ],
)
def test_a_session_in_a_gap_is_rejected_when_entered(zone: str, start: str, message: str) -> None:
    """Entering the session (``to_utc``) explains the gap; the planner never sees such input."""
    with pytest.raises(NonexistentLocalTime, match=message):
        to_utc(local(start), zone)


def test_a_stored_session_that_a_tz_update_put_in_a_gap_still_plans() -> None:
    """Planning must not fail for a whole patient: the start moves to the end of the gap."""
    (numbered,) = number_sessions(sessions_at(BERLIN, "2026-03-29 02:30"))
    assert numbered.start == to_utc(local("2026-03-29 03:00"), BERLIN)


def test_family_in_new_york_between_the_two_spring_changes() -> None:
    """US clocks change three weeks before Europe's: a Berlin 10:00 session is 05:00 in New York
    (not 04:00); the ride offer stays at 18:00 and 'next day' at 10:00 on the relative's clock."""
    sessions = sessions_at(BERLIN, "2026-03-16 10:00")
    now = to_utc(local("2026-03-01 09:00"), BERLIN)
    uncle = Person(id=2, chat_id=102, role=Role.FAMILY, zone=NEW_YORK)
    deliveries = plan_deliveries(
        person(BERLIN), sessions, [FamilyLink(uncle, joined_at=now)], TIMELINE, now
    )
    assert local_times(deliveries, "family_ride", NEW_YORK, 2) == ["2026-03-15 18:00-04:00"]
    # ends 11:40 Berlin = 06:40 New York, inside their quiet hours: waits until 08:00
    assert local_times(deliveries, "family_today", NEW_YORK, 2) == ["2026-03-16 08:00-04:00"]
    assert local_times(deliveries, "family_next_day", NEW_YORK, 2) == ["2026-03-17 10:00-04:00"]


def test_nasal_session_duration_is_elapsed_time_across_dst() -> None:
    """A nasal session's two-hour observation ends two real hours later, not two clock hours."""
    zone = BERLIN
    now = to_utc(local("2026-01-01 09:00"), zone)
    nasal = [Session(1, 1, local("2026-10-25 01:30"), zone, kind=Kind.NASAL)]
    deliveries = plan_deliveries(person(zone), nasal, [], TIMELINE, now)
    assert local_times(deliveries, "dont_drive_nasal", zone) == ["2026-10-25 02:30+01:00"]
