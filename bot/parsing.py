"""What people type, read forgivingly: session times, repeat patterns, time zones, session kinds.

Pure functions, no Telegram and no clock: ``now`` is a parameter. Every function either returns a
value or raises its own declared error (``WhenError``, ``ZoneGuessError``, ``KindError``), whatever
the text, so a handler needs one ``except`` per input to turn a mistake into a kind re-prompt.
The errors carry codes, never sentences: the wording lives in the catalog.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import available_timezones

from scheduler.companion import MAX_AHEAD
from scheduler.localtime import NonexistentLocalTime, ZoneError, to_utc, zone_info
from scheduler.model import Kind

MAX_SERIES = 24
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


class ZoneGuessError(ZoneError):
    """No zone matches the text; ``suggestions`` are close IANA names, best first (maybe none)."""

    def __init__(self, text: str, suggestions: tuple[str, ...]) -> None:
        super().__init__(f"unknown time zone {text!r}")
        self.text = text
        self.suggestions = suggestions


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
        ("mon", "monday", "mo"),
        ("tue", "tues", "tuesday", "tu"),
        ("wed", "weds", "wednesday", "we"),
        ("thu", "thur", "thurs", "thursday", "th"),
        ("fri", "friday", "fr"),
        ("sat", "saturday", "sa"),
        ("sun", "sunday", "su"),
    )
):
    for _name in _names:
        _WEEKDAY_WORDS[_name] = _index

_MONTH_WORDS: dict[str, int] = {}
for _index, _names in enumerate(
    (
        ("jan", "january"),
        ("feb", "february"),
        ("mar", "march"),
        ("apr", "april"),
        ("may",),
        ("jun", "june"),
        ("jul", "july"),
        ("aug", "august"),
        ("sep", "sept", "september"),
        ("oct", "october"),
        ("nov", "november"),
        ("dec", "december"),
    ),
    start=1,
):
    for _name in _names:
        _MONTH_WORDS[_name] = _index

_FILLER = frozenset({"at", "on", "the", "of", "next", "this", "coming", "from", "starting"})
_RELATIVE = {"today": 0, "tonight": 0, "tomorrow": 1, "tmrw": 1, "tmr": 1, "tomorow": 1}
_CLOCK_WORDS = {"noon": time(12), "midday": time(12), "midnight": time(0)}

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
    parts = _tokens(cleaned)
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
        if parts.weekday is not None:
            raise WhenError("bad_format")
        parts.weekday = _WEEKDAY_WORDS[word]
    elif word in _MONTH_WORDS:
        if parts.month is not None:
            raise WhenError("bad_format")
        parts.month = _MONTH_WORDS[word]
        parts.date_tokens += 1
    elif word in _CLOCK_WORDS:
        if parts.clock is not None:
            raise WhenError("bad_format")
        parts.clock = _CLOCK_WORDS[word]
    else:
        raise WhenError("bad_format")


def _assign_numbers(parts: _Parts, numbers: list[tuple[int, str, bool]]) -> None:
    """Bare numbers: a four-digit year, the day next to a month name, or a final bare hour."""
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
    r"(?:[x×*]\s*(?P<a>\d+)|(?<!\d)(?P<b>\d+)\s*(?:x|×|times|sessions?|in all|total)?)\s*$",
    re.ASCII,
)


def parse_series(text: str) -> Series:
    """A repeat pattern like ``Mon,Wed,Fri x6``, ``tue thu 6 sessions``, ``Mon-Fri x10``.

    ``count`` is the number of sessions in all, counting the one just entered. ``Mon-Fri`` (two
    days joined by a dash) is a range; ``Mon/Wed/Fri`` and ``Mon-Wed-Fri`` are lists.
    Raises ``WhenError``: ``bad_format`` (hint ``series``), or ``too_many`` above ``MAX_SERIES``.
    """
    cleaned = " ".join(text.lower().replace("×", "x").split())
    if not cleaned or len(cleaned) > _MAX_INPUT:
        raise WhenError("bad_format", "series")
    match = _SERIES_COUNT.search(cleaned)
    if match is None:
        raise WhenError("bad_format", "series")
    count = int(match["a"] or match["b"])
    days_text = cleaned[: match.start()].strip(" ,")
    days_text = re.sub(r"\b(?:every|on|for|and)\b", " ", days_text)
    weekdays = _weekday_list(days_text)
    if count > MAX_SERIES:
        raise WhenError("too_many")
    if count < 2:
        raise WhenError("bad_format", "series")
    return Series(weekdays=weekdays, count=count)


def _weekday_list(text: str) -> tuple[int, ...]:
    names = [name for name in re.split(r"[\s,/&+;-]+", text) if name]
    if not names or any(name not in _WEEKDAY_WORDS for name in names):
        raise WhenError("bad_format", "series")
    days = [_WEEKDAY_WORDS[name] for name in names]
    if len(days) == 2 and re.fullmatch(r"[a-z]+\s*-\s*[a-z]+", text.strip()):
        first, last = days
        span = (last - first) % 7
        days = [(first + step) % 7 for step in range(span + 1)]
    return tuple(sorted(set(days)))


def series_starts(first: datetime, series: Series) -> list[datetime]:
    """The local starts after ``first`` that complete the series: ``series.count - 1`` of them.

    Same wall-clock time, on the next days whose weekday is in the pattern.
    """
    starts: list[datetime] = []
    day = first.date()
    while len(starts) < series.count - 1:
        day += timedelta(days=1)
        if day.weekday() in series.weekdays:
            starts.append(datetime.combine(day, first.time()))
    return starts


# -- time zones ----------------------------------------------------------------------------------

# Areas whose last part names a place; "US/Eastern" and "Etc/GMT+2" are not places people type.
_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
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
    "utc": "UTC",
    "gmt": "Etc/GMT",
}


def _key(text: str) -> str:
    return re.sub(r"\s*/\s*", "/", " ".join(text.lower().replace("_", " ").split()))


@lru_cache(maxsize=1)
def _zone_index() -> dict[str, str]:
    """Lower-cased IANA names and city names (``new york``) -> IANA name."""
    names = sorted(
        (name for name in available_timezones() if zone_ok(name)),
        # Canonical areas first, then the shortest name, so a city's first entry is its best.
        key=lambda name: (name.split("/")[0] not in _AREAS, name.count("/"), name),
    )
    places = [name for name in names if name.split("/")[0] in _AREAS]
    index: dict[str, str] = {}
    for name in places:
        index.setdefault(_key(name), name)
    for name in places:
        index.setdefault(_key(name.rsplit("/", 1)[-1]), name)
    for alias, name in _ALIASES.items():
        if zone_ok(name):
            index.setdefault(alias, name)
    # Old link names last ("US/Eastern", "Japan"): valid, but a place name wins over them.
    for name in names:
        index.setdefault(_key(name), name)
    return index


def zone_ok(name: str) -> bool:
    try:
        zone_info(name)
    except ZoneError:
        return False
    return True


def parse_zone(text: str) -> str:
    """An IANA zone from ``Europe/Berlin``, ``europe/berlin``, ``Berlin`` or ``New York``.

    Raises ``ZoneGuessError`` with up to three close matches when nothing fits.
    """
    key = _key(text)[:_MAX_INPUT]
    index = _zone_index()
    found = index.get(key)
    if found is not None:
        return found
    close = difflib.get_close_matches(key, index.keys(), n=6, cutoff=0.75) if key else []
    suggestions = tuple(dict.fromkeys(index[match] for match in close))[:3]
    raise ZoneGuessError(text[:_MAX_INPUT], suggestions)


# -- session kinds -------------------------------------------------------------------------------

_KIND_WORDS = {
    Kind.IV: ("iv", "i.v.", "i.v", "infusion", "iv infusion", "intravenous", "drip"),
    Kind.NASAL: ("nasal", "spray", "nasal spray", "esketamine", "spravato", "nose"),
    Kind.OTHER: ("other", "im", "i.m.", "intramuscular", "injection", "shot", "oral", "lozenge"),
}
_KINDS = {word: kind for kind, words in _KIND_WORDS.items() for word in words}


def parse_kind(text: str) -> Kind:
    """``iv``, ``nasal`` or ``other``, also from everyday words (``infusion``, ``spray``)."""
    kind = _KINDS.get(" ".join(text.lower().split())[:_MAX_INPUT])
    if kind is None:
        raise KindError(text[:_MAX_INPUT])
    return kind


# -- small answers -------------------------------------------------------------------------------

MAX_NAME = 64
_DONE_WORDS = frozenset(
    {"done", "no", "nope", "none", "finished", "that's all", "thats all", "that is all", "all done"}
)


class NameInputError(ValueError):
    """Not usable as a name: empty, too long, or control characters."""


def parse_name(text: str) -> str:
    """The name to call someone by: trimmed, inner spaces collapsed, 1 to ``MAX_NAME`` chars."""
    name = " ".join(text.split())
    if not name or len(name) > MAX_NAME or any(not char.isprintable() for char in name):
        raise NameInputError(text[:_MAX_INPUT])
    return name


def is_done(text: str) -> bool:
    """ "Done", "no", "that's all": the person has no more sessions to enter."""
    return " ".join(text.lower().replace("’", "'").split()).strip(" .!") in _DONE_WORDS
