"""The dispatcher on a real SQLite file with a fake sender: what it sends, skips, retries."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from messages import Catalog, Wording, load_catalog
from scheduler.dispatch import Dispatcher, backoff
from scheduler.model import DeliveryStatus, PlannedDelivery
from scheduler.sending import (
    Ambiguous,
    Button,
    Failed,
    OutgoingMessage,
    RecipientGone,
    RetryLater,
    SendResult,
    Sent,
)
from scheduler.store import Database, Deliveries
from tests.fakes import (
    Clock,
    FakeRenderer,
    FakeSender,
    add_person,
    add_session,
    claim_ride,
    link_family,
    planned,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SEED = 1234
PATIENT_CHAT = 100
FAMILY_CHAT = 300


@dataclass
class World:
    db: Database
    store: Deliveries
    sender: FakeSender
    renderer: FakeRenderer
    dispatcher: Dispatcher
    patient: int
    family: int
    session: int

    def plan(self, *items: PlannedDelivery) -> None:
        self.store.replace_plan(self.patient, list(items))

    def status(self, key: str) -> tuple[str, str | None]:
        row = self.db.conn.execute(
            "SELECT status, reason FROM deliveries WHERE key = ?", (key,)
        ).fetchone()
        return row["status"], row["reason"]

    def row(self, key: str) -> tuple[DeliveryStatus, datetime, int]:
        delivery = next(
            item
            for person in (self.patient, self.family)
            for item in self.store.for_person(person)
            if item.key == key
        )
        return delivery.status, delivery.due_at, delivery.attempts


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = Database(tmp_path / "companion.db")
    patient = add_person(db, PATIENT_CHAT, zone="Europe/Berlin", display_name="Alex")
    family = add_person(db, FAMILY_CHAT, role="family", zone="America/New_York")
    # T0 is 03:00 in New York: without quiet hours, so these tests see the family's messages go
    # (quiet hours at send time have their own tests in test_dispatch_send_time.py).
    db.conn.execute(
        "UPDATE people SET quiet_start = NULL, quiet_end = NULL WHERE id = ?", (family,)
    )
    link_family(db, patient, family)
    session = add_session(db, patient, "2026-12-02T10:00", zone="Europe/Berlin")
    sender = FakeSender()
    renderer = FakeRenderer()
    dispatcher = Dispatcher(
        db,
        renderer,
        sender,
        crisis_line="988",
        chat_interval=timedelta(0),
        max_attempts=6,
        rng=random.Random(SEED),
    )
    yield World(db, Deliveries(db), sender, renderer, dispatcher, patient, family, session)
    db.close()


def to_patient(
    world: World,
    key: str,
    due: datetime,
    *,
    deadline: datetime | None = None,
    urgent: bool = False,
    message_id: str = "rest_up",
) -> PlannedDelivery:
    return planned(
        key,
        world.patient,
        due,
        session_id=world.session,
        deadline=deadline,
        urgent=urgent,
        message_id=message_id,
    )


def to_family(world: World, key: str, due: datetime, *, urgent: bool = False) -> PlannedDelivery:
    return planned(
        key,
        world.patient,
        due,
        recipient_id=world.family,
        session_id=world.session,
        urgent=urgent,
        message_id="family_today",
    )


# -- the ordinary path -----------------------------------------------------------------------


async def test_sends_due_rows_in_order_and_records_them(world: World) -> None:
    """Due rows go out earliest first; each is recorded sent with the platform's message id."""
    world.plan(
        to_patient(world, "b", T0 + MIN),
        to_patient(world, "a", T0),
        to_patient(world, "later", T0 + timedelta(hours=1)),
    )
    report = await world.dispatcher.dispatch_due(T0 + MIN)
    assert (report.sent, report.skipped, report.retried, report.failed) == (2, 0, 0, 0)
    assert report.next_due == T0 + timedelta(hours=1)
    assert [m.delivery_id for m in world.sender.sent] == [
        world.store.for_person(world.patient)[i].id for i in (0, 1)
    ]
    a, b, later = world.store.for_person(world.patient)
    assert (a.status, a.sent_at, a.message_ref) == (DeliveryStatus.SENT, T0 + MIN, 1001)
    assert b.status is DeliveryStatus.SENT and later.status is DeliveryStatus.PENDING
    assert world.dispatcher.next_due() == T0 + timedelta(hours=1)


async def test_nothing_due_sends_nothing(world: World) -> None:
    """Waking early is harmless: no claim, no send."""
    world.plan(to_patient(world, "a", T0 + MIN))
    report = await world.dispatcher.dispatch_due(T0)
    assert (report.sent, report.next_due, world.sender.sent) == (0, T0 + MIN, [])


async def test_a_backlog_is_drained_in_one_call(tmp_path: Path) -> None:
    """Many rows due at once all go in one dispatch, in order."""
    db = Database(tmp_path / "c.db")
    patient = add_person(db, PATIENT_CHAT)
    Deliveries(db).replace_plan(patient, [planned(f"k{i:03d}", patient, T0) for i in range(120)])
    sender = FakeSender()
    dispatcher = Dispatcher(
        db, FakeRenderer(), sender, crisis_line="988", chat_interval=timedelta(0)
    )
    report = await dispatcher.dispatch_due(T0)
    assert report.sent == 120 and report.next_due is None
    assert [m.delivery_id for m in sender.sent] == sorted(m.delivery_id for m in sender.sent)
    db.close()


async def test_message_carries_buttons_values_and_protection(world: World) -> None:
    """Buttons refer to the delivery; family messages are protected; the session shows in the
    recipient's own zone with its number in the series."""
    add_session(world.db, world.patient, "2026-12-04T10:00", zone="Europe/Berlin")
    add_session(world.db, world.patient, "2026-11-28T10:00", zone="Europe/Berlin")
    world.plan(to_patient(world, "p", T0), to_family(world, "f", T0))
    await world.dispatcher.dispatch_due(T0)
    to_patient_msg, to_family_msg = world.sender.sent
    assert to_patient_msg.chat_id == PATIENT_CHAT and not to_patient_msg.protect_content
    assert to_family_msg.chat_id == FAMILY_CHAT and to_family_msg.protect_content
    assert to_patient_msg.buttons == (
        Button(action="got_it", ref=to_patient_msg.delivery_id, label="Got it"),
    )
    (_, _, _, patient_values, _), (_, _, _, family_values, with_driver) = world.renderer.calls
    berlin_start = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert patient_values["session_time"] == berlin_start
    assert patient_values["session_time"].tzinfo == ZoneInfo("Europe/Berlin")  # type: ignore[attr-defined]
    assert family_values["session_date"].tzinfo == ZoneInfo("America/New_York")  # type: ignore[attr-defined]
    assert family_values["session_date"] == berlin_start  # same instant, the family's clock
    assert (patient_values["session_number"], patient_values["series_length"]) == (2, 3)
    assert patient_values["crisis_line"] == "988"
    assert not with_driver and "driver_name" not in family_values


async def test_a_claimed_ride_renders_with_the_driver(world: World) -> None:
    """When a family member claimed the ride, the driver text is asked for, with their name."""
    world.db.conn.execute("UPDATE people SET display_name = 'Sam' WHERE id = ?", (world.family,))
    claim_ride(world.db, world.session, world.family)
    world.plan(to_patient(world, "p", T0))
    await world.dispatcher.dispatch_due(T0)
    ((_, _, _, values, with_driver),) = world.renderer.calls
    assert with_driver and values["driver_name"] == "Sam"


async def test_recipient_locale_and_wording_are_used(world: World) -> None:
    """The renderer gets the recipient's own locale and wording."""
    world.db.conn.execute(
        "UPDATE people SET locale = 'de', wording = 'discreet' WHERE id = ?", (world.patient,)
    )
    world.plan(to_patient(world, "p", T0, message_id="calm_start"))
    await world.dispatcher.dispatch_due(T0)
    ((locale, message_id, wording, _, _),) = world.renderer.calls
    assert (locale, message_id, wording) == ("de", "calm_start", Wording.DISCREET)


async def test_family_welcome_without_a_session_gets_only_the_crisis_line(world: World) -> None:
    """A message with no session passes no session values."""
    world.plan(planned("w", world.patient, T0, recipient_id=world.family, message_id="welcome"))
    await world.dispatcher.dispatch_due(T0)
    ((_, _, _, values, _),) = world.renderer.calls
    assert values == {"crisis_line": "988"}


# -- relevance, pause, stop, gone ------------------------------------------------------------


async def test_after_downtime_expired_rows_are_skipped_and_the_rest_sent_in_order(
    world: World,
) -> None:
    """Back after an outage: what is past its deadline is skipped, never sent late."""
    world.plan(
        to_patient(world, "old", T0, deadline=T0 + 30 * MIN),
        to_patient(world, "exact", T0 + MIN, deadline=T0 + 2 * timedelta(hours=1)),
        to_patient(world, "edge", T0 + 2 * MIN, deadline=T0 + timedelta(hours=1)),
        to_patient(world, "fresh", T0 + 3 * MIN, deadline=T0 + timedelta(hours=3)),
    )
    back = T0 + timedelta(hours=1)  # "edge" expires exactly now: not sent
    report = await world.dispatcher.dispatch_due(back)
    assert (report.sent, report.skipped) == (2, 2)
    assert world.status("old") == ("skipped", "expired")
    assert world.status("edge") == ("skipped", "expired")
    sent_ids = [m.delivery_id for m in world.sender.sent]
    by_key = {row.key: row.id for row in world.store.for_person(world.patient)}
    assert sent_ids == [by_key["exact"], by_key["fresh"]]


async def test_paused_recipient_gets_only_urgent_messages(world: World) -> None:
    """While paused, ordinary messages are skipped and urgent ones still go."""
    world.db.conn.execute(
        "UPDATE people SET paused_until = '2026-12-05T00:00:00.000000+00:00' WHERE id = ?",
        (world.patient,),
    )
    world.plan(to_patient(world, "plain", T0), to_patient(world, "urgent", T0, urgent=True))
    report = await world.dispatcher.dispatch_due(T0)
    assert (report.sent, report.skipped) == (1, 1)
    assert world.status("plain") == ("skipped", "paused")
    assert world.status("urgent") == ("sent", None)


async def test_a_pause_that_has_ended_does_not_skip(world: World) -> None:
    """paused_until in the past is no pause."""
    world.db.conn.execute(
        "UPDATE people SET paused_until = '2026-11-30T00:00:00.000000+00:00' WHERE id = ?",
        (world.patient,),
    )
    world.plan(to_patient(world, "plain", T0))
    assert (await world.dispatcher.dispatch_due(T0)).sent == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("UPDATE people SET stopped = 1 WHERE chat_id = 300", "stopped"),
        ("UPDATE people SET gone = 1 WHERE chat_id = 300", "recipient_gone"),
        ("DELETE FROM family_links", "unlinked"),
        ("UPDATE sessions SET status = 'cancelled'", "session_cancelled"),
    ],
)
async def test_rows_for_people_who_cannot_receive_are_cancelled(
    world: World, change: str, reason: str
) -> None:
    """Stopped, gone, unlinked or a cancelled session: cancelled at send time, nothing sent."""
    world.plan(to_family(world, "f", T0, urgent=True))
    world.db.conn.execute(change)
    report = await world.dispatcher.dispatch_due(T0)
    assert (report.cancelled, world.sender.sent) == (1, [])
    assert world.status("f") == ("cancelled", reason)


# -- outcomes from the sender ----------------------------------------------------------------


async def test_recipient_gone_fails_the_row_and_stops_the_person(world: World) -> None:
    """A 'blocked' answer fails that row, marks the person gone and cancels their other rows."""
    world.plan(
        to_family(world, "f1", T0),
        to_family(world, "f2", T0),
        to_family(world, "f3", T0 + timedelta(hours=1)),
        to_patient(world, "p", T0),
    )
    world.sender.script_chat(FAMILY_CHAT, RecipientGone("blocked"))
    report = await world.dispatcher.dispatch_due(T0)
    assert [world.status(k) for k in ("f1", "f2", "f3", "p")] == [
        ("failed", "recipient_gone"),
        ("cancelled", "recipient_gone"),
        ("cancelled", "recipient_gone"),
        ("sent", None),
    ]
    assert (report.failed, report.sent) == (1, 1)
    assert len(world.sender.to_chat(FAMILY_CHAT)) == 1
    gone = world.db.conn.execute("SELECT gone FROM people WHERE id = ?", (world.family,))
    assert gone.fetchone()[0] == 1


async def test_failed_is_permanent_for_that_message_only(world: World) -> None:
    """A refused message is failed with the sender's reason; the next one still goes."""
    world.plan(to_patient(world, "a", T0), to_patient(world, "b", T0 + MIN))
    world.sender.script(Failed("bad_request"))
    report = await world.dispatcher.dispatch_due(T0 + MIN)
    assert (report.failed, report.sent) == (1, 1)
    assert world.status("a") == ("failed", "bad_request")


async def test_retry_backs_off_with_jitter_until_attempts_run_out(world: World) -> None:
    """Transient errors re-queue at 30 s, 1, 2, 4 ... min (seeded jitter) up to max_attempts."""
    world.plan(to_patient(world, "k", T0, deadline=T0 + timedelta(hours=12)))
    expected_rng = random.Random(SEED)
    now = T0
    for attempt in range(1, 6):
        world.sender.script(RetryLater("network"))
        report = await world.dispatcher.dispatch_due(now)
        assert report.retried == 1
        status, due, attempts = world.row("k")
        assert (status, attempts) == (DeliveryStatus.PENDING, attempt)
        assert due == now + backoff(attempt, expected_rng)
        assert report.next_due == due
        now = due
    world.sender.script(RetryLater("network"))
    report = await world.dispatcher.dispatch_due(now)
    assert report.failed == 1
    assert world.status("k") == ("failed", "retries_exhausted:network")
    assert len(world.sender.sent) == 6


def test_backoff_doubles_from_30_seconds_and_caps_at_30_minutes() -> None:
    """The schedule before jitter is 30 s, 1, 2, 4, 8, 16 min, then 30 min; jitter adds <= 20 %."""
    rng = random.Random(0)
    bases = [30, 60, 120, 240, 480, 960, 1800, 1800]
    for attempt, base in enumerate(bases, start=1):
        delay = backoff(attempt, rng).total_seconds()
        assert base <= delay <= min(base * 1.2, 1800)
    assert backoff(100, rng) == timedelta(minutes=30)


async def test_retry_honours_the_platforms_wait(world: World) -> None:
    """Flood control's retry_after is used as given."""
    world.plan(to_patient(world, "k", T0))
    world.sender.script(RetryLater("flood", after=timedelta(seconds=7)))
    await world.dispatcher.dispatch_due(T0)
    assert world.row("k")[:2] == (DeliveryStatus.PENDING, T0 + timedelta(seconds=7))
    assert world.status("k") == ("pending", "flood")


async def test_waits_the_platform_names_never_use_up_attempts(world: World) -> None:
    """Ten 429s in a row (more than max_attempts) still leave the row pending; it goes after."""
    world.plan(to_patient(world, "k", T0, deadline=T0 + timedelta(hours=1)))
    now = T0
    for _ in range(10):
        world.sender.script(RetryLater("flood_control", after=timedelta(seconds=5)))
        report = await world.dispatcher.dispatch_due(now)
        assert report.retried == 1
        status, due, attempts = world.row("k")
        assert (status, due, attempts) == (DeliveryStatus.PENDING, now + timedelta(seconds=5), 0)
        now = due
    report = await world.dispatcher.dispatch_due(now)
    assert report.sent == 1 and world.row("k")[2] == 1


async def test_waits_the_platform_names_still_end_at_the_deadline(world: World) -> None:
    """A storm that outlasts the message's relevance skips it as expired, never later."""
    world.plan(to_patient(world, "k", T0, deadline=T0 + timedelta(seconds=12)))
    now = T0
    for _ in range(3):
        world.sender.script(RetryLater("flood_control", after=timedelta(seconds=5)))
        await world.dispatcher.dispatch_due(now)
        now += timedelta(seconds=5)
    assert world.status("k") == ("skipped", "expired")
    assert len(world.sender.sent) == 3


async def test_a_retry_counts_from_when_the_answer_came(tmp_path: Path) -> None:
    """With the bot's clock as ``now_fn``, a 429 that arrives 20 s into a run waits from then."""
    db = Database(tmp_path / "c.db")
    patient = add_person(db, PATIENT_CHAT)
    Deliveries(db).replace_plan(
        patient, [planned("k", patient, T0, deadline=T0 + timedelta(hours=1))]
    )
    clock = Clock(T0)

    class SlowSender(FakeSender):
        async def send(self, message: OutgoingMessage) -> SendResult:
            clock.advance(timedelta(seconds=20))  # the request took this long
            return await super().send(message)

    sender = SlowSender()
    sender.script(RetryLater("flood_control", after=timedelta(seconds=5)))
    dispatcher = Dispatcher(
        db, FakeRenderer(), sender, crisis_line="988", chat_interval=timedelta(0), now_fn=clock.now
    )
    await dispatcher.dispatch_due(T0)
    (row,) = Deliveries(db).for_person(patient)
    assert row.due_at == T0 + timedelta(seconds=25)
    db.close()


async def test_a_chat_not_free_yet_does_not_hold_up_other_chats(world: World) -> None:
    """The sender's per-chat spacing answer postpones that chat by exactly the rest of its
    interval, its later rows behind it, uncounted; the other chat goes in the same run."""
    world.plan(
        to_patient(world, "a", T0),
        to_patient(world, "b", T0),
        to_family(world, "c", T0),
    )
    world.sender.script_chat(
        PATIENT_CHAT, RetryLater("chat_spacing", after=timedelta(milliseconds=400))
    )
    report = await world.dispatcher.dispatch_due(T0)
    assert (report.sent, report.retried) == (1, 2)
    assert world.row("a") == (DeliveryStatus.PENDING, T0 + timedelta(milliseconds=400), 0)
    _, b_due, b_attempts = world.row("b")
    assert b_due > T0 + timedelta(milliseconds=400) and b_attempts == 0
    await world.dispatcher.dispatch_due(b_due)
    ids = {row.key: row.id for row in world.store.for_person(world.patient)}
    assert [m.delivery_id for m in world.sender.to_chat(PATIENT_CHAT)] == [
        ids["a"],
        ids["a"],
        ids["b"],
    ]


async def test_no_answer_to_a_reminder_is_unknown_and_not_resent(world: World) -> None:
    """A read timeout may have delivered it: recorded unknown, never sent again."""
    world.plan(to_patient(world, "k", T0, deadline=T0 + timedelta(hours=2)))
    world.sender.script(Ambiguous("timed_out"))
    report = await world.dispatcher.dispatch_due(T0)
    assert report.unknown == 1
    assert world.status("k") == ("unknown", "ambiguous:timed_out")
    await world.dispatcher.dispatch_due(T0 + timedelta(hours=1))
    assert len(world.sender.sent) == 1


async def test_no_answer_to_an_urgent_message_tries_it_once_more(world: World) -> None:
    """Urgent and still relevant: re-queued once (as crash recovery would); a second
    unanswered try is unknown. Later rows to the chat wait behind it."""
    world.plan(
        to_patient(world, "u", T0, deadline=T0 + timedelta(hours=2), urgent=True),
        to_patient(world, "later", T0),
    )
    world.sender.script(Ambiguous("timed_out"))
    report = await world.dispatcher.dispatch_due(T0)
    assert (report.retried, report.unknown) == (2, 0)
    status, due, _ = world.row("u")
    assert status is DeliveryStatus.PENDING and world.status("u") == ("pending", "recovered")
    assert world.row("later")[1] > due
    world.sender.script(Ambiguous("timed_out"))
    await world.dispatcher.dispatch_due(due)
    assert world.status("u") == ("unknown", "ambiguous:timed_out")
    assert len(world.sender.to_chat(PATIENT_CHAT)) == 2


async def test_no_answer_to_an_urgent_message_near_its_deadline_is_unknown(world: World) -> None:
    """No second try that would land after the deadline."""
    world.plan(to_patient(world, "u", T0, deadline=T0 + timedelta(seconds=10), urgent=True))
    world.sender.script(Ambiguous("timed_out"))
    await world.dispatcher.dispatch_due(T0)
    assert world.status("u") == ("unknown", "ambiguous:timed_out")


async def test_a_retry_past_the_deadline_is_skipped_instead(world: World) -> None:
    """If the next try would come too late, the row is skipped as expired now."""
    world.plan(to_patient(world, "k", T0, deadline=T0 + timedelta(seconds=20)))
    world.sender.script(RetryLater("network"))
    report = await world.dispatcher.dispatch_due(T0)
    assert report.skipped == 1
    assert world.status("k") == ("skipped", "expired")


async def test_a_sender_exception_is_ambiguous_and_its_text_is_not_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A raising sender may have got the request out: the row is unknown and not resent (never
    retried as if nothing had been sent); the log names the type, never the message."""
    caplog.set_level(logging.DEBUG)
    world.plan(to_patient(world, "k", T0))
    world.sender.script(RuntimeError("https://api.telegram.org/bot123:SECRET/sendMessage"))
    report = await world.dispatcher.dispatch_due(T0)
    assert report.unknown == 1
    assert world.status("k") == ("unknown", "ambiguous:exception:RuntimeError")
    await world.dispatcher.dispatch_due(T0 + timedelta(hours=1))
    assert len(world.sender.sent) == 1
    assert "RuntimeError" in caplog.text
    assert "SECRET" not in caplog.text


async def test_logs_hold_ids_and_statuses_only(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """No message text, name or session time reaches the log."""
    caplog.set_level(logging.DEBUG)
    world.db.conn.execute("UPDATE people SET display_name = 'Sam' WHERE id = ?", (world.family,))
    claim_ride(world.db, world.session, world.family)
    world.plan(to_patient(world, "a", T0), to_family(world, "b", T0))
    world.sender.script(Sent(1), Failed("bad_request"))
    await world.dispatcher.dispatch_due(T0)
    text = caplog.text
    for secret in ("Sam", "Alex", "rest_up|", "2026-12-02", "10:00", "driver="):
        assert secret not in text


async def test_render_error_fails_the_row_and_the_rest_still_go(tmp_path: Path) -> None:
    """A message the catalog cannot render fails with render_error; others are unaffected."""
    db = Database(tmp_path / "c.db")
    patient = add_person(db, PATIENT_CHAT)
    Deliveries(db).replace_plan(
        patient,
        [planned("bad", patient, T0, message_id="nope"), planned("good", patient, T0 + MIN)],
    )
    sender = FakeSender()
    dispatcher = Dispatcher(
        db, FakeRenderer(fail_for=["nope"]), sender, crisis_line="988", chat_interval=timedelta(0)
    )
    report = await dispatcher.dispatch_due(T0 + MIN)
    assert (report.failed, report.sent) == (1, 1)
    reasons = [row.reason for row in Deliveries(db).for_person(patient)]
    assert reasons == ["render_error", None]
    db.close()


# -- per-chat order --------------------------------------------------------------------------


async def test_a_postponed_message_holds_back_later_ones_to_the_same_chat(world: World) -> None:
    """If one message to a chat must wait, later ones to that chat wait behind it; other chats
    are not held up."""
    world.plan(
        to_patient(world, "a", T0),
        to_family(world, "c", T0 + timedelta(seconds=30)),
        to_patient(world, "b", T0 + MIN),
    )
    world.sender.script_chat(PATIENT_CHAT, RetryLater("flood", after=timedelta(seconds=10)))
    now = T0 + 2 * MIN
    report = await world.dispatcher.dispatch_due(now)
    assert (report.retried, report.sent) == (2, 1)
    _, a_due, a_attempts = world.row("a")
    b_status, b_due, b_attempts = world.row("b")
    assert a_due == now + timedelta(seconds=10) and a_attempts == 0  # the platform's pace
    assert b_status is DeliveryStatus.PENDING and b_due > a_due
    assert b_attempts == 0  # waiting behind is not an attempt
    assert [m.chat_id for m in world.sender.sent] == [PATIENT_CHAT, FAMILY_CHAT]
    # Next wake-up: both go, in their original order.
    report = await world.dispatcher.dispatch_due(b_due)
    assert report.sent == 2
    ids = {row.key: row.id for row in world.store.for_person(world.patient)}
    to_patient_ids = [m.delivery_id for m in world.sender.to_chat(PATIENT_CHAT)]
    assert to_patient_ids == [ids["a"], ids["a"], ids["b"]]


async def test_held_back_rows_that_would_expire_are_skipped(world: World) -> None:
    """Waiting behind a postponed message never pushes a row past its deadline."""
    world.plan(
        to_patient(world, "a", T0),
        to_patient(world, "b", T0, deadline=T0 + timedelta(seconds=5)),
    )
    world.sender.script_chat(PATIENT_CHAT, RetryLater("flood", after=timedelta(seconds=10)))
    await world.dispatcher.dispatch_due(T0)
    assert world.status("b") == ("skipped", "expired")


# -- crashes ---------------------------------------------------------------------------------


async def test_a_crash_while_sending_leaves_the_row_for_recovery(world: World) -> None:
    """Claim is committed before the send: a process killed mid-send leaves 'sending', and
    recovery resends an urgent row once."""
    world.plan(
        to_patient(world, "urgent", T0, urgent=True),
        to_patient(world, "plain", T0 + timedelta(seconds=1)),
    )
    world.sender.script(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await world.dispatcher.dispatch_due(T0 + MIN)
    assert world.status("urgent")[0] == "sending"
    assert world.status("plain")[0] == "pending"  # only the row being sent is in doubt
    world.store.recover_in_flight(T0 + 2 * MIN)
    report = await world.dispatcher.dispatch_due(T0 + 2 * MIN)
    assert report.sent == 2
    assert world.status("urgent") == ("sent", None)
    assert world.status("plain") == ("sent", None)
    assert len(world.sender.sent) == 3  # the urgent one twice: a harmless duplicate


async def test_a_simulated_day_with_a_clock(world: World) -> None:
    """Waking exactly at next_due, over and over, sends everything once, in order."""
    clock = Clock(T0)
    world.plan(*(to_patient(world, f"k{i}", T0 + i * 7 * MIN) for i in range(5)))
    while (due := world.dispatcher.next_due()) is not None:
        clock.set(due)
        await world.dispatcher.dispatch_due(clock.now())
    assert clock.now() == T0 + 28 * MIN
    assert len(world.sender.sent) == 5
    assert all(world.status(f"k{i}") == ("sent", None) for i in range(5))


# -- with the real catalog -------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    try:
        return load_catalog()
    except NotImplementedError:  # pragma: no cover - until the catalog loader lands
        pytest.skip("load_catalog is not implemented yet")


async def test_discreet_wording_differs_and_avoids_sensitive_words(
    tmp_path: Path, catalog: Catalog
) -> None:
    """The same delivery rendered for a discreet recipient reads differently and never names
    the drug or the condition."""
    db = Database(tmp_path / "c.db")
    plain = add_person(db, 1, zone="Europe/Berlin")
    discreet = add_person(db, 2, zone="Europe/Berlin", wording="discreet")
    store = Deliveries(db)
    for person in (plain, discreet):
        session = add_session(db, person, "2026-12-02T10:00", zone="Europe/Berlin")
        store.replace_plan(
            person,
            [planned(f"k{person}", person, T0, message_id="dont_drive", session_id=session)],
        )
    sender = FakeSender()
    await Dispatcher(
        db, catalog, sender, crisis_line="988", chat_interval=timedelta(0)
    ).dispatch_due(T0)
    plain_text, discreet_text = (m.text for m in sender.sent)
    assert plain_text != discreet_text
    for word in catalog.texts("en").sensitive_words:
        assert word.lower() not in discreet_text.lower()
    assert all(button.ref == m.delivery_id for m in sender.sent for button in m.buttons)
    db.close()


async def test_driver_name_is_rendered_escaped(tmp_path: Path, catalog: Catalog) -> None:
    """A claimed ride shows the driver's name, HTML-escaped."""
    db = Database(tmp_path / "c.db")
    patient = add_person(db, 1, zone="Europe/Berlin")
    family = add_person(db, 2, role="family", display_name="Sam & <Jo>")
    link_family(db, patient, family)
    session = add_session(db, patient, "2026-12-02T10:00", zone="Europe/Berlin")
    claim_ride(db, session, family)
    Deliveries(db).replace_plan(
        patient, [planned("k", patient, T0, message_id="rest_up", session_id=session)]
    )
    sender = FakeSender()
    await Dispatcher(
        db, catalog, sender, crisis_line="988", chat_interval=timedelta(0)
    ).dispatch_due(T0)
    (message,) = sender.sent
    assert "Sam &amp; &lt;Jo&gt;" in message.text
    db.close()
