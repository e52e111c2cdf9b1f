"""The deliveries table on real SQLite files: plan replacement, claims, outcomes, recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.model import DeliveryStatus, PlannedDelivery
from scheduler.store import Database, Deliveries, to_db
from tests.fakes import add_person, add_session, claim_ride, link_family, planned

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "companion.db")
    yield database
    database.close()


@pytest.fixture
def store(db: Database) -> Deliveries:
    return Deliveries(db)


@pytest.fixture
def patient(db: Database) -> int:
    return add_person(db, 100)


def rows(db: Database) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in db.conn.execute(
            "SELECT id, key, status, due_at, reason, planned_skip FROM deliveries ORDER BY id"
        )
    ]


def statuses(store: Deliveries, person_id: int) -> dict[str, str]:
    return {row.key: row.status.value for row in store.for_person(person_id)}


def plan_of(patient: int, count: int = 3) -> list[PlannedDelivery]:
    return [planned(f"k{i}", patient, T0 + i * MIN) for i in range(count)]


# -- replace_plan ----------------------------------------------------------------------------


def test_replace_plan_twice_gives_the_same_rows(
    db: Database, store: Deliveries, patient: int
) -> None:
    """Re-planning an unchanged plan leaves the table exactly as it was."""
    plan = [
        *plan_of(patient),
        planned("late", patient, T0, status=DeliveryStatus.SKIPPED, reason="expired"),
    ]
    store.replace_plan(patient, plan)
    first = rows(db)
    store.replace_plan(patient, plan)
    assert [row[1:] for row in rows(db)] == [row[1:] for row in first]
    assert len(first) == 4


def test_replace_plan_stores_planner_skips_with_their_reason(
    store: Deliveries, patient: int
) -> None:
    """A planner SKIPPED row is stored as skipped, marked planned_skip, with its reason."""
    store.replace_plan(
        patient, [planned("q", patient, T0, status=DeliveryStatus.SKIPPED, reason="quiet_hours")]
    )
    (row,) = store.for_person(patient)
    assert (row.status, row.reason, row.planned_skip) == (
        DeliveryStatus.SKIPPED,
        "quiet_hours",
        True,
    )


def test_replace_plan_keeps_history_and_never_duplicates_keys(
    db: Database, store: Deliveries, patient: int
) -> None:
    """Sent, sending and dispatcher-skipped rows survive a re-plan; pending rows follow it."""
    store.replace_plan(patient, plan_of(patient, 4))
    k0, k1, _k2 = store.claim_due(T0 + 2 * MIN)
    store.record_sent(k0.id, now=T0, message_ref=7)
    store.record_skipped(k1.id, "expired")  # dispatcher-made skip: history
    # k2 stays 'sending'. The new plan moves every row an hour later and drops k3.
    moved = [planned(f"k{i}", patient, T0 + timedelta(hours=1) + i * MIN) for i in range(3)]
    store.replace_plan(patient, moved)
    after = {row.key: row for row in store.for_person(patient)}
    assert {key: row.status.value for key, row in after.items()} == {
        "k0": "sent",
        "k1": "skipped",
        "k2": "sending",
    }
    assert after["k0"].due_at == T0 and after["k0"].message_ref == 7
    keys = [row[1] for row in rows(db)]
    assert len(keys) == len(set(keys))


def test_replace_plan_updates_pending_rows_and_drops_unplanned_ones(
    store: Deliveries, patient: int
) -> None:
    """A pending row takes the new due time; a pending row the plan no longer has is deleted."""
    store.replace_plan(patient, plan_of(patient, 3))
    store.replace_plan(patient, [planned("k1", patient, T0 + timedelta(hours=5))])
    (row,) = store.for_person(patient)
    assert (row.key, row.due_at, row.status) == (
        "k1",
        T0 + timedelta(hours=5),
        DeliveryStatus.PENDING,
    )


def test_replace_plan_touches_only_its_patient(
    db: Database, store: Deliveries, patient: int
) -> None:
    """Another patient's pending rows are not deleted by this patient's re-plan."""
    other = add_person(db, 200)
    store.replace_plan(other, [planned("o1", other, T0)])
    store.replace_plan(patient, plan_of(patient))
    store.replace_plan(patient, [])
    assert statuses(store, other) == {"o1": "pending"}
    assert statuses(store, patient) == {}


def test_replace_plan_rejects_rows_of_another_patient(
    db: Database, store: Deliveries, patient: int
) -> None:
    """A plan row whose patient differs is a bug in the caller, refused before any write."""
    other = add_person(db, 200)
    with pytest.raises(ValueError, match="another patient"):
        store.replace_plan(patient, [planned("x", other, T0)])


def test_replace_plan_joins_the_callers_transaction(
    db: Database, store: Deliveries, patient: int
) -> None:
    """Inside an outer transaction that fails, the re-plan is rolled back with it."""
    store.replace_plan(patient, plan_of(patient))
    before = rows(db)
    with pytest.raises(RuntimeError), db.transaction():
        store.replace_plan(patient, [])
        raise RuntimeError("the rest of the domain call failed")
    assert rows(db) == before


def test_replace_plan_revives_a_cancelled_key(store: Deliveries, patient: int) -> None:
    """A key cancelled earlier (person stopped) comes back pending when planned again."""
    store.replace_plan(patient, plan_of(patient, 2))
    store.cancel_pending(reason="stopped", recipient_id=patient)
    store.replace_plan(patient, plan_of(patient, 2))
    assert statuses(store, patient) == {"k0": "pending", "k1": "pending"}


def test_replace_plan_of_many_rows_twice_keeps_one_row_each(
    db: Database, store: Deliveries, patient: int
) -> None:
    """Ten thousand rows re-planned twice stay ten thousand (speed is in benchmarks/)."""
    plan = [planned(f"k{i}", patient, T0 + i * MIN) for i in range(10_000)]
    store.replace_plan(patient, plan)
    store.replace_plan(patient, plan)
    assert db.conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 10_000


# -- cancel_pending / stop_recipient ---------------------------------------------------------


def test_cancel_pending_by_session_leaves_other_rows(
    db: Database, store: Deliveries, patient: int
) -> None:
    """Cancelling one session's rows leaves other sessions' and sent rows alone."""
    s1 = add_session(db, patient, "2026-12-02T10:00")
    s2 = add_session(db, patient, "2026-12-04T10:00")
    store.replace_plan(
        patient,
        [
            planned("a", patient, T0, session_id=s1),
            planned("b", patient, T0 + MIN, session_id=s1),
            planned("c", patient, T0 + MIN, session_id=s2),
        ],
    )
    (first,) = store.claim_due(T0)
    store.record_sent(first.id, now=T0, message_ref=None)
    assert store.cancel_pending(reason="session_cancelled", session_id=s1) == 1
    assert statuses(store, patient) == {"a": "sent", "b": "cancelled", "c": "pending"}
    assert store.cancel_pending(reason="x", session_id=s1) == 0


def test_cancel_pending_needs_a_filter(store: Deliveries) -> None:
    """Without any filter it would cancel everyone's messages: refused."""
    with pytest.raises(ValueError, match="needs"):
        store.cancel_pending(reason="oops")


def test_stop_recipient_cancels_only_that_person(
    db: Database, store: Deliveries, patient: int
) -> None:
    """/stop of a family member cancels their pending rows and keeps the patient's."""
    family = add_person(db, 300, role="family")
    store.replace_plan(
        patient,
        [planned("p", patient, T0), planned("f", patient, T0, recipient_id=family)],
    )
    assert store.stop_recipient(family, "stopped") == 1
    assert statuses(store, family) == {"f": "cancelled"}
    assert statuses(store, patient) == {"p": "pending"}
    (row,) = store.for_person(family)
    assert row.reason == "stopped"


# -- claim_due -------------------------------------------------------------------------------


def test_claim_due_takes_due_rows_in_order(store: Deliveries, patient: int) -> None:
    """Only rows due at or before now, earliest first, become sending with one more attempt."""
    store.replace_plan(
        patient,
        [
            planned("late", patient, T0 + 2 * MIN),
            planned("early", patient, T0),
            planned("future", patient, T0 + timedelta(hours=1)),
        ],
    )
    claimed = store.claim_due(T0 + 2 * MIN)
    assert [item.key for item in claimed] == ["early", "late"]
    assert all(item.attempts == 1 for item in claimed)
    row = store.get(claimed[0].id)
    assert row is not None
    assert (row.status, row.claimed_at) == (DeliveryStatus.SENDING, T0 + 2 * MIN)
    assert store.claim_due(T0 + 2 * MIN) == []


def test_claim_due_respects_the_limit(store: Deliveries, patient: int) -> None:
    """A limit returns the earliest rows and leaves the rest pending."""
    store.replace_plan(patient, plan_of(patient, 5))
    assert [item.key for item in store.claim_due(T0 + 10 * MIN, limit=2)] == ["k0", "k1"]
    assert store.next_due() == T0 + 2 * MIN


def test_planner_skips_are_never_claimed(store: Deliveries, patient: int) -> None:
    """A row the plan already skipped is not due work."""
    store.replace_plan(
        patient, [planned("q", patient, T0, status=DeliveryStatus.SKIPPED, reason="expired")]
    )
    assert store.claim_due(T0 + timedelta(days=1)) == []
    assert store.next_due() is None


def test_two_databases_on_one_file_never_claim_the_same_row(tmp_path: Path) -> None:
    """Two connections claiming concurrently get disjoint sets that cover every row once."""
    path = tmp_path / "shared.db"
    setup = Database(path)
    patient = add_person(setup, 100)
    total = 300
    Deliveries(setup).replace_plan(
        patient,
        [planned(f"k{i:04d}", patient, T0 + i * timedelta(seconds=1)) for i in range(total)],
    )
    setup.close()
    results: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            database = Database(path)  # sqlite3 connections belong to the thread that made them
            deliveries = Deliveries(database)
            barrier.wait()
            while batch := deliveries.claim_due(T0 + timedelta(hours=1), limit=3):
                results[name].extend(item.id for item in batch)
                time.sleep(0.001)  # "sending": the lock is free, as between real claims
            database.close()
        except BaseException as exc:  # surfaced to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    a, b = set(results["a"]), set(results["b"])
    assert not a & b
    assert len(results["a"]) + len(results["b"]) == total
    assert a and b  # both really took part
    check = Database(path)
    assert (
        check.conn.execute(
            "SELECT count(*) FROM deliveries WHERE status = 'sending' AND attempts = 1"
        ).fetchone()[0]
        == total
    )
    check.close()


# -- outcomes --------------------------------------------------------------------------------


def test_outcomes_apply_only_to_rows_in_flight(store: Deliveries, patient: int) -> None:
    """Recording an outcome for a row not in 'sending' changes nothing and says so."""
    store.replace_plan(patient, plan_of(patient, 2))
    (row,) = store.claim_due(T0)
    pending = store.for_person(patient)[1]
    assert not store.record_sent(pending.id, now=T0, message_ref=1)
    assert store.record_sent(row.id, now=T0 + MIN, message_ref=55)
    assert not store.record_failed(row.id, "late")
    sent = store.get(row.id)
    assert sent is not None
    assert (sent.status, sent.sent_at, sent.message_ref) == (DeliveryStatus.SENT, T0 + MIN, 55)


def test_retry_keeps_the_deadline_and_the_attempt_count(store: Deliveries, patient: int) -> None:
    """A retried row is pending again at its new time with its deadline unchanged."""
    store.replace_plan(patient, [planned("k", patient, T0, deadline=T0 + timedelta(hours=1))])
    (row,) = store.claim_due(T0)
    assert store.record_retry(row.id, due_at=T0 + 30 * MIN, reason="flood")
    after = store.get(row.id)
    assert after is not None
    assert (after.status, after.due_at, after.deadline, after.attempts, after.reason) == (
        DeliveryStatus.PENDING,
        T0 + 30 * MIN,
        T0 + timedelta(hours=1),
        1,
        "flood",
    )
    (again,) = store.claim_due(T0 + 30 * MIN)
    assert again.attempts == 2
    assert store.record_retry(again.id, due_at=T0 + 31 * MIN, reason="behind", count_attempt=False)
    assert store.claim_due(T0 + 31 * MIN)[0].attempts == 2


def test_recipient_gone_marks_the_person_and_cancels_their_rows(
    db: Database, store: Deliveries, patient: int
) -> None:
    """One 'blocked' answer fails that row, marks the person gone and cancels the rest."""
    store.replace_plan(patient, plan_of(patient, 3))
    (row,) = store.claim_due(T0)
    assert store.record_recipient_gone(row.id, patient, "recipient_gone") == 2
    assert statuses(store, patient) == {"k0": "failed", "k1": "cancelled", "k2": "cancelled"}
    assert db.conn.execute("SELECT gone FROM people WHERE id = ?", (patient,)).fetchone()[0] == 1


# -- next_due --------------------------------------------------------------------------------


def test_next_due_is_the_earliest_pending_instant(store: Deliveries, patient: int) -> None:
    """Sending and sent rows do not count; nothing pending gives None."""
    assert store.next_due() is None
    store.replace_plan(patient, plan_of(patient, 2))
    assert store.next_due() == T0
    store.claim_due(T0)
    assert store.next_due() == T0 + MIN
    store.claim_due(T0 + MIN)
    assert store.next_due() is None


def test_next_due_and_claim_use_the_partial_index(db: Database) -> None:
    """The hot queries are index seeks on deliveries_due, not table scans."""
    queries = [
        ("SELECT due_at FROM deliveries WHERE status = 'pending' ORDER BY due_at LIMIT 1", ()),
        (
            "SELECT id FROM deliveries WHERE status = 'pending' AND due_at <= ?"
            " ORDER BY due_at, id LIMIT ?",
            (to_db(T0), 50),
        ),
    ]
    for sql, params in queries:
        plan = " ".join(row[3] for row in db.conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "deliveries_due" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_crash_recovery_seeks_in_flight_rows_through_an_index(db: Database) -> None:
    """Start-up recovery does not read the whole table: it stays flat as history grows."""
    for sql in (
        "UPDATE deliveries SET status = 'unknown' WHERE status = 'sending'",
        "UPDATE deliveries SET status = 'pending' WHERE status = 'sending' AND urgent = 1",
    ):
        plan = " ".join(row[3] for row in db.conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "deliveries_sending" in plan, plan


# -- recover_in_flight -----------------------------------------------------------------------


def test_recover_in_flight_resends_urgent_once_and_marks_the_rest_unknown(
    store: Deliveries, patient: int
) -> None:
    """Urgent and still relevant: back to pending once; otherwise, or a second time: unknown."""
    hour = timedelta(hours=1)
    store.replace_plan(
        patient,
        [
            planned("urgent", patient, T0, urgent=True, deadline=T0 + hour),
            planned("urgent_stale", patient, T0, urgent=True, deadline=T0 + 5 * MIN),
            planned("plain", patient, T0),
            planned("untouched", patient, T0 + hour),
        ],
    )
    store.claim_due(T0)
    restart = T0 + 10 * MIN
    recovery = store.recover_in_flight(restart)
    assert (recovery.requeued, recovery.unknown) == (1, 2)
    assert statuses(store, patient) == {
        "urgent": "pending",
        "urgent_stale": "unknown",
        "plain": "unknown",
        "untouched": "pending",
    }
    (again,) = store.claim_due(restart)
    # It keeps its original due time, so it goes out ahead of that chat's later messages.
    assert (again.key, again.due_at, again.attempts) == ("urgent", T0, 2)
    # It crashes again while sending: this time it is not resent.
    assert store.recover_in_flight(restart + MIN).unknown == 1
    assert statuses(store, patient)["urgent"] == "unknown"


def test_recovered_mark_survives_a_retry(store: Deliveries, patient: int) -> None:
    """A recovered row that is then retried still counts as recovered at the next crash."""
    store.replace_plan(
        patient, [planned("u", patient, T0, urgent=True, deadline=T0 + timedelta(hours=1))]
    )
    store.claim_due(T0)
    store.recover_in_flight(T0)
    (row,) = store.claim_due(T0)
    store.record_retry(row.id, due_at=T0 + MIN, reason="network")
    store.claim_due(T0 + MIN)
    assert store.recover_in_flight(T0 + 2 * MIN).unknown == 1


# -- for the bot -----------------------------------------------------------------------------


def sent_row(store: Deliveries, patient: int, *, deadline: timedelta = timedelta(hours=2)) -> int:
    store.replace_plan(patient, [planned("root", patient, T0, deadline=T0 + deadline)])
    (row,) = store.claim_due(T0)
    store.record_sent(row.id, now=T0, message_ref=1)
    return row.id


def test_acknowledge_only_the_recipients_own_sent_row(
    db: Database, store: Deliveries, patient: int
) -> None:
    """Someone else's tap, or a tap on an unsent row, records nothing."""
    delivery = sent_row(store, patient)
    other = add_person(db, 999)
    assert not store.acknowledge(other, delivery, T0)
    assert store.acknowledge(patient, delivery, T0 + MIN)
    assert store.acknowledge(patient, delivery, T0 + 2 * MIN)  # second tap: still fine
    row = store.get(delivery)
    assert row is not None and row.acknowledged_at == T0 + MIN
    store.replace_plan(patient, [planned("root", patient, T0), planned("p", patient, T0 + MIN)])
    pending = next(r for r in store.for_person(patient) if r.key == "p")
    assert not store.acknowledge(patient, pending.id, T0)


def test_snooze_makes_a_pending_copy_before_the_deadline(store: Deliveries, patient: int) -> None:
    """Snoozing a sent message adds one pending copy keyed by its instant."""
    delivery = sent_row(store, patient)
    now = T0 + 5 * MIN
    due = store.snooze(patient, delivery, timedelta(minutes=30), now)
    assert due == now + timedelta(minutes=30)
    copy = next(r for r in store.for_person(patient) if r.status is DeliveryStatus.PENDING)
    assert copy.key == f"root:snooze@{to_db(due)}"
    assert (copy.deadline, copy.message_id) == (T0 + timedelta(hours=2), "rest_up")
    assert store.next_due() == due


def test_snooze_never_goes_past_the_deadline(store: Deliveries, patient: int) -> None:
    """A snooze that would land at or after the deadline is refused: None, nothing added."""
    delivery = sent_row(store, patient, deadline=timedelta(minutes=40))
    assert store.snooze(patient, delivery, timedelta(minutes=30), T0 + 10 * MIN) is None
    assert store.snooze(patient, delivery, timedelta(minutes=30), T0 + 9 * MIN) is not None
    assert store.next_due() == T0 + 39 * MIN


def test_snooze_refuses_other_people_and_unsent_rows(
    db: Database, store: Deliveries, patient: int
) -> None:
    """Only the recipient can snooze, and only a message they actually got."""
    delivery = sent_row(store, patient)
    other = add_person(db, 999)
    assert store.snooze(other, delivery, timedelta(minutes=30), T0) is None
    assert store.snooze(patient, 12345, timedelta(minutes=30), T0) is None


def test_snoozing_twice_keeps_one_copy(store: Deliveries, patient: int) -> None:
    """A double tap, or snoozing the copy, replaces the pending copy instead of adding one."""
    delivery = sent_row(store, patient)
    store.snooze(patient, delivery, timedelta(minutes=30), T0)
    second = store.snooze(patient, delivery, timedelta(minutes=30), T0 + MIN)
    assert second is not None
    pending = [r for r in store.for_person(patient) if r.status is DeliveryStatus.PENDING]
    assert [(r.key, r.due_at) for r in pending] == [(f"root:snooze@{to_db(second)}", second)]
    (copy,) = store.claim_due(T0 + 31 * MIN)
    store.record_sent(copy.id, now=T0 + 31 * MIN, message_ref=2)
    third = store.snooze(patient, copy.id, timedelta(minutes=30), T0 + 32 * MIN)
    assert third is not None
    pending = [r for r in store.for_person(patient) if r.status is DeliveryStatus.PENDING]
    assert [r.key for r in pending] == [f"root:snooze@{to_db(third)}"]


def test_snoozed_copy_lives_as_long_as_its_root_is_planned(store: Deliveries, patient: int) -> None:
    """A re-plan keeps a snoozed copy whose message is still planned and drops it otherwise."""
    delivery = sent_row(store, patient)
    store.snooze(patient, delivery, timedelta(minutes=30), T0)
    store.replace_plan(patient, [planned("root", patient, T0)])
    assert sum(r.status is DeliveryStatus.PENDING for r in store.for_person(patient)) == 1
    store.replace_plan(patient, [])  # the session was moved: new keys, the old message is gone
    assert not any(r.status is DeliveryStatus.PENDING for r in store.for_person(patient))


def test_for_person_lists_their_rows_in_due_order(
    db: Database, store: Deliveries, patient: int
) -> None:
    """The export shows a person's own rows only, earliest first."""
    family = add_person(db, 300, role="family")
    store.replace_plan(
        patient,
        [
            planned("b", patient, T0 + MIN),
            planned("a", patient, T0),
            planned("f", patient, T0, recipient_id=family),
        ],
    )
    assert [r.key for r in store.for_person(patient)] == ["a", "b"]
    assert [r.key for r in store.for_person(family)] == ["f"]
    assert store.get(999_999) is None


def test_render_context_reads_recipient_session_ride_and_series(
    db: Database, store: Deliveries, patient: int
) -> None:
    """The dispatcher's one read: the recipient's settings, the session, the driver, the series."""
    family = add_person(
        db, 300, role="family", zone="America/New_York", wording="discreet", display_name="Sam"
    )
    link_family(db, patient, family)
    s1 = add_session(db, patient, "2026-12-02T10:00", zone="Europe/Berlin")
    s2 = add_session(db, patient, "2026-12-04T10:00", zone="Europe/Berlin")
    add_session(db, patient, "2026-12-03T10:00", zone="Europe/Berlin", status="cancelled")
    claim_ride(db, s2, family)
    store.replace_plan(patient, [planned("f", patient, T0, recipient_id=family, session_id=s2)])
    (row,) = store.for_person(family)
    ctx = store.render_context(row.id)
    assert ctx is not None
    assert (ctx.chat_id, ctx.role.value, ctx.zone, ctx.wording.value) == (
        300,
        "family",
        "America/New_York",
        "discreet",
    )
    assert (ctx.linked, ctx.session_active, ctx.driver_name) == (True, True, "Sam")
    assert ctx.session is not None and ctx.session.id == s2
    assert ctx.session.local_start == datetime(2026, 12, 4, 10, 0)  # noqa: DTZ001 - wall clock
    assert sorted(s.id for s in ctx.series) == [s1, s2]
    assert store.render_context(999_999) is None
