"""bot/calendar.py: the iCalendar text itself (RFC 5545 escaping, folding, durations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.calendar import (
    CalendarEvent,
    build_calendar,
    escape_text,
    fold,
    format_duration,
    format_utc,
    unfold,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_escape_text() -> None:
    assert escape_text("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"
    assert escape_text("x\r\ny") == "x\\ny"


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (100, "PT1H40M"),
        (120, "PT2H"),
        (40, "PT40M"),
        (0, "PT0S"),
        (-5, "PT0S"),
        (24 * 60 + 30, "P1DT30M"),
        (2 * 24 * 60, "P2D"),
    ],
)
def test_format_duration(minutes: int, expected: str) -> None:
    assert format_duration(timedelta(minutes=minutes)) == expected


def test_format_duration_keeps_the_chain_with_seconds() -> None:
    assert format_duration(timedelta(hours=1, seconds=5)) == "PT1H0M5S"


def test_format_utc_converts_and_refuses_naive() -> None:
    berlin = datetime(2026, 7, 1, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert format_utc(berlin) == "20260701T080000Z"
    with pytest.raises(ValueError, match="aware"):
        format_utc(datetime(2026, 7, 1, 10, 0))  # noqa: DTZ001 - the point of the test


def test_fold_keeps_lines_within_75_octets_and_characters_whole() -> None:
    line = "SUMMARY:" + "ä€😀x" * 40
    folded = fold(line)
    parts = folded.split("\r\n")
    assert len(parts) > 1
    assert all(len(part.encode("utf-8")) <= 75 for part in parts)
    assert all(part.startswith(" ") for part in parts[1:])
    assert "".join(unfold(folded + "\r\n")) == line
    assert fold("SHORT:1") == "SHORT:1"


def test_build_calendar_is_well_formed() -> None:
    event = CalendarEvent(
        uid="session-7@session-companion.invalid",
        start=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
        duration=timedelta(minutes=100),
        summary="Appointment 1 of 6; bring a book, water",
    )
    text = build_calendar([event], now=NOW).decode("utf-8")
    assert text.endswith("\r\n")
    assert text.replace("\r\n", "").count("\n") == 0
    assert unfold(text) == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Session Companion//Calendar export//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        "UID:session-7@session-companion.invalid",
        "DTSTAMP:20261130T090000Z",
        "DTSTART:20261202T090000Z",
        "DURATION:PT1H40M",
        "SUMMARY:Appointment 1 of 6\\; bring a book\\, water",
        "END:VEVENT",
        "END:VCALENDAR",
    ]


def test_an_empty_calendar_is_still_valid() -> None:
    lines = unfold(build_calendar([], now=NOW).decode("utf-8"))
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
