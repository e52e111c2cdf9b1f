"""What people type: dates and times, repeat patterns, zones, kinds, names; never a stray error."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.parsing import (
    ABBREVIATION,
    LEGACY,
    MAX_NAME,
    OFFSET,
    UNKNOWN,
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
from scheduler.localtime import ZoneError, region_zone, zone_info
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
        ("Japan", "Asia/Tokyo"),
        ("Chicago", "America/Chicago"),
        ("Calcutta", "Asia/Kolkata"),  # a city's old name is still that city
        ("Kiev", "Europe/Kyiv"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),
        ("Europe/Amsterdam", "Europe/Amsterdam"),
    ],
)
def test_parse_zone_reads_iana_names_and_cities(text: str, zone: str) -> None:
    assert parse_zone(text) == zone
    assert parse_zone(text, NOW) == zone
    assert region_zone(zone)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("EST", ABBREVIATION),
        ("est", ABBREVIATION),
        ("PST", ABBREVIATION),
        ("CET", ABBREVIATION),
        ("BST", ABBREVIATION),
        ("IST", ABBREVIATION),
        ("Eastern", ABBREVIATION),
        ("EST5EDT", ABBREVIATION),
        ("UTC", OFFSET),
        ("GMT", OFFSET),
        ("Z", OFFSET),
        ("GMT+1", OFFSET),
        ("UTC+1", OFFSET),
        ("UTC-5", OFFSET),
        ("utc +05:30", OFFSET),
        ("+0100", OFFSET),
        ("+01:00", OFFSET),
        ("-5", OFFSET),
        ("Etc/GMT+1", OFFSET),
        ("Etc/UTC", OFFSET),
        ("UTC+15", OFFSET),
    ],
)
def test_parse_zone_asks_for_a_city_for_abbreviations_and_offsets(text: str, code: str) -> None:
    """A clock is no place: these were accepted before (EST, UTC, Etc/GMT+1) or guessed at."""
    for now in (None, NOW):
        with pytest.raises(ZoneGuessError) as caught:
            parse_zone(text, now)
        assert caught.value.code == code
        assert caught.value.ask_city
        assert all(region_zone(zone) for zone in caught.value.suggestions)
    if text not in ("Eastern", "EST5EDT"):  # a named group of places needs no date
        with pytest.raises(ZoneGuessError) as caught:
            parse_zone(text)
        assert caught.value.suggestions == ()  # which places fit depends on the date


WINTER = NOW  # 20 November 2026: Europe on standard time
SUMMER = datetime(2026, 7, 15, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "hours", "now", "expected"),
    [
        ("GMT+1", 1, WINTER, {"Europe/Berlin", "Europe/Paris", "Africa/Lagos"}),
        ("UTC+1", 1, WINTER, {"Europe/Berlin"}),
        ("+01:00", 1, WINTER, {"Africa/Lagos"}),
        # In summer London is UTC+01:00 and Berlin is not.
        ("GMT+1", 1, SUMMER, {"Europe/London", "Africa/Lagos"}),
        ("UTC-5", -5, WINTER, {"America/New_York"}),
        ("UTC-5", -5, SUMMER, {"America/Chicago"}),
        # POSIX inverts the sign: Etc/GMT+1 is UTC-01:00 (the Azores in winter), never Berlin.
        ("Etc/GMT+1", -1, WINTER, {"Atlantic/Azores", "Atlantic/Cape_Verde"}),
        ("Etc/GMT-3", 3, WINTER, {"Europe/Istanbul"}),
        ("utc+5:30", 5.5, WINTER, {"Asia/Kolkata"}),
        ("GMT", 0, WINTER, {"Europe/London"}),
    ],
)
def test_offset_suggestions_have_exactly_that_offset_now(
    text: str, hours: float, now: datetime, expected: set[str]
) -> None:
    """Never an hour off, never the wrong sign: each place's clock shows that offset at ``now``."""
    with pytest.raises(ZoneGuessError) as caught:
        parse_zone(text, now)
    error = caught.value
    assert error.code == OFFSET
    assert error.offset == timedelta(hours=hours)
    assert expected <= set(error.suggestions)
    assert 1 <= len(error.suggestions) <= 3
    for zone in error.suggestions:
        assert now.astimezone(zone_info(zone)).utcoffset() == timedelta(hours=hours), zone


def test_offset_suggestions_never_include_europe_for_posix_gmt_plus_one() -> None:
    with pytest.raises(ZoneGuessError) as caught:
        parse_zone("Etc/GMT+1", WINTER)
    assert not any(zone.startswith("Europe/") for zone in caught.value.suggestions)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EST", ("America/New_York",)),
        ("CET", ("Europe/Berlin", "Europe/Paris")),
        ("IST", ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem")),  # three places use it
        ("CST", ("America/Chicago", "Asia/Shanghai")),
        ("BST", ("Europe/London",)),
        ("Eastern", ("America/New_York", "America/Toronto")),
    ],
)
def test_abbreviation_suggestions_are_the_places_that_use_it(
    text: str, expected: tuple[str, ...]
) -> None:
    for now in (WINTER, SUMMER):
        with pytest.raises(ZoneGuessError) as caught:
            parse_zone(text, now)
        assert caught.value.code == ABBREVIATION
        assert caught.value.offset is None
        assert set(expected) <= set(caught.value.suggestions)
        assert len(caught.value.suggestions) <= 3


def test_out_of_range_offset_asks_for_a_city_without_guessing() -> None:
    with pytest.raises(ZoneGuessError) as caught:
        parse_zone("UTC+15", NOW)
    assert caught.value.code == OFFSET
    assert caught.value.offset is None and caught.value.suggestions == ()


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("US/Eastern", "America/New_York"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Australia/ACT", "Australia/Sydney"),
        ("GB", "Europe/London"),
    ],
)
def test_old_aliases_are_not_taken_but_point_to_their_place(text: str, place: str) -> None:
    with pytest.raises(ZoneGuessError) as caught:
        parse_zone(text, NOW)
    assert caught.value.code == LEGACY
    assert not caught.value.ask_city
    assert caught.value.suggestions == (place,)


def test_parse_zone_suggests_close_matches() -> None:
    with pytest.raises(ZoneGuessError) as caught:
        parse_zone("Berln")
    assert caught.value.suggestions[0] == "Europe/Berlin"
    assert caught.value.code == UNKNOWN and not caught.value.ask_city
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
        zone = parse_zone(text, NOW)
    except ZoneGuessError as exc:
        assert len(exc.suggestions) <= 3
        assert all(region_zone(suggestion) for suggestion in exc.suggestions)
    else:
        assert zone_ok(zone) and region_zone(zone)


@given(
    st.sampled_from(["utc", "gmt", "UTC ", "GMT", ""]),
    st.sampled_from(["+", "-", "−"]),
    st.integers(min_value=0, max_value=14),
    st.sampled_from(["", ":00", ":30", "00", ":45"]),
    st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - bounds for hypothesis, zone added below
        max_value=datetime(2035, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
@settings(max_examples=200, deadline=None)
def test_every_offset_suggestion_shows_the_typed_offset(
    base: str, sign: str, hours: int, minutes: str, now: datetime
) -> None:
    """For any written offset and any date, each suggested place is exactly that far from UTC."""
    with pytest.raises(ZoneGuessError) as caught:
        parse_zone(f"{base}{sign}{hours}{minutes}", now)
    error = caught.value
    assert error.code == OFFSET
    if error.offset is None:
        assert error.suggestions == ()
        return
    typed = timedelta(hours=hours, minutes=int(minutes.strip(":") or 0))
    assert error.offset == (typed if sign == "+" else -typed)
    for zone in error.suggestions:
        assert now.astimezone(zone_info(zone)).utcoffset() == error.offset


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


@pytest.mark.parametrize(
    "text",
    [
        "Ana",
        "Mary-Jane",
        "O'Brien",
        "O’Brien",
        "J. R.",
        "José Luis",
        "Анна",
        "李",
        "अनिल",
        "محمد",
        "Nguyễn Thị My",
        "Jean-Luc Picard",
        "Can",  # a Turkish name, though an English word
        "x" * MAX_NAME,
    ],
)
def test_parse_name_accepts_names(text: str) -> None:
    assert parse_name(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "i don't think i can do this anymore",
        "help me please i feel awful",
        "what is this",
        "who are you",
        "yes",
        "no",
        "hi",
        "ok",
        "Ok.",
        "thank you",
        "/start",
        "Ana?",
        "Ana!",
        "Ana2",
        "Ana 🌸",
        "Ana, Bo",
        "-Ana",
        "Ana-",
        "...",
        "Mary Jane Watson Parker",
    ],
)
def test_parse_name_refuses_what_is_not_a_name(text: str) -> None:
    with pytest.raises(NameInputError):
        parse_name(text)


def test_parse_name_keeps_the_composed_form() -> None:
    """An accent typed as a separate mark is stored as the one letter it makes."""
    assert parse_name("Jose\u0301") == "José"


@given(st.text(max_size=60))
def test_parse_name_never_raises_anything_else(text: str) -> None:
    with contextlib.suppress(NameInputError):
        name = parse_name(text)
        assert 1 <= len(name) <= MAX_NAME and len(name.split()) <= 3
        assert not any(char.isdigit() or char in "?!/" for char in name)


@pytest.mark.parametrize("text", ["done", "Done.", "no", "That's all", "that’s all!"])
def test_is_done(text: str) -> None:
    assert is_done(text)


def test_is_done_refuses_other_text() -> None:
    assert not is_done("mon 10:00")


# -- Spanish (issue 11): read for everyone, whatever language the bot writes in -------------------

MADRID = "Europe/Madrid"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mañana 9:30", "2026-11-21 09:30"),
        ("manana 9:30", "2026-11-21 09:30"),
        ("Mañana a las 9:30", "2026-11-21 09:30"),
        ("hoy 18:00", "2026-11-20 18:00"),
        ("pasado mañana 10:00", "2026-11-22 10:00"),
        ("esta noche 21:00", "2026-11-20 21:00"),
        ("lun 10:00", "2026-11-23 10:00"),
        ("lunes 10:00", "2026-11-23 10:00"),
        ("mar 10:00", "2026-11-24 10:00"),  # Tuesday: no day number, so not March
        ("martes 10:00", "2026-11-24 10:00"),
        ("mié 10:00", "2026-11-25 10:00"),
        ("mie 10:00", "2026-11-25 10:00"),
        ("miércoles 10:00", "2026-11-25 10:00"),
        ("miercoles 10:00", "2026-11-25 10:00"),
        ("jue 10:00", "2026-11-26 10:00"),
        ("jueves 10:00", "2026-11-26 10:00"),
        ("vie 9:00", "2026-11-27 09:00"),  # a Friday means next Friday, never today
        ("viernes 9:00", "2026-11-27 09:00"),
        ("sáb 9:00", "2026-11-21 09:00"),
        ("sab 9:00", "2026-11-21 09:00"),
        ("sábado 9:00", "2026-11-21 09:00"),
        ("dom 9:00", "2026-11-22 09:00"),
        ("domingo 9:00", "2026-11-22 09:00"),
        ("el próximo jueves a las 10:00", "2026-11-26 10:00"),
        ("1 dic 14:30", "2026-12-01 14:30"),
        ("1 de diciembre 14:30", "2026-12-01 14:30"),
        ("el 1 de diciembre a las 14:30", "2026-12-01 14:30"),
        ("1 de diciembre de 2026 14:30", "2026-12-01 14:30"),
        ("mar 1 dic 10:00", "2026-12-01 10:00"),  # Tuesday 1 December
        ("martes 1 de diciembre 10:00", "2026-12-01 10:00"),
        ("1 mar 10:00", "2027-03-01 10:00"),  # a day number: March
        ("3 de marzo 10:00", "2027-03-03 10:00"),
        ("15 ene 10:00", "2027-01-15 10:00"),
        ("2 abr 10:00", "2027-04-02 10:00"),
        ("10 ago 10:00", "2027-08-10 10:00"),
        ("1 sept 10:00", "2027-09-01 10:00"),
        ("1 set 10:00", "2027-09-01 10:00"),
        ("1 dic 14:30 h", "2026-12-01 14:30"),
        ("mañana a las 9 de la mañana", "2026-11-21 09:00"),
        ("hoy a las 6 de la tarde", "2026-11-20 18:00"),
        ("mañana 7:30 de la tarde", "2026-11-21 19:30"),
        ("mañana 10 de la noche", "2026-11-21 22:00"),
        ("mañana 12 de la noche", "2026-11-21 00:00"),
        ("mañana mediodía", "2026-11-21 12:00"),
        ("Tue 1 Dec 10:00", "2026-12-01 10:00"),  # English still reads the same
    ],
)
def test_parse_when_reads_spanish(text: str, expected: str) -> None:
    """Friday 10:00 in Madrid: Spanish words, with or without accents, land where meant."""
    assert parse_when(text, MADRID, NOW) == local(expected)


@pytest.mark.parametrize(
    ("text", "code", "hint"),
    [
        ("mañana", "missing_time", ""),
        ("1 de diciembre", "missing_time", ""),
        ("mar 10", "missing_time", ""),  # 10 March, in either language: the time is asked for
        ("31 feb 10:00", "bad_format", "no_such_date"),
        ("31 de febrero 10:00", "bad_format", "no_such_date"),
        ("lun 1 dic 10:00", "bad_format", "weekday_mismatch"),
        ("hoy 8:00", "past", ""),
        ("mañana hoy 10:00", "bad_format", ""),
        ("15 de la tarde", "bad_format", ""),
        ("el lunes que viene", "bad_format", ""),
    ],
)
def test_parse_when_refuses_spanish_with_a_code(text: str, code: str, hint: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_when(text, MADRID, NOW)
    assert (caught.value.code, caught.value.hint) == (code, hint)


def test_a_spanish_date_in_the_spring_forward_gap_is_refused_with_the_gap() -> None:
    """Saturday 27 March 2027 in Madrid: "dom 2:30" is 28 March, when 02:00 jumps to 03:00."""
    saturday = datetime(2027, 3, 27, 9, 0, tzinfo=UTC)
    for text in ("dom 2:30", "domingo 2:30", "28 de marzo 2:30", "28 mar 2:30"):
        with pytest.raises(WhenError) as caught:
            parse_when(text, MADRID, saturday)
        assert caught.value.code == "nonexistent", text
        gap = caught.value.gap
        assert gap is not None
        assert (gap.gap_start, gap.gap_end) == (
            local("2027-03-28 02:00"),
            local("2027-03-28 03:00"),
        )
    assert parse_when("dom 3:30", MADRID, saturday) == local("2027-03-28 03:30")
    assert parse_when("mañana 1:59", MADRID, saturday) == local("2027-03-28 01:59")


def test_a_spanish_date_in_the_fall_back_hour_is_the_wall_clock_as_typed() -> None:
    """02:30 on Sunday 31 October 2027 happens twice in Madrid; the wall clock is returned."""
    friday = datetime(2027, 10, 29, 9, 0, tzinfo=UTC)
    assert parse_when("dom 2:30", MADRID, friday) == local("2027-10-31 02:30")
    assert parse_when("31 de octubre 2:30", MADRID, friday) == local("2027-10-31 02:30")


def test_a_spanish_weekday_across_the_clock_change_keeps_its_wall_clock() -> None:
    """From the Friday before the change, "lun 10:00" is Monday 10:00 local, an hour less UTC."""
    friday = datetime(2027, 3, 26, 12, 0, tzinfo=UTC)
    assert parse_when("lun 10:00", MADRID, friday) == local("2027-03-29 10:00")
    assert parse_when("lun 10:00", MADRID, friday + timedelta(days=7)) == local("2027-04-05 10:00")


@pytest.mark.parametrize(
    ("text", "weekdays", "count"),
    [
        ("mar,jue x4", (1, 3), 4),
        ("mar, jue x4", (1, 3), 4),
        ("lun,mié,vie x6", (0, 2, 4), 6),
        ("lun, mie, vie x6", (0, 2, 4), 6),
        ("mar y jue 4 sesiones", (1, 3), 4),
        ("martes y jueves, 4 veces", (1, 3), 4),
        ("lun-vie x10", (0, 1, 2, 3, 4), 10),
        ("todos los lunes y jueves 6 en total", (0, 3), 6),
        ("sáb dom x2", (5, 6), 2),
        ("Tue,Thu x4", (1, 3), 4),
    ],
)
def test_parse_series_reads_spanish(text: str, weekdays: tuple[int, ...], count: int) -> None:
    """In a list of weekdays "mar" is always Tuesday."""
    assert parse_series(text) == Series(weekdays=weekdays, count=count)


@pytest.mark.parametrize("text", ["mar,jue", "lun,marzo x4", "mar,jue x99"])
def test_parse_series_refuses_bad_spanish(text: str) -> None:
    with pytest.raises(WhenError):
        parse_series(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("intravenosa", Kind.IV),
        ("Por la vena", Kind.IV),
        ("espray", Kind.NASAL),
        ("Espray nasal", Kind.NASAL),
        ("otra", Kind.OTHER),
        ("otro", Kind.OTHER),
        ("inyección", Kind.OTHER),
    ],
)
def test_parse_kind_reads_spanish(text: str, kind: Kind) -> None:
    assert parse_kind(text) == kind


@pytest.mark.parametrize(
    "text", ["listo", "Listo.", "¡listo!", "ya está", "ya esta", "eso es todo", "nada más", "no"]
)
def test_is_done_in_spanish(text: str) -> None:
    assert is_done(text)


@pytest.mark.parametrize("text", ["hola", "sí", "gracias", "quiero ayuda", "me llamo Ana", "no sé"])
def test_spanish_replies_are_not_names(text: str) -> None:
    with pytest.raises(NameInputError):
        parse_name(text)


@pytest.mark.parametrize("text", ["José Luis", "María-José", "Ñuño", "Mar", "Sol", "Luz"])
def test_spanish_names_are_names(text: str) -> None:
    assert parse_name(text) == text


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Bogotá", "America/Bogota"),
        ("Ciudad de México", "America/Mexico_City"),
        ("CDMX", "America/Mexico_City"),
        ("España", "Europe/Madrid"),
        ("Asunción", "America/Asuncion"),
        ("Nueva York", "America/New_York"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),
    ],
)
def test_parse_zone_reads_spanish_places(text: str, zone: str) -> None:
    assert parse_zone(text) == zone
