"""The operator's tools: ``backup`` while the bot writes, ``stats`` on the command line, and
``/stats`` for admin chats only (through the real bot stack)."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.app import RETENTION_JOB, build_application, erase_expired_now
from bot.clock import ManualClock
from bot.context import BotContext, Settings
from bot.offline.fake_api import FakeBotApi
from scheduler.companion import Companion
from scheduler.model import Kind
from scheduler.store.db import Database
from scheduler.store.upkeep import backup
from tests.botharness import FAMILY, PATIENT, BotHarness, shared_catalog, stop_harness, texts

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def wall(text: str) -> datetime:
    return datetime.fromisoformat(text)


def people(path: Path) -> list[str]:
    copy = Database(path)
    try:
        return [r[0] for r in copy.conn.execute("SELECT display_name FROM people ORDER BY id")]
    finally:
        copy.close()


def test_backup_is_consistent_while_a_writer_is_open(
    companion: Companion, db: Database, tmp_path: Path
) -> None:
    """Committed rows (still in the WAL) are in the copy; a write in progress is not; the
    copy is a whole database of its own, private to its owner."""
    ada = companion.register_patient(11, "Ada", "Europe/Berlin", NOW)
    companion.add_session(ada.id, wall("2026-03-10 10:00"), Kind.IV, NOW)
    db.conn.execute("BEGIN IMMEDIATE")  # the bot, mid-transaction
    db.conn.execute(
        "INSERT INTO people (chat_id, role, display_name, zone, created_at)"
        " VALUES (12, 'patient', 'Uncommitted', 'UTC', '2026-03-01')"
    )
    target = tmp_path / "backups" / "copy.db"
    target.parent.mkdir()
    pages = backup(db.path, target)
    db.conn.execute("COMMIT")

    assert pages > 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not Path(f"{target}-wal").exists()
    assert people(target) == ["Ada"]
    check = Database(target)
    try:
        assert check.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert check.conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
        assert check.conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] > 0
    finally:
        check.close()
    # Taken again over the old copy: replaced whole, now with the committed row.
    backup(db.path, target)
    assert people(target) == ["Ada", "Uncommitted"]
    assert [p.name for p in target.parent.iterdir()] == ["copy.db"]


def test_backup_command(companion: Companion, db: Database, tmp_path: Path) -> None:
    companion.register_patient(11, "Ada", "Europe/Berlin", NOW)
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        assert main(["backup", str(tmp_path / "b.db"), "--db", db.path]) == 0
    finally:
        db.conn.execute("ROLLBACK")
    assert people(tmp_path / "b.db") == ["Ada"]
    assert main(["backup", db.path, "--db", db.path]) == 2
    assert main(["backup", str(tmp_path / "c.db"), "--db", str(tmp_path / "none.db")]) == 2
    assert not (tmp_path / "none.db").exists()


def test_stats_command_prints_counts_and_no_names(
    companion: Companion, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    companion.register_patient(11, "Ada", "Europe/Berlin", NOW)
    companion.register_patient(12, "Bo", "Europe/Berlin", NOW)
    assert main(["stats", "--db", db.path]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "people: 2 patients, 0 family"
    assert "dispatcher lag:" in out
    assert "Ada" not in out and "Bo" not in out


def test_stats_command_without_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--db", str(tmp_path / "missing.db")]) == 2
    assert "no database" in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists()


# -- /stats in the chat ---------------------------------------------------------------------------


async def start_with(
    api: FakeBotApi, tmp_path: Path, clock: ManualClock, settings: Settings
) -> BotHarness:
    """The harness's bot, with operator settings (``tests.botharness.start_harness`` has none)."""
    db_path = tmp_path / "companion.db"
    app = build_application(
        token=api.token,
        db_path=db_path,
        base_url=api.base_url,
        clock=clock,
        catalog=shared_catalog(),
        min_chat_interval=0.0,
        settings=settings,
    )
    harness = BotHarness(app, api, clock, db_path, polling=False)

    async def collect(update: object, context: BotContext) -> None:
        assert context.error is not None
        harness.errors.append((update, context.error))

    app.add_error_handler(collect)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    await app.start()
    return harness


@pytest.fixture
async def admin_bot(
    fake_api: FakeBotApi, tmp_path: Path, bot_clock: ManualClock
) -> AsyncIterator[BotHarness]:
    settings = Settings(admin_chat_ids=frozenset({PATIENT}))
    running = await start_with(fake_api, tmp_path, bot_clock, settings)
    try:
        yield running
    finally:
        await stop_harness(running)
    assert running.errors == []


async def test_stats_answers_an_admin_with_counts(admin_bot: BotHarness) -> None:
    await admin_bot.say(PATIENT, "/start")
    await admin_bot.say(FAMILY, "/start")
    replies = texts(await admin_bot.say(PATIENT, "/stats"))
    assert replies[0].splitlines()[:2] == ["people: 2 patients, 0 family", "active series: 0"]
    assert "last 7 days:" in replies[0]


async def test_stats_is_an_unknown_command_to_anyone_else(admin_bot: BotHarness) -> None:
    unknown = texts(await admin_bot.say(FAMILY, "/frobnicate"))
    assert texts(await admin_bot.say(FAMILY, "/stats")) == unknown
    assert "people:" not in unknown[0]


async def test_stats_is_unknown_when_no_admin_is_configured(harness: BotHarness) -> None:
    unknown = texts(await harness.say(PATIENT, "/frobnicate"))
    assert texts(await harness.say(PATIENT, "/stats")) == unknown


async def test_retention_runs_on_a_daily_timer_with_the_operator_window(
    fake_api: FakeBotApi, tmp_path: Path, bot_clock: ManualClock
) -> None:
    """One ``retention`` job, repeating daily; a run erases by ``Settings.retention_days``."""
    running = await start_with(fake_api, tmp_path, bot_clock, Settings(retention_days=30))
    try:
        assert running.app.job_queue is not None
        jobs = running.app.job_queue.get_jobs_by_name(RETENTION_JOB)
        assert [job.job.trigger.interval for job in jobs] == [timedelta(days=1)]
        companion = running.services.companion
        ada = companion.register_patient(11, "Ada", "Europe/London", bot_clock.now())
        companion.add_session(ada.id, wall("2026-12-01 10:00"), Kind.IV, bot_clock.now())
        await running.advance(timedelta(days=20))  # sent or skipped, as the timer would
        assert erase_expired_now(running.app).series == 0  # ended 19 days ago
        bot_clock.advance(timedelta(days=20))
        assert erase_expired_now(running.app).series == 1  # 39 days ago: past the 30
    finally:
        await stop_harness(running)
