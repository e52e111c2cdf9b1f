"""The planner: sessions + timeline + recipients + ``now`` -> the deliveries to send. Pure.

Everything the dispatcher later sends comes from ``plan_deliveries``. It reads no clock and no
database, so a re-plan is cheap and every timing rule is testable as a table.

Sessions belong to series (``Session.series_ref``). Session numbers ("session 2 of 6") count
within a series, and series-wide messages are planned once per series, keyed
``series{series id}:{message}:p{recipient}``: the series start is its first session's start, and
its end exists only once as many sessions as planned are entered, so a patient who adds sessions
one at a time is not told the series is over after the first one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from messages import Anchor, Audience, Offset, TimelineEntry

from scheduler.localtime import quiet_period_end, session_start, wall_clock_offset
from scheduler.model import (
    NEW_SERIES_GAP,
    DeliveryStatus,
    FamilyLink,
    Person,
    PlannedDelivery,
    Series,
    Session,
)

EXPIRED = "expired"  # the relevance window closed before the message could go
QUIET_HOURS = "quiet_hours"  # the window closes before the recipient's quiet hours end


@dataclass(frozen=True)
class NumberedSession:
    """A session with its place in its series and its instants, as the planner sees it."""

    number: int  # 1-based within its series, by start instant
    session: Session
    start: datetime  # aware UTC
    end: datetime  # start + expected duration (elapsed time)
    series_id: int  # ``session.series_ref``
    entered: int  # active sessions the series has
    planned: int  # sessions the patient said it has

    @property
    def series_length(self) -> int:
        """The N of "session n of N": as planned, or as many as entered if more."""
        return max(self.planned, self.entered)

    @property
    def series_complete(self) -> bool:
        """Every planned session is entered: the series' last session is its last."""
        return self.entered >= self.planned


def number_sessions(
    sessions: Sequence[Session], series: Sequence[Series] = ()
) -> list[NumberedSession]:
    """Sessions in start order (ties broken by id, so numbering is stable), numbered 1..n within
    their series. ``series`` gives each series' planned length; sessions of a series not listed
    (rows from before series existed, made-up ones) count as many planned as entered, the rule
    before series existed and what migration 4 stored."""
    planned = {item.id: item.planned for item in series}
    starts = sorted(((session_start(s), s.id, s) for s in sessions), key=lambda t: t[:2])
    entered = Counter(session.series_ref for _, _, session in starts)
    seen: Counter[int] = Counter()
    numbered = []
    for start, _, session in starts:
        ref = session.series_ref
        seen[ref] += 1
        numbered.append(
            NumberedSession(
                number=seen[ref],
                session=session,
                start=start,
                end=start + session.expected_duration,
                series_id=ref,
                entered=entered[ref],
                planned=planned.get(ref, entered[ref]),
            )
        )
    return numbered


def starts_new_series(last_start: datetime | None, start: datetime) -> bool:
    """Whether a session starting at ``start`` opens a new series rather than joining the current
    one, whose last active session starts at ``last_start`` (None: it has none left, so it is
    reused). The one rule for the companion (sessions added one at a time) and the preview."""
    return last_start is not None and start - last_start > NEW_SERIES_GAP


def session_key_part(session: Session) -> str:
    """``s{id}@{local start to the minute}``: a moved session gets fresh keys, a kept one not."""
    local = session.local_start
    if local.tzinfo is None and local.year >= 1000:  # the same text as below, 5x faster
        return f"s{session.id}@{local.isoformat(timespec='minutes')}"
    return f"s{session.id}@{local:%Y-%m-%dT%H:%M}"


class _Slot(NamedTuple):
    """A numbered session with what every timeline entry asks of it, computed once per plan."""

    slot: NumberedSession
    key_part: str  # ``session_key_part(slot.session)``
    kind: str  # ``slot.session.kind.value``
    family: tuple[Person, ...]  # its family recipients (``_family_recipients``)


class _Target(NamedTuple):
    """One (entry, recipient, anchor) to plan."""

    recipient: Person
    anchor: datetime
    session_id: int | None
    key: str


def plan_deliveries(
    patient: Person,
    sessions: Sequence[Session],
    family: Sequence[FamilyLink],
    timeline: Sequence[TimelineEntry],
    now: datetime,
    *,
    series: Sequence[Series] = (),
    drivers: Mapping[int, int] | None = None,
) -> list[PlannedDelivery]:
    """Every delivery the timeline asks for, for the patient's active sessions and family.

    ``drivers`` maps a session id to the family member who claimed its ride home: entries with
    ``ride = "claimed"`` go only where there is one (a family entry to the driver alone), entries
    with ``ride = "unclaimed"`` only where there is none (a patient entry only when the patient
    has family who could be asked).

    ``sessions`` are the patient's active sessions in any order; ``series`` the patient's series
    (their planned lengths; see ``number_sessions`` for sessions of a series not listed).
    Series-wide messages are planned per series. Deliveries whose window has already closed (or
    closes inside the recipient's quiet hours) come back ``SKIPPED`` with a reason, so the record
    shows why nothing was sent. Stopped recipients get nothing; pausing is the dispatcher's
    business. Sorted by (due, timeline order, recipient); keys are unique.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(UTC)
    numbered = number_sessions(sessions, series)
    # What every entry asks of a session again: its key part, its kind, its family recipients.
    slots = [
        _Slot(
            item,
            session_key_part(item.session),
            item.session.kind.value,
            tuple(_family_recipients(patient, family, item)),
        )
        for item in numbered
    ]
    planned: dict[str, tuple[tuple[datetime, int, int, str], PlannedDelivery]] = {}
    rides = drivers or {}
    for entry in timeline:
        for target in _targets(entry, patient, numbered, slots, family, rides):
            if target.key in planned:
                continue
            delivery = _plan_one(entry, patient, target, now)
            sort_key = (delivery.due_at, entry.order, delivery.recipient_id, delivery.key)
            planned[target.key] = (sort_key, delivery)
    return [delivery for _, delivery in sorted(planned.values(), key=lambda item: item[0])]


def _targets(
    entry: TimelineEntry,
    patient: Person,
    numbered: Sequence[NumberedSession],
    slots: Sequence[_Slot],
    family: Sequence[FamilyLink],
    drivers: Mapping[int, int],
) -> Iterator[_Target]:
    """``slots`` are ``numbered`` with what each entry asks of them again, in the same order."""
    pid = patient.id
    if entry.anchor is Anchor.JOINED:
        if entry.audience is not Audience.FAMILY:
            return
        for link in family:
            person = link.person
            if person.stopped or person.id == pid:
                continue
            joined = link.joined_at.astimezone(UTC)
            key = f"joined{pid}@{joined.isoformat(timespec='seconds')}:{entry.id}:p{person.id}"
            yield _Target(person, joined, None, key)
        return
    if not numbered:
        return
    if entry.anchor in (Anchor.SERIES_START, Anchor.SERIES_END):
        first = entry.anchor is Anchor.SERIES_START
        runs: dict[int, list[NumberedSession]] = {}
        for item in numbered:
            runs.setdefault(item.series_id, []).append(item)
        for series_id, run in runs.items():
            slot = run[0] if first else run[-1]
            if not first and not slot.series_complete:
                continue  # more sessions are to come: this is not the series' end
            if not _applies(entry, slot):
                continue
            anchor = slot.start if first else slot.end
            for person in _recipients(entry, patient, family, slot):
                key = f"series{series_id}:{entry.id}:p{person.id}"
                yield _Target(person, anchor, slot.session.id, key)
        return
    at_start = entry.anchor is Anchor.SESSION_START
    kinds, numbers = entry.kinds, entry.sessions
    to_patient = entry.audience is Audience.PATIENT
    patients = () if patient.stopped else (patient,)
    for slot, part, kind, relatives in slots:
        if kind not in kinds or (numbers is not None and slot.number not in numbers):
            continue  # as _applies
        anchor = slot.start if at_start else slot.end
        session_id = slot.session.id
        readers = patients if to_patient else relatives  # as _recipients
        if entry.ride is not None:
            readers = _ride_readers(entry.ride, readers, relatives, drivers.get(session_id))
        for person in readers:
            yield _Target(person, anchor, session_id, f"{part}:{entry.id}:p{person.id}")


def _ride_readers(
    ride: str,
    readers: tuple[Person, ...],
    relatives: tuple[Person, ...],
    driver_id: int | None,
) -> tuple[Person, ...]:
    """Who of ``readers`` gets an entry that depends on the session's ride home (``ride``)."""
    if ride == "unclaimed":
        return readers if driver_id is None and relatives else ()
    if driver_id is None:
        return ()
    # "claimed": the patient entry stands; a family entry goes to the driver alone.
    return tuple(person for person in readers if person.id == driver_id or person not in relatives)


def _applies(entry: TimelineEntry, slot: NumberedSession) -> bool:
    if slot.session.kind.value not in entry.kinds:
        return False
    return entry.sessions is None or slot.number in entry.sessions


def _recipients(
    entry: TimelineEntry,
    patient: Person,
    family: Sequence[FamilyLink],
    slot: NumberedSession,
) -> Iterator[Person]:
    if entry.audience is Audience.PATIENT:
        if not patient.stopped:
            yield patient
        return
    yield from _family_recipients(patient, family, slot)


def _family_recipients(
    patient: Person, family: Sequence[FamilyLink], slot: NumberedSession
) -> Iterator[Person]:
    for link in family:
        # A family member hears only about sessions that start after they joined.
        if link.person.stopped or link.person.id == patient.id or slot.start <= link.joined_at:
            continue
        yield link.person


def resolve_offset(offset: Offset, anchor: datetime, zone: str) -> datetime:
    """An offset from an aware anchor, as UTC: elapsed time, or a day and a clock in ``zone``."""
    if offset.clock is not None:
        return wall_clock_offset(anchor, offset.days or 0, offset.clock, zone)
    return (anchor + offset.delta).astimezone(UTC)


def _plan_one(
    entry: TimelineEntry, patient: Person, target: _Target, now: datetime
) -> PlannedDelivery:
    recipient = target.recipient
    anchor, zone, offset, expires = target.anchor, recipient.zone, entry.offset, entry.expires
    # resolve_offset, inlined: this runs twice for every planned row.
    if offset.clock is not None:
        due = wall_clock_offset(anchor, offset.days or 0, offset.clock, zone)
        if not offset.days and due < anchor:
            # "That evening" (+0d 19:30) after a session that ends later: at its end, never
            # during it (tonight's check-in after an evening session).
            due = anchor
    else:
        due = (anchor + offset.delta).astimezone(UTC)
    if expires.clock is not None:
        deadline = wall_clock_offset(anchor, expires.days or 0, expires.clock, zone)
    else:
        deadline = (anchor + expires.delta).astimezone(UTC)
    status = DeliveryStatus.PENDING
    reason: str | None = None
    if deadline <= max(due, now):
        status, reason = DeliveryStatus.SKIPPED, EXPIRED
    else:
        # Catch-up: a late sign-up or a moved session still gets what is relevant, at once.
        due = max(due, now)
        quiet_end = None if entry.urgent else quiet_period_end(due, recipient.quiet, zone)
        if quiet_end is not None:
            if quiet_end < deadline:
                due = quiet_end
            else:
                status, reason = DeliveryStatus.SKIPPED, QUIET_HOURS
    return _planned_delivery(
        key=target.key,
        patient_id=patient.id,
        recipient_id=recipient.id,
        message_id=entry.id,
        session_id=target.session_id,
        due_at=due,
        deadline=deadline,
        urgent=entry.urgent,
        status=status,
        reason=reason,
    )


def _planned_delivery(**fields: object) -> PlannedDelivery:
    """``PlannedDelivery(**fields)`` at a quarter of the cost: a frozen dataclass's ``__init__``
    sets each field through ``object.__setattr__``, a third of the planner's time. Only for a
    plain dataclass (no ``__post_init__``, no slots), which ``tests/test_timeline_speed.py``
    checks, with every field given."""
    delivery = _new(PlannedDelivery)
    delivery.__dict__.update(fields)
    return delivery


_new = object.__new__
