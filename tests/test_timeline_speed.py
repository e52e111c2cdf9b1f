"""What the planner's speed-ups rely on (issue 9, item 7). Timings live in benchmarks/, never here.

The zone arithmetic keeps its recent answers (``scheduler.localtime``) and the planner builds its
``PlannedDelivery`` rows without the frozen dataclass's ``__init__`` (``scheduler.timeline``):
both must give exactly what the plain code gives.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta

import pytest

from scheduler.localtime import (
    NonexistentLocalTime,
    quiet_period_end,
    resolve_wall_clock,
    session_start,
    to_utc,
    wall_clock_offset,
    zone_info,
)
from scheduler.model import DeliveryStatus, Kind, PlannedDelivery, QuietHours, Session
from scheduler.timeline import _planned_delivery, session_key_part

BERLIN = "Europe/Berlin"


def test_planned_delivery_is_a_plain_dataclass_the_fast_constructor_matches() -> None:
    """No __post_init__, no slots, no defaults the planner leaves out: the shortcut is exact."""
    assert not hasattr(PlannedDelivery, "__post_init__")
    assert not hasattr(PlannedDelivery, "__slots__")
    fields = {
        "key": "s1@2026-12-01T10:00:rest_up:p1",
        "patient_id": 1,
        "recipient_id": 2,
        "message_id": "rest_up",
        "session_id": 3,
        "due_at": datetime(2026, 11, 30, 19, tzinfo=UTC),
        "deadline": datetime(2026, 11, 30, 22, 59, tzinfo=UTC),
        "urgent": False,
        "status": DeliveryStatus.PENDING,
        "reason": None,
    }
    assert set(fields) == {field.name for field in dataclasses.fields(PlannedDelivery)}
    fast, plain = _planned_delivery(**fields), PlannedDelivery(**fields)  # type: ignore[arg-type]
    assert fast == plain and repr(fast) == repr(plain) and hash(fast) == hash(plain)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.key = "other"  # type: ignore[misc]


def test_cached_answers_equal_fresh_ones_in_a_fall_back_and_a_spring_forward() -> None:
    """Asked twice (the second answer comes from the cache), every function answers the same,
    and fold is part of the question even though naive datetimes compare without it."""
    ambiguous = datetime(2026, 10, 25, 2, 30)  # noqa: DTZ001 - wall clock, happens twice
    first, second = to_utc(ambiguous, BERLIN, 0), to_utc(ambiguous, BERLIN, 1)
    assert second - first == timedelta(hours=1)
    assert (to_utc(ambiguous, BERLIN, 0), to_utc(ambiguous, BERLIN, 1)) == (first, second)
    for fold, expected in ((0, first), (1, second)):
        session = Session(
            id=1,
            patient_id=1,
            local_start=ambiguous.replace(fold=fold),
            zone=BERLIN,
            kind=Kind.IV,
        )
        assert session_start(session) == session_start(session) == expected
    skipped = datetime(2026, 3, 29, 2, 30)  # noqa: DTZ001 - wall clock, does not exist
    for _ in range(2):
        with pytest.raises(NonexistentLocalTime) as info:
            to_utc(skipped.replace(fold=1), BERLIN)
        assert info.value.local.fold == 1  # the time as given, not the cache's key
    assert resolve_wall_clock(skipped, BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    anchor = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    assert wall_clock_offset(anchor, 0, time(2, 30), BERLIN) == resolve_wall_clock(skipped, BERLIN)
    late = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    quiet = QuietHours(time(22, 0), time(2, 30))
    assert quiet_period_end(late, quiet, BERLIN) == quiet_period_end(late, quiet, BERLIN)
    assert quiet_period_end(late, quiet, BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_zone_lookups_are_kept_only_for_zones_that_load() -> None:
    """A bad name is refused every time; a good one is the same ZoneInfo every time."""
    assert zone_info(BERLIN) is zone_info(BERLIN)
    for _ in range(2):
        with pytest.raises(ValueError, match="unknown time zone"):
            zone_info("Mars/Olympus")


def test_session_key_part_is_the_minute_text_for_any_year() -> None:
    """The fast path (isoformat) and the format string give the same text."""
    for year in (999, 2026):
        local = datetime(year, 3, 4, 5, 6, 7)  # noqa: DTZ001 - wall clock
        session = Session(id=9, patient_id=1, local_start=local, zone=BERLIN, kind=Kind.IV)
        assert session_key_part(session) == f"s9@{local:%Y-%m-%dT%H:%M}"
