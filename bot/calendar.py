"""An iCalendar (RFC 5545) file of a patient's sessions, for ``/export``.

Kept deliberately small: one VEVENT per session with UID, DTSTAMP, DTSTART in UTC (valid without
a VTIMEZONE, and every calendar app shows it in the viewer's own zone), DURATION and SUMMARY.
The summary comes from the catalog, already chosen for the person's wording: a calendar syncs to
phones and shared accounts, so discreet wording never names the treatment there either.

Lines end in CRLF, TEXT values are escaped (backslash, semicolon, comma, newline), and lines longer
than 75 octets are folded without splitting a UTF-8 character (RFC 5545, section 3.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PRODID = "-//Session Companion//Calendar export//EN"
UID_DOMAIN = "session-companion.invalid"  # RFC 2606: a name that can never be a real host
MAX_OCTETS = 75
CRLF = "\r\n"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    start: datetime  # aware
    duration: timedelta
    summary: str  # plain text, not yet escaped


def session_uid(session_id: int) -> str:
    """Stable per session, so importing a newer export updates a moved session in place."""
    return f"session-{session_id}@{UID_DOMAIN}"


def build_calendar(events: Sequence[CalendarEvent], *, now: datetime) -> bytes:
    """The whole file, UTF-8 with CRLF line endings."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    stamp = format_utc(now)
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{escape_text(event.uid)}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{format_utc(event.start)}",
            f"DURATION:{format_duration(event.duration)}",
            f"SUMMARY:{escape_text(event.summary)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines).encode("utf-8")


def format_utc(instant: datetime) -> str:
    if instant.tzinfo is None:
        raise ValueError("calendar instants must be aware")
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def format_duration(duration: timedelta) -> str:
    """``PT1H40M``, ``P1DT2H``; a negative or zero length becomes ``PT0S``."""
    seconds = int(duration.total_seconds())
    if seconds <= 0:
        return "PT0S"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    time_part = ""
    if hours or minutes or secs:
        # dur-hour = H [dur-minute], dur-minute = M [dur-second]: no gaps in the chain.
        if hours:
            time_part += f"{hours}H"
        if minutes or (hours and secs):
            time_part += f"{minutes}M"
        if secs:
            time_part += f"{secs}S"
        time_part = "T" + time_part
    return "P" + (f"{days}D" if days else "") + time_part


def escape_text(value: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon and comma escaped, newlines as ``\\n``."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Split a content line into pieces of at most 75 octets, joined by CRLF and a space."""
    pieces: list[str] = []
    current, size = "", 0
    limit = MAX_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append(current)
            current, size = "", 0
            limit = MAX_OCTETS - 1  # a continuation line starts with one space
        current += char
        size += width
    pieces.append(current)
    return (CRLF + " ").join(pieces)


def unfold(text: str) -> list[str]:
    """The content lines of a calendar file, unfolded (for tests and a quick self-check)."""
    lines = text.replace(CRLF + " ", "").replace(CRLF + "\t", "").split(CRLF)
    return lines[:-1] if lines and lines[-1] == "" else lines
