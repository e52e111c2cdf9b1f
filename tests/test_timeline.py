"""The planner's output as readable tables: every message, its local time and its recipient.

Rows read ``<weekday> <local date> <local time> <UTC offset>  <recipient>  <session>  <message>``
(and ``SKIPPED <reason>`` when the plan already knows it cannot be sent). Local times are in the
recipient's zone. The timing comes from the real ``messages/timeline.toml``: a change there is a
clinical decision and should show up here as a diff.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from messages.catalog import TimelineEntry
from messages.loader import load_timeline
from scheduler.localtime import to_utc
from scheduler.model import (
    DeliveryStatus,
    FamilyLink,
    Kind,
    Person,
    PlannedDelivery,
    QuietHours,
    Role,
    Session,
)
from scheduler.timeline import plan_deliveries

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
TIMELINE = load_timeline()


def patient(zone: str = BERLIN, **changes: object) -> Person:
    return Person(id=1, chat_id=101, role=Role.PATIENT, zone=zone, **changes)  # type: ignore[arg-type]


def relative(zone: str = BERLIN, person_id: int = 2, **changes: object) -> Person:
    return Person(id=person_id, chat_id=100 + person_id, role=Role.FAMILY, zone=zone, **changes)  # type: ignore[arg-type]


def local(text: str) -> datetime:
    """A naive wall-clock time from ``YYYY-MM-DD HH:MM``."""
    return datetime.fromisoformat(text)


def at(text: str, zone: str = BERLIN) -> datetime:
    """An aware UTC instant from a wall-clock time in ``zone``."""
    return to_utc(local(text), zone)


def series(starts: Sequence[str], kind: Kind = Kind.IV, zone: str = BERLIN) -> list[Session]:
    """Sessions numbered by id 1..N in the order given."""
    return [
        Session(id=n, patient_id=1, local_start=local(text), zone=zone, kind=kind)
        for n, text in enumerate(starts, start=1)
    ]


def plan(
    sessions: Sequence[Session],
    now: datetime,
    *,
    who: Person | None = None,
    family: Sequence[FamilyLink] = (),
    timeline: Sequence[TimelineEntry] = TIMELINE,
) -> list[PlannedDelivery]:
    return plan_deliveries(who or patient(), sessions, family, timeline, now)


def rows(deliveries: Sequence[PlannedDelivery], people: Sequence[Person]) -> list[str]:
    """Each delivery as a table row, in the recipient's zone (session ids are session numbers)."""
    by_id = {person.id: person for person in people}
    out = []
    for item in deliveries:
        person = by_id[item.recipient_id]
        when = item.due_at.astimezone(ZoneInfo(person.zone))
        offset = when.isoformat()[-6:]
        who = person.role.value if len(people) <= 2 else f"{person.role.value}{person.id}"
        session = "-" if item.session_id is None else f"s{item.session_id}"
        row = f"{when:%a %Y-%m-%d %H:%M} {offset} {who} {session} {item.message_id}"
        if item.status is DeliveryStatus.SKIPPED:
            row += f" SKIPPED {item.reason}"
        out.append(row)
    return out


def table(text: str) -> list[str]:
    """A literal table: one row a line, columns separated by any run of spaces."""
    return [" ".join(line.split()) for line in dedent(text).strip().splitlines()]


IV_STARTS = [
    "2026-11-30 10:00",  # Mon
    "2026-12-02 10:00",  # Wed
    "2026-12-04 10:00",  # Fri
    "2026-12-07 10:00",
    "2026-12-09 10:00",
    "2026-12-11 10:00",
]

IV_SERIES_WITH_FAMILY = """
    Mon 2026-11-16 09:00 +01:00  family   -   family_welcome
    Sat 2026-11-28 10:00 +01:00  patient  s1  provider_first
    Sun 2026-11-29 18:00 +01:00  family   s1  family_ride
    Sun 2026-11-29 19:30 +01:00  patient  s1  ride_unclaimed
    Sun 2026-11-29 20:00 +01:00  patient  s1  rest_up
    Sun 2026-11-29 20:00 +01:00  patient  s1  checklist
    Mon 2026-11-30 08:00 +01:00  patient  s1  calm_start
    Mon 2026-11-30 09:30 +01:00  patient  s1  last_steps
    Mon 2026-11-30 11:40 +01:00  patient  s1  dont_drive
    Mon 2026-11-30 11:40 +01:00  family   s1  family_today
    Mon 2026-11-30 13:40 +01:00  patient  s1  use_the_window
    Mon 2026-11-30 19:30 +01:00  patient  s1  checkin
    Tue 2026-12-01 09:00 +01:00  patient  s1  function_first
    Tue 2026-12-01 10:00 +01:00  family   s1  family_next_day
    Tue 2026-12-01 18:00 +01:00  family   s2  family_ride
    Tue 2026-12-01 19:30 +01:00  patient  s2  ride_unclaimed
    Tue 2026-12-01 20:00 +01:00  patient  s2  rest_up
    Tue 2026-12-01 20:00 +01:00  patient  s2  checklist
    Wed 2026-12-02 08:00 +01:00  patient  s2  calm_start
    Wed 2026-12-02 09:30 +01:00  patient  s2  last_steps
    Wed 2026-12-02 11:40 +01:00  patient  s2  dont_drive
    Wed 2026-12-02 11:40 +01:00  family   s2  family_today
    Wed 2026-12-02 13:40 +01:00  patient  s2  use_the_window
    Wed 2026-12-02 19:30 +01:00  patient  s2  checkin
    Thu 2026-12-03 09:00 +01:00  patient  s2  function_first
    Thu 2026-12-03 10:00 +01:00  family   s2  family_next_day
    Thu 2026-12-03 17:00 +01:00  patient  s2  if_worse
    Thu 2026-12-03 18:00 +01:00  family   s3  family_ride
    Thu 2026-12-03 19:30 +01:00  patient  s3  ride_unclaimed
    Thu 2026-12-03 20:00 +01:00  patient  s3  rest_up
    Thu 2026-12-03 20:00 +01:00  patient  s3  checklist
    Fri 2026-12-04 08:00 +01:00  patient  s3  calm_start
    Fri 2026-12-04 09:30 +01:00  patient  s3  last_steps
    Fri 2026-12-04 11:40 +01:00  patient  s3  dont_drive
    Fri 2026-12-04 11:40 +01:00  family   s3  family_today
    Fri 2026-12-04 13:40 +01:00  patient  s3  use_the_window
    Fri 2026-12-04 19:30 +01:00  patient  s3  checkin
    Sat 2026-12-05 09:00 +01:00  patient  s3  function_first
    Sat 2026-12-05 10:00 +01:00  family   s3  family_next_day
    Sun 2026-12-06 18:00 +01:00  family   s4  family_ride
    Sun 2026-12-06 19:30 +01:00  patient  s4  ride_unclaimed
    Sun 2026-12-06 20:00 +01:00  patient  s4  rest_up
    Sun 2026-12-06 20:00 +01:00  patient  s4  checklist
    Mon 2026-12-07 08:00 +01:00  patient  s4  calm_start
    Mon 2026-12-07 09:30 +01:00  patient  s4  last_steps
    Mon 2026-12-07 11:40 +01:00  patient  s4  dont_drive
    Mon 2026-12-07 11:40 +01:00  family   s4  family_today
    Mon 2026-12-07 13:40 +01:00  patient  s4  use_the_window
    Mon 2026-12-07 19:30 +01:00  patient  s4  checkin
    Tue 2026-12-08 09:00 +01:00  patient  s4  function_first
    Tue 2026-12-08 10:00 +01:00  family   s4  family_next_day
    Tue 2026-12-08 18:00 +01:00  family   s5  family_ride
    Tue 2026-12-08 19:30 +01:00  patient  s5  ride_unclaimed
    Tue 2026-12-08 20:00 +01:00  patient  s5  rest_up
    Tue 2026-12-08 20:00 +01:00  patient  s5  checklist
    Wed 2026-12-09 08:00 +01:00  patient  s5  calm_start
    Wed 2026-12-09 09:30 +01:00  patient  s5  last_steps
    Wed 2026-12-09 11:40 +01:00  patient  s5  dont_drive
    Wed 2026-12-09 11:40 +01:00  family   s5  family_today
    Wed 2026-12-09 13:40 +01:00  patient  s5  use_the_window
    Wed 2026-12-09 19:30 +01:00  patient  s5  checkin
    Thu 2026-12-10 09:00 +01:00  patient  s5  function_first
    Thu 2026-12-10 10:00 +01:00  family   s5  family_next_day
    Thu 2026-12-10 18:00 +01:00  family   s6  family_ride
    Thu 2026-12-10 19:30 +01:00  patient  s6  ride_unclaimed
    Thu 2026-12-10 20:00 +01:00  patient  s6  rest_up
    Thu 2026-12-10 20:00 +01:00  patient  s6  checklist
    Fri 2026-12-11 08:00 +01:00  patient  s6  calm_start
    Fri 2026-12-11 09:30 +01:00  patient  s6  last_steps
    Fri 2026-12-11 11:40 +01:00  patient  s6  dont_drive
    Fri 2026-12-11 11:40 +01:00  family   s6  family_today
    Fri 2026-12-11 13:40 +01:00  patient  s6  use_the_window
    Fri 2026-12-11 19:30 +01:00  patient  s6  checkin
    Sat 2026-12-12 09:00 +01:00  patient  s6  function_first
    Sat 2026-12-12 10:00 +01:00  family   s6  family_next_day
    Sat 2026-12-12 11:00 +01:00  patient  s6  keep_building
"""


def test_iv_series_mon_wed_fri_with_family_in_the_same_zone() -> None:
    """Six IV sessions at 10:00 Berlin: calm_start (07:00) waits for quiet hours to end at 08:00."""
    now = at("2026-11-16 09:00")
    sister = relative()
    deliveries = plan(series(IV_STARTS), now, family=[FamilyLink(sister, joined_at=now)])
    assert rows(deliveries, [patient(), sister]) == table(IV_SERIES_WITH_FAMILY)
    assert all(item.status is DeliveryStatus.PENDING for item in deliveries)


NASAL_STARTS = [
    "2026-12-01 14:00",  # Tue
    "2026-12-04 14:00",  # Fri
    "2026-12-08 14:00",
    "2026-12-11 14:00",
    "2026-12-15 14:00",
    "2026-12-18 14:00",
]

NASAL_SERIES = """
    Sun 2026-11-29 10:00 +01:00  patient  s1  provider_first
    Mon 2026-11-30 20:00 +01:00  patient  s1  rest_up_nasal
    Mon 2026-11-30 20:00 +01:00  patient  s1  checklist
    Tue 2026-12-01 11:00 +01:00  patient  s1  calm_start_nasal
    Tue 2026-12-01 13:30 +01:00  patient  s1  last_steps
    Tue 2026-12-01 16:00 +01:00  patient  s1  dont_drive_nasal
    Tue 2026-12-01 18:00 +01:00  patient  s1  use_the_window
    Tue 2026-12-01 19:30 +01:00  patient  s1  checkin
    Wed 2026-12-02 09:00 +01:00  patient  s1  function_first
    Thu 2026-12-03 20:00 +01:00  patient  s2  rest_up_nasal
    Thu 2026-12-03 20:00 +01:00  patient  s2  checklist
    Fri 2026-12-04 11:00 +01:00  patient  s2  calm_start_nasal
    Fri 2026-12-04 13:30 +01:00  patient  s2  last_steps
    Fri 2026-12-04 16:00 +01:00  patient  s2  dont_drive_nasal
    Fri 2026-12-04 18:00 +01:00  patient  s2  use_the_window
    Fri 2026-12-04 19:30 +01:00  patient  s2  checkin
    Sat 2026-12-05 09:00 +01:00  patient  s2  function_first
    Sat 2026-12-05 17:00 +01:00  patient  s2  if_worse
    Mon 2026-12-07 20:00 +01:00  patient  s3  rest_up_nasal
    Mon 2026-12-07 20:00 +01:00  patient  s3  checklist
    Tue 2026-12-08 11:00 +01:00  patient  s3  calm_start_nasal
    Tue 2026-12-08 13:30 +01:00  patient  s3  last_steps
    Tue 2026-12-08 16:00 +01:00  patient  s3  dont_drive_nasal
    Tue 2026-12-08 18:00 +01:00  patient  s3  use_the_window
    Tue 2026-12-08 19:30 +01:00  patient  s3  checkin
    Wed 2026-12-09 09:00 +01:00  patient  s3  function_first
    Thu 2026-12-10 20:00 +01:00  patient  s4  rest_up_nasal
    Thu 2026-12-10 20:00 +01:00  patient  s4  checklist
    Fri 2026-12-11 11:00 +01:00  patient  s4  calm_start_nasal
    Fri 2026-12-11 13:30 +01:00  patient  s4  last_steps
    Fri 2026-12-11 16:00 +01:00  patient  s4  dont_drive_nasal
    Fri 2026-12-11 18:00 +01:00  patient  s4  use_the_window
    Fri 2026-12-11 19:30 +01:00  patient  s4  checkin
    Sat 2026-12-12 09:00 +01:00  patient  s4  function_first
    Mon 2026-12-14 20:00 +01:00  patient  s5  rest_up_nasal
    Mon 2026-12-14 20:00 +01:00  patient  s5  checklist
    Tue 2026-12-15 11:00 +01:00  patient  s5  calm_start_nasal
    Tue 2026-12-15 13:30 +01:00  patient  s5  last_steps
    Tue 2026-12-15 16:00 +01:00  patient  s5  dont_drive_nasal
    Tue 2026-12-15 18:00 +01:00  patient  s5  use_the_window
    Tue 2026-12-15 19:30 +01:00  patient  s5  checkin
    Wed 2026-12-16 09:00 +01:00  patient  s5  function_first
    Thu 2026-12-17 20:00 +01:00  patient  s6  rest_up_nasal
    Thu 2026-12-17 20:00 +01:00  patient  s6  checklist
    Fri 2026-12-18 11:00 +01:00  patient  s6  calm_start_nasal
    Fri 2026-12-18 13:30 +01:00  patient  s6  last_steps
    Fri 2026-12-18 16:00 +01:00  patient  s6  dont_drive_nasal
    Fri 2026-12-18 18:00 +01:00  patient  s6  use_the_window
    Fri 2026-12-18 19:30 +01:00  patient  s6  checkin
    Sat 2026-12-19 09:00 +01:00  patient  s6  function_first
    Sat 2026-12-19 11:00 +01:00  patient  s6  keep_building
"""


def test_nasal_series_tue_fri_uses_the_nasal_wording_and_a_two_hour_observation() -> None:
    """Six nasal sessions at 14:00: nasal-only entries, 'don't drive' at the 2 h observation end."""
    deliveries = plan(series(NASAL_STARTS, kind=Kind.NASAL), at("2026-11-16 09:00"))
    assert rows(deliveries, [patient()]) == table(NASAL_SERIES)


BERLIN_PATIENT_NEW_YORK_FAMILY = """
    Mon 2026-11-16 08:00 -05:00  family   -   family_welcome
    Sat 2026-11-28 10:00 +01:00  patient  s1  provider_first
    Sun 2026-11-29 19:30 +01:00  patient  s1  ride_unclaimed
    Sun 2026-11-29 20:00 +01:00  patient  s1  rest_up
    Sun 2026-11-29 20:00 +01:00  patient  s1  checklist
    Sun 2026-11-29 18:00 -05:00  family   s1  family_ride
    Mon 2026-11-30 08:00 +01:00  patient  s1  calm_start
    Mon 2026-11-30 09:30 +01:00  patient  s1  last_steps
    Mon 2026-11-30 11:40 +01:00  patient  s1  dont_drive
    Mon 2026-11-30 13:40 +01:00  patient  s1  use_the_window
    Mon 2026-11-30 08:00 -05:00  family   s1  family_today
    Mon 2026-11-30 19:30 +01:00  patient  s1  checkin
    Tue 2026-12-01 09:00 +01:00  patient  s1  function_first
    Tue 2026-12-01 10:00 -05:00  family   s1  family_next_day
    Tue 2026-12-01 19:30 +01:00  patient  s2  ride_unclaimed
    Tue 2026-12-01 20:00 +01:00  patient  s2  rest_up
    Tue 2026-12-01 20:00 +01:00  patient  s2  checklist
    Tue 2026-12-01 18:00 -05:00  family   s2  family_ride
    Wed 2026-12-02 08:00 +01:00  patient  s2  calm_start
    Wed 2026-12-02 09:30 +01:00  patient  s2  last_steps
    Wed 2026-12-02 11:40 +01:00  patient  s2  dont_drive
    Wed 2026-12-02 13:40 +01:00  patient  s2  use_the_window
    Wed 2026-12-02 08:00 -05:00  family   s2  family_today
    Wed 2026-12-02 19:30 +01:00  patient  s2  checkin
    Thu 2026-12-03 09:00 +01:00  patient  s2  function_first
    Thu 2026-12-03 11:00 +01:00  patient  s2  keep_building
    Thu 2026-12-03 10:00 -05:00  family   s2  family_next_day
    Thu 2026-12-03 17:00 +01:00  patient  s2  if_worse
"""


def test_family_member_in_another_zone_gets_messages_at_their_own_local_times() -> None:
    """A New York relative of a Berlin patient: ride offer at 18:00 and next day at 10:00 New York
    time; the session ends at 05:40 in New York, so 'today' waits for their quiet hours to end,
    as does the welcome (joined at 03:00 their time). Rows interleave in true time order."""
    now = at("2026-11-16 09:00")
    uncle = relative(NEW_YORK)
    deliveries = plan(series(IV_STARTS[:2]), now, family=[FamilyLink(uncle, joined_at=now)])
    assert rows(deliveries, [patient(), uncle]) == table(BERLIN_PATIENT_NEW_YORK_FAMILY)


def test_family_welcome_waits_for_the_relatives_morning_when_it_can() -> None:
    """Joined at 23:00 their time: the welcome (relevant for a week) goes at 08:00 next morning."""
    joined = at("2026-11-16 23:00", NEW_YORK)
    uncle = relative(NEW_YORK)
    deliveries = plan(series(IV_STARTS[:1]), joined, family=[FamilyLink(uncle, joined_at=joined)])
    welcome = next(item for item in deliveries if item.message_id == "family_welcome")
    assert welcome.status is DeliveryStatus.PENDING
    assert welcome.due_at == at("2026-11-17 08:00", NEW_YORK)
    assert welcome.deadline == joined + timedelta(hours=168)


def test_family_hear_only_about_sessions_that_start_after_they_joined() -> None:
    """Joined during session 1: nothing about it, everything about session 2, welcome at once."""
    joined = at("2026-11-30 10:15")
    sister = relative()
    deliveries = plan(series(IV_STARTS[:2]), joined, family=[FamilyLink(sister, joined_at=joined)])
    family_rows = [row for row in rows(deliveries, [patient(), sister]) if " family " in row]
    assert family_rows == table("""
        Mon 2026-11-30 10:15 +01:00  family  -   family_welcome
        Tue 2026-12-01 18:00 +01:00  family  s2  family_ride
        Wed 2026-12-02 11:40 +01:00  family  s2  family_today
        Thu 2026-12-03 10:00 +01:00  family  s2  family_next_day
    """)


def test_catch_up_sends_what_is_still_relevant_now_and_skips_the_rest() -> None:
    """Signed up at 09:00 on the day of session 1: the calm-start note goes now, the evening
    before and the provider note are past, the family's ride offer expired an hour ago."""
    now = at("2026-11-30 09:00")
    sister = relative()
    deliveries = plan(series(IV_STARTS[:1]), now, family=[FamilyLink(sister, joined_at=now)])
    assert rows(deliveries, [patient(), sister]) == table("""
        Sat 2026-11-28 10:00 +01:00  patient  s1  provider_first   SKIPPED expired
        Sun 2026-11-29 18:00 +01:00  family   s1  family_ride      SKIPPED expired
        Sun 2026-11-29 19:30 +01:00  patient  s1  ride_unclaimed   SKIPPED expired
        Sun 2026-11-29 20:00 +01:00  patient  s1  rest_up          SKIPPED expired
        Sun 2026-11-29 20:00 +01:00  patient  s1  checklist        SKIPPED expired
        Mon 2026-11-30 09:00 +01:00  patient  s1  calm_start
        Mon 2026-11-30 09:00 +01:00  family   -   family_welcome
        Mon 2026-11-30 09:30 +01:00  patient  s1  last_steps
        Mon 2026-11-30 11:40 +01:00  patient  s1  dont_drive
        Mon 2026-11-30 11:40 +01:00  family   s1  family_today
        Mon 2026-11-30 13:40 +01:00  patient  s1  use_the_window
        Mon 2026-11-30 19:30 +01:00  patient  s1  checkin
        Tue 2026-12-01 09:00 +01:00  patient  s1  function_first
        Tue 2026-12-01 10:00 +01:00  family   s1  family_next_day
        Tue 2026-12-01 11:00 +01:00  patient  s1  keep_building
    """)


def test_a_moved_session_catches_up_and_gets_fresh_keys() -> None:
    """Moved to this afternoon: its prep goes at once where still relevant, under new keys."""
    now = at("2026-11-30 13:00")
    before = plan(series(["2026-11-30 10:00"]), at("2026-11-16 09:00"))
    after = plan(series(["2026-11-30 14:00"]), now)
    calm = next(item for item in after if item.message_id == "calm_start")
    assert (calm.due_at, calm.status) == (now, DeliveryStatus.PENDING)
    assert calm.key == "s1@2026-11-30T14:00:calm_start:p1"
    assert not {item.key for item in before if item.session_id} & {
        item.key for item in after if not item.key.startswith("series")
    }


def test_quiet_hours_shift_a_message_to_their_end_and_skip_it_when_too_late() -> None:
    """An 08:30 session: calm_start (05:30) would wait until 08:00, past its 07:45 deadline, so it
    is skipped; with quiet hours until 07:00 it moves to 07:00; the urgent note ignores them."""
    early = series(["2026-11-30 08:30"])
    now = at("2026-11-16 09:00")
    default = {item.message_id: item for item in plan(early, now)}
    assert default["calm_start"].status is DeliveryStatus.SKIPPED
    assert default["calm_start"].reason == "quiet_hours"
    assert default["last_steps"].due_at == at("2026-11-30 08:00")
    short = patient(quiet=QuietHours(start=time(22, 0), end=time(7, 0)))
    shifted = {item.message_id: item for item in plan(early, now, who=short)}
    assert shifted["calm_start"].status is DeliveryStatus.PENDING
    assert shifted["calm_start"].due_at == at("2026-11-30 07:00")
    night_owl = patient(quiet=None)
    unshifted = {item.message_id: item for item in plan(early, now, who=night_owl)}
    assert unshifted["calm_start"].due_at == at("2026-11-30 05:30")


def test_urgent_messages_ignore_quiet_hours() -> None:
    """A 06:00 session: 'last steps' at 05:30 and 'don't drive' stay where they are."""
    deliveries = {
        item.message_id: item for item in plan(series(["2026-11-30 06:00"]), at("2026-11-16 09:00"))
    }
    assert deliveries["last_steps"].due_at == at("2026-11-30 05:30")
    assert deliveries["last_steps"].status is DeliveryStatus.PENDING
    assert deliveries["calm_start"].reason == "quiet_hours"  # 03:00, deadline 05:15


def test_stopped_recipients_get_nothing_planned() -> None:
    """/stop on either side removes only that person's messages."""
    now = at("2026-11-16 09:00")
    sister = relative()
    sessions = series(IV_STARTS[:1])
    stopped_patient = plan(
        sessions, now, who=patient(stopped=True), family=[FamilyLink(sister, joined_at=now)]
    )
    assert {item.recipient_id for item in stopped_patient} == {sister.id}
    stopped_sister = plan(sessions, now, family=[FamilyLink(relative(stopped=True), joined_at=now)])
    assert {item.recipient_id for item in stopped_sister} == {1}


def test_keys_follow_the_design_and_series_messages_belong_to_their_anchor_session() -> None:
    """Session, series and joined keys; session_id of series messages is the first/last one."""
    now = at("2026-11-16 09:00")
    sister = relative()
    deliveries = plan(series(IV_STARTS[:2]), now, family=[FamilyLink(sister, joined_at=now)])
    by_message = {(item.message_id, item.recipient_id): item for item in deliveries}
    assert by_message["provider_first", 1].key == "series1:provider_first:p1"
    assert by_message["provider_first", 1].session_id == 1
    assert by_message["keep_building", 1].key == "series1:keep_building:p1"
    assert by_message["keep_building", 1].session_id == 2
    welcome = by_message["family_welcome", 2]
    assert welcome.key == "joined1@2026-11-16T08:00:00+00:00:family_welcome:p2"
    assert welcome.session_id is None
    keys = [item.key for item in deliveries]
    assert len(keys) == len(set(keys))
    assert "s1@2026-11-30T10:00:rest_up:p1" in keys
    assert "s2@2026-12-02T10:00:family_ride:p2" in keys


def test_sessions_are_numbered_by_start_whatever_order_they_come_in() -> None:
    """Given out of order, the plan is the same, and 'if worse' follows the second by time."""
    sessions = series(IV_STARTS[:3])
    now = at("2026-11-16 09:00")
    assert plan(list(reversed(sessions)), now) == plan(sessions, now)
    worse = [item for item in plan(list(reversed(sessions)), now) if item.message_id == "if_worse"]
    assert [item.session_id for item in worse] == [2]


def test_series_messages_only_apply_when_the_anchor_session_kind_matches() -> None:
    """A series entry limited to nasal is not planned when the first session is an infusion."""
    nasal_only = [
        TimelineEntry(
            id=entry.id,
            audience=entry.audience,
            anchor=entry.anchor,
            offset=entry.offset,
            expires=entry.expires,
            urgent=entry.urgent,
            kinds=frozenset({"nasal"}),
            sessions=entry.sessions,
            buttons=entry.buttons,
            order=entry.order,
        )
        for entry in TIMELINE
        if entry.id == "provider_first"
    ]
    now = at("2026-11-16 09:00")
    assert plan(series(IV_STARTS[:2]), now, timeline=nasal_only) == []
    assert len(plan(series(IV_STARTS[:2], kind=Kind.NASAL), now, timeline=nasal_only)) == 1


def test_output_is_aware_utc_and_sorted() -> None:
    """Every instant is UTC-aware; rows sort by due time, then timeline order, then recipient."""
    now = at("2026-11-16 09:00")
    deliveries = plan(series(IV_STARTS), now, family=[FamilyLink(relative(), joined_at=now)])
    for item in deliveries:
        assert item.due_at.tzinfo is UTC and item.deadline.tzinfo is UTC
    order = {entry.id: entry.order for entry in TIMELINE}
    keys = [(item.due_at, order[item.message_id], item.recipient_id) for item in deliveries]
    assert keys == sorted(keys)


def test_naive_now_is_refused() -> None:
    """``now`` must be an instant, never a wall-clock time."""
    with pytest.raises(ValueError, match="aware"):
        plan(series(IV_STARTS[:1]), local("2026-11-16 09:00"))


def test_no_sessions_plans_only_the_family_welcome() -> None:
    """Before any session is entered, a linked relative still gets the welcome."""
    now = at("2026-11-16 12:00")
    deliveries = plan([], now, family=[FamilyLink(relative(), joined_at=now)])
    assert [item.message_id for item in deliveries] == ["family_welcome"]
