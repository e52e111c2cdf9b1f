"""Wall-clock time in IANA zones: the one place that knows about DST gaps, folds and quiet hours.

Two ways to turn a local time into an instant, on purpose:

* ``to_utc`` is for what a person typed (a session's start). A time that does not exist is an
  error the person must see, and an ambiguous one takes the ``fold`` they confirmed.
* ``resolve_wall_clock`` is for times the catalog derives ("the evening before at 20:00"): they
  must always land somewhere, so it takes the first moment the recipient's clock reads that time
  or later on that date (a time in a spring-forward gap becomes the end of the gap, an ambiguous
  fall-back time its first occurrence).
"""

from __future__ import annotations

import contextlib
import difflib
import math
import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from scheduler.model import QuietHours, Session

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Names that load on some machines but are not places: the server's own zone, tzcode internals,
# and the leap-second ("right/") variants whose clocks disagree with everyone's phone.
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*$")


class ZoneError(ValueError):
    """A time zone name that is not a usable IANA zone; the message suggests a close match."""


class NonexistentLocalTime(ValueError):
    """A wall-clock time skipped by a spring-forward change; the message explains the jump."""

    def __init__(self, local: datetime, zone: str, gap_start: datetime, gap_end: datetime) -> None:
        self.local = local
        self.zone = zone
        self.gap_start = gap_start  # naive wall time the clocks jump from
        self.gap_end = gap_end  # naive wall time the clocks jump to
        if gap_start.date() == gap_end.date():
            jump = f"clocks jump from {gap_start:%H:%M} to {gap_end:%H:%M}"
        else:
            jump = (
                f"clocks jump from {gap_start:%H:%M} on {long_date(gap_start.date())} "
                f"to {gap_end:%H:%M} on {long_date(gap_end.date())}"
            )
        super().__init__(
            f"{local:%H:%M} does not exist on {long_date(local.date())} in {zone}: {jump}"
        )


def long_date(day: date) -> str:
    """English, locale-independent: 'Sunday 29 March 2026' (for operator and error messages)."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


# Planning asks for the same few zones for every row: names that loaded are kept (the tz database
# has a few hundred, so this stays small), names that failed are checked again each time.
_ZONES: dict[str, ZoneInfo] = {}
# Planning resolves the same wall-clock times over and over (every re-plan of a patient, and every
# patient whose sessions share a date, a time and a zone): the pure functions below keep their
# recent answers. Bounded: ~220 bytes an entry (measured), so ~3.5 MB each when full. Smaller
# caches cost hits across patients who share dates (2^12: a re-plan ~25 % slower).
_CACHE_SIZE = 1 << 14


def zone_info(name: str) -> ZoneInfo:
    """The zone for an IANA name like ``Europe/Berlin``; ``ZoneError`` for anything else."""
    if isinstance(name, str):
        known = _ZONES.get(name)
        if known is not None:
            return known
    zi = _load_zone(name)
    _ZONES[name] = zi
    return zi


def _load_zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not _NAME.match(name) or name in _NOT_PLACES:
        raise ZoneError(_unknown_zone(name))
    if name.startswith(("posix/", "right/")):
        raise ZoneError(_unknown_zone(name))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ZoneError(_unknown_zone(name)) from exc


def _unknown_zone(name: object) -> str:
    hint = "use an IANA name like Europe/Berlin or America/New_York"
    if isinstance(name, str) and name:
        close = difflib.get_close_matches(name, _known_zone_names(), n=1, cutoff=0.75)
        if close:
            hint = f"did you mean {close[0]}?"
    return f"unknown time zone {name!r}: {hint}"


@lru_cache(maxsize=1)
def _known_zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones() - _NOT_PLACES))


# -- region zones: the only zones a person's clock can be set to ---------------------------------

# The areas whose zones name a place ("Europe/Berlin"). Everything else in the database is an
# abbreviation ("EST", "CET"), a fixed offset ("Etc/GMT+1", which POSIX reads as UTC-1), a
# US-style rule set ("EST5EDT") or an old alias ("US/Eastern"): each is either a different clock
# from the one on the person's wall for half the year, or a name that hides which place is meant.
REGION_AREAS = frozenset(
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


class NotARegionZone(ZoneError):
    """A name that loads but is no place: an abbreviation, an offset or an old alias.

    ``suggestion`` is the place an old alias stands for (``US/Eastern`` -> ``America/New_York``),
    or None when the name says nothing about the place (``EST``, ``Etc/GMT+1``).
    """

    def __init__(self, name: str, suggestion: str | None) -> None:
        if suggestion is not None:
            hint = f"it is an old name for {suggestion}: use {suggestion}"
        else:
            hint = (
                "it is an abbreviation or a fixed offset, not a place: "
                "use the zone of a city, like Europe/Berlin or America/New_York"
            )
        super().__init__(f"time zone {name!r} is not a region zone: {hint}")
        self.name = name
        self.suggestion = suggestion


def _tz_data_texts(file_name: str) -> list[str]:
    """A tz database text file (``zone.tab``, ``tzdata.zi``) from every copy zoneinfo reads."""
    texts: list[str] = []
    # Without the tzdata package, the system copy below is what zoneinfo uses.
    with contextlib.suppress(ImportError, OSError, ValueError):
        packaged = resources.files("tzdata").joinpath("zoneinfo", file_name)
        texts.append(packaged.read_text(encoding="utf-8"))
    for directory in zoneinfo.TZPATH:
        try:
            texts.append((Path(directory) / file_name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return texts


@lru_cache(maxsize=1)
def zone_links() -> dict[str, str]:
    """Alias -> the zone it stands for, from the tz database: ``US/Eastern`` ->
    ``America/New_York``, ``Asia/Calcutta`` -> ``Asia/Kolkata``, ``EST`` -> ``America/Panama``.

    Some canonical places are links too since 2022 (``Europe/Amsterdam`` -> ``Europe/Brussels``):
    ``region_zone`` decides what is a place, this only says where an alias points.
    """
    links: dict[str, str] = {}
    for text in _tz_data_texts("tzdata.zi"):
        for line in text.splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[0] == "L":
                links.setdefault(fields[2], fields[1])
    resolved = {}
    for alias, target in links.items():
        for _ in range(5):  # links point at zones, but follow a chain if a copy ever has one
            target = links.get(target, target)
        resolved[alias] = target
    return resolved


@lru_cache(maxsize=1)
def region_zones() -> frozenset[str]:
    """Every canonical place zone that loads here: the names the tz database lists per country
    (``zone.tab``, ``zone1970.tab``), e.g. ``Europe/Berlin``, ``America/Argentina/Buenos_Aires``.

    Without those files (no ``tzdata`` package and no system copy), every loadable name in a
    region area that is not a known alias.
    """
    listed: set[str] = set()
    for file_name in ("zone.tab", "zone1970.tab"):
        for text in _tz_data_texts(file_name):
            for line in text.splitlines():
                fields = line.split("\t")
                if line.startswith("#") or len(fields) < 3:
                    continue
                listed.add(fields[2].strip())
    if not listed:
        aliases = zone_links()
        listed = {name for name in available_timezones() if name not in aliases}
    return frozenset(
        name for name in listed if name.split("/", 1)[0] in REGION_AREAS and _loads(name)
    )


def _loads(name: str) -> bool:
    try:
        zone_info(name)
    except ZoneError:
        return False
    return "/" in name


def region_zone(name: object) -> bool:
    """True for a canonical Area/City zone (``Europe/Berlin``); False for ``EST``, ``CET``,
    ``UTC``, ``GMT+1``, ``Etc/GMT+1``, ``EST5EDT``, ``US/Eastern``, ``Asia/Calcutta`` and
    anything unknown."""
    return isinstance(name, str) and name in region_zones()


def check_region_zone(name: str) -> str:
    """``name`` if it is a region zone. ``ZoneError`` if it is no zone at all;
    ``NotARegionZone`` (a ``ZoneError``) if it loads but names no place."""
    zone_info(name)
    if region_zone(name):
        return name
    target = zone_links().get(name)
    raise NotARegionZone(name, target if _alias_of_place(name, target) else None)


def _alias_of_place(name: str, target: str | None) -> bool:
    """An old spelling of a place (``US/Eastern``, ``Asia/Calcutta``, ``Japan``), as opposed to
    an abbreviation that happens to be stored as a link (``EST`` -> ``America/Panama``)."""
    if target is None or not region_zone(target) or name.startswith("Etc/"):
        return False
    return "/" in name or (name.isalpha() and len(name) > 3 and not name.isupper())


def _require_naive(local: datetime) -> None:
    if local.tzinfo is not None:
        raise ValueError(f"expected a naive wall-clock time, got {local.isoformat()}")


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is UTC:  # what the planner passes, every time: no offset to look up
        return
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"expected an aware instant, got naive {instant.isoformat()}")


def _gap(local: datetime, zi: ZoneInfo) -> tuple[datetime, datetime, datetime] | None:
    """(transition UTC, wall time jumped from, wall time jumped to) if ``local`` is in a gap."""
    first = local.replace(tzinfo=zi, fold=0)
    back = first.astimezone(UTC).astimezone(zi).replace(tzinfo=None, fold=0)
    if back == local.replace(fold=0):
        return None
    # In a gap zoneinfo reads fold=0 with the offset before the change and fold=1 with the one
    # after, so the change lies between those two readings: find it to the second.
    lo = math.floor(local.replace(tzinfo=zi, fold=1).timestamp())
    hi = math.ceil(first.timestamp())
    lo, hi = min(lo, hi), max(lo, hi)
    before = datetime.fromtimestamp(lo, zi).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zi).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    transition = datetime.fromtimestamp(hi, UTC)
    assert before is not None
    jumped_from = transition.astimezone(timezone(before)).replace(tzinfo=None)
    jumped_to = transition.astimezone(zi).replace(tzinfo=None, fold=0)
    return transition, jumped_from, jumped_to


def to_utc(local: datetime, zone: str, fold: int = 0) -> datetime:
    """A naive wall-clock time in ``zone`` as an aware UTC instant.

    Raises ``NonexistentLocalTime`` for a time in a spring-forward gap; an ambiguous fall-back
    time is read as its first (``fold=0``) or second (``fold=1``) occurrence.
    """
    _require_naive(local)
    if fold not in (0, 1):
        raise ValueError(f"fold must be 0 or 1, got {fold}")
    try:
        # The key carries fold on its own: naive datetimes compare and hash without it.
        return _to_utc(local.replace(fold=0), zone, fold)
    except NonexistentLocalTime as exc:  # not cached: raised again about the time as given
        raise NonexistentLocalTime(local, zone, exc.gap_start, exc.gap_end) from None


@lru_cache(maxsize=_CACHE_SIZE)
def _to_utc(local: datetime, zone: str, fold: int) -> datetime:
    zi = zone_info(zone)
    gap = _gap(local, zi)
    if gap is not None:
        raise NonexistentLocalTime(local, zone, gap[1], gap[2])
    return local.replace(tzinfo=zi, fold=fold).astimezone(UTC)


def is_nonexistent(local: datetime, zone: str) -> bool:
    """True if the wall-clock time is skipped in ``zone`` (spring-forward gap)."""
    _require_naive(local)
    return _gap(local, zone_info(zone)) is not None


def is_ambiguous(local: datetime, zone: str) -> bool:
    """True if the wall-clock time happens twice in ``zone`` (fall-back fold)."""
    _require_naive(local)
    zi = zone_info(zone)
    first = local.replace(tzinfo=zi, fold=0).utcoffset()
    second = local.replace(tzinfo=zi, fold=1).utcoffset()
    return first != second and _gap(local, zi) is None


def offset_label(offset: timedelta) -> str:
    """``UTC+02:00``, ``UTC-05:00``, ``UTC+05:45``; seconds only for historical offsets."""
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hours, rest = divmod(abs(total), 3600)
    minutes, seconds = divmod(rest, 60)
    label = f"UTC{sign}{hours:02d}:{minutes:02d}"
    return f"{label}:{seconds:02d}" if seconds else label


def utc_offset_label(local: datetime, zone: str, fold: int = 0) -> str:
    """The offset the wall-clock time has in ``zone`` (after picking ``fold``), as a label."""
    instant = to_utc(local, zone, fold)
    offset = instant.astimezone(zone_info(zone)).utcoffset()
    assert offset is not None
    return offset_label(offset)


def instant_offset_label(instant: datetime, zone: str) -> str:
    """The offset ``zone`` has at an aware instant, as a label."""
    _require_aware(instant)
    offset = instant.astimezone(zone_info(zone)).utcoffset()
    assert offset is not None
    return offset_label(offset)


def resolve_wall_clock(local: datetime, zone: str) -> datetime:
    """The first moment the clock in ``zone`` reads ``local`` or later on that date, as UTC.

    Never raises for gaps: a skipped time becomes the end of the gap (02:30 on a 02:00->03:00
    night is 03:00); an ambiguous time is its first occurrence.
    """
    _require_naive(local)
    return _resolve_wall_clock(local.replace(fold=0), zone)


@lru_cache(maxsize=_CACHE_SIZE)
def _resolve_wall_clock(local: datetime, zone: str) -> datetime:
    zi = zone_info(zone)
    gap = _gap(local, zi)
    if gap is not None:
        return gap[0]
    return local.replace(tzinfo=zi, fold=0).astimezone(UTC)


def wall_clock_offset(anchor: datetime, days: int, clock: time, zone: str) -> datetime:
    """``clock`` on the date ``days`` after the anchor's local date in ``zone``, as UTC.

    "The evening before at 20:00" is ``days=-1, clock=20:00``: DST never moves it, and a family
    member in another zone gets it at 20:00 on their own clock.
    """
    _require_aware(anchor)
    return _clock_on(_local_date(anchor, zone), days, clock, zone)


# Two caches rather than one keyed by the anchor: a plan asks for a dozen (days, clock) pairs
# of each session's start and end, so the anchor's local date is worked out once per anchor,
# and the answer for a (date, days, clock) is shared by every patient with a session that day.
@lru_cache(maxsize=_CACHE_SIZE)
def _local_date(anchor: datetime, zone: str) -> date:
    # Equal instants in different zones hash and compare equal, and give the same answer.
    return anchor.astimezone(zone_info(zone)).date()


@lru_cache(maxsize=_CACHE_SIZE)
def _clock_on(local_date: date, days: int, clock: time, zone: str) -> datetime:
    # ``combine`` gives a naive time with fold 0: what resolve_wall_clock would check and make.
    return _resolve_wall_clock(datetime.combine(local_date + timedelta(days=days), clock), zone)


def quiet_period_end(instant: datetime, quiet: QuietHours | None, zone: str) -> datetime | None:
    """The UTC end of the quiet period in ``zone`` that contains ``instant``, or None if outside.

    ``start > end`` crosses midnight; ``start == end`` (or ``quiet is None``) means no quiet hours.
    The period is judged by what the clock reads, so on a fall-back night the repeated hour is
    quiet twice, and the end is the next time the clock reads ``end`` after ``instant``.
    """
    _require_aware(instant)
    if quiet is None or quiet.start == quiet.end:
        return None
    return _quiet_period_end(instant, quiet, zone)


@lru_cache(maxsize=_CACHE_SIZE)
def _quiet_period_end(instant: datetime, quiet: QuietHours, zone: str) -> datetime | None:
    zi = zone_info(zone)
    local = instant.astimezone(zi)
    now_clock = local.time()
    today = local.date()
    if quiet.start < quiet.end:
        if not quiet.start <= now_clock < quiet.end:
            return None
        end_date = today
    elif now_clock >= quiet.start:
        end_date = today + timedelta(days=1)
    elif now_clock < quiet.end:
        end_date = today
    else:
        return None
    end_local = datetime.combine(end_date, quiet.end)
    if _gap(end_local, zi) is not None:
        return resolve_wall_clock(end_local, zone)
    first = end_local.replace(tzinfo=zi, fold=0).astimezone(UTC)
    if first > instant:
        return first
    # The instant is in the repeated hour and the period ends later in that same hour.
    return end_local.replace(tzinfo=zi, fold=1).astimezone(UTC)


def session_start(session: Session) -> datetime:
    """A session's start as aware UTC; ``local_start.fold`` picks the fall-back occurrence.

    Sessions are checked when entered (``to_utc`` rejects a skipped time), but a tz database
    update can later remove a stored time: then the start moves to the end of the gap rather
    than failing every re-plan and every list of that patient's sessions.
    """
    try:
        return to_utc(session.local_start.replace(fold=0), session.zone, session.local_start.fold)
    except NonexistentLocalTime:
        return resolve_wall_clock(session.local_start.replace(fold=0), session.zone)
