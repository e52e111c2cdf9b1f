"""A series of sessions: the dates a repeat pattern gives, what adding them did, and overlaps.

Pure: no storage, no clock. ``Companion.add_series`` and ``Companion.overlaps`` use these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.localtime import session_start
from scheduler.model import Session

# A series is at most this many sessions, the first one included (a long course is ~6-12).
MAX_SERIES = 24

# Why a date of a series was not added (``SkippedDate.code``); the same codes as
# ``SessionRejected`` for a single session.
PAST = "past"  # the time has already passed
TOO_FAR = "too_far"  # more than a year ahead
NONEXISTENT = "nonexistent"  # the wall-clock time is skipped that night (spring-forward gap)
DUPLICATE = "duplicate"  # the patient already has a session starting at that instant
SKIP_CODES = (PAST, TOO_FAR, NONEXISTENT, DUPLICATE)


@dataclass(frozen=True)
class SkippedDate:
    """A date of the series that was not added.

    ``local_start`` is the naive wall-clock time in ``zone`` (for ``nonexistent`` it is a time
    the clocks skip, so it has no offset: show it as is). ``detail`` explains a gap in English,
    for logs and tests; the bot words the reply from ``code``.
    """

    local_start: datetime
    zone: str
    code: str
    detail: str = ""


@dataclass(frozen=True)
class SeriesAdded:
    """What ``Companion.add_series`` did, in date order.

    ``booked`` is the session the series repeats when the caller gave one (its date is the
    series' first, neither added nor skipped).
    """

    added: tuple[Session, ...]
    skipped: tuple[SkippedDate, ...]
    booked: Session | None = None


def series_dates(first: datetime, weekdays: Iterable[int], count: int) -> list[datetime]:
    """The ``count`` wall-clock starts of a series, ``first`` included, in order.

    The others are at ``first``'s clock time on the following days whose weekday
    (0 = Monday) is in ``weekdays``; ``first`` need not fall on one of them. Pure calendar
    arithmetic on naive times: whether a time exists in a zone is checked when it is added.
    Raises ``ValueError`` for a count outside 1..``MAX_SERIES`` or a bad weekday list.
    """
    days = frozenset(weekdays)
    if not 1 <= count <= MAX_SERIES:
        raise ValueError(f"a series has 1 to {MAX_SERIES} sessions, not {count}")
    if count > 1 and (not days or not days <= frozenset(range(7))):
        raise ValueError(f"weekdays must be some of 0 (Monday) to 6, got {sorted(days)}")
    if first.tzinfo is not None:
        raise ValueError("a series' first start is naive wall-clock time")
    starts = [first.replace(fold=0)]
    day = first.date()
    while len(starts) < count:
        day += timedelta(days=1)
        if day.weekday() in days:
            starts.append(datetime.combine(day, first.time()))
    return starts


def overlapping(session: Session, others: Iterable[Session]) -> list[Session]:
    """The ``others`` whose time overlaps ``session``'s, earliest first.

    A session takes ``[start, start + expected_duration)``; two overlap when those spans
    intersect. ``session`` itself and exact duplicates (same start instant, refused when
    entered anyway) are left out.
    """
    start = session_start(session)
    end = start + session.expected_duration
    found = []
    for other in others:
        if other.id == session.id:
            continue
        other_start = session_start(other)
        if other_start == start:
            continue
        if other_start < end and start < other_start + other.expected_duration:
            found.append(other)
    return sorted(found, key=lambda s: (session_start(s), s.id))
