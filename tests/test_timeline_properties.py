"""Properties of the planner over any valid series, in any zone, at any moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given, settings
from hypothesis import strategies as st

from messages.loader import load_timeline
from scheduler.localtime import ZoneError, quiet_period_end, resolve_wall_clock, zone_info
from scheduler.model import (
    DeliveryStatus,
    FamilyLink,
    Kind,
    Person,
    QuietHours,
    Role,
    Session,
)
from scheduler.timeline import number_sessions, plan_deliveries

TIMELINE = load_timeline()
ORDER = {entry.id: entry.order for entry in TIMELINE}


def _usable(name: str) -> bool:
    try:
        zone_info(name)
    except ZoneError:
        return False
    return True


ZONES = sorted(name for name in available_timezones() if _usable(name))

zones = st.sampled_from(ZONES)
clock_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))
quiet_hours = st.none() | st.builds(QuietHours, clock_times, clock_times)


@dataclass(frozen=True)
class Scenario:
    patient: Person
    sessions: list[Session]
    family: list[FamilyLink]
    now: datetime


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    zone = draw(zones)
    patient = Person(
        id=1,
        chat_id=101,
        role=Role.PATIENT,
        zone=zone,
        quiet=draw(quiet_hours),
        stopped=draw(st.booleans()),
    )
    first = draw(st.datetimes(datetime(2000, 1, 1), datetime(2037, 1, 1))).replace(  # noqa: DTZ001
        second=0, microsecond=0
    )
    gaps = draw(st.lists(st.integers(0, 14 * 24 * 60), min_size=0, max_size=11))
    sessions = []
    wall = first
    for n, gap in enumerate([0, *gaps], start=1):
        wall += timedelta(minutes=gap)
        # A valid series has no skipped times: move such a start to where the clocks jump to.
        valid = resolve_wall_clock(wall, zone).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        duration = draw(st.none() | st.integers(10, 6 * 60).map(lambda m: timedelta(minutes=m)))
        sessions.append(
            Session(
                id=n,
                patient_id=1,
                local_start=valid.replace(fold=draw(st.integers(0, 1))),
                zone=zone,
                kind=draw(st.sampled_from(Kind)),
                duration=duration,
            )
        )
    starts = [slot.start for slot in number_sessions(sessions)]
    pivot = draw(st.sampled_from(starts))
    before = draw(st.integers(-30 * 24 * 60, 3 * 24 * 60))
    now = pivot + timedelta(minutes=before, seconds=draw(st.integers(0, 59)))
    family = []
    for family_id in range(2, 2 + draw(st.integers(0, 2))):
        member = Person(
            id=family_id,
            chat_id=100 + family_id,
            role=Role.FAMILY,
            zone=draw(st.sampled_from([zone, *ZONES])),
            quiet=draw(quiet_hours),
            stopped=draw(st.booleans()),
        )
        joined = now - timedelta(minutes=draw(st.integers(0, 40 * 24 * 60)))
        family.append(FamilyLink(member, joined_at=joined))
    draw_order = draw(st.permutations(sessions))
    return Scenario(patient, list(draw_order), family, now)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_any_valid_series_plans_consistently(scenario: Scenario) -> None:
    """Plans without error; pending ones are due in [now, deadline) and outside quiet hours
    unless urgent; keys are unique; instants are UTC; the order is (due, timeline, recipient)."""
    deliveries = plan_deliveries(
        scenario.patient, scenario.sessions, scenario.family, TIMELINE, scenario.now
    )
    people = {scenario.patient.id: scenario.patient} | {
        link.person.id: link.person for link in scenario.family
    }
    keys = [item.key for item in deliveries]
    assert len(keys) == len(set(keys))
    for item in deliveries:
        assert item.due_at.tzinfo is UTC and item.deadline.tzinfo is UTC
        recipient = people[item.recipient_id]
        assert not recipient.stopped
        if item.status is DeliveryStatus.PENDING:
            assert scenario.now <= item.due_at < item.deadline
            if not item.urgent:
                assert quiet_period_end(item.due_at, recipient.quiet, recipient.zone) is None
        else:
            assert item.status is DeliveryStatus.SKIPPED
            assert item.reason in {"expired", "quiet_hours"}
    order = [(item.due_at, ORDER[item.message_id], item.recipient_id) for item in deliveries]
    assert order == sorted(order)


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_planning_is_deterministic_and_ignores_session_order(scenario: Scenario) -> None:
    """The same input gives the same plan, whatever order the sessions come in."""
    patient, family, now = scenario.patient, scenario.family, scenario.now
    first = plan_deliveries(patient, scenario.sessions, family, TIMELINE, now)
    again = plan_deliveries(patient, list(reversed(scenario.sessions)), family, TIMELINE, now)
    assert first == again
