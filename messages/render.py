"""Fill a catalog text's ``{placeholders}``: values HTML-escaped, dates and times via Babel.

``PLACEHOLDERS`` is the one list of names a text may use. Bot code that wants a new name for a
reply adds it here (with a description); the loader rejects any name not listed, so a typo in a
locale file fails at start-up instead of in a patient's chat.

Which names a *timeline* text may use depends on its entry (see ``messages.loader``):

* session-anchored entries: ``SESSION_PLACEHOLDERS``, ``crisis_line`` and ``clinic_contact``;
* series-wide and family-welcome entries: ``crisis_line`` and ``clinic_contact`` (there is no
  single session);
* ``driver_name`` only in the ``*_with_driver`` texts;
* ``patient_name`` and ``clinic_contact`` only in patient entries, never in family ones.

``clinic_contact`` is optional (``OPTIONAL_PLACEHOLDERS``): a deployment without one gets the
text without the line that holds it, so that line must open and close its own tags.

Replies may use any registered name.

The dispatcher and the preview pass ``session_date`` and ``session_time`` as the session's
start, an aware ``datetime`` already converted to the *reader's* zone: it is shown in its own
zone. When the reader's clock differs from the one where the session happens (a relative in
Berlin of a patient in New York), ``session_time`` comes as ``TimeInZone``, which names the zone
("16:00 (Berlin Time)"), so nobody takes the time for the patient's or their own by guessing.
"""

from __future__ import annotations

import html
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_gmt, get_timezone_location
from babel.numbers import format_decimal

PLACEHOLDERS: dict[str, str] = {
    # Timeline texts.
    "session_date": "the session's start date: an aware datetime, shown in its own zone",
    "session_time": "the session's start time in the reader's zone, named if not the session's",
    "session_number": "which session of the series this is, from 1",
    "series_length": "how many sessions the series has so far",
    "driver_name": "the family member who offered to drive (only in *_with_driver texts)",
    "crisis_line": "the deployment's crisis line, e.g. '988'",
    "clinic_contact": "the clinic's own line (optional: without one, its line is left out)",
    "deployment_name": "the deployment's name, e.g. 'Session Companion' (patient replies only)",
    "patient_name": "the patient's display name (patient texts and replies; never family texts)",
    # Replies (bot code). Add names here as replies need them.
    "name": "a person's display name",
    "zone": "an IANA time zone name, e.g. 'Europe/Berlin'",
    "local_time": "an aware datetime, shown as a time in its own zone",
    "link": 'a URL, e.g. an invite link; safe inside <a href="{link}">',
    "count": "a number of things",
    "sessions": "a list of sessions, one per line, as plain text",
    "days": "a number of days",
    "command": "a command for the person to send as it is, e.g. '/add Fri 10:00'",
    # issue 10: notes, check-in, checklist
    "text": "a person's own one-line note (what got easier, what a family member noticed)",
    "day": "a calendar day (a date), shown with the locale's date_format",
    "wins_given_back": (
        "patient texts only: a sentence (its own line, starting with a line break) giving back "
        "the patient's notes of what got easier, or nothing when there are none"
    ),
}

# Datetime values of these names show the date (the locale's date_format); any other datetime
# value shows the time (time_format).
DATE_PLACEHOLDERS = frozenset({"session_date"})

SESSION_PLACEHOLDERS = frozenset(
    {"session_date", "session_time", "session_number", "series_length"}
)
TIMELINE_PLACEHOLDERS = SESSION_PLACEHOLDERS | {
    "driver_name",
    "crisis_line",
    "patient_name",
    "clinic_contact",
    "wins_given_back",
}
# Values a deployment may not have. A line that holds one of these, when its value is missing or
# empty, is left out whole: "Your clinic: {clinic_contact}" never shows as "Your clinic: ".
OPTIONAL_PLACEHOLDERS = frozenset({"clinic_contact"})
# Values with a default, so a caller that does not know the deployment (a test, a tool) still
# renders: the bot passes the operator's own.
PLACEHOLDER_DEFAULTS: dict[str, str] = {"deployment_name": "Session Companion"}
# Names only patient texts may use: what they are is the patient's alone.
PATIENT_ONLY_PLACEHOLDERS = frozenset({"patient_name", "wins_given_back"})

# Telegram counts a message's length after parsing, in UTF-16 code units; checking the HTML source
# instead over-counts tags and entities, which errs on the safe side.
TELEGRAM_MAX_LENGTH = 4096

_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class TimeInZone:
    """A time to show with its zone named: ``16:00 (Berlin Time)``, in the locale's words.

    ``at`` is aware, in the zone to name. For readers whose own clock is not the one where the
    session happens; the zone named is the reader's own, so it reveals nothing about anyone else.
    """

    at: datetime

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"TimeInZone needs an aware datetime, got naive {self.at!r}")


class Markup(str):
    """Text that is already catalog HTML, escaped when it was rendered (a reply's sentence put
    into a timeline message): filled in as it is, never escaped a second time."""

    __slots__ = ()


def zone_label(at: datetime, locale: str) -> str:
    """The zone of aware ``at`` in the locale's words: its city ("Berlin Time", "hora de Berlín")
    or, for zones without one (UTC, Etc/GMT+5), its offset ("GMT-05:00")."""
    key = getattr(at.tzinfo, "key", None)
    if isinstance(at.tzinfo, ZoneInfo) and key and "/" in key and not key.startswith("Etc/"):
        city = get_timezone_location(at.tzinfo, locale=locale, return_city=True)
        return str(Locale.parse(locale).zone_formats["region"] % city)
    return str(get_timezone_gmt(at, locale=locale))


def placeholders_in(template: str) -> set[str]:
    """The ``{names}`` a text uses; ``ValueError`` for unbalanced braces or ``{x:spec}`` forms."""
    names = set()
    for _literal, name, spec, conversion in _FORMATTER.parse(template):
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} is not a plain name like {{session_time}}")
        if spec or conversion:
            raise ValueError(
                f"placeholder {{{name}}} has a format part; write just {{{name}}}: "
                "dates and times use the locale's date_format and time_format"
            )
        names.add(name)
    return names


def fill(
    template: str,
    values: Mapping[str, object],
    *,
    locale: str,
    date_format: str,
    time_format: str,
) -> str:
    """Put escaped, formatted ``values`` into a validated ``template``.

    Values the template does not use are ignored; a missing one raises ``KeyError`` naming it,
    except an ``OPTIONAL_PLACEHOLDERS`` one, whose line is then left out (``drop_empty_lines``),
    and a ``PLACEHOLDER_DEFAULTS`` one, which gets its default.
    """
    template = drop_empty_lines(template, values)
    values = {**PLACEHOLDER_DEFAULTS, **values}
    formatted = {}
    for name in placeholders_in(template):
        if name not in values:
            raise KeyError(f"no value for placeholder {{{name}}}")
        if isinstance(values[name], Markup):
            formatted[name] = str(values[name])
            continue
        formatted[name] = html.escape(
            format_value(
                name,
                values[name],
                locale=locale,
                date_format=date_format,
                time_format=time_format,
            )
        )
    return template.format_map(formatted)


def drop_empty_lines(template: str, values: Mapping[str, object]) -> str:
    """``template`` without the lines that hold an optional placeholder with no value."""
    empty = {name for name in OPTIONAL_PLACEHOLDERS if not values.get(name)}
    if not empty or not any(f"{{{name}}}" in template for name in empty):
        return template
    kept = [line for line in template.split("\n") if not placeholders_in(line) & empty]
    return "\n".join(kept)


def format_value(
    name: str, value: object, *, locale: str, date_format: str, time_format: str
) -> str:
    """One value as text (not yet escaped): Babel for dates, times and numbers."""
    if isinstance(value, TimeInZone):
        at = value.at
        shown = format_time(at, time_format, tzinfo=at.tzinfo, locale=locale)
        return f"{shown} ({zone_label(at, locale)})"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{{{name}}} needs an aware datetime, got naive {value!r}")
        if name in DATE_PLACEHOLDERS:
            return str(format_date(value.date(), date_format, locale=locale))
        return str(format_time(value, time_format, tzinfo=value.tzinfo, locale=locale))
    if isinstance(value, date):
        return str(format_date(value, date_format, locale=locale))
    if isinstance(value, time):
        return str(format_time(value, time_format, locale=locale))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(format_decimal(value, locale=locale))
    return str(value)


_WHEN = datetime(2026, 9, 30, 23, 59, tzinfo=UTC)  # a long weekday and month name
_LONG_SAMPLES: dict[str, object] = {
    "session_date": _WHEN,
    # The longest way a session time is shown: with a zone whose city name is long.
    "session_time": TimeInZone(_WHEN.astimezone(ZoneInfo("America/Indiana/Petersburg"))),
    "local_time": _WHEN,
    "session_number": 999,
    "series_length": 999,
    "count": 999_999,
    "days": 999,
    "link": "https://t.me/" + "x" * 32 + "?start=" + "y" * 64,
    "sessions": "\n".join(["Wednesday 30 September 23:59 (other)"] * 40),
    "text": "W" * 280,
    "wins_given_back": "\n" + "W" * 420,
}


def long_sample_values(names: Iterable[str] = PLACEHOLDERS) -> dict[str, object]:
    """Long but realistic values for ``names``, to check a text's worst-case length."""
    # Telegram names are up to 64 + 64 characters; other free text gets the same allowance.
    return {name: _LONG_SAMPLES.get(name, "W" * 130) for name in names}


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2
