"""The inbox: updates stored before Telegram is told, handled once, replayed after a crash.

Storage tests on a real SQLite file; poller tests run ``bot.app.serve`` in-process against the
fake Bot API, so the whole path (getUpdates offset, storing, process_update, marking) is real.
Id resets, token changes and fairness between chats: ``tests/test_inbox_resets.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import ApplicationHandlerStop, CommandHandler

from bot.app import ALLOWED_UPDATES, build_application, runtime_of, serve
from bot.clock import Clock, ManualClock
from bot.context import BotContext, CompanionApp, services_of
from bot.offline.fake_api import FakeBotApi, Fault
from bot.polling import Poller
from scheduler.store.db import Database
from scheduler.store.inbox import KEEP_DONE, MAX_ATTEMPTS, Inbox, Incoming
from tests.botharness import PATIENT, START, shared_catalog

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WAIT = 10.0


@pytest.fixture
def inbox(db: Database) -> Inbox:
    return Inbox(db)


def raw(update_id: int, payload: str = "{}", chat_id: int | None = None) -> Incoming:
    return Incoming(update_id, chat_id, payload)


def incoming(update: dict[str, Any]) -> Incoming:
    """A fake Bot API update as the poller stores it (with its chat's id)."""
    body = update.get("message") or update.get("my_chat_member") or {}
    if "callback_query" in update:
        body = update["callback_query"].get("message") or {}
    chat = body.get("chat")
    return Incoming(update["update_id"], None if chat is None else chat["id"], json.dumps(update))


# -- the store ----------------------------------------------------------------------------------


def test_store_dedupes_by_update_id(inbox: Inbox) -> None:
    """An update fetched twice is stored once, the first copy kept."""
    assert inbox.store([raw(10), raw(11)], T0) == 2
    assert inbox.store([raw(11, '{"again": 1}'), raw(12)], T0 + timedelta(hours=23)) == 1
    assert [(i.update_id, i.payload) for i in inbox.pending()] == [
        (10, "{}"),
        (11, "{}"),
        (12, "{}"),
    ]


def test_done_erases_the_payload_and_is_never_pending_again(inbox: Inbox, db: Database) -> None:
    """Handled: the text people wrote is gone, and a re-fetch does not bring it back."""
    inbox.store([raw(5, '{"text": "my private words"}')], T0)
    inbox.begin(5)
    assert inbox.mark_done(5, T0)
    assert not inbox.mark_done(5, T0)
    assert inbox.pending() == []
    assert inbox.store([raw(5, '{"text": "my private words"}')], T0) == 0
    row = db.conn.execute("SELECT payload, status, attempts FROM inbox").fetchone()
    assert (row["payload"], row["status"], row["attempts"]) == (None, "done", 1)


def test_prune_forgets_handled_ids_once_telegram_cannot_send_them_again(inbox: Inbox) -> None:
    """Handled ids stay ``KEEP_DONE`` (Telegram's longest redelivery), then go, all of them."""
    inbox.store([raw(1), raw(2), raw(3)], T0)
    for uid in (1, 2):
        inbox.mark_done(uid, T0)
    inbox.mark_done(3, T0 + timedelta(hours=2))
    assert inbox.prune(T0 + KEEP_DONE - timedelta(seconds=1)) == 0
    assert inbox.store([raw(2)], T0 + KEEP_DONE - timedelta(seconds=1)) == 0  # a late copy
    assert inbox.prune(T0 + KEEP_DONE + timedelta(hours=1)) == 2
    assert inbox.counts() == {"done": 1}
    assert inbox.prune(T0 + timedelta(days=9)) == 1
    assert inbox.counts() == {}


def test_pending_rows_survive_prune(inbox: Inbox) -> None:
    inbox.store([raw(1), raw(2)], T0)
    inbox.mark_done(2, T0)
    inbox.prune(T0 + timedelta(days=9))
    assert [i.update_id for i in inbox.pending()] == [1]


def test_begin_counts_attempts_that_a_crash_leaves_behind(inbox: Inbox) -> None:
    inbox.store([raw(7)], T0)
    inbox.begin(7)
    inbox.begin(7)
    assert inbox.pending()[0].attempts == 2


def test_migration_2_adds_the_inbox_and_keeps_migration_1(db: Database) -> None:
    assert db.version >= 2
    tables = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"inbox", "invite_failures", "deliveries", "people"} <= tables


# -- the poller, in-process -------------------------------------------------------------------


class Running:
    def __init__(self, app: CompanionApp, api: FakeBotApi, task: asyncio.Task[int]) -> None:
        self.app = app
        self.api = api
        self.task = task
        self.seen: list[int] = []  # update ids the /probe handler ran for

    @property
    def db(self) -> Database:
        return services_of(self.app).db

    async def stop(self) -> int:
        runtime_of(self.app).request_stop()
        return await asyncio.wait_for(self.task, timeout=WAIT)


async def start_serving(
    api: FakeBotApi, db_path: Path, *, clock: Clock | None = None, rate_limit: bool = True
) -> Running:
    app = build_application(
        token=api.token,
        db_path=db_path,
        base_url=api.base_url,
        clock=clock if clock is not None else ManualClock(START),
        catalog=shared_catalog(),
        rate_limit=rate_limit,
    )
    running = Running(app, api, asyncio.ensure_future(serve(app, poll_timeout=1)))

    async def probe(update: Update, context: BotContext) -> None:
        """Records the update; no feature handler sees ``/probe`` after it."""
        running.seen.append(update.update_id)
        raise ApplicationHandlerStop

    app.add_handler(CommandHandler("probe", probe), group=-50)
    return running


@pytest.fixture
async def serving(fake_api: FakeBotApi, tmp_path: Path) -> AsyncIterator[Running]:
    running = await start_serving(fake_api, tmp_path / "companion.db")
    try:
        yield running
    finally:
        if not running.task.done():
            await running.stop()


async def test_an_update_is_stored_before_telegram_is_told(serving: Running) -> None:
    """Telegram keeps an update until a later getUpdates carries a higher offset, and that
    request leaves only after the update is on disk and handled."""
    api = serving.api
    update = api.add_text(PATIENT, "/probe")
    await api.wait_for_async(lambda: Inbox(serving.db).counts() == {"done": 1}, WAIT)
    await api.wait_for_async(lambda: not api.pending_updates(), WAIT)

    def confirming() -> list[int]:  # a long poll is recorded when it returns
        polls = api.calls("getUpdates")
        return [c.params["offset"] for c in polls if c.params.get("offset")]

    offsets = await api.wait_for_async(confirming, WAIT)
    assert offsets[0] == update["update_id"] + 1
    assert api.calls("getUpdates")[0].params["allowed_updates"] == ALLOWED_UPDATES


async def test_a_processed_update_offered_again_is_not_handled_twice(serving: Running) -> None:
    """Telegram may send an update again (our confirmation was lost): it is ignored."""
    api = serving.api
    update = api.add_text(PATIENT, "/probe")
    await api.wait_for_async(lambda: serving.seen, WAIT)
    api.add_update(json.loads(json.dumps(update)))  # same update_id
    after = api.add_text(PATIENT, "/probe")
    await api.wait_for_async(lambda: len(serving.seen) >= 2, WAIT)
    await asyncio.sleep(0.2)
    assert serving.seen == [update["update_id"], after["update_id"]]


async def test_stored_updates_are_replayed_in_order_at_start(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """What a crash left pending runs first, oldest first, before anything new is fetched."""
    db_path = tmp_path / "companion.db"
    db = Database(db_path)
    first, second = fake_api.make_text(PATIENT, "/probe"), fake_api.make_text(PATIENT, "/probe")
    Inbox(db).store([incoming(first), incoming(second)], T0)
    Inbox(db).begin(first["update_id"])  # it was being handled when the process died
    db.close()
    running = await start_serving(fake_api, db_path)
    try:
        await fake_api.wait_for_async(lambda: Inbox(running.db).counts() == {"done": 2}, WAIT)
        assert running.seen == [first["update_id"], second["update_id"]]
        # Offsets come from what this process fetched: at start, none.
        polls = await fake_api.wait_for_async(lambda: fake_api.calls("getUpdates"), WAIT)
        assert polls[0].params.get("offset") is None
    finally:
        assert await running.stop() == 0


async def test_an_update_that_keeps_crashing_the_process_is_abandoned(
    fake_api: FakeBotApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After MAX_ATTEMPTS cut-short attempts it is given up, logged by id, and the rest runs."""
    db_path = tmp_path / "companion.db"
    db = Database(db_path)
    poison, fine = fake_api.make_text(PATIENT, "/probe"), fake_api.make_text(PATIENT, "/probe")
    inbox = Inbox(db)
    inbox.store([incoming(u) for u in (poison, fine)], T0)
    for _ in range(MAX_ATTEMPTS):
        inbox.begin(poison["update_id"])
    db.close()
    running = await start_serving(fake_api, db_path)
    try:
        await fake_api.wait_for_async(
            lambda: Inbox(running.db).counts() == {"abandoned": 1, "done": 1}, WAIT
        )
        assert running.seen == [fine["update_id"]]
        assert f"update {poison['update_id']} abandoned" in caplog.text
    finally:
        await running.stop()


async def test_unreadable_payload_is_abandoned_without_logging_it(
    fake_api: FakeBotApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db_path = tmp_path / "companion.db"
    db = Database(db_path)
    Inbox(db).store([raw(42, "{not json: my secret diary")], T0)
    db.close()
    running = await start_serving(fake_api, db_path)
    try:
        await fake_api.wait_for_async(lambda: Inbox(running.db).counts() == {"abandoned": 1}, WAIT)
        assert "secret" not in caplog.text
    finally:
        await running.stop()


async def test_network_errors_back_off_and_recover(serving: Running) -> None:
    """5xx and dropped connections on getUpdates: retried with back-off, no restart."""
    api = serving.api
    await api.wait_for_async(lambda: api.polls_started > 0, WAIT)
    api.add_fault(Fault.server_error(502, method="getUpdates", times=2))
    api.add_fault(Fault.dropped(method="getUpdates", times=1))
    api.add_text(PATIENT, "/probe")
    await api.wait_for_async(lambda: serving.seen, WAIT)
    assert not serving.task.done()


async def test_a_conflict_is_logged_as_another_instance(
    serving: Running, caplog: pytest.LogCaptureFixture
) -> None:
    api = serving.api
    api.add_fault(Fault.conflict(times=1))
    await api.wait_for_async(lambda: "another instance" in caplog.text, WAIT)
    assert not serving.task.done()


async def test_a_revoked_token_stops_serving_with_status_1(serving: Running) -> None:
    api = serving.api
    await api.wait_for_async(lambda: api.polls_started > 0, WAIT)
    api.add_fault(Fault.unauthorized(times=None))
    assert await asyncio.wait_for(serving.task, timeout=WAIT) == 1


async def test_handle_pending_marks_done_even_when_a_handler_fails(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """A handler error goes to the error handlers; the update is done, not retried forever."""
    app = build_application(
        token=fake_api.token,
        db_path=tmp_path / "c.db",
        base_url=fake_api.base_url,
        clock=ManualClock(START),
        catalog=shared_catalog(),
    )
    errors: list[BaseException] = []

    async def broken(update: Update, context: BotContext) -> None:
        raise ValueError("boom")

    async def collect(update: object, context: BotContext) -> None:
        assert context.error is not None
        errors.append(context.error)

    app.add_handler(CommandHandler("broken", broken), group=-50)
    app.add_error_handler(collect)
    await app.initialize()
    try:
        db = services_of(app).db
        update = fake_api.make_text(PATIENT, "/broken")
        Inbox(db).store([incoming(update)], T0)
        poller = Poller(app, db, now=lambda: T0, allowed_updates=ALLOWED_UPDATES)
        assert await poller.handle_pending() == 1
        assert [type(e) for e in errors] == [ValueError]
        assert Inbox(db).counts() == {"done": 1}
    finally:
        await app.shutdown()
        services_of(app).db.close()
