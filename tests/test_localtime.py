"""Wall-clock maths: gaps explained, folds resolved, quiet hours around midnight and DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from scheduler.localtime import (
    REGION_AREAS,
    NonexistentLocalTime,
    NotARegionZone,
    ZoneError,
    check_region_zone,
    is_ambiguous,
    is_nonexistent,
    offset_label,
    quiet_period_end,
    region_zone,
    region_zones,
    resolve_wall_clock,
    to_utc,
    utc_offset_label,
    wall_clock_offset,
    zone_info,
    zone_links,
)
from scheduler.model import QuietHours

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_to_utc_reads_the_offset_in_force_on_that_date() -> None:
    """10:00 in Berlin is 09:00 UTC in winter and 08:00 UTC in summer."""
    assert to_utc(local("2026-03-27 10:00"), BERLIN) == utc("2026-03-27 09:00")
    assert to_utc(local("2026-03-30 10:00"), BERLIN) == utc("2026-03-30 08:00")
    assert to_utc(local("2026-03-27 10:00"), BERLIN).tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "zone", "message"),
    [
        (
            "2026-03-29 02:30",
            BERLIN,
            "02:30 does not exist on Sunday 29 March 2026 in Europe/Berlin: "
            "clocks jump from 02:00 to 03:00",
        ),
        (
            "2026-03-08 02:30",
            NEW_YORK,
            "02:30 does not exist on Sunday 8 March 2026 in America/New_York: "
            "clocks jump from 02:00 to 03:00",
        ),
        (
            "2011-12-30 12:00",
            "Pacific/Apia",
            "12:00 does not exist on Friday 30 December 2011 in Pacific/Apia: clocks jump from "
            "00:00 on Friday 30 December 2011 to 00:00 on Saturday 31 December 2011",
        ),
    ],
)
def test_a_time_in_a_spring_forward_gap_is_rejected_with_an_explanation(
    text: str, zone: str, message: str
) -> None:
    """The error says which time, which day, and what the clocks do instead."""
    with pytest.raises(NonexistentLocalTime) as caught:
        to_utc(local(text), zone)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)
    assert is_nonexistent(local(text), zone)
    assert not is_ambiguous(local(text), zone)


@pytest.mark.parametrize(
    ("text", "zone", "first", "second", "first_label", "second_label"),
    [
        ("2026-10-25 02:30", BERLIN, "2026-10-25 00:30", "2026-10-25 01:30", "+02:00", "+01:00"),
        ("2026-11-01 01:30", NEW_YORK, "2026-11-01 05:30", "2026-11-01 06:30", "-04:00", "-05:00"),
    ],
)
def test_an_ambiguous_fall_back_time_takes_the_given_fold_default_first(
    text: str,
    zone: str,
    first: str,
    second: str,
    first_label: str,
    second_label: str,
) -> None:
    """fold=0 is the first occurrence (summer offset), fold=1 the second; labels say which."""
    wall = local(text)
    assert is_ambiguous(wall, zone)
    assert to_utc(wall, zone) == utc(first)
    assert to_utc(wall, zone, fold=1) == utc(second)
    assert utc_offset_label(wall, zone) == f"UTC{first_label}"
    assert utc_offset_label(wall, zone, fold=1) == f"UTC{second_label}"


def test_ordinary_times_are_neither_ambiguous_nor_nonexistent_and_ignore_fold() -> None:
    """Outside a change, fold changes nothing."""
    wall = local("2026-10-25 10:00")
    assert not is_ambiguous(wall, BERLIN)
    assert not is_nonexistent(wall, BERLIN)
    assert to_utc(wall, BERLIN, fold=1) == to_utc(wall, BERLIN) == utc("2026-10-25 09:00")


def test_offset_labels() -> None:
    """Whole hours, half and quarter hours, negative offsets."""
    assert utc_offset_label(local("2026-07-01 12:00"), "Asia/Kathmandu") == "UTC+05:45"
    assert utc_offset_label(local("2026-07-01 12:00"), "America/St_Johns") == "UTC-02:30"
    assert utc_offset_label(local("2026-07-01 12:00"), "UTC") == "UTC+00:00"
    assert offset_label(timedelta(hours=-9, minutes=-30)) == "UTC-09:30"
    assert offset_label(timedelta(minutes=53, seconds=28)) == "UTC+00:53:28"  # Berlin's LMT


def test_to_utc_refuses_aware_input_and_bad_folds() -> None:
    """A wall-clock time has no zone of its own; fold is 0 or 1."""
    with pytest.raises(ValueError, match="naive"):
        to_utc(utc("2026-01-01 10:00"), BERLIN)
    with pytest.raises(ValueError, match="fold"):
        to_utc(local("2026-01-01 10:00"), BERLIN, fold=2)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Europe",
        "europe/berlin",
        "../etc/passwd",
        "/etc/localtime",
        "Europe/../UTC",
        "Europe/Berlin/",
        "localtime",
        "posixrules",
        "Mars/Olympus_Mons",
        " Europe/Berlin",
    ],
)
def test_zone_names_must_be_iana_zones(name: str) -> None:
    """Empty, relative or absolute paths, directories and server-local names are all refused."""
    with pytest.raises(ZoneError, match="unknown time zone"):
        zone_info(name)
    with pytest.raises(ValueError):
        to_utc(local("2026-01-01 10:00"), name)


def test_a_misspelt_zone_gets_a_suggestion() -> None:
    """The hint names the zone the person most likely meant."""
    with pytest.raises(ZoneError, match="did you mean Europe/Berlin"):
        zone_info("Europe/Berln")


def test_valid_zone_names_load() -> None:
    """Area/City names, deeper ones and the UTC aliases."""
    for name in (BERLIN, "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+5"):
        assert zone_info(name).key == name


def test_resolve_wall_clock_moves_a_gap_time_to_the_end_of_the_gap() -> None:
    """A derived time never fails: 02:30 on the spring-forward night is 03:00 CEST."""
    assert resolve_wall_clock(local("2026-03-29 02:30"), BERLIN) == utc("2026-03-29 01:00")
    assert resolve_wall_clock(local("2026-03-08 02:30"), NEW_YORK) == utc("2026-03-08 07:00")


def test_resolve_wall_clock_takes_the_first_occurrence_of_an_ambiguous_time() -> None:
    """02:30 on the fall-back night is the first 02:30 (still summer time)."""
    assert resolve_wall_clock(local("2026-10-25 02:30"), BERLIN) == utc("2026-10-25 00:30")


def test_wall_clock_offsets_keep_the_local_time_across_dst() -> None:
    """'The evening before at 20:00' is 20:00 on both sides of a change."""
    evening = time(20, 0)
    monday_after_spring = to_utc(local("2026-03-30 10:00"), BERLIN)
    assert wall_clock_offset(monday_after_spring, -1, evening, BERLIN) == utc("2026-03-29 18:00")
    monday_after_fall = to_utc(local("2026-10-26 10:00"), BERLIN)
    assert wall_clock_offset(monday_after_fall, -1, evening, BERLIN) == utc("2026-10-25 19:00")
    assert wall_clock_offset(monday_after_spring, -1, time(2, 30), BERLIN) == utc(
        "2026-03-29 01:00"
    )
    assert wall_clock_offset(monday_after_fall, -1, time(2, 30), BERLIN) == utc("2026-10-25 00:30")


def test_wall_clock_offsets_use_the_anchor_date_in_the_recipients_zone() -> None:
    """10:00 Berlin is 04:00 in New York, so 'the day before' is the day before in New York."""
    anchor = to_utc(local("2026-11-30 10:00"), BERLIN)
    assert wall_clock_offset(anchor, -1, time(18, 0), NEW_YORK) == utc("2026-11-29 23:00")
    late = to_utc(local("2026-11-30 03:00"), BERLIN)  # still 29 November in New York
    assert wall_clock_offset(late, -1, time(18, 0), NEW_YORK) == utc("2026-11-28 23:00")


DEFAULT_QUIET = QuietHours()  # 21:30-08:00


@pytest.mark.parametrize(
    ("instant", "end"),
    [
        ("2026-11-30 21:29", None),
        ("2026-11-30 21:30", "2026-12-01 08:00"),
        ("2026-11-30 23:59", "2026-12-01 08:00"),
        ("2026-12-01 00:00", "2026-12-01 08:00"),
        ("2026-12-01 07:59", "2026-12-01 08:00"),
        ("2026-12-01 08:00", None),
        ("2026-12-01 12:00", None),
    ],
)
def test_quiet_hours_crossing_midnight(instant: str, end: str | None) -> None:
    """Start inclusive, end exclusive; the end is the next morning if it starts in the evening."""
    found = quiet_period_end(to_utc(local(instant), BERLIN), DEFAULT_QUIET, BERLIN)
    assert found == (None if end is None else to_utc(local(end), BERLIN))


def test_quiet_hours_within_one_day_and_none() -> None:
    """An afternoon nap span; start == end and None mean no quiet hours at all."""
    nap = QuietHours(start=time(13, 0), end=time(15, 0))
    two_pm = to_utc(local("2026-11-30 14:00"), BERLIN)
    assert quiet_period_end(two_pm, nap, BERLIN) == to_utc(local("2026-11-30 15:00"), BERLIN)
    assert quiet_period_end(to_utc(local("2026-11-30 23:00"), BERLIN), nap, BERLIN) is None
    never = QuietHours(start=time(22, 0), end=time(22, 0))
    assert quiet_period_end(two_pm, never, BERLIN) is None
    assert quiet_period_end(two_pm, None, BERLIN) is None


def test_quiet_hours_end_across_dst_is_the_morning_wall_time() -> None:
    """A night that loses or gains an hour still ends at 08:00 on the clock."""
    spring = quiet_period_end(to_utc(local("2026-03-28 23:00"), BERLIN), DEFAULT_QUIET, BERLIN)
    assert spring == utc("2026-03-29 06:00")  # 08:00 CEST
    fall = quiet_period_end(to_utc(local("2026-10-24 23:00"), BERLIN), DEFAULT_QUIET, BERLIN)
    assert fall == utc("2026-10-25 07:00")  # 08:00 CET


def test_quiet_hours_ending_in_the_repeated_hour_end_after_the_instant() -> None:
    """Quiet until 02:30 on the fall-back night: during the second 02:10 it ends at the second
    02:30, never at the first one, which is already past."""
    quiet = QuietHours(start=time(1, 0), end=time(2, 30))
    second_0210 = to_utc(local("2026-10-25 02:10"), BERLIN, fold=1)
    assert quiet_period_end(second_0210, quiet, BERLIN) == utc("2026-10-25 01:30")
    first_0210 = to_utc(local("2026-10-25 02:10"), BERLIN)
    assert quiet_period_end(first_0210, quiet, BERLIN) == utc("2026-10-25 00:30")


def test_quiet_hours_ending_in_a_gap_end_when_the_gap_ends() -> None:
    """Quiet until 02:30 on the spring-forward night ends at 03:00 CEST, when clocks pass 02:30."""
    quiet = QuietHours(start=time(1, 0), end=time(2, 30))
    one_thirty = to_utc(local("2026-03-29 01:30"), BERLIN)
    assert quiet_period_end(one_thirty, quiet, BERLIN) == utc("2026-03-29 01:00")


def test_quiet_period_end_needs_an_instant() -> None:
    """A naive time is a bug in the caller."""
    with pytest.raises(ValueError, match="aware"):
        quiet_period_end(local("2026-11-30 23:00"), DEFAULT_QUIET, BERLIN)


@pytest.mark.parametrize(
    "name",
    [
        "Europe/Berlin",
        "America/New_York",
        "America/Argentina/Buenos_Aires",
        "Asia/Kolkata",
        "Europe/Amsterdam",  # a link to Brussels in the data, but a place people live in
        "Arctic/Longyearbyen",
        "Atlantic/Azores",
        "Pacific/Auckland",
    ],
)
def test_region_zones_are_canonical_places(name: str) -> None:
    assert region_zone(name)
    assert check_region_zone(name) == name
    assert name in region_zones()


@pytest.mark.parametrize(
    ("name", "points_to"),
    [
        ("EST", None),
        ("CET", None),
        ("GMT", None),
        ("UTC", None),
        ("Etc/GMT+1", None),  # POSIX for UTC-01:00
        ("Etc/UTC", None),
        ("EST5EDT", None),
        ("Zulu", None),
        ("US/Eastern", "America/New_York"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Europe/Kiev", "Europe/Kyiv"),
        ("Japan", "Asia/Tokyo"),
    ],
)
def test_names_that_load_but_are_no_place_are_refused(name: str, points_to: str | None) -> None:
    """Abbreviations and offsets name a clock; old aliases point to the place they stand for."""
    zone_info(name)  # they do load
    assert not region_zone(name)
    with pytest.raises(NotARegionZone) as caught:
        check_region_zone(name)
    assert caught.value.suggestion == points_to
    assert isinstance(caught.value, ZoneError)


def test_unknown_names_are_no_region_and_a_plain_zone_error() -> None:
    assert not region_zone("Mars/Olympus") and not region_zone(None)
    with pytest.raises(ZoneError) as caught:
        check_region_zone("Mars/Olympus")
    assert not isinstance(caught.value, NotARegionZone)


def test_region_zones_cover_only_the_region_areas() -> None:
    zones = region_zones()
    assert len(zones) > 300
    assert {name.split("/")[0] for name in zones} <= REGION_AREAS
    assert all(zone_info(name) for name in zones)
    assert zone_links()["US/Eastern"] == "America/New_York"
