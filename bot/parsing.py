"""What people type, read forgivingly: session times, repeat patterns, time zones, session kinds.

English and Spanish are read for everyone, whatever language the bot writes in ("mañana 9:30",
"lun 10:00", "1 de dic 14:30", "mar,jue x4", "listo"): a person may type in either, and no
word means one thing in one language and another in the other, except "mar" (``_word``).
Accents are optional everywhere ("mie" is "mié"), since phone keyboards make them a chore.

Pure functions, no Telegram and no clock: ``now`` is a parameter. Every function either returns a
value or raises its own declared error (``WhenError``, ``ZoneGuessError``, ``KindError``), whatever
the text, so a handler needs one ``except`` per input to turn a mistake into a kind re-prompt.
The errors carry codes, never sentences: the wording lives in the catalog.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import available_timezones

from scheduler.companion import MAX_AHEAD
from scheduler.localtime import (
    REGION_AREAS,
    NonexistentLocalTime,
    ZoneError,
    region_zone,
    region_zones,
    to_utc,
    zone_info,
    zone_links,
)
from scheduler.model import Kind
from scheduler.series import MAX_SERIES as MAX_SERIES  # the limit on a typed repeat pattern
from scheduler.series import series_dates

# Longer than any sensible answer; a bound keeps the regexes cheap on pasted walls of text.
_MAX_INPUT = 100


class WhenError(ValueError):
    """A date, time or repeat pattern we could not use.

    ``code``: ``bad_format`` | ``missing_time`` | ``past`` | ``too_far`` | ``nonexistent`` (a
    spring-forward gap; ``gap`` explains it) | ``too_many`` (a series over ``MAX_SERIES``).
    ``hint`` narrows ``bad_format`` down for a better re-prompt: ``numeric_date`` (1/12 could be
    either day or month first), ``no_such_date`` (31 Feb), ``weekday_mismatch`` (Tue 1 Dec when
    1 Dec is a Wednesday), ``series`` (a repeat pattern), or ``""``.
    """

    def __init__(
        self, code: str, hint: str = "", *, gap: NonexistentLocalTime | None = None
    ) -> None:
        super().__init__(f"{code}: {hint}" if hint else code)
        self.code = code
        self.hint = hint
        self.gap = gap


# ZoneGuessError codes.
UNKNOWN = "unknown"  # no zone by that name; ``suggestions``: close names (maybe none)
ABBREVIATION = "abbreviation"  # EST, CET, BST, IST, Eastern, EST5EDT: ask which city
OFFSET = "offset"  # UTC, GMT, GMT+1, UTC-5, +01:00, Etc/GMT+1: ask which city
LEGACY = "legacy"  # an old alias (US/Eastern, Asia/Calcutta): ``suggestions`` = the place
ASK_CITY = frozenset({ABBREVIATION, OFFSET})


class ZoneGuessError(ZoneError):
    """No region zone matches the text; the bot asks again, with buttons for ``suggestions``.

    ``code``: ``unknown`` | ``abbreviation`` | ``offset`` | ``legacy`` (the constants above).
    ``ask_city`` is true for an abbreviation or an offset: the reply asks which city the person
    is in, since those name a clock, not a place, and are an hour off for half the year.
    ``suggestions``: at most three region zones, best first (maybe none): close names for
    ``unknown``, the place an alias stands for for ``legacy``, and for ``abbreviation`` and
    ``offset`` places whose clock shows it (only when ``parse_zone`` was given ``now``).
    ``offset``: what an ``offset`` means, as a UTC offset (``GMT+1`` -> +1 h, ``Etc/GMT+1`` ->
    -1 h), or None when it is no offset in use (or for the other codes).
    """

    def __init__(
        self,
        text: str,
        suggestions: tuple[str, ...],
        *,
        code: str = UNKNOWN,
        offset: timedelta | None = None,
    ) -> None:
        super().__init__(f"{code} time zone {text!r}")
        self.text = text
        self.suggestions = suggestions
        self.code = code
        self.offset = offset

    @property
    def ask_city(self) -> bool:
        return self.code in ASK_CITY


class KindError(ValueError):
    """The text names no session kind we know."""


@dataclass(frozen=True)
class Series:
    """A repeat pattern: these weekdays (0 = Monday), ``count`` sessions in all."""

    weekdays: tuple[int, ...]
    count: int


# -- dates and times -----------------------------------------------------------------------------

_WEEKDAY_WORDS: dict[str, int] = {}
for _index, _names in enumerate(
    (
        ("mon", "monday", "mo", "lun", "lunes"),
        ("tue", "tues", "tuesday", "tu", "martes"),  # Spanish "mar": see _word
        ("wed", "weds", "wednesday", "we", "mie", "mier", "miercoles"),
        ("thu", "thur", "thurs", "thursday", "th", "jue", "jueves"),
        ("fri", "friday", "fr", "vie", "vier", "viernes"),
        ("sat", "saturday", "sa", "sab", "sabado"),
        ("sun", "sunday", "su", "dom", "domingo"),
    )
):
    for _name in _names:
        _WEEKDAY_WORDS[_name] = _index

_MONTH_WORDS: dict[str, int] = {}
for _index, _names in enumerate(
    (
        ("jan", "january", "ene", "enero"),
        ("feb", "february", "febrero"),
        ("mar", "march", "marzo"),
        ("apr", "april", "abr", "abril"),
        ("may", "mayo"),
        ("jun", "june", "junio"),
        ("jul", "july", "julio"),
        ("aug", "august", "ago", "agosto"),
        ("sep", "sept", "september", "set", "septiembre", "setiembre"),
        ("oct", "october", "octubre"),
        ("nov", "november", "noviembre"),
        ("dec", "december", "dic", "diciembre"),
    ),
    start=1,
):
    for _name in _names:
        _MONTH_WORDS[_name] = _index

# fmt: off
_FILLER = frozenset(
    {
        "at", "on", "the", "of", "next", "this", "coming", "from", "starting",
        # Spanish: "el lunes a las 10", "1 de diciembre", "el próximo jue", "10:30 h".
        "a", "las", "la", "el", "de", "del", "en", "proximo", "proxima", "este", "esta",
        "h", "hs", "hrs",
    }
)
# fmt: on
_RELATIVE = {
    "today": 0,
    "tonight": 0,
    "tomorrow": 1,
    "tmrw": 1,
    "tmr": 1,
    "tomorow": 1,
    "hoy": 0,
    "manana": 1,  # "mañana", accents folded
    "pasadomanana": 2,  # "pasado mañana", joined by _spanish_phrases
}
_CLOCK_WORDS = {
    "noon": time(12),
    "midday": time(12),
    "midnight": time(0),
    "mediodia": time(12),
    "medianoche": time(0),
}
# "mar" is March in both languages and also Tuesday (martes) in Spanish: see ``_word``.
_MAR = "mar"
_TUESDAY = 1
# "9 de la mañana", "6:30 de la tarde", "10 de la noche": Spanish speech for a.m. and p.m.
_DAY_PART = re.compile(r"\b(\d{1,2})(?:[:.h](\d{2}))?\s*de la (manana|madrugada|tarde|noche)\b")

# One alternation, tried left to right at each position: the order settles overlaps
# ("2026-12-01" is a date before it is a number, "10:30pm" a time before "10").
_TOKEN = re.compile(
    r"""
    (?P<iso>\d{4}-\d{1,2}-\d{1,2})(?:t(?=\d))?
  | (?P<numeric>\d{1,2}[/.]\d{1,2}(?:[/.]\d{2}(?:\d{2})?)?)(?![\d:])
  | (?P<clock>\d{1,2})(?::|h)(?P<minute>\d{2})\s*(?P<ampm1>[ap]\.?m\.?)?(?![\d])
  | (?P<hour_ampm>\d{1,2})\s*(?P<ampm2>[ap]\.?m\.?)(?![a-z])
  | (?P<hour_h>\d{1,2})h(?![a-z\d])
  | (?P<ordinal>\d{1,2})(?:st|nd|rd|th)(?![a-z])
  | (?P<number>\d+)
  | (?P<word>[a-z]+)
  | (?P<space>[\s,]+)
  """,
    re.VERBOSE | re.ASCII,
)


@dataclass
class _Parts:
    tuesday_or_march: bool = False  # the month came from "mar" (see _word)
    day: int | None = None
    month: int | None = None
    year: int | None = None
    offset_days: int | None = None  # today / tomorrow
    weekday: int | None = None
    numeric: tuple[int, int] | None = None  # d/m or m/d, not yet decided
    clock: time | None = None
    date_tokens: int = 0


def parse_when(text: str, zone: str, now: datetime) -> datetime:
    """The naive wall-clock time in ``zone`` that ``text`` names, checked against ``now``.

    Forgiving: ``2026-12-01 10:00``, ``2026-12-01 10``, ``1 Dec 10:00``, ``Dec 1st 2:30 pm``,
    ``25/12 10:00``, ``tomorrow 9:30``, ``today 14:00``, ``mon 10am``, ``10am`` (the next 10:00).
    A year left out means the next time that date comes round; a weekday means the next such day
    after today. Raises ``WhenError`` for anything else, including a time that has passed, lies
    more than ``MAX_AHEAD`` away, or does not exist in ``zone`` (spring-forward gap).
    """
    cleaned = " ".join(text.lower().split())
    if not cleaned or len(cleaned) > _MAX_INPUT:
        raise WhenError("bad_format")
    parts = _tokens(_spanish_phrases(fold_accents(cleaned)))
    local_now = now.astimezone(zone_info(zone)).replace(tzinfo=None)
    today = local_now.date()
    day = _resolve_date(parts, today)
    if day is None:
        if parts.clock is None:
            raise WhenError("bad_format")
        # A time alone: the next time the clock shows it.
        candidate = datetime.combine(today, parts.clock)
        day = today if candidate > local_now else today + timedelta(days=1)
    if parts.clock is None:
        raise WhenError("missing_time")
    local = datetime.combine(day, parts.clock)
    # Rough bounds first, so a year like 9999 never reaches the zone arithmetic.
    if local < local_now - timedelta(days=2):
        raise WhenError("past")
    if local > local_now + MAX_AHEAD + timedelta(days=2):
        raise WhenError("too_far")
    try:
        instant = to_utc(local, zone)
    except NonexistentLocalTime as exc:
        raise WhenError("nonexistent", gap=exc) from exc
    if instant <= now:
        raise WhenError("past")
    if instant > now + MAX_AHEAD:
        raise WhenError("too_far")
    return local


def fold_accents(text: str) -> str:
    """``mañana`` -> ``manana``, ``mié`` -> ``mie``: accents are optional in what people type."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _spanish_phrases(text: str) -> str:
    """Spanish phrases of several words, as one token each: "pasado mañana", "esta noche"
    (today), and "9 de la noche" (21:00, written so the tokenizer reads a clock)."""
    text = re.sub(r"\bpasado manana\b", "pasadomanana", text)
    text = re.sub(r"\besta noche\b", "hoy", text)
    return _DAY_PART.sub(_day_part_clock, text)


def _day_part_clock(match: re.Match[str]) -> str:
    hour, minute, part = int(match[1]), int(match[2] or 0), match[3]
    if not 1 <= hour <= 12:
        return match[0]  # "15 de la tarde": left as typed, and refused as it is
    if part in ("manana", "madrugada") or (part == "noche" and (hour == 12 or hour < 6)):
        hour %= 12  # "12 de la noche" is midnight, "2 de la noche" is 02:00
    else:
        hour = hour % 12 + 12  # "6 de la tarde" is 18:00, "10 de la noche" 22:00
    return f"{hour}:{minute:02d}"


def _tokens(cleaned: str) -> _Parts:
    parts = _Parts()
    numbers: list[tuple[int, str, bool]] = []  # value, digits, is it the last token
    numeric: str | None = None
    position = 0
    matches = []
    while position < len(cleaned):
        match = _TOKEN.match(cleaned, position)
        if match is None:
            raise WhenError("bad_format")
        position = match.end()
        if match.lastgroup != "space":
            matches.append(match)
    for index, match in enumerate(matches):
        last = index == len(matches) - 1
        kind = match.lastgroup
        if match["iso"]:
            year, month, day = (int(x) for x in match["iso"].split("-"))
            _set_date(parts, day=day, month=month, year=year)
        elif match["numeric"]:
            if numeric is not None:
                raise WhenError("bad_format")
            numeric = match["numeric"]
        elif match["clock"]:
            _set_clock(parts, int(match["clock"]), int(match["minute"]), match["ampm1"])
        elif match["hour_ampm"]:
            _set_clock(parts, int(match["hour_ampm"]), 0, match["ampm2"])
        elif match["hour_h"]:
            _set_clock(parts, int(match["hour_h"]), 0, None)
        elif match["ordinal"]:
            if parts.day is not None:
                raise WhenError("bad_format")
            parts.day = int(match["ordinal"])
        elif kind == "number":
            digits = match["number"]
            numbers.append((int(digits), digits, last))
        else:
            _word(parts, match["word"])
    if numeric is not None:
        _numeric(parts, numeric)
    _assign_numbers(parts, numbers)
    return parts


def _numeric(parts: _Parts, text: str) -> None:
    """``25/12``, ``25.12.2026``; a lone ``10.30`` with no other time is a time, as in Europe."""
    pieces = [int(x) for x in re.split(r"[/.]", text)]
    if (
        len(pieces) == 2
        and "." in text
        and parts.clock is None
        and re.search(r"\.\d\d$", text)
        and pieces[0] <= 23
        and pieces[1] <= 59
    ):
        _set_clock(parts, pieces[0], pieces[1], None)
        return
    parts.numeric = (pieces[0], pieces[1])
    parts.date_tokens += 1
    if len(pieces) == 3:
        if parts.year is not None:
            raise WhenError("bad_format")
        parts.year = _year(pieces[2])


def _year(value: int) -> int:
    return 2000 + value if value < 100 else value


def _set_date(parts: _Parts, *, day: int, month: int, year: int) -> None:
    if parts.month is not None or parts.day is not None:
        raise WhenError("bad_format")
    parts.day, parts.month, parts.year = day, month, year
    parts.date_tokens += 1


def _set_clock(parts: _Parts, hour: int, minute: int, ampm: str | None) -> None:
    if parts.clock is not None or minute > 59:
        raise WhenError("bad_format")
    if ampm is not None:
        if not 1 <= hour <= 12:
            raise WhenError("bad_format")
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    elif hour > 23:
        raise WhenError("bad_format")
    parts.clock = time(hour, minute)


def _word(parts: _Parts, word: str) -> None:
    if word in _FILLER:
        return
    if word in _RELATIVE:
        if parts.offset_days is not None:
            raise WhenError("bad_format")
        parts.offset_days = _RELATIVE[word]
        parts.date_tokens += 1
    elif word in _WEEKDAY_WORDS and len(word) > 2:
        _set_weekday(parts, _WEEKDAY_WORDS[word])
    elif word in _MONTH_WORDS:
        if parts.month is not None and parts.tuesday_or_march:
            _mar_is_tuesday(parts)  # "mar 1 dic": the "mar" was the weekday
        elif word == _MAR and parts.month is not None:
            _set_weekday(parts, _TUESDAY)  # "1 dic mar"
            return
        if parts.month is not None:
            raise WhenError("bad_format")
        parts.month = _MONTH_WORDS[word]
        parts.tuesday_or_march = word == _MAR
        parts.date_tokens += 1
    elif word in _CLOCK_WORDS:
        if parts.clock is not None:
            raise WhenError("bad_format")
        parts.clock = _CLOCK_WORDS[word]
    else:
        raise WhenError("bad_format")


def _set_weekday(parts: _Parts, weekday: int) -> None:
    if parts.weekday is not None:
        raise WhenError("bad_format")
    parts.weekday = weekday


def _mar_is_tuesday(parts: _Parts) -> None:
    """The "mar" read as March was the Spanish Tuesday after all."""
    parts.month = None
    parts.tuesday_or_march = False
    parts.date_tokens -= 1
    _set_weekday(parts, _TUESDAY)


def _assign_numbers(parts: _Parts, numbers: list[tuple[int, str, bool]]) -> None:
    """Bare numbers: a four-digit year, the day next to a month name, or a final bare hour.

    A "mar" with no day number is the Spanish Tuesday ("mar 10:00"), not March.
    """
    if parts.tuesday_or_march and parts.day is None and not _has_day_number(numbers):
        _mar_is_tuesday(parts)
    for value, digits, last in numbers:
        if len(digits) == 4 and parts.year is None:
            parts.year = value
        elif parts.month is not None and parts.day is None and len(digits) <= 2:
            parts.day = value
        elif (
            last
            and parts.clock is None
            and len(digits) <= 2
            and value <= 23
            and (parts.date_tokens or parts.weekday is not None)
        ):
            parts.clock = time(value)
        else:
            raise WhenError("bad_format")


def _has_day_number(numbers: list[tuple[int, str, bool]]) -> bool:
    """Whether a bare number would be read as the day of a month ("mar 3 10:00")."""
    return any(len(digits) <= 2 and not last for _value, digits, last in numbers) or (
        len(numbers) == 1 and len(numbers[0][1]) <= 2
    )


def _resolve_date(parts: _Parts, today: date) -> date | None:
    if parts.date_tokens > 1 or (parts.offset_days is not None and parts.weekday is not None):
        raise WhenError("bad_format")
    if parts.offset_days is not None:
        if parts.day is not None or parts.year is not None:
            raise WhenError("bad_format")
        return today + timedelta(days=parts.offset_days)
    if parts.numeric is not None:
        parts.day, parts.month = _day_month(*parts.numeric)
    if parts.month is not None:
        if parts.day is None:
            raise WhenError("bad_format")
        found = _calendar_date(parts.year, parts.month, parts.day, today)
        if parts.weekday is not None and found.weekday() != parts.weekday:
            raise WhenError("bad_format", "weekday_mismatch")
        return found
    if parts.day is not None or parts.year is not None:
        raise WhenError("bad_format")
    if parts.weekday is not None:
        ahead = (parts.weekday - today.weekday() - 1) % 7 + 1
        return today + timedelta(days=ahead)
    return None


def _day_month(first: int, second: int) -> tuple[int, int]:
    """1/12 reads as 1 December in Europe and 12 January in the US: only accept the clear ones."""
    if first == second or (first > 12 and second <= 12):
        return first, second
    if second > 12 and first <= 12:
        return second, first
    raise WhenError("bad_format", "numeric_date")


def _calendar_date(year: int | None, month: int, day: int, today: date) -> date:
    if year is not None:
        try:
            return date(year, month, day)
        except ValueError as exc:
            raise WhenError("bad_format", "no_such_date") from exc
    for candidate_year in (today.year, today.year + 1):
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    raise WhenError("bad_format", "no_such_date")


# -- repeat patterns -----------------------------------------------------------------------------

_SERIES_COUNT = re.compile(
    r"(?:[x×*]\s*(?P<a>\d+)|(?<!\d)(?P<b>\d+)\s*"
    r"(?:x|×|times|sessions?|in all|total|veces|sesion(?:es)?|en total)?)\s*$",
    re.ASCII,
)


def parse_series(text: str) -> Series:
    """A repeat pattern like ``Mon,Wed,Fri x6``, ``tue thu 6 sessions``, ``Mon-Fri x10``, or in
    Spanish ``lun,mié,vie x6``, ``mar y jue 4 sesiones``, ``lun-vie x10`` ("mar" is Tuesday here).

    ``count`` is the number of sessions in all, counting the one just entered. ``Mon-Fri`` (two
    days joined by a dash) is a range; ``Mon/Wed/Fri`` and ``Mon-Wed-Fri`` are lists.
    Raises ``WhenError``: ``bad_format`` (hint ``series``), or ``too_many`` above ``MAX_SERIES``.
    """
    cleaned = fold_accents(" ".join(text.lower().replace("×", "x").split()))
    if not cleaned or len(cleaned) > _MAX_INPUT:
        raise WhenError("bad_format", "series")
    match = _SERIES_COUNT.search(cleaned)
    if match is None:
        raise WhenError("bad_format", "series")
    count = int(match["a"] or match["b"])
    days_text = cleaned[: match.start()].strip(" ,")
    days_text = re.sub(r"\b(?:every|on|for|and|cada|los|el|y|e|todos)\b", " ", days_text)
    weekdays = _weekday_list(days_text)
    if count > MAX_SERIES:
        raise WhenError("too_many")
    if count < 2:
        raise WhenError("bad_format", "series")
    return Series(weekdays=weekdays, count=count)


_SERIES_DAYS = {**_WEEKDAY_WORDS, _MAR: _TUESDAY}  # a list of weekdays has no months


def _weekday_list(text: str) -> tuple[int, ...]:
    names = [name for name in re.split(r"[\s,/&+;-]+", text) if name]
    if not names or any(name not in _SERIES_DAYS for name in names):
        raise WhenError("bad_format", "series")
    days = [_SERIES_DAYS[name] for name in names]
    if len(days) == 2 and re.fullmatch(r"[a-z]+\s*-\s*[a-z]+", text.strip()):
        first, last = days
        span = (last - first) % 7
        days = [(first + step) % 7 for step in range(span + 1)]
    return tuple(sorted(set(days)))


def series_starts(first: datetime, series: Series) -> list[datetime]:
    """The local starts after ``first`` that complete the series: ``series.count - 1`` of them.

    Same wall-clock time, on the next days whose weekday is in the pattern.
    """
    if series.count < 2:
        return []
    return series_dates(first.replace(tzinfo=None), series.weekdays, series.count)[1:]


# -- time zones ----------------------------------------------------------------------------------

# What people type that is no city in the database.
_ALIASES = {
    "nyc": "America/New_York",
    "la": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "boston": "America/New_York",
    "washington": "America/New_York",
    "miami": "America/New_York",
    "atlanta": "America/New_York",
    "dallas": "America/Chicago",
    "houston": "America/Chicago",
    "austin": "America/Chicago",
    "montreal": "America/Toronto",
    "munich": "Europe/Berlin",
    "hamburg": "Europe/Berlin",
    "frankfurt": "Europe/Berlin",
    "cologne": "Europe/Berlin",
    "manchester": "Europe/London",
    "edinburgh": "Europe/London",
    "glasgow": "Europe/London",
    "birmingham": "Europe/London",
    "uk": "Europe/London",
    "england": "Europe/London",
    "scotland": "Europe/London",
    "wales": "Europe/London",
    "germany": "Europe/Berlin",
    "france": "Europe/Paris",
    "spain": "Europe/Madrid",
    "italy": "Europe/Rome",
    "netherlands": "Europe/Amsterdam",
    "ireland": "Europe/Dublin",
    "india": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata",
    "japan": "Asia/Tokyo",
    "canberra": "Australia/Sydney",
    "new zealand": "Pacific/Auckland",
    # Spanish names people type (accents are folded before lookup: "México", "Bogotá").
    "cdmx": "America/Mexico_City",
    "ciudad de mexico": "America/Mexico_City",
    "mexico": "America/Mexico_City",
    "guadalajara": "America/Mexico_City",
    "nueva york": "America/New_York",
    "espana": "Europe/Madrid",
    "barcelona": "Europe/Madrid",
    "valencia": "Europe/Madrid",
    "sevilla": "Europe/Madrid",
    "bilbao": "Europe/Madrid",
    "malaga": "Europe/Madrid",
    "zaragoza": "Europe/Madrid",
    "las palmas": "Atlantic/Canary",
    "canarias": "Atlantic/Canary",
    "tenerife": "Atlantic/Canary",
    "colombia": "America/Bogota",
    "medellin": "America/Bogota",
    "cali": "America/Bogota",
    "argentina": "America/Argentina/Buenos_Aires",
    "peru": "America/Lima",
    "chile": "America/Santiago",
    "venezuela": "America/Caracas",
    "ecuador": "America/Guayaquil",
    "quito": "America/Guayaquil",
    "uruguay": "America/Montevideo",
    "paraguay": "America/Asuncion",
    "bolivia": "America/La_Paz",
    "la habana": "America/Havana",
    "san jose": "America/Costa_Rica",
    "san juan": "America/Puerto_Rico",
    "londres": "Europe/London",
    "roma": "Europe/Rome",
    "lisboa": "Europe/Lisbon",
}

# Names for a clock, not a place: the answer is "which city?". Lower case. Every alphabetic
# abbreviation a region zone uses is added from the tz database (``_abbreviations``).
# fmt: off
_STATIC_ABBREVIATIONS = frozenset(
    {
        "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt", "akst", "akdt", "hst", "hdt",
        "ast", "adt", "nst", "ndt", "bst", "ist", "wet", "west", "cet", "cest", "met", "mest",
        "eet", "eest", "msk", "wat", "cat", "eat", "sast", "pkt", "wib", "wita", "wit", "hkt",
        "sgt", "pht", "jst", "kst", "aest", "aedt", "acst", "acdt", "awst", "nzst", "nzdt",
    }
)
# fmt: on
# US-style names for a group of places: the places that group means, most people first.
_EASTERN = ("America/New_York", "America/Toronto", "America/Detroit")
_CENTRAL = ("America/Chicago", "America/Winnipeg", "America/Mexico_City")
_MOUNTAIN = ("America/Denver", "America/Edmonton", "America/Phoenix")
_PACIFIC = ("America/Los_Angeles", "America/Vancouver", "America/Tijuana")
_GROUPS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("et", "eastern", "eastern time", "est5edt", "est/edt"), _EASTERN),
    **dict.fromkeys(("ct", "central", "central time", "cst6cdt", "cst/cdt"), _CENTRAL),
    **dict.fromkeys(("mt", "mountain", "mountain time", "mst7mdt", "mst/mdt"), _MOUNTAIN),
    **dict.fromkeys(("pt", "pacific", "pacific time", "pst8pdt", "pst/pdt"), _PACIFIC),
}
# Names for UTC itself.
_UTC_WORDS = frozenset(
    {"utc", "gmt", "ut", "uct", "z", "zulu", "universal", "greenwich", "gmt0", "coordinated"}
)
# "GMT+1", "UTC -05:00", "+0100", "utc+5:30": in people's speech the sign is the offset's own.
_OFFSET = re.compile(
    r"(?:(?P<base>utc|gmt|ut)\s*)?(?P<sign>[+\-−–])?\s*(?P<hours>\d{1,2})"
    r"(?:(?::|\.|h)?(?P<minutes>\d{2}))?(?:\s*h(?:rs?|ours?)?)?",
    re.ASCII,
)
# "Etc/GMT+1": the tz database's POSIX-style names, where the sign is inverted (UTC-01:00).
_ETC = re.compile(
    r"etc/(?:utc|uct|ut|universal|zulu|greenwich|gmt0|gmt(?P<sign>[+-])(?P<hours>\d{1,2})|gmt)",
    re.ASCII,
)
# Offsets in use on Earth run from UTC-12:00 to UTC+14:00.
_MIN_OFFSET, _MAX_OFFSET = timedelta(hours=-12), timedelta(hours=14)
# Places offered first when asking "which city?", roughly most people first (US first: the
# catalog is English); any other place comes after these, by name.
# fmt: off
_WELL_KNOWN = (
    "America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London",
    "Europe/Berlin", "Europe/Paris", "Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo",
    "Australia/Sydney", "America/Denver", "America/Phoenix", "America/Toronto",
    "America/Vancouver", "America/Mexico_City", "America/Sao_Paulo", "Africa/Lagos",
    "Africa/Cairo", "Africa/Johannesburg", "Africa/Nairobi", "Europe/Madrid", "Europe/Rome",
    "Europe/Amsterdam", "Europe/Dublin", "Europe/Lisbon", "Europe/Warsaw", "Europe/Athens",
    "Europe/Helsinki", "Europe/Kyiv", "Europe/Istanbul", "Europe/Moscow", "Asia/Seoul",
    "Asia/Manila", "Asia/Jakarta", "Asia/Singapore", "Asia/Hong_Kong", "Asia/Bangkok",
    "Asia/Dhaka", "Asia/Karachi", "Asia/Dubai", "Asia/Riyadh", "Asia/Tehran",
    "Asia/Jerusalem", "Asia/Kathmandu", "Asia/Tashkent", "Asia/Yangon",
    "America/Argentina/Buenos_Aires", "America/Bogota", "America/Lima", "America/Santiago",
    "America/Caracas", "America/Halifax", "America/St_Johns", "America/Anchorage",
    "America/Havana", "America/Panama", "America/Puerto_Rico", "Africa/Casablanca",
    "Africa/Accra", "Africa/Abidjan", "Australia/Melbourne", "Australia/Brisbane",
    "Australia/Perth", "Australia/Adelaide", "Australia/Darwin", "Pacific/Auckland",
    "Pacific/Honolulu", "Pacific/Guam", "Pacific/Fiji", "Pacific/Pago_Pago", "Pacific/Chatham",
    "Atlantic/Reykjavik", "Atlantic/Azores", "Atlantic/Cape_Verde", "America/Noronha",
    "America/Nuuk",
)
# fmt: on
# Link names whose last part is a direction or a region, not a city ("Australia/North").
_NOT_CITIES = frozenset({"North", "South", "East", "West", "Central", "Eastern", "Pacific"})
_MAX_SUGGESTIONS = 3


def _key(text: str) -> str:
    folded = fold_accents(text.lower().replace("_", " "))
    return re.sub(r"\s*/\s*", "/", " ".join(folded.split()))


@lru_cache(maxsize=1)
def _zone_index() -> dict[str, str]:
    """What people type (``europe/berlin``, ``new york``, ``calcutta``) -> a region zone."""
    places = sorted(region_zones(), key=lambda name: (name.count("/"), name))
    index: dict[str, str] = {}
    for name in places:
        index.setdefault(_key(name), name)
    for name in places:
        index.setdefault(_key(name.rsplit("/", 1)[-1]), name)
    for alias, name in _ALIASES.items():
        if region_zone(name):
            index.setdefault(alias, name)
    # Old spellings of a city ("Asia/Calcutta" -> Kolkata, "Europe/Kiev" -> Kyiv) and country
    # names kept as aliases ("Japan", "Poland"): the city or country, never the old full name.
    for old, name in sorted(zone_links().items()):
        if not region_zone(name) or region_zone(old):
            continue
        area, _, city = old.rpartition("/")
        if area.split("/")[0] in REGION_AREAS and city not in _NOT_CITIES and not city.isupper():
            index.setdefault(_key(city), name)
        elif not area and old.isalpha() and len(old) > 3 and not old.isupper():
            index.setdefault(_key(old), name)
    return index


@lru_cache(maxsize=1)
def _abbreviations() -> frozenset[str]:
    """Every abbreviation a region zone's clock shows (EST, CEST, IST, WIB...), lower case."""
    found = set(_STATIC_ABBREVIATIONS)
    for zone in region_zones():
        for month in (1, 7):
            name = datetime(2025, month, 15, tzinfo=UTC).astimezone(zone_info(zone)).tzname()
            if name and name.isalpha():
                found.add(name.lower())
    return frozenset(found - _UTC_WORDS)


@lru_cache(maxsize=1)
def _other_names() -> dict[str, str]:
    """The zones that load but are no place (``US/Eastern``, ``PRC``), by ``_key``."""
    names = available_timezones() - region_zones()
    return {_key(name): name for name in sorted(names) if _loads(name)}


def _loads(name: str) -> bool:
    """True for any zone name that loads, place or not (``UTC``, ``US/Eastern`` too)."""
    try:
        zone_info(name)
    except ZoneError:
        return False
    return True


def zone_ok(name: str) -> bool:
    """True for the zones a person may have: region zones like ``Europe/Berlin``."""
    return region_zone(name)


def parse_zone(text: str, now: datetime | None = None) -> str:
    """A region zone from ``Europe/Berlin``, ``europe/berlin``, ``Berlin``, ``New York``, ``NYC``.

    Only places: an abbreviation (``EST``, ``CET``, ``BST``, ``Eastern``), an offset (``UTC``,
    ``GMT+1``, ``UTC-5``, ``+01:00``, ``Etc/GMT+1``) or an old alias (``US/Eastern``) raises
    ``ZoneGuessError`` with its ``code`` (see there). With ``now`` (aware), an abbreviation or
    offset comes with up to three places whose clock shows it: for an offset, places whose
    offset at ``now`` is exactly that one ("GMT+1" is UTC+01:00; "Etc/GMT+1" is POSIX for
    UTC-01:00); for an abbreviation, places that use it at ``now`` or in the other half of the
    year. Without ``now`` those come without suggestions, except US-style groups (``Eastern``,
    ``EST5EDT``), which list their places. An unknown name gets up to three close matches.
    """
    key = _key(text)[:_MAX_INPUT]
    shown = text[:_MAX_INPUT]
    if not key:
        raise ZoneGuessError(shown, ())
    clock = _clock_name(key, now)
    if clock is not None:
        code, offset, suggestions = clock
        raise ZoneGuessError(shown, suggestions, code=code, offset=offset)
    index = _zone_index()
    found = index.get(key)
    if found is not None:
        return found
    old = _other_names().get(key)
    if old is not None:
        target = zone_links().get(old)
        suggestions = (target,) if target is not None and region_zone(target) else ()
        raise ZoneGuessError(shown, suggestions, code=LEGACY)
    close = difflib.get_close_matches(key, index.keys(), n=6, cutoff=0.75)
    suggestions = tuple(dict.fromkeys(index[match] for match in close))[:_MAX_SUGGESTIONS]
    raise ZoneGuessError(shown, suggestions)


def _clock_name(
    key: str, now: datetime | None
) -> tuple[str, timedelta | None, tuple[str, ...]] | None:
    """(code, offset, suggestions) if ``key`` names a clock rather than a place, else None."""
    offset = _offset(key)
    if offset is not None:
        value = offset if _MIN_OFFSET <= offset <= _MAX_OFFSET else None
        places = _at_offset(value, now) if value is not None else ()
        return OFFSET, value, places
    if key in _GROUPS:
        return ABBREVIATION, None, tuple(z for z in _GROUPS[key] if region_zone(z))
    if key in _abbreviations():
        return ABBREVIATION, None, _using_abbreviation(key.upper(), now)
    if key.startswith("etc/") and key in _other_names():
        return OFFSET, None, ()  # another "Etc/" name: a clock, not a place
    return None


def _offset(key: str) -> timedelta | None:
    """The UTC offset ``key`` means, if it is written as one (see ``_OFFSET`` and ``_ETC``)."""
    if key in _UTC_WORDS:
        return timedelta(0)
    etc = _ETC.fullmatch(key)
    if etc is not None:
        if etc["hours"] is None:
            return timedelta(0)
        hours = int(etc["hours"])
        return timedelta(hours=-hours if etc["sign"] == "+" else hours)  # POSIX: inverted
    match = _OFFSET.fullmatch(key)
    if match is None or (match["base"] is None and match["sign"] is None):
        return None
    minutes = int(match["minutes"] or 0)
    if minutes > 59:
        return _MAX_OFFSET + timedelta(hours=1)  # written as an offset, but none: out of range
    size = timedelta(hours=int(match["hours"]), minutes=minutes)
    return -size if match["sign"] in ("-", "−", "–") else size


def _ranked(zones: set[str]) -> tuple[str, ...]:
    """Up to three of ``zones`` to offer, best first: well-known places before the rest (polar
    stations last), and among the well-known, one per area before a second from the same area,
    so an abbreviation several places use (IST, CST) shows each of them."""
    rank = {name: position for position, name in enumerate(_WELL_KNOWN)}
    ordered = sorted(
        zones,
        key=lambda name: (
            name.split("/")[0] in ("Antarctica", "Arctic"),
            rank.get(name, len(rank)),
            name,
        ),
    )
    chosen: list[str] = []
    areas: set[str] = set()
    for name in ordered:
        area = name.split("/")[0]
        if name in rank and area not in areas:
            chosen.append(name)
            areas.add(area)
    chosen += [name for name in ordered if name not in chosen]
    return tuple(sorted(chosen[:_MAX_SUGGESTIONS], key=ordered.index))


def _at_offset(offset: timedelta, now: datetime | None) -> tuple[str, ...]:
    """Places whose offset at ``now`` is exactly ``offset``; none without ``now``."""
    if now is None or now.tzinfo is None:
        return ()
    return _ranked(
        {z for z in region_zones() if now.astimezone(zone_info(z)).utcoffset() == offset}
    )


def _using_abbreviation(name: str, now: datetime | None) -> tuple[str, ...]:
    """Places whose clock shows ``name`` at ``now`` or half a year before or after."""
    if now is None or now.tzinfo is None:
        return ()
    moments = (now, now - timedelta(days=182), now + timedelta(days=182))
    return _ranked(
        {
            zone
            for zone in region_zones()
            if any(moment.astimezone(zone_info(zone)).tzname() == name for moment in moments)
        }
    )


# -- session kinds -------------------------------------------------------------------------------

# fmt: off
_KIND_WORDS = {
    Kind.IV: (
        "iv", "i.v.", "i.v", "infusion", "iv infusion", "intravenous", "drip",
        "intravenosa", "intravenoso", "endovenosa", "por la vena", "vena", "suero", "gotero",
    ),
    Kind.NASAL: (
        "nasal", "spray", "nasal spray", "esketamine", "spravato", "nose",
        "espray", "espray nasal", "spray nasal", "aerosol nasal", "esketamina", "nariz",
    ),
    Kind.OTHER: (
        "other", "im", "i.m.", "intramuscular", "injection", "shot", "oral", "lozenge",
        "otro", "otra", "inyeccion", "pastilla", "sublingual",
    ),
}
# fmt: on
_KINDS = {word: kind for kind, words in _KIND_WORDS.items() for word in words}


def parse_kind(text: str) -> Kind:
    """``iv``, ``nasal`` or ``other``, also from everyday words (``infusion``, ``spray``) and
    Spanish ones (``intravenosa``, ``espray``, ``otra``)."""
    kind = _KINDS.get(fold_accents(" ".join(text.lower().split())[:_MAX_INPUT]))
    if kind is None:
        raise KindError(text[:_MAX_INPUT])
    return kind


# -- small answers -------------------------------------------------------------------------------

MAX_NAME = 32
MAX_NAME_WORDS = 3
_DONE_WORDS = frozenset(
    {"done", "no", "nope", "none", "finished", "that's all", "thats all", "that is all", "all done"}
    | {"listo", "lista", "ya", "ya esta", "eso es todo", "es todo", "nada mas", "ninguna"}
    | {"ninguno", "nada", "termine", "terminado", "fin", "hecho", "no hay mas", "ya no"}
)
# What may join the letters of a name: Mary-Jane, O'Brien (also ’ and ʼ), J.R., l·l.
_NAME_JOINERS = frozenset("-‐'’ʼ.·")
# Invisible joiners some scripts need inside a word (Malayalam, Sinhala, Persian).
_ZERO_WIDTH = frozenset("\u200c\u200d")
# Whole answers made of letters that are replies, not names.
# fmt: off
_NOT_NAMES = frozenset(
    {
        "yes", "yeah", "yep", "yup", "no", "nope", "nah", "ok", "okay", "k", "kk", "hi", "hey",
        "hello", "hiya", "help", "start", "stop", "cancel", "back", "menu", "skip", "done",
        "next", "thanks", "thank you", "thx", "sorry", "what", "why", "how", "who", "when",
        "where", "name", "my name", "none", "nothing", "nobody", "idk",
        "dunno", "sure", "fine", "good", "bad", "great", "cool", "lol", "hm", "hmm", "um", "uh",
        "please", "maybe", "whatever", "anonymous", "settings", "sessions", "pause", "resume",
        "leave", "family", "invite", "export", "forget", "timezone",
        # Spanish replies.
        "si", "sí", "vale", "hola", "buenas", "buenos dias", "buenos días", "gracias",
        "ayuda", "listo", "lista", "nada", "nadie", "ninguno", "perdon", "perdón", "claro",
        "bien", "mal", "nombre", "mi nombre", "no se", "no sé", "que", "qué", "como", "cómo",
        "quien", "quién", "cuando", "cuándo", "por favor", "anónimo", "anonimo",
    }
)
# fmt: on
# Words that make the text a sentence. English only, and never a word that is a name somewhere
# ("Can" in Turkish, "He" and "You" in Chinese, "So" and "No" in Korean, "My" and "An" in
# Vietnamese, "Will", "May", "Hope"): those pass, since a name is checked, not understood.
# fmt: off
_SENTENCE_WORDS = frozenset(
    {
        "i", "i'm", "im", "i've", "ive", "i'll", "i'd", "me", "myself", "your", "you're",
        "youre", "we", "they", "it", "it's", "its", "is", "are", "am", "was", "were", "been",
        "the", "this", "that", "these", "those", "what", "what's", "whats", "why", "how", "who",
        "where", "when", "which", "please", "help", "can't", "cant", "cannot", "could", "would",
        "should", "don't", "dont", "doesn't", "didn't", "won't", "not", "want", "need", "feel",
        "feeling", "think", "know", "have", "has", "had", "with", "about", "anymore", "really",
        "very", "because", "but", "if", "there", "here", "and", "or", "hello", "hey", "thanks",
        "sorry", "okay", "yes",
        # Spanish, with and without accents; never a word that is a name somewhere.
        "yo", "estoy", "soy", "eres", "quiero", "necesito", "tengo", "puedo", "llamo",
        "ayuda", "ayudame", "ayúdame", "hola", "gracias", "porque", "qué", "cómo", "dónde",
        "cuándo", "estás", "siento", "sé", "favor", "mucho", "muy", "nada", "esto", "eso",
    }
)
# fmt: on


class NameInputError(ValueError):
    """Not a name (see ``parse_name``): the bot asks again, saying what a name looks like."""


def parse_name(text: str) -> str:
    """The name to call someone by, if the text looks like one: trimmed, spaces collapsed, NFC.

    A name is 1 to ``MAX_NAME`` characters in at most ``MAX_NAME_WORDS`` words. Each word is
    letters of any script (with their accents and marks), which a hyphen, an apostrophe or a
    dot may join, and a dot may end: ``Ana``, ``Mary-Jane``, ``O'Brien``, ``J. R.``,
    ``José Luis``, ``Анна``, ``李``. So no digits, ``?``, ``!``, emoji or commands (``/start``).
    Also refused: a whole answer that is a reply (``yes``, ``no``, ``ok``, ``hi``, ``help``), and
    any text with a word that makes it a sentence (``what is this``), so nothing a person says
    to the bot is ever taken for their name. Raises ``NameInputError``.
    """
    name = unicodedata.normalize("NFC", " ".join(text.split()))
    words = name.split(" ")
    if (
        not name
        or len(name) > MAX_NAME
        or len(words) > MAX_NAME_WORDS
        or not all(_name_word(word) for word in words)
    ):
        raise NameInputError(text[:_MAX_INPUT])
    folded = [word.casefold().replace("’", "'").replace("ʼ", "'") for word in words]
    if " ".join(folded).strip(".") in _NOT_NAMES or any(w in _SENTENCE_WORDS for w in folded):
        raise NameInputError(text[:_MAX_INPUT])
    return name


def _name_word(word: str) -> bool:
    """Letters (and their marks), joined by single joiners; a dot may end it (``J.``)."""
    after_letter = False
    for char in word:
        category = unicodedata.category(char)
        if category.startswith("L"):
            after_letter = True
        elif category.startswith("M") or char in _ZERO_WIDTH:
            if not after_letter:
                return False
        elif char in _NAME_JOINERS:
            if not after_letter:
                return False
            after_letter = False
        else:
            return False
    return after_letter or word.endswith(".")


def is_done(text: str) -> bool:
    """ "Done", "no", "that's all", "listo", "eso es todo": no more sessions to enter."""
    folded = fold_accents(" ".join(text.lower().replace("’", "'").split()))
    return folded.strip(" .!¡") in _DONE_WORDS
