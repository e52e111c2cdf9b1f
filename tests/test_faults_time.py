"""Property tests of wall-clock -> UTC at every UTC-offset change of every IANA zone.

Random datetimes almost never land in a DST gap or fold, so the strategy draws a zone, one of
its offset changes between 1970 and 2037, and a wall-clock time within 75 minutes of it. The
oracle is independent of ``scheduler.localtime``: a wall time ``w`` is the instant ``w - o``
for each offset ``o`` in force on either side of the change, whenever the zone really has
offset ``o`` at that instant. No such instant: a gap. Two: a fold (first is fold 0).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scheduler.localtime import (
    NonexistentLocalTime,
    is_ambiguous,
    is_nonexistent,
    to_utc,
)

FIRST_YEAR, LAST_YEAR = 1970, 2037
ZONES = tuple(sorted(available_timezones() - {"localtime", "posixrules", "Factory"}))
Transition = tuple[datetime, timedelta, timedelta]  # UTC instant, offset before, after


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


@functools.cache
def transitions(name: str) -> tuple[Transition, ...]:
    """Every change of UTC offset in the zone, found week by week and then to the second (two
    changes within one week that cancel out are missed: rare, and only a lost example)."""
    zone = ZoneInfo(name)
    found: list[Transition] = []
    day = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(LAST_YEAR, 12, 31, tzinfo=UTC)
    step = timedelta(days=7)
    before = _offset(zone, day)
    while day < end:
        nxt = day + step
        after = _offset(zone, nxt)
        if after != before:
            lo, hi = day, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if _offset(zone, mid) == before:
                    lo = mid
                else:
                    hi = mid
            found.append((hi, before, _offset(zone, hi)))
        before = after
        day = nxt
    return tuple(found)


@st.composite
def near_a_transition(draw: st.DrawFn) -> tuple[str, datetime, Transition]:
    """(zone, naive wall time, the transition it is near)."""
    name = draw(st.sampled_from(ZONES))
    changes = transitions(name)
    if changes:
        change = draw(st.sampled_from(changes))
    else:  # a zone that never changed offset in the range: ordinary times only
        offset = _offset(ZoneInfo(name), datetime(2000, 1, 1, tzinfo=UTC))
        change = (datetime(2000, 1, 1, tzinfo=UTC), offset, offset)
    instant, before, _ = change
    wall_at_change = (instant + before).replace(tzinfo=None)
    minutes = draw(st.integers(min_value=-75, max_value=75))
    seconds = draw(st.sampled_from([0, 0, 0, 30, 59]))
    return name, wall_at_change + timedelta(minutes=minutes, seconds=seconds), change


def _instants(name: str, wall: datetime, change: Transition) -> list[datetime]:
    """Every UTC instant at which the zone's clock reads ``wall``, near ``change``."""
    zone = ZoneInfo(name)
    found = set()
    for offset in {change[1], change[2]}:
        candidate = (wall - offset).replace(tzinfo=UTC)
        if _offset(zone, candidate) == offset:
            found.add(candidate)
    return sorted(found)


def _isolated(name: str, change: Transition) -> bool:
    """No other change within a day: the two-offset oracle then covers every reading."""
    return all(
        other == change or abs(other[0] - change[0]) > timedelta(days=1)
        for other in transitions(name)
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_a_transition())
def test_to_utc_agrees_with_the_zone_at_every_gap_and_fold(
    case: tuple[str, datetime, Transition],
) -> None:
    name, wall, change = case
    if not _isolated(name, change):
        return
    instants = _instants(name, wall, change)
    event(("gap", "ordinary", "fold")[len(instants)])
    if not instants:  # a spring-forward gap: refused
        assert is_nonexistent(wall, name) and not is_ambiguous(wall, name)
        with pytest.raises(NonexistentLocalTime):
            to_utc(wall, name)
        with pytest.raises(NonexistentLocalTime):
            to_utc(wall, name, fold=1)
        return
    assert not is_nonexistent(wall, name)
    assert to_utc(wall, name, fold=0) == instants[0]
    assert to_utc(wall, name, fold=1) == instants[-1]
    assert is_ambiguous(wall, name) == (len(instants) == 2)
    for fold in (0, 1):  # the instant reads back as the same wall-clock time
        back = to_utc(wall, name, fold=fold).astimezone(ZoneInfo(name))
        assert back.replace(tzinfo=None, fold=0) == wall


@settings(max_examples=200, deadline=None)
@given(near_a_transition(), st.integers(min_value=1, max_value=240))
def test_first_occurrences_never_run_backwards(
    case: tuple[str, datetime, Transition], minutes: int
) -> None:
    """Of two existing wall times, the later one's first occurrence is not earlier."""
    name, wall, _ = case
    later = wall + timedelta(minutes=minutes)
    if is_nonexistent(wall, name) or is_nonexistent(later, name):
        return
    assert to_utc(wall, name) <= to_utc(later, name)


def test_the_transition_finder_sees_known_changes() -> None:
    """Berlin 2026: 02:00 -> 03:00 on 29 March, 03:00 -> 02:00 on 25 October."""
    berlin = [t for t in transitions("Europe/Berlin") if t[0].year == 2026]
    assert [(t[0], t[1].seconds // 3600, t[2].seconds // 3600) for t in berlin] == [
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 1, 2),
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 2, 1),
    ]
