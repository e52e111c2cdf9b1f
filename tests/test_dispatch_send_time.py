"""What the dispatcher checks again when a row is sent, not only when it was planned: the
recipient's quiet hours, the session's current time, and whom the message is written for.

A real SQLite file, a hand-moved clock (each run's ``now``), a fake sender; no sleeps.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from messages import Catalog
from scheduler.companion import Companion
from scheduler.dispatch import Dispatcher
from scheduler.model import Kind
from scheduler.sending import OutgoingMessage, RetryLater
from scheduler.store import ClaimedDelivery, Database, Deliveries
from tests.fakes import FakeRenderer, FakeSender, add_person, add_session, link_family, planned

BERLIN = ZoneInfo("Europe/Berlin")
PATIENT_CHAT = 100
FAMILY_CHAT = 300
# Session starts as the patient types them: wall-clock times in Berlin.
SECOND_DEC_10 = datetime(2026, 12, 2, 10, 0)  # noqa: DTZ001
THIRD_DEC_10 = datetime(2026, 12, 3, 10, 0)  # noqa: DTZ001


def berlin(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A December 2026 instant given on the Berlin clock, as UTC."""
    return datetime(2026, 12, day, hour, minute, second, tzinfo=BERLIN).astimezone(UTC)


@dataclass
class World:
    db: Database
    store: Deliveries
    sender: FakeSender
    dispatcher: Dispatcher
    patient: int
    family: int
    session: int

    def status(self, key: str) -> tuple[str, str | None]:
        row = self.db.conn.execute(
            "SELECT status, reason FROM deliveries WHERE key = ?", (key,)
        ).fetchone()
        return row["status"], row["reason"]

    def row(self, key: str) -> tuple[str, datetime, int]:
        (item,) = [
            r
            for person in (self.patient, self.family)
            for r in self.store.for_person(person)
            if r.key == key
        ]
        return item.status.value, item.due_at, item.attempts

    def id_of(self, key: str) -> int:
        return int(
            self.db.conn.execute("SELECT id FROM deliveries WHERE key = ?", (key,)).fetchone()[0]
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A patient in Berlin and a family member in New York, both with the default quiet hours
    (21:30 to 08:00 on their own clocks), and a session on 2 December at 10:00 in Berlin."""
    db = Database(tmp_path / "companion.db")
    patient = add_person(db, PATIENT_CHAT, zone="Europe/Berlin")
    family = add_person(db, FAMILY_CHAT, role="family", zone="America/New_York")
    link_family(db, patient, family)
    session = add_session(db, patient, "2026-12-02T10:00", zone="Europe/Berlin")
    sender = FakeSender()
    dispatcher = Dispatcher(
        db,
        FakeRenderer(),
        sender,
        crisis_line="988",
        chat_interval=timedelta(0),
        rng=random.Random(7),
        max_attempts=6,
    )
    yield World(db, Deliveries(db), sender, dispatcher, patient, family, session)
    db.close()


# -- quiet hours -----------------------------------------------------------------------------


async def test_quiet_hours_hold_a_retried_note_until_the_morning(world: World) -> None:
    """A note due at 21:29:40 fails once; its retry falls due after 21:30, inside quiet hours:
    it waits for 08:00 (the wait is no attempt), while an urgent message and a reply to the same
    chat still go at once."""
    due = berlin(1, 21, 29, 40)
    world.store.replace_plan(
        world.patient,
        [
            planned("note", world.patient, due, deadline=berlin(2, 12)),
            planned("urgent", world.patient, due + timedelta(minutes=1), urgent=True),
        ],
    )
    world.sender.script(RetryLater("network"))
    await world.dispatcher.dispatch_due(due)
    status, retry_at, attempts = world.row("note")
    assert (status, attempts) == ("pending", 1)
    assert berlin(1, 21, 30) < retry_at < berlin(1, 21, 31)  # the back-off lands in quiet hours

    reply = world.store.queue_reply(
        chat_id=PATIENT_CHAT,
        recipient_id=world.patient,
        body=OutgoingMessage(0, 0, "Noted.").body(),
        now=retry_at,
        relevance=timedelta(hours=12),
    )
    now = max(retry_at, due + timedelta(minutes=1))
    report = await world.dispatcher.dispatch_due(now)
    assert world.row("note") == ("pending", berlin(2, 8), 1)
    assert world.status("note") == ("pending", "quiet_hours")
    assert world.status("urgent") == ("sent", None)
    assert [m.delivery_id for m in world.sender.sent] == [
        world.id_of("note"),  # the first try, before 21:30
        reply,
        world.id_of("urgent"),
    ]
    assert (report.sent, report.retried) == (2, 1)

    report = await world.dispatcher.dispatch_due(berlin(2, 8))
    assert report.sent == 1 and world.status("note") == ("sent", None)
    assert world.sender.sent[-1].delivery_id == world.id_of("note")


async def test_a_catch_up_at_night_waits_for_morning_or_is_skipped(world: World) -> None:
    """Back at 23:15 in Berlin after an outage: a note still relevant at 08:00 waits for it; one
    whose relevance ends before then is skipped, never sent at night. The family member's clock
    (17:15 in New York) is not in quiet hours: their note goes now."""
    due = berlin(1, 21)
    world.store.replace_plan(
        world.patient,
        [
            planned("still", world.patient, due, deadline=berlin(2, 10)),
            planned("too_late", world.patient, due, deadline=berlin(2, 0)),
            planned(
                "family", world.patient, due, recipient_id=world.family, deadline=berlin(2, 10)
            ),
        ],
    )
    report = await world.dispatcher.dispatch_due(berlin(1, 23, 15))
    assert world.row("still") == ("pending", berlin(2, 8), 0)
    assert world.status("still") == ("pending", "quiet_hours")
    assert world.status("too_late") == ("skipped", "quiet_hours")
    assert world.status("family") == ("sent", None)
    assert [m.chat_id for m in world.sender.sent] == [FAMILY_CHAT]
    assert (report.sent, report.skipped, report.retried) == (1, 1, 1)
    assert world.dispatcher.next_due() == berlin(2, 8)


# -- the session's current time --------------------------------------------------------------


async def test_a_row_for_the_sessions_old_time_is_skipped(world: World) -> None:
    """The session moved to 3 December after these rows were written (another connection, no
    re-plan yet): rows keyed to its old start, snoozed copies too, are skipped; a row keyed to
    its new start and a series-wide row (no start in its key) go."""
    old = f"s{world.session}@2026-12-02T10:00"
    new = f"s{world.session}@2026-12-03T10:00"
    due = berlin(1, 10)
    world.store.replace_plan(
        world.patient,
        [
            planned(
                f"{old}:rest_up:p{world.patient}", world.patient, due, session_id=world.session
            ),
            planned(
                f"{old}:rest_up:p{world.patient}:snooze@x",
                world.patient,
                due,
                session_id=world.session,
            ),
            planned(
                f"{new}:calm_start:p{world.patient}", world.patient, due, session_id=world.session
            ),
            planned(
                f"series{world.patient}:provider_first:p{world.patient}",
                world.patient,
                due,
                session_id=world.session,
            ),
        ],
    )
    world.db.conn.execute(
        "UPDATE sessions SET local_start = '2026-12-03T10:00' WHERE id = ?", (world.session,)
    )
    report = await world.dispatcher.dispatch_due(due)
    assert world.status(f"{old}:rest_up:p{world.patient}") == ("skipped", "session_moved")
    assert world.status(f"{old}:rest_up:p{world.patient}:snooze@x") == (
        "skipped",
        "session_moved",
    )
    assert world.status(f"{new}:calm_start:p{world.patient}") == ("sent", None)
    assert world.status(f"series{world.patient}:provider_first:p{world.patient}") == ("sent", None)
    assert (report.sent, report.skipped) == (2, 2)


async def test_a_session_moved_after_its_row_was_claimed_is_not_sent(
    tmp_path: Path, catalog: Catalog
) -> None:
    """The patient moves the session in the instant between the claim and the send: the claimed
    row (kept by the re-plan, it is in flight) is skipped, and the new plan's row for the new
    time goes when it is due."""
    db = Database(tmp_path / "companion.db")
    try:
        start = berlin(1, 9)
        companion = Companion(db, catalog.timeline)
        patient = companion.register_patient(PATIENT_CHAT, "Ann", "Europe/Berlin", start)
        session = companion.add_session(patient.id, SECOND_DEC_10, Kind.IV, start)
        sender = FakeSender()
        dispatcher = Dispatcher(
            db, FakeRenderer(), sender, crisis_line="988", chat_interval=timedelta(0)
        )
        await dispatcher.dispatch_due(start)  # what is due at once (the series' first note)
        already = len(sender.sent)
        old_key = f"s{session.id}@2026-12-02T10:00:rest_up:p{patient.id}"
        new_key = f"s{session.id}@2026-12-03T10:00:rest_up:p{patient.id}"
        old = next(r for r in Deliveries(db).for_person(patient.id) if r.key == old_key)

        claim = dispatcher.deliveries.claim_next

        def claim_then_move(
            now: datetime, limit: int, busy: Collection[int] = ()
        ) -> list[ClaimedDelivery]:
            claimed = claim(now, limit, busy)
            if any(row.key == old_key for row in claimed):
                companion.move_session(patient.id, session.id, THIRD_DEC_10, now)
            return claimed

        dispatcher.deliveries.claim_next = claim_then_move  # type: ignore[method-assign]
        report = await dispatcher.dispatch_due(old.due_at)
        rows = {r.key: r for r in Deliveries(db).for_person(patient.id)}
        assert (rows[old_key].status.value, rows[old_key].reason) == ("skipped", "session_moved")
        assert len(sender.sent) == already and report.sent == 0
        moved = rows[new_key]
        assert moved.status.value == "pending" and moved.due_at == berlin(2, 20)
        await dispatcher.dispatch_due(moved.due_at)
        # The evening-before checklist (issue 10) is due at the same instant, after it.
        checklist = rows[f"s{session.id}@2026-12-03T10:00:checklist:p{patient.id}"]
        assert [m.delivery_id for m in sender.sent[already:]] == [moved.id, checklist.id]
    finally:
        db.close()


# -- protection follows the audience ---------------------------------------------------------


async def test_a_patient_who_is_also_family_gets_the_family_message_protected(
    tmp_path: Path, catalog: Catalog
) -> None:
    """Bo is a patient in their own right and Ann's family: the family message about Ann's
    session reaches Bo protected (no forwarding, no saving), while Bo's own reminder is not."""
    db = Database(tmp_path / "companion.db")
    try:
        ann = add_person(db, 1, zone="Europe/Berlin", display_name="Ann")
        bo = add_person(db, 2, zone="Europe/Berlin", display_name="Bo")  # role: patient
        link_family(db, ann, bo)
        ann_session = add_session(db, ann, "2026-12-02T10:00", zone="Europe/Berlin")
        bo_session = add_session(db, bo, "2026-12-04T10:00", zone="Europe/Berlin")
        store = Deliveries(db)
        due = berlin(2, 12)
        store.replace_plan(
            ann,
            [
                planned(
                    f"s{ann_session}@2026-12-02T10:00:family_today:p{bo}",
                    ann,
                    due,
                    recipient_id=bo,
                    session_id=ann_session,
                    message_id="family_today",
                )
            ],
        )
        store.replace_plan(
            bo,
            [
                planned(
                    f"s{bo_session}@2026-12-04T10:00:rest_up:p{bo}",
                    bo,
                    due,
                    session_id=bo_session,
                    message_id="rest_up",
                )
            ],
        )
        sender = FakeSender()
        await Dispatcher(
            db, catalog, sender, crisis_line="988", chat_interval=timedelta(0)
        ).dispatch_due(due)
        family_row, own_row = (
            next(r.id for r in store.for_person(bo) if r.message_id == message)
            for message in ("family_today", "rest_up")
        )
        protection = {m.delivery_id: m.protect_content for m in sender.sent}
        assert protection == {family_row: True, own_row: False}
    finally:
        db.close()
