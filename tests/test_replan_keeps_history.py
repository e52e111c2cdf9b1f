"""Re-planning writes only what differs, and keeps a row's back-off and crash-recovery mark.

Issue 9, item 4: a re-plan (any settings change, an /add) used to rewrite every pending row of
the patient; a row backing off went back to "due now, attempts 0" and lost ``recovered``, so an
urgent message could be resent more than once after crashes.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from scheduler.companion import Companion
from scheduler.model import DeliveryStatus, Kind, QuietHours
from scheduler.store import Database, Deliveries, to_db
from scheduler.store.deliveries import RECOVERED
from tests.fakes import add_person, planned

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def table(db: Database) -> list[dict[str, Any]]:
    """Every column of every row, rowid included."""
    return [
        dict(row) for row in db.conn.execute("SELECT rowid AS rid, * FROM deliveries ORDER BY id")
    ]


def row_of(db: Database, key: str) -> dict[str, Any]:
    return dict(db.conn.execute("SELECT * FROM deliveries WHERE key = ?", (key,)).fetchone())


# -- the store -------------------------------------------------------------------------------


def test_an_unchanged_plan_writes_nothing(db: Database) -> None:
    """Same plan again: no statement changes a row, no re-arm, every row byte for byte."""
    changes: list[int] = []
    store = Deliveries(db, on_change=lambda: changes.append(1))
    patient = add_person(db, 100)
    plan = [
        *(planned(f"k{i}", patient, T0 + i * MIN) for i in range(5)),
        planned("late", patient, T0, status=DeliveryStatus.SKIPPED, reason="expired"),
    ]
    store.replace_plan(patient, plan)
    before, total, armed = table(db), db.conn.total_changes, len(changes)
    store.replace_plan(patient, plan)
    assert db.conn.total_changes == total
    assert len(changes) == armed
    assert table(db) == before


def test_only_the_rows_that_differ_are_written(db: Database) -> None:
    """One moved row, one dropped, one new: three row changes; the others keep their rowid."""
    store = Deliveries(db)
    patient = add_person(db, 100)
    store.replace_plan(patient, [planned(f"k{i}", patient, T0 + i * MIN) for i in range(5)])
    before = {row["key"]: row for row in table(db)}
    total = db.conn.total_changes
    plan = [planned(f"k{i}", patient, T0 + i * MIN) for i in range(4)]  # k4 dropped
    plan[1] = planned("k1", patient, T0 + 30 * MIN)  # k1 moved
    plan.append(planned("new", patient, T0 + 40 * MIN))
    store.replace_plan(patient, plan)
    assert db.conn.total_changes - total == 3
    after = {row["key"]: row for row in table(db)}
    assert set(after) == {"k0", "k1", "k2", "k3", "new"}
    for key in ("k0", "k2", "k3"):
        assert after[key] == before[key]
    assert after["k1"]["id"] == before["k1"]["id"]
    assert after["k1"]["due_at"] == row_of(db, "k1")["due_at"] != before["k1"]["due_at"]


def test_a_backing_off_row_keeps_attempts_due_and_reason_when_its_plan_changes(
    db: Database,
) -> None:
    """The plan changes the row's own values (deadline, earlier due): its back-off stays."""
    store = Deliveries(db)
    patient = add_person(db, 100)
    hour = timedelta(hours=1)
    store.replace_plan(patient, [planned("k", patient, T0, deadline=T0 + hour)])
    (claimed,) = store.claim_due(T0)
    assert store.record_retry(claimed.id, due_at=T0 + 20 * MIN, reason="network")
    store.replace_plan(patient, [planned("k", patient, T0 + 5 * MIN, deadline=T0 + 2 * hour)])
    row = store.get(claimed.id)
    assert row is not None
    assert (row.status, row.attempts, row.due_at, row.reason, row.deadline) == (
        DeliveryStatus.PENDING,
        1,
        T0 + 20 * MIN,
        "network",
        T0 + 2 * hour,
    )
    # A plan moving it later than its back-off moves it; attempts and reason still stay.
    store.replace_plan(patient, [planned("k", patient, T0 + 30 * MIN, deadline=T0 + 2 * hour)])
    row = store.get(claimed.id)
    assert row is not None
    assert (row.attempts, row.due_at, row.reason) == (1, T0 + 30 * MIN, "network")


def test_a_recovered_row_keeps_its_mark_through_a_changed_plan(db: Database) -> None:
    """Resent once after a crash, re-planned with new values, crashed again: unknown."""
    store = Deliveries(db)
    patient = add_person(db, 100)
    hour = timedelta(hours=1)
    store.replace_plan(patient, [planned("u", patient, T0, urgent=True, deadline=T0 + hour)])
    store.claim_due(T0)
    assert store.recover_in_flight(T0 + MIN).requeued == 1
    store.replace_plan(
        patient,
        [
            planned("u", patient, T0 + 2 * MIN, urgent=True, deadline=T0 + 2 * hour),
            planned("other", patient, T0 + hour),
        ],
    )
    row = row_of(db, "u")
    assert (row["status"], row["reason"], row["attempts"]) == ("pending", RECOVERED, 1)
    (again,) = store.claim_due(T0 + 3 * MIN)
    assert (again.key, again.attempts) == ("u", 2)
    recovery = store.recover_in_flight(T0 + 4 * MIN)
    assert (recovery.requeued, recovery.unknown) == (0, 1)
    assert row_of(db, "u")["status"] == "unknown"


# -- through the domain calls ----------------------------------------------------------------


def test_a_settings_change_keeps_a_backing_off_row(companion: Companion, db: Database) -> None:
    """Rows backing off before a session keep attempts, due and reason across /timezone."""
    ana = companion.register_patient(501, "Ana", "Europe/Berlin", NOW)
    companion.add_session(ana.id, datetime(2026, 3, 10, 10, 0), Kind.IV, NOW)  # noqa: DTZ001
    rest_up = row_of(db, next(r["key"] for r in table(db) if r["message_id"] == "rest_up"))
    claim_at = datetime.fromisoformat(rest_up["due_at"])  # 20:00 Berlin, 19:00 UTC
    retry_at = claim_at + timedelta(minutes=105)  # 20:45 UTC
    claimed = companion.deliveries.claim_due(claim_at)
    assert rest_up["id"] in {item.id for item in claimed}
    for item in claimed:
        companion.deliveries.record_retry(item.id, due_at=retry_at, reason="network")
    # "The evening before at 20:00" is now 20:00 in London: 20:00 UTC, deadline 23:59 UTC.
    companion.set_zone(ana.id, "Europe/London", claim_at + MIN)
    after = row_of(db, rest_up["key"])
    assert (after["id"], after["status"], after["attempts"]) == (rest_up["id"], "pending", 1)
    assert (after["due_at"], after["reason"]) == (to_db(retry_at), "network")
    assert after["deadline"] != rest_up["deadline"]  # the plan did change this row


def test_a_recovered_urgent_row_is_resent_at_most_once_across_a_replan(
    companion: Companion, db: Database
) -> None:
    """Crash, recovery, a quiet-hours change (re-plan), crash again: the "resent once" cap holds."""
    ana = companion.register_patient(501, "Ana", "Europe/Berlin", NOW)
    companion.add_session(ana.id, datetime(2026, 3, 10, 10, 0), Kind.IV, NOW)  # noqa: DTZ001
    last = next(r for r in table(db) if r["message_id"] == "last_steps")
    due = datetime.fromisoformat(last["due_at"])  # 09:30 Berlin
    companion.deliveries.claim_due(due)
    companion.deliveries.recover_in_flight(due + MIN)
    assert (row_of(db, last["key"])["status"], row_of(db, last["key"])["reason"]) == (
        "pending",
        RECOVERED,
    )
    companion.set_quiet_hours(ana.id, QuietHours(time(22, 0), time(7, 0)), due + 2 * MIN)
    row = row_of(db, last["key"])
    assert (row["id"], row["status"], row["reason"], row["attempts"]) == (
        last["id"],
        "pending",
        RECOVERED,
        1,
    )
    (again,) = [
        item for item in companion.deliveries.claim_due(due + 3 * MIN) if item.key == last["key"]
    ]
    assert again.attempts == 2
    companion.deliveries.recover_in_flight(due + 4 * MIN)
    assert row_of(db, last["key"])["status"] == "unknown"


def test_a_domain_replan_of_an_unchanged_patient_writes_no_delivery(
    companion: Companion, db: Database
) -> None:
    """A change that does not touch the plan (wording) leaves every delivery row as it was."""
    ana = companion.register_patient(501, "Ana", "Europe/Berlin", NOW)
    companion.add_session(ana.id, datetime(2026, 3, 10, 10, 0), Kind.IV, NOW)  # noqa: DTZ001
    companion.add_session(ana.id, datetime(2026, 3, 13, 10, 0), Kind.IV, NOW)  # noqa: DTZ001
    before = table(db)
    companion.set_display_name(ana.id, "Ana Maria", NOW)
    assert table(db) == before
