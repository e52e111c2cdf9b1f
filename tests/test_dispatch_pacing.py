"""Issue 9: several sends in flight, chat pacing stored per chat, urgent first.

Through the real dispatcher and store on a real SQLite file; the bot-level test runs the real
PTB stack against the fake Bot API. Time is a hand-moved clock; nothing sleeps: concurrency is
observed by a sender whose sends wait on events the test sets.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.offline.fake_api import FakeBotApi, Fault
from scheduler.dispatch import Dispatcher
from scheduler.model import PlannedDelivery
from scheduler.sending import OutgoingMessage, RetryLater, SendResult, Sent
from scheduler.store import Database, Deliveries
from scheduler.store.pacing import ChatPacing
from tests.botharness import PATIENT, START, start_harness, stop_harness
from tests.fakes import FakeRenderer, FakeSender, add_person, planned

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MIN = timedelta(minutes=1)
BASE_CHAT = 500


class Chats:
    """A database with ``n`` people, no quiet hours, each in a chat of their own."""

    def __init__(self, db: Database, n: int) -> None:
        self.db = db
        self.store = Deliveries(db)
        self.people = [add_person(db, BASE_CHAT + i) for i in range(n)]
        db.conn.execute("UPDATE people SET quiet_start = NULL, quiet_end = NULL")

    def chat(self, index: int) -> int:
        return BASE_CHAT + index

    def plan(self, index: int, *rows: PlannedDelivery) -> None:
        self.store.replace_plan(self.people[index], list(rows))

    def rows(self, index: int, count: int, due: datetime, *, urgent: bool = False) -> None:
        person = self.people[index]
        self.plan(
            index,
            *(planned(f"c{index}:{n}", person, due, urgent=urgent) for n in range(count)),
        )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "companion.db")
    yield database
    database.close()


def dispatcher(db: Database, sender: object, **options: object) -> Dispatcher:
    return Dispatcher(
        db,
        FakeRenderer(),
        sender,  # type: ignore[arg-type]
        crisis_line="988",
        rng=random.Random(5),
        **options,  # type: ignore[arg-type]
    )


# -- spacing without sleeping -----------------------------------------------------------------


async def test_a_chats_spacing_postpones_it_and_not_the_other_chats(db: Database) -> None:
    """Three messages due to one chat and one to another: the run sends the first of each and
    stores the busy chat's next turn (one second on); the other chat is not held up, and the
    timer is set for the moment the busy chat is free, then the next, one a second."""
    chats = Chats(db, 2)
    chats.rows(0, 3, T0)
    chats.rows(1, 1, T0)
    sender = FakeSender()
    run = dispatcher(db, sender)
    report = await run.dispatch_due(T0)
    assert report.sent == 2
    assert [m.chat_id for m in sender.sent] == [chats.chat(0), chats.chat(1)]
    assert ChatPacing(db).not_before(chats.chat(0)) == T0 + SECOND
    assert report.next_due == run.next_due() == T0 + SECOND
    second = await run.dispatch_due(T0 + SECOND)
    assert second.sent == 1 and second.next_due == T0 + 2 * SECOND
    await run.dispatch_due(T0 + 2 * SECOND)
    assert len(sender.to_chat(chats.chat(0))) == 3
    assert run.next_due() is None


async def test_a_flood_wait_holds_only_its_chat_and_outlives_the_run(db: Database) -> None:
    """Telegram's retry_after for one chat: that chat waits, stored; the other chat's message
    goes in the same run, and a later run before the wait is over sends nothing to it."""
    chats = Chats(db, 2)
    chats.rows(0, 2, T0)
    chats.rows(1, 1, T0)
    sender = FakeSender()
    sender.script_chat(chats.chat(0), RetryLater("flood_control", after=10 * MIN))
    run = dispatcher(db, sender, chat_interval=timedelta(0))
    report = await run.dispatch_due(T0)
    assert report.sent == 1 and sender.to_chat(chats.chat(1))
    assert ChatPacing(db).not_before(chats.chat(0)) == T0 + 10 * MIN
    # A new message to the waiting chat, due during the wait, planned after it began.
    chats.store.queue_reply(
        chat_id=chats.chat(0),
        recipient_id=chats.people[0],
        body=OutgoingMessage(0, 0, "ok").body(),
        now=T0 + MIN,
        relevance=timedelta(hours=1),
    )
    assert run.next_due() == T0 + 10 * MIN
    assert (await run.dispatch_due(T0 + 5 * MIN)).sent == 0
    assert len(sender.to_chat(chats.chat(0))) == 1  # only the refused try
    assert (await run.dispatch_due(T0 + 10 * MIN + SECOND)).sent == 3
    assert len(sender.to_chat(chats.chat(0))) == 4


async def test_a_flood_wait_is_honoured_after_a_restart(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """The real bot gets a 429 with retry_after 600 for a chat and is restarted (new process
    state, new Database on the same file): five minutes later a new reply to that chat still
    waits; at the end of the wait both go, in order, with no second 429."""
    clock = ManualClock(START)
    first = await start_harness(fake_api, tmp_path, clock)
    try:
        fake_api.add_fault(Fault.flood(600, method="sendMessage", chat_id=PATIENT))
        refused = await first.say(PATIENT, "/help")
        assert refused == []
        assert [c.status for c in fake_api.calls("sendMessage")] == [429]
    finally:
        await stop_harness(first)
    clock.advance(5 * MIN)
    second = await start_harness(fake_api, tmp_path, clock)
    try:
        mark = fake_api.mark()
        assert await second.say(PATIENT, "/help") == []
        assert fake_api.calls("sendMessage", since=mark) == []  # nothing during the wait
        assert second.services.dispatcher.next_due() == START + 10 * MIN
        await second.advance(5 * MIN)
        calls = fake_api.calls("sendMessage", since=mark)
        assert [c.status for c in calls] == [200, 200]
    finally:
        await stop_harness(second)


# -- several in flight ------------------------------------------------------------------------


class GatedSender:
    """Each send waits until the test lets it finish: what is in flight can be looked at."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.in_flight: list[OutgoingMessage] = []
        self.started: list[OutgoingMessage] = []
        self.most_in_flight = 0
        self.most_sending_rows = 0
        self.overlap_in_a_chat = False
        self.arrived = asyncio.Event()
        self._gates: dict[int, asyncio.Event] = {}

    async def send(self, message: OutgoingMessage) -> SendResult:
        if any(m.chat_id == message.chat_id for m in self.in_flight):
            self.overlap_in_a_chat = True
        self.in_flight.append(message)
        self.started.append(message)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        sending = self.db.conn.execute(
            "SELECT count(*) FROM deliveries WHERE status = 'sending'"
        ).fetchone()[0]
        self.most_sending_rows = max(self.most_sending_rows, sending)
        gate = self._gates.setdefault(message.delivery_id, asyncio.Event())
        self.arrived.set()
        await gate.wait()
        self.in_flight.remove(message)
        return Sent(message_ref=message.delivery_id)

    async def settle(self) -> None:
        """Until the dispatcher has started every send it can (it starts them without waiting
        for time to pass, so a few turns of the event loop suffice)."""
        for _ in range(20):
            await asyncio.sleep(0)

    def release_oldest(self) -> None:
        self._gates.setdefault(self.in_flight[0].delivery_id, asyncio.Event()).set()


async def test_up_to_n_sends_in_flight_never_two_to_one_chat(db: Database) -> None:
    """Ten chats with three messages each, concurrency four: four sends are in flight at once,
    never more, never two to one chat, and at most four rows are ``sending`` (what a kill could
    leave). Everything goes in the end."""
    chats = Chats(db, 10)
    for index in range(10):
        chats.rows(index, 3, T0)
    sender = GatedSender(db)
    run = dispatcher(db, sender, concurrency=4, chat_interval=timedelta(0))
    task = asyncio.create_task(run.dispatch_due(T0))
    while not task.done():
        await sender.settle()
        if sender.in_flight:
            assert len(sender.in_flight) <= 4
            sender.release_oldest()
    report = task.result()
    assert report.sent == 30
    assert sender.most_in_flight == 4
    assert sender.most_sending_rows <= 4
    assert not sender.overlap_in_a_chat
    for index in range(10):  # each chat's messages in their order
        ids = [m.delivery_id for m in sender.started if m.chat_id == chats.chat(index)]
        assert ids == sorted(ids) and len(ids) == 3


async def test_urgent_rows_go_first_when_more_is_due_than_can_go(db: Database) -> None:
    """Six chats have a plain reminder due ten minutes ago, two an urgent one due now; with
    room for two sends the urgent ones are claimed first, then the rest by due time."""
    chats = Chats(db, 8)
    for index in range(6):
        chats.rows(index, 1, T0 - 10 * MIN + index * SECOND)
    chats.rows(6, 1, T0, urgent=True)
    chats.rows(7, 1, T0 - SECOND, urgent=True)
    sender = FakeSender()
    await dispatcher(db, sender, concurrency=2).dispatch_due(T0)
    order = [m.chat_id for m in sender.sent]
    assert order[:2] == [chats.chat(7), chats.chat(6)]
    assert order[2:] == [chats.chat(i) for i in range(6)]


async def test_one_chats_backlog_does_not_hold_up_the_others(db: Database) -> None:
    """One chat with 50 messages due, ten others with one each: one run sends every other
    chat's message and one of the backlog; the backlog goes one a second after."""
    chats = Chats(db, 11)
    chats.rows(0, 50, T0)
    for index in range(1, 11):
        chats.rows(index, 1, T0 + SECOND / 2)
    sender = FakeSender()
    run = dispatcher(db, sender, concurrency=4)
    report = await run.dispatch_due(T0 + SECOND / 2)
    assert report.sent == 11
    assert {m.chat_id for m in sender.sent} == {chats.chat(i) for i in range(11)}
    assert report.next_due == T0 + SECOND + SECOND / 2


async def test_forgetting_a_chat_forgets_its_pacing_and_its_last_reply_leaves_none(
    db: Database,
) -> None:
    """/forget erases the chat's stored wait; the note sent after it (a reply to a chat with no
    person, erased once answered) stores no spacing for that chat either."""
    chats = Chats(db, 1)
    pacing = ChatPacing(db)
    pacing.hold(chats.chat(0), T0 + 10 * MIN)
    chats.store.forget_chat(chats.chat(0))
    assert pacing.not_before(chats.chat(0)) is None
    stranger = 999
    chats.store.queue_reply(
        chat_id=stranger,
        recipient_id=None,
        body=OutgoingMessage(0, 0, "erased").body(),
        now=T0,
        relevance=timedelta(hours=1),
    )
    sender = FakeSender()
    assert (await dispatcher(db, sender).dispatch_due(T0)).sent == 1
    assert pacing.not_before(stranger) is None
    assert db.conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0


async def test_rows_waiting_for_a_send_slot_stay_pending(db: Database) -> None:
    """With the bot's rate (``admit``) in front of the claim, a row is claimed only once its
    request can go: while the rate holds the run back, nothing waits in ``sending`` that a
    kill could turn ``unknown``. Five rows, slots given one at a time: one claimed per slot."""
    chats = Chats(db, 5)
    for index in range(5):
        chats.rows(index, 1, T0)
    slots: asyncio.Queue[None] = asyncio.Queue()

    async def admit() -> None:
        await slots.get()

    def claimed() -> int:
        return int(
            db.conn.execute("SELECT count(*) FROM deliveries WHERE status != 'pending'").fetchone()[
                0
            ]
        )

    sender = FakeSender()
    run = asyncio.create_task(dispatcher(db, sender, admit=admit).dispatch_due(T0))
    for granted in range(1, 6):
        await GatedSender(db).settle()
        assert claimed() == granted - 1  # none claimed ahead of its slot
        slots.put_nowait(None)
        await GatedSender(db).settle()
        assert claimed() == granted and len(sender.sent) == granted
    while not run.done():  # the run asks again until it finds nothing and ends
        slots.put_nowait(None)
        await asyncio.sleep(0)
    report = run.result()
    assert report.sent == 5
