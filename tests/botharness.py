"""Bot tests through the real PTB stack, against the fake Bot API over real HTTP.

Loaded as a pytest plugin (``pytest_plugins = ["tests.botharness"]`` in ``tests/conftest.py``).

Fixtures
    ``fake_api``         a started :class:`FakeBotApi` (stopped after the test)
    ``bot_clock``        a :class:`ManualClock` at ``START`` (a Monday, 09:00 UTC)
    ``harness``          the bot built by ``build_application``, initialized and started, with
                         no polling: ``say``/``press`` feed ``Update.de_json`` straight to
                         ``process_update``, so a reply is there when the call returns
    ``polling_harness``  the same bot polling the fake with ``getUpdates``; ``say``/``press`` queue
                         the update and wait (bounded) for the replies

Every handler exception fails the test at teardown (PTB would only log it); a test expecting one
takes it with ``harness.take_errors()``.

    async def test_help(harness: BotHarness) -> None:
        replies = await harness.say(PATIENT, "/help")
        assert "988" in replies[0].plain_text
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Update

from bot.app import ALLOWED_UPDATES, build_application, dispatch_now
from bot.clock import ManualClock
from bot.context import BotContext, CompanionApp, Services, services_of
from bot.offline.fake_api import JSON, Call, FakeBotApi
from bot.settings import Settings
from messages import Catalog, load_catalog
from scheduler.companion import Companion
from scheduler.dispatch import DispatchReport
from scheduler.model import Person

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday morning, outside quiet hours
PATIENT = 1001  # private chat ids equal the user's id, as in Telegram
FAMILY = 2002
GROUP = -1001234567890
WAIT = 5.0  # seconds any wait in a bot test may take before it fails


@functools.cache
def shared_catalog() -> Catalog:
    return load_catalog()


class BotHarness:
    """One running bot and the fake it talks to."""

    def __init__(
        self,
        app: CompanionApp,
        api: FakeBotApi,
        clock: ManualClock,
        db_path: Path,
        *,
        polling: bool,
    ) -> None:
        self.app = app
        self.api = api
        self.clock = clock
        self.db_path = db_path
        self.polling = polling
        self.errors: list[tuple[object, BaseException]] = []

    @property
    def services(self) -> Services:
        return services_of(self.app)

    # -- people talking to the bot ------------------------------------------------------------

    async def say(
        self,
        chat_id: int,
        text: str,
        *,
        user: JSON | None = None,
        chat_type: str = "private",
        expect: int = 1,
    ) -> list[Call]:
        """Send ``text`` as the person in ``chat_id``; the bot's sends and edits to that chat.

        ``expect`` matters only when polling: how many replies to wait for.
        """
        update = self.api.make_text(chat_id, text, user=user, chat_type=chat_type)
        return await self.feed(update, chat_id, expect=expect)

    async def press(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        user: JSON | None = None,
        expect: int = 1,
    ) -> list[Call]:
        """Press the button carrying ``data`` (on the latest bot message that has it)."""
        update = self.api.make_callback(chat_id, data, message_id, user=user)
        return await self.feed(update, chat_id, expect=expect)

    async def feed(self, update: JSON, chat_id: int, *, expect: int = 1) -> list[Call]:
        """Deliver any Update JSON; returns what the bot then sent or edited in ``chat_id``."""
        mark = self.api.mark()
        if not self.polling:
            await self.app.process_update(Update.de_json(update, self.app.bot))
            # Replies are queued with the change and sent by the dispatcher, as the timer would
            # at once: send them now so they are there when this returns.
            await dispatch_now(self.app)
            return self.api.sent_to(chat_id, since=mark)
        self.api.add_update(update)
        update_id = update["update_id"]
        await self.api.wait_for_async(
            lambda: (
                all(u["update_id"] != update_id for u in self.api.pending_updates())
                and len(self.api.sent_to(chat_id, since=mark)) >= expect
            ),
            WAIT,
        )
        return self.api.sent_to(chat_id, since=mark)

    # -- time ---------------------------------------------------------------------------------

    async def advance(self, delta: timedelta) -> DispatchReport:
        """Move the clock and send what became due, as the dispatch timer would."""
        self.clock.advance(delta)
        return await dispatch_now(self.app)

    async def advance_to(self, instant: datetime) -> DispatchReport:
        self.clock.set(instant)
        return await dispatch_now(self.app)

    # -- inspection ---------------------------------------------------------------------------

    def row_counts(self) -> dict[str, int]:
        """Rows per table, to prove something stored nothing. Replies are left out: a queued
        reply is what the bot said (its text is erased once sent), not something it kept; the
        ``replies`` count says how many there were."""
        conn = self.services.db.conn
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        counts = {t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables}
        replies = int(
            conn.execute("SELECT count(*) FROM deliveries WHERE message_id = 'reply'").fetchone()[0]
        )
        counts["deliveries"] -= replies
        return counts

    def dispatch_job_due_in(self) -> float | None:
        """Real seconds until the armed ``dispatch`` job fires, or None if none is armed."""
        assert self.app.job_queue is not None
        jobs = self.app.job_queue.get_jobs_by_name("dispatch")
        if not jobs or jobs[0].next_t is None:
            return None
        return (jobs[0].next_t - datetime.now(UTC)).total_seconds()

    def take_errors(self) -> list[BaseException]:
        """The handler errors so far, which the test thereby expects; clears them."""
        taken = [error for _, error in self.errors]
        self.errors.clear()
        return taken


async def start_harness(
    api: FakeBotApi,
    tmp_path: Path,
    clock: ManualClock,
    *,
    polling: bool = False,
    catalog: Catalog | None = None,
    settings: Settings | None = None,
) -> BotHarness:
    """Build, initialize and start the bot as ``run_polling`` would (minus signals); with an
    operator's ``catalog`` and ``settings`` (``bot.config.load_config``) if given."""
    db_path = tmp_path / "companion.db"
    app = build_application(
        token=api.token,
        db_path=db_path,
        base_url=api.base_url,
        clock=clock,
        catalog=catalog if catalog is not None else shared_catalog(),
        settings=settings,
        # Replies go through the dispatcher like timed messages; the sender's real one-second
        # spacing per chat is tested on the sender itself, not waited out in every bot test.
        min_chat_interval=0.0,
    )
    harness = BotHarness(app, api, clock, db_path, polling=polling)

    async def collect(update: object, context: BotContext) -> None:
        assert context.error is not None
        harness.errors.append((update, context.error))

    app.add_error_handler(collect)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    if polling:
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES
        )
    await app.start()
    return harness


async def stop_harness(harness: BotHarness) -> None:
    app = harness.app
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


def _fail_on_errors(harness: BotHarness) -> None:
    if harness.errors:
        described = "; ".join(f"{type(error).__name__}: {error}" for _, error in harness.errors)
        pytest.fail(f"handlers raised (PTB only logs these): {described}")


@pytest.fixture
def fake_api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as api:
        yield api


@pytest.fixture
def bot_clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def harness(
    fake_api: FakeBotApi, tmp_path: Path, bot_clock: ManualClock
) -> AsyncIterator[BotHarness]:
    running = await start_harness(fake_api, tmp_path, bot_clock)
    try:
        yield running
    finally:
        await stop_harness(running)
    _fail_on_errors(running)


@pytest.fixture
async def polling_harness(
    fake_api: FakeBotApi, tmp_path: Path, bot_clock: ManualClock
) -> AsyncIterator[BotHarness]:
    running = await start_harness(fake_api, tmp_path, bot_clock, polling=True)
    try:
        yield running
    finally:
        await stop_harness(running)
    _fail_on_errors(running)


def texts(calls: list[Call]) -> list[str]:
    """What the person read in these calls, tags stripped."""
    return [c.plain_text or "" for c in calls]


def link_family(
    companion: Companion, patient: Person, chat_id: int, name: str, now: datetime
) -> Person:
    """An approved family member: the invite, its redemption and the patient's approval, as the
    domain records them (the chat sees none of it)."""
    link_id, _ = companion.redeem_invite(
        companion.create_invite(patient.id, now), chat_id, name, now
    )
    return companion.approve_link(patient.id, link_id, now).person
