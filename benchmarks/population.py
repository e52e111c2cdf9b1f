"""Build the benchmark's data: patients with a 6-session series and one family member each.

Two paths write the same plans:

``companion``  the domain calls the bot makes, one call per step, each its own transaction:
               ``register_patient``, six ``add_session``, ``create_invite``, ``redeem_invite``,
               ``approve_link`` (every ``add_session`` and the approval re-plan the patient).
``bulk``       the same rows through the stores (``People``, ``Sessions`` and their series,
               ``Links``), then one ``plan_deliveries`` and one ``Deliveries.replace_plan`` per
               patient, 1,000 patients per transaction: the planner and the plan writer, without
               re-planning.

Planning happens "as of" :func:`planning_now` (noon UTC tomorrow), so every pending row lies in
the future when the database is opened later, including the family welcome (due on approval).
"""

from __future__ import annotations

import argparse
import os
import time as clock
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.common import cpu_seconds, emit
from messages import TimelineEntry, load_timeline
from scheduler.companion import Companion
from scheduler.model import (
    DeliveryStatus,
    FamilyLink,
    Kind,
    Person,
    PlannedDelivery,
    Role,
    Session,
)
from scheduler.store import Database, Deliveries, Links, People, Sessions
from scheduler.timeline import plan_deliveries

ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Europe/London",
    "America/Los_Angeles",
    "Australia/Sydney",
)
KINDS = (Kind.IV, Kind.IV, Kind.NASAL, Kind.OTHER)
SESSIONS = 6
SESSION_EVERY = timedelta(days=3)  # twice a week, as an induction series often is
SPREAD_DAYS = 240  # first sessions spread over eight months; the last one stays < 366 days ahead
PATIENT_CHAT = 10_000_000
FAMILY_CHAT = 500_000_000
BATCH = 1_000  # patients per transaction on the bulk path


def planning_now(real_now: datetime | None = None) -> datetime:
    """Noon UTC tomorrow: the instant the benchmark data is planned "as of"."""
    now = real_now if real_now is not None else datetime.now(UTC)
    return (now + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class PatientSpec:
    """One synthetic patient: who, where, what kind of series, and when (local wall clock)."""

    index: int
    chat_id: int
    family_chat_id: int
    zone: str
    kind: Kind
    starts: tuple[datetime, ...]  # naive local wall-clock times, as a patient types them


def patient_spec(index: int, now: datetime) -> PatientSpec:
    zone = ZONES[index % len(ZONES)]
    local_today = now.astimezone(ZoneInfo(zone)).date()
    first_day = local_today + timedelta(days=3 + index % SPREAD_DAYS)
    # Daytime starts (09:00-14:45): never in a DST gap, and the reminders before them mostly
    # fall outside the default quiet hours.
    first = datetime.combine(first_day, time(9 + (index // 4) % 6, 15 * (index % 4)))
    return PatientSpec(
        index=index,
        chat_id=PATIENT_CHAT + index,
        family_chat_id=FAMILY_CHAT + index,
        zone=zone,
        kind=KINDS[index % len(KINDS)],
        starts=tuple(first + k * SESSION_EVERY for k in range(SESSIONS)),
    )


def specs(count: int, now: datetime, start: int = 0) -> Iterator[PatientSpec]:
    return (patient_spec(index, now) for index in range(start, start + count))


def deliveries_per_patient(
    timeline: Sequence[TimelineEntry], now: datetime, sample: int = 60
) -> float:
    """Average pending deliveries the planner makes for one patient (pure, no database)."""
    total = 0
    for spec in specs(sample, now):
        patient = Person(id=1, chat_id=spec.chat_id, role=Role.PATIENT, zone=spec.zone)
        member = Person(id=2, chat_id=spec.family_chat_id, role=Role.FAMILY, zone=spec.zone)
        sessions = [
            Session(id=10 + k, patient_id=1, local_start=start, zone=spec.zone, kind=spec.kind)
            for k, start in enumerate(spec.starts)
        ]
        planned = plan_deliveries(
            patient, sessions, [FamilyLink(person=member, joined_at=now)], timeline, now
        )
        total += sum(1 for item in planned if item.status is DeliveryStatus.PENDING)
    return total / sample


def patients_for(pending: int, timeline: Sequence[TimelineEntry], now: datetime) -> int:
    """How many patients give about ``pending`` pending deliveries."""
    return max(1, round(pending / deliveries_per_patient(timeline, now)))


# -- the two paths -----------------------------------------------------------------------------


def enrol_companion(
    db: Database, timeline: Sequence[TimelineEntry], people: Iterable[PatientSpec], now: datetime
) -> None:
    """Each step a separate domain call (and transaction), exactly as the bot's handlers call."""
    companion = Companion(db, timeline)
    for spec in people:
        patient = companion.register_patient(spec.chat_id, f"P{spec.index}", spec.zone, now)
        for start in spec.starts:
            companion.add_session(patient.id, start, spec.kind, now)
        token = companion.create_invite(patient.id, now)
        link_id, _ = companion.redeem_invite(token, spec.family_chat_id, f"F{spec.index}", now)
        companion.approve_link(patient.id, link_id, now)


def enrol_bulk(
    db: Database, timeline: Sequence[TimelineEntry], people: Iterable[PatientSpec], now: datetime
) -> None:
    """The same rows through the stores; one plan and one ``replace_plan`` per patient."""
    store_people, store_sessions = People(db), Sessions(db)
    links, deliveries = Links(db), Deliveries(db)
    for batch in _batches(people, BATCH):
        with db.transaction():
            for spec in batch:
                patient = store_people.create(
                    spec.chat_id, Role.PATIENT, f"P{spec.index}", spec.zone, now
                )
                # One series, as ``Companion.add_session`` makes: a re-plan then finds every
                # session already in it (scenario 6 re-plans these patients).
                series = store_sessions.series.create(patient.id, now)
                sessions = [
                    store_sessions.add(
                        patient.id, start, spec.zone, spec.kind, now, series_id=series.id
                    )
                    for start in spec.starts
                ]
                member = store_people.create(
                    spec.family_chat_id, Role.FAMILY, f"F{spec.index}", spec.zone, now
                )
                links.approve(links.create_pending(patient.id, member.id, now), now)
                planned = plan_deliveries(
                    patient,
                    sessions,
                    links.for_planning(patient.id),
                    timeline,
                    now,
                    series=[series],
                )
                deliveries.replace_plan(patient.id, planned)


def _batches(items: Iterable[PatientSpec], size: int) -> Iterator[list[PatientSpec]]:
    batch: list[PatientSpec] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def count_pending(db: Database) -> int:
    row = db.conn.execute("SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()
    return int(row[0])


def fresh_database(path: Path) -> Database:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return Database(path)


def build(path: Path, pending: int, how: str) -> dict[str, float]:
    """Scenario 1: enrol patients for about ``pending`` deliveries into a new database."""
    timeline = load_timeline()
    now = planning_now()
    patients = patients_for(pending, timeline, now)
    db = fresh_database(path)  # created and migrated outside the timing
    enrol = enrol_companion if how == "companion" else enrol_bulk
    wall0, cpu0 = clock.perf_counter(), cpu_seconds()
    enrol(db, timeline, specs(patients, now), now)
    wall, cpu = clock.perf_counter() - wall0, cpu_seconds() - cpu0
    stored = count_pending(db)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {
        "patients": patients,
        "pending": stored,
        "total_s": wall,
        "cpu_s": cpu,
        "per_s": stored / wall if wall else 0.0,
        "db_mb": os.path.getsize(path) / 2**20,
    }


def planned_row(
    key: str,
    patient_id: int,
    session_id: int | None,
    message_id: str,
    due: datetime,
    *,
    relevance: timedelta = timedelta(hours=1),
) -> PlannedDelivery:
    """A pending delivery for the dispatch scenarios, due exactly at ``due``."""
    return PlannedDelivery(
        key=key,
        patient_id=patient_id,
        recipient_id=patient_id,
        message_id=message_id,
        session_id=session_id,
        due_at=due,
        deadline=due + relevance,
        urgent=False,
        status=DeliveryStatus.PENDING,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Scenario 1 child: plan and store")
    parser.add_argument("db", type=Path)
    parser.add_argument("pending", type=int)
    parser.add_argument("how", choices=("companion", "bulk"))
    args = parser.parse_args()
    emit(build(args.db, args.pending, args.how))


if __name__ == "__main__":
    main()
