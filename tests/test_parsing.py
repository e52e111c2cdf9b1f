"""What people type: dates and times, repeat patterns, zones, kinds, names; never a stray error."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.parsing import (
    MAX_NAME,
    KindError,
    NameInputError,
    Series,
    WhenError,
    ZoneGuessError,
    is_done,
    parse_kind,
    parse_name,
    parse_series,
    parse_when,
    parse_zone,
    series_starts,
    zone_ok,
)
from scheduler.localtime import ZoneError
from scheduler.model import Kind

BERLIN = "Europe/Berlin"
# Friday 20 November 2026, 10:00 in Berlin.
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 10:00", "2026-12-01 10:00"),
        ("2026-12-01 10", "2026-12-01 10:00"),
        ("2026-12-01T10:00", "2026-12-01 10:00"),
        ("1 Dec 10:00", "2026-12-01 10:00"),
        ("Dec 1 10:00", "2026-12-01 10:00"),
        ("1 December 2026 10:00", "2026-12-01 10:00"),
        ("Dec 1st, 2026 at 2:30 p.m.", "2026-12-01 14:30"),
        ("tue 1 dec 10am", "2026-12-01 10:00"),
        ("25/12 10:00", "2026-12-25 10:00"),
        ("12/25 10:00", "2026-12-25 10:00"),
        ("25.12.26 9:15", "2026-12-25 09:15"),
        ("tomorrow 9:30", "2026-11-21 09:30"),
        ("Tomorrow at 9", "2026-11-21 09:00"),
        ("today 14:00", "2026-11-20 14:00"),
        ("noon tomorrow", "2026-11-21 12:00"),
        ("tomorrow 10.30", "2026-11-21 10:30"),
        ("mon 10:00", "2026-11-23 10:00"),
        ("Monday 10:00", "2026-11-23 10:00"),
        ("next friday at 9am", "2026-11-27 09:00"),
        ("fri 9", "2026-11-27 09:00"),
        ("2:30 pm", "2026-11-20 14:30"),
        ("10am", "2026-11-21 10:00"),
        ("12am tomorrow", "2026-11-21 00:00"),
        ("10h30 tomorrow", "2026-11-21 10:30"),
        ("  2026-12-01   10:00  ", "2026-12-01 10:00"),
    ],
)
def test_parse_when_reads_forgiving_formats(text: str, expected: str) -> None:
    """Friday 10:00 in Berlin: each form lands on the wall-clock time a person would mean."""
    assert parse_when(text, BERLIN, NOW) == local(expected)


def test_year_left_out_means_the_next_time_that_date_comes() -> None:
    """19 November has passed this year, so it is next year's (still within a year)."""
    assert parse_when("19 nov 10:00", BERLIN, NOW) == local("2027-11-19 10:00")


def test_a_weekday_means_the_next_such_day_after_today() -> None:
    """On a Friday, "friday" is a week ahead, never today."""
    assert parse_when("fri 11:00", BERLIN, NOW) == local("2026-11-27 11:00")


def test_time_alone_is_the_next_time_the_clock_shows_it() -> None:
    assert parse_when("11:00", BERLIN, NOW) == local("2026-11-20 11:00")
    assert parse_when("9:00", BERLIN, NOW) == local("2026-11-21 09:00")


def test_the_wall_clock_is_read_in_the_given_zone() -> None:
    """At 09:00 UTC it is 04:00 in New York, so 'today 8:00' is still ahead there."""
    assert parse_when("today 8:00", "America/New_York", NOW) == local("2026-11-20 08:00")
    with pytest.raises(WhenError) as caught:
        parse_when("today 8:00", BERLIN, NOW)
    assert caught.value.code == "past"


@pytest.mark.parametrize(
    ("text", "code", "hint"),
    [
        ("", "bad_format", ""),
        ("hello", "bad_format", ""),
        ("soon", "bad_format", ""),
        ("1/12 10:00", "bad_format", "numeric_date"),
        ("3/4 10:00", "bad_format", "numeric_date"),
        ("31 feb 10:00", "bad_format", "no_such_date"),
        ("2026-02-30 10:00", "bad_format", "no_such_date"),
        ("wed 1 dec 10:00", "bad_format", "weekday_mismatch"),
        ("25:00 tomorrow", "bad_format", ""),
        ("13pm tomorrow", "bad_format", ""),
        ("tomorrow today 10:00", "bad_format", ""),
        ("2026-12-01", "missing_time", ""),
        ("dec 1", "missing_time", ""),
        ("tomorrow", "missing_time", ""),
        ("today 8:00", "past", ""),
        ("2026-11-01 10:00", "past", ""),
        ("2020-01-01 10:00", "past", ""),
        ("2027-12-01 10:00", "too_far", ""),
        ("9999-12-31 23:59", "too_far", ""),
        ("0001-01-01 00:00", "past", ""),
    ],
)
def test_parse_when_refuses_with_a_code(text: str, code: str, hint: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_when(text, BERLIN, NOW)
    assert (caught.value.code, caught.value.hint) == (code, hint)


def test_a_time_the_clocks_skip_is_refused_with_the_explanation() -> None:
    """02:30 on 28 March 2027 does not exist in Berlin: the clocks jump from 02:00 to 03:00."""
    with pytest.raises(WhenError) as caught:
        parse_when("2027-03-28 02:30", BERLIN, NOW)
    assert caught.value.code == "nonexistent"
    gap = caught.value.gap
    assert gap is not None
    assert (gap.gap_start, gap.gap_end) == (local("2027-03-28 02:00"), local("2027-03-28 03:00"))


def test_an_ambiguous_fall_back_time_is_accepted_as_typed() -> None:
    """02:30 on 31 October 2027 happens twice in Berlin; the parser returns the wall clock."""
    assert parse_when("2027-10-31 02:30", BERLIN, NOW) == local("2027-10-31 02:30")


@given(st.text(max_size=120))
@settings(max_examples=400, deadline=None)
def test_parse_when_never_raises_anything_else(text: str) -> None:
    """Arbitrary text gives a naive local time ahead of now, or a WhenError."""
    try:
        result = parse_when(text, BERLIN, NOW)
    except WhenError as exc:
        assert exc.code in {"bad_format", "missing_time", "past", "too_far", "nonexistent"}
    else:
        assert result.tzinfo is None


_PIECES = st.sampled_from(
    [
        "mon", "friday", "tomorrow", "today", "dec", "1", "31", "2026", "2027", "10:00", "9",
        "2:30", "pm", "am", "noon", "12/25", "1/12", "-", "2026-12-01", "at", "1st", "x", ".",
        "25.12", "10.30", "0", "99", "24:00", "10h", "t", ",",
    ]
)  # fmt: skip


@given(st.lists(_PIECES, max_size=6).map(" ".join), st.sampled_from([BERLIN, "Asia/Kathmandu"]))
@settings(max_examples=400, deadline=None)
def test_parse_when_plausible_pieces_never_raise_anything_else(text: str, zone: str) -> None:
    """Near-misses built from real date words: a time ahead or a WhenError, never a crash."""
    try:
        result = parse_when(text, zone, NOW)
    except WhenError:
        return
    assert result.tzinfo is None
    assert result > datetime(2026, 11, 19)  # noqa: DTZ001 - wall clock on purpose


@pytest.mark.parametrize(
    ("text", "weekdays", "count"),
    [
        ("Mon,Wed,Fri x6", (0, 2, 4), 6),
        ("mon wed fri 6 sessions", (0, 2, 4), 6),
        ("Mon/Thu ×8", (0, 3), 8),
        ("Tue, Thu x 6", (1, 3), 6),
        ("mon-wed-fri 6", (0, 2, 4), 6),
        ("mon-fri x10", (0, 1, 2, 3, 4), 10),
        ("every mon and thu for 6", (0, 3), 6),
        ("Monday, Thursday 24 times", (0, 3), 24),
    ],
)
def test_parse_series_reads_patterns(text: str, weekdays: tuple[int, ...], count: int) -> None:
    assert parse_series(text) == Series(weekdays=weekdays, count=count)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("x6", "bad_format"),
        ("mon wed fri", "bad_format"),
        ("mon x1", "bad_format"),
        ("mon x0", "bad_format"),
        ("moon x6", "bad_format"),
        ("mon x25", "too_many"),
        ("mon x 99999999999", "too_many"),
        ("", "bad_format"),
    ],
)
def test_parse_series_refuses(text: str, code: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_series(text)
    assert caught.value.code == code


@given(st.text(max_size=120))
@settings(max_examples=300, deadline=None)
def test_parse_series_never_raises_anything_else(text: str) -> None:
    try:
        series = parse_series(text)
    except WhenError:
        return
    assert 2 <= series.count <= 24
    assert series.weekdays and all(0 <= day <= 6 for day in series.weekdays)


def test_series_starts_complete_the_series_at_the_same_wall_clock_time() -> None:
    """A Monday 09:30 first session, Mon/Wed/Fri x6: five more on the next such days."""
    first = local("2026-11-30 09:30")
    assert series_starts(first, Series(weekdays=(0, 2, 4), count=6)) == [
        local("2026-12-02 09:30"),
        local("2026-12-04 09:30"),
        local("2026-12-07 09:30"),
        local("2026-12-09 09:30"),
        local("2026-12-11 09:30"),
    ]


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("Europe / Berlin", "Europe/Berlin"),
        ("america/new_york", "America/New_York"),
        ("America/New York", "America/New_York"),
        ("Berlin", "Europe/Berlin"),
        ("  london ", "Europe/London"),
        ("New York", "America/New_York"),
        ("new_york", "America/New_York"),
        ("Los Angeles", "America/Los_Angeles"),
        ("Sydney", "Australia/Sydney"),
        ("Sao Paulo", "America/Sao_Paulo"),
        ("Kolkata", "Asia/Kolkata"),
        ("NYC", "America/New_York"),
        ("UTC", "UTC"),
        ("Japan", "Asia/Tokyo"),
        ("US/Eastern", "US/Eastern"),
    ],
)
def test_parse_zone_reads_iana_names_and_cities(text: str, zone: str) -> None:
    assert parse_zone(text) == zone


def test_parse_zone_suggests_close_matches() -> None:
    with pytest.raises(ZoneGuessError) as caught:
        parse_zone("Berln")
    assert caught.value.suggestions[0] == "Europe/Berlin"
    assert isinstance(caught.value, ZoneError)


@pytest.mark.parametrize(
    "text", ["", "xyzzy", "US/Eastern/Extra", "localtime", "posix/Europe/Berlin"]
)
def test_parse_zone_refuses_what_is_not_a_place(text: str) -> None:
    with pytest.raises(ZoneGuessError):
        parse_zone(text)


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_parse_zone_never_raises_anything_else(text: str) -> None:
    try:
        zone = parse_zone(text)
    except ZoneGuessError as exc:
        assert len(exc.suggestions) <= 3
    else:
        assert zone_ok(zone)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("iv", Kind.IV),
        ("IV", Kind.IV),
        ("infusion", Kind.IV),
        ("nasal", Kind.NASAL),
        ("Nasal spray", Kind.NASAL),
        ("spravato", Kind.NASAL),
        ("other", Kind.OTHER),
        ("IM", Kind.OTHER),
    ],
)
def test_parse_kind(text: str, kind: Kind) -> None:
    assert parse_kind(text) is kind


@given(st.text(max_size=40))
def test_parse_kind_never_raises_anything_else(text: str) -> None:
    with contextlib.suppress(KindError):
        assert isinstance(parse_kind(text), Kind)


def test_parse_name_trims_and_bounds() -> None:
    assert parse_name("  Ana   Maria ") == "Ana Maria"
    for bad in ("", "   ", "x" * (MAX_NAME + 1), "a\u0000b"):
        with pytest.raises(NameInputError):
            parse_name(bad)


@pytest.mark.parametrize("text", ["done", "Done.", "no", "That's all", "that’s all!"])
def test_is_done(text: str) -> None:
    assert is_done(text)


def test_is_done_refuses_other_text() -> None:
    assert not is_done("mon 10:00")
