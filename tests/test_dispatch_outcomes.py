"""What the dispatcher records when it cannot know whether a message arrived, and that every
claimed row gets an outcome while the process runs.

The real ``TelegramSender`` over HTTP to the fake Bot API where a send is involved, a real SQLite
file, the real catalog, each run's ``now`` moved by hand; no sleeps.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot
from telegram.error import InvalidToken

from bot.offline.fake_api import JSON, Call, FakeBotApi, Upload
from bot.sender import TelegramSender
from messages import Catalog, Rendered, Wording
from scheduler.companion import Companion
from scheduler.dispatch import Dispatcher
from scheduler.model import Kind
from scheduler.store import Database, Deliveries, Delivery
from tests.fakes import FakeRenderer, FakeSender, add_person, planned

PATIENT = 1001
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday morning, outside quiet hours
SESSION = datetime(2026, 12, 2, 10, 0)  # noqa: DTZ001 - local wall-clock, Europe/Berlin


@pytest.fixture
async def bot(fake_api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(fake_api.token, base_url=fake_api.base_url) as client:
        yield client


@dataclass
class Stack:
    db: Database
    store: Deliveries
    dispatcher: Dispatcher
    patient: int

    def rows(self) -> list[Delivery]:
        return self.store.for_person(self.patient)

    def first(self) -> Delivery:
        """The patient's earliest row (the series' first note, due at START, not urgent)."""
        row = min(self.rows(), key=lambda r: (r.due_at, r.id))
        assert row.due_at == START and not row.urgent
        return row

    async def run_until(self, until: datetime) -> None:
        """Wake at every due instant up to ``until``, as the bot's timer would."""
        while (due := self.dispatcher.next_due()) is not None and due <= until:
            await self.dispatcher.dispatch_due(due)


@pytest.fixture
def stack(tmp_path: Path, catalog: Catalog, bot: Bot) -> Iterator[Stack]:
    db = Database(tmp_path / "companion.db")
    companion = Companion(db, catalog.timeline)
    patient = companion.register_patient(PATIENT, "Ann", "Europe/Berlin", START)
    companion.add_session(patient.id, SESSION, Kind.IV, START)
    sender = TelegramSender(bot)
    dispatcher = Dispatcher(
        db, catalog, sender, crisis_line="988", chat_interval=timedelta(0), rng=random.Random(3)
    )
    yield Stack(db, Deliveries(db), dispatcher, patient.id)
    db.close()


def sends_of(api: FakeBotApi, text: str | None) -> list[Call]:
    return [c for c in api.calls("sendMessage") if c.text == text]


async def test_an_answer_that_fails_to_parse_ends_unknown_after_one_request(
    stack: Stack, fake_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram delivered the note and answered with a result that is no Message: the person
    has it, so it is recorded unknown and never sent again (not six times), while the rest of
    the day's messages go."""
    answer = fake_api.handle
    garbled_once: list[int] = []

    def garbled(token: str, method: str, params: JSON, files: tuple[Upload, ...]) -> Call:
        call = answer(token, method, params, files)
        if method != "sendMessage" or garbled_once:
            return call
        garbled_once.append(1)
        return replace(call, result={"message_id": call.result["message_id"]})

    monkeypatch.setattr(fake_api, "handle", garbled)
    first = stack.first()
    await stack.run_until(first.deadline)
    after = stack.store.get(first.id)
    assert after is not None
    assert (after.status.value, after.reason) == (
        "unknown",
        "ambiguous:unreadable_answer: KeyError",
    )
    (call,) = fake_api.calls("sendMessage")[:1]
    assert len(sends_of(fake_api, call.text)) == 1  # one request, never repeated
    others = [r for r in stack.rows() if r.id != first.id and r.deadline <= first.deadline]
    assert others and all(r.status.value in ("sent", "skipped") for r in others)


async def test_an_error_after_the_request_records_the_ambiguous_outcome(
    stack: Stack, fake_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message went out and writing ``sent`` failed (the disk hiccuped): the row is not
    left ``sending`` until the next restart, it is recorded unknown at once, and the run goes
    on with the next row."""
    first = stack.first()
    record_sent = stack.dispatcher.deliveries.record_sent
    failures: list[int] = []

    def flaky(delivery_id: int, *, now: datetime, message_ref: int | None) -> bool:
        if not failures:
            failures.append(delivery_id)
            raise sqlite3.OperationalError("disk I/O error")
        return record_sent(delivery_id, now=now, message_ref=message_ref)

    monkeypatch.setattr(stack.dispatcher.deliveries, "record_sent", flaky)
    second = sorted(stack.rows(), key=lambda r: (r.due_at, r.id))[1]
    report = await stack.dispatcher.dispatch_due(second.due_at)
    after = stack.store.get(first.id)
    assert after is not None
    assert (after.status.value, after.reason) == ("unknown", "ambiguous:error:OperationalError")
    assert report.unknown == 1 and report.sent >= 1
    in_flight = "SELECT count(*) FROM deliveries WHERE status = 'sending'"
    assert stack.db.conn.execute(in_flight).fetchone()[0] == 0
    assert len(sends_of(fake_api, fake_api.calls("sendMessage")[0].text)) == 1


async def test_a_refused_token_puts_the_message_back_and_stops_the_run(
    stack: Stack, fake_api: FakeBotApi
) -> None:
    """A 401 means Telegram took nothing: the row goes back to pending untouched (no attempt
    used, not unknown) and the run stops with ``InvalidToken`` for the bot to exit on."""
    first = stack.first()
    fake_api.bad_token = fake_api.token
    with pytest.raises(InvalidToken):
        await stack.dispatcher.dispatch_due(START + timedelta(minutes=1))
    fake_api.bad_token = None
    after = stack.store.get(first.id)
    assert after is not None
    assert (after.status.value, after.due_at, after.attempts) == ("pending", START, 0)
    assert all(r.status.value == "pending" and r.attempts == 0 for r in stack.rows())
    await stack.dispatcher.dispatch_due(START + timedelta(minutes=1))
    again = stack.store.get(first.id)
    assert again is not None and again.status.value == "sent"


# -- exceptions between claim and record, with a fake sender ----------------------------------


class BrokenRenderer(FakeRenderer):
    """Raises something no renderer is expected to raise, for one message."""

    def render_entry(
        self,
        locale: str | None,
        message_id: str,
        wording: Wording,
        values: Mapping[str, object],
        *,
        with_driver: bool = False,
    ) -> Rendered:
        if message_id == "broken":
            raise RuntimeError("a bug")
        return super().render_entry(locale, message_id, wording, values, with_driver=with_driver)


async def test_an_error_before_the_send_is_retried_and_ends_failed_never_sending(
    tmp_path: Path,
) -> None:
    """A bug before anything went out: the row is put back (an attempt used, so it cannot loop
    for ever) instead of staying ``sending``; the other row in the run still goes; after the
    last attempt it fails."""
    db = Database(tmp_path / "companion.db")
    try:
        patient = add_person(db, PATIENT)
        store = Deliveries(db)
        deadline = START + timedelta(days=1)
        store.replace_plan(
            patient,
            [
                planned("a", patient, START, message_id="broken", deadline=deadline),
                planned("b", patient, START, message_id="rest_up"),
            ],
        )
        sender = FakeSender()
        dispatcher = Dispatcher(
            db,
            BrokenRenderer(),
            sender,
            crisis_line="988",
            chat_interval=timedelta(0),
            max_attempts=3,
            rng=random.Random(1),
        )
        report = await dispatcher.dispatch_due(START)
        a, b = (next(r for r in store.for_person(patient) if r.key == key) for key in "ab")
        assert (a.status.value, a.reason, a.attempts) == ("pending", "error:RuntimeError", 1)
        assert b.status.value == "sent" and report.retried == 1
        while (due := dispatcher.next_due()) is not None:
            await dispatcher.dispatch_due(due)
        final = store.get(a.id)
        assert final is not None
        assert (final.status.value, final.reason, final.attempts) == (
            "failed",
            "retries_exhausted:error:RuntimeError",
            3,
        )
        assert [m.delivery_id for m in sender.sent] == [b.id]
    finally:
        db.close()
