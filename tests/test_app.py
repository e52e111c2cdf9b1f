"""The composed bot, through the real PTB stack against the fake Bot API."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from telegram import Update
from telegram.ext import CommandHandler

from bot.app import (
    ALLOWED_UPDATES,
    PATIENT_COMMANDS,
    file_url_for,
    patient_commands,
    run,
)
from bot.clock import AcceleratedClock, ManualClock, SystemClock
from bot.context import BotContext
from bot.errors import TokenRedactingFilter, redact
from bot.offline.fake_api import FakeBotApi
from messages import Catalog
from scheduler.model import DEFAULT_CRISIS_LINE, Kind
from tests.botharness import GROUP, PATIENT, START

if TYPE_CHECKING:
    from tests.botharness import BotHarness

ROOT = Path(__file__).resolve().parents[1]


async def test_start_up_sets_the_command_menu(harness: BotHarness) -> None:
    """post_init gives Telegram the patient's command menu, in order."""
    assert [c["command"] for c in harness.api.commands] == list(PATIENT_COMMANDS)
    assert all(c["description"] for c in harness.api.commands)


async def test_help_names_the_crisis_line(harness: BotHarness) -> None:
    """/help answers with the catalog's help text, crisis line filled in."""
    replies = await harness.say(PATIENT, "/help")
    assert len(replies) == 1
    assert "988" in (replies[0].plain_text or "")
    assert replies[0].params["parse_mode"] == "HTML"


async def test_unknown_text_gets_the_unknown_reply(harness: BotHarness) -> None:
    """Free text nobody handles gets the catalog's 'unknown_text' reply, once."""
    expected = harness.services.catalog.render_reply(
        "en", "unknown_text", crisis_line=DEFAULT_CRISIS_LINE
    )
    replies = await harness.say(PATIENT, "what is this thing")
    assert [c.text for c in replies] == [expected]


async def test_unrecognised_button_data_gets_an_answer_and_changes_nothing(
    harness: BotHarness,
) -> None:
    """Garbage callback data is answered (no endless spinner) and stores nothing."""
    before = harness.row_counts()
    mark = harness.api.mark()
    await harness.press(PATIENT, "garbage:\u202e;DROP TABLE people", message_id=1)
    answers = harness.api.calls("answerCallbackQuery", since=mark)
    assert [c.params.get("text") for c in answers] == ["That button is no longer valid."]
    assert harness.row_counts() == before


async def test_group_message_gets_one_note_and_the_bot_leaves(harness: BotHarness) -> None:
    """In a group the bot says it works in private only, leaves, and stores nothing."""
    before = harness.row_counts()
    replies = await harness.say(GROUP, "/start", chat_type="supergroup")
    private_only = harness.services.catalog.render_reply("en", "private_only")
    assert [c.text for c in replies] == [private_only]
    assert harness.api.left_chats == [GROUP]
    assert harness.row_counts() == before
    again = await harness.say(GROUP, "/help", chat_type="supergroup")
    assert again == []  # told once; a burst before the leave lands gets no second note


async def test_added_to_a_group_leaves_at_once(harness: BotHarness) -> None:
    """Being added to a group triggers the note and leaving; being removed triggers nothing."""
    before = harness.row_counts()
    added = harness.api.make_my_chat_member(GROUP, chat_type="group")
    assert len(await harness.feed(added, GROUP)) == 1
    removed = harness.api.make_my_chat_member(-555, chat_type="group", new_status="left")
    assert await harness.feed(removed, -555) == []
    assert harness.api.left_chats == [GROUP]
    assert harness.row_counts() == before


async def test_guard_stops_feature_handlers_for_groups(harness: BotHarness) -> None:
    """No handler after the guard sees an update from a group chat."""
    seen: list[int] = []

    async def spy(update: Update, context: BotContext) -> None:
        seen.append(update.update_id)

    harness.app.add_handler(CommandHandler("spy", spy), group=1)
    await harness.say(GROUP, "/spy", chat_type="group")
    await harness.say(PATIENT, "/spy")
    assert len(seen) == 1


async def test_handler_errors_are_logged_without_user_data(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """The error handler logs type and update id, never what the person wrote."""

    async def broken(update: Update, context: BotContext) -> None:
        message = update.effective_message
        assert message is not None
        raise ValueError(f"cannot parse {message.text!r}")

    harness.app.add_handler(CommandHandler("broken", broken), group=-50)
    update = harness.api.make_text(PATIENT, "/broken my secret diary")
    with caplog.at_level(logging.INFO):
        await harness.app.process_update(Update.de_json(update, harness.app.bot))
    assert [type(e) for e in harness.take_errors()] == [ValueError]
    assert "ValueError" in caplog.text
    assert str(update["update_id"]) in caplog.text
    assert "secret" not in caplog.text


async def test_arming_sets_one_dispatch_job_at_the_next_delivery(harness: BotHarness) -> None:
    """A new session arms the single 'dispatch' job at the earliest pending delivery."""
    services = harness.services
    assert harness.dispatch_job_due_in() is None
    patient = services.companion.register_patient(PATIENT, "Ann", "Europe/Berlin", START)
    services.companion.add_session(
        patient.id,
        datetime(2026, 12, 3, 10, 0),  # noqa: DTZ001 - a session is local wall-clock time
        Kind.IV,
        services.clock.now(),
    )
    services.rearm()
    services.rearm()
    due = services.dispatcher.next_due()
    assert due is not None
    jobs = harness.app.job_queue.get_jobs_by_name("dispatch") if harness.app.job_queue else ()
    assert len(jobs) == 1
    job_kwargs = jobs[0].job
    assert job_kwargs.misfire_grace_time is None and job_kwargs.coalesce is True
    due_in = harness.dispatch_job_due_in()
    assert due_in == pytest.approx((due - START).total_seconds(), abs=5)


async def test_a_due_message_reaches_the_patient(harness: BotHarness) -> None:
    """Moving the clock to the first delivery sends it through TelegramSender to the fake."""
    services = harness.services
    patient = services.companion.register_patient(PATIENT, "Ann", "Europe/Berlin", START)
    services.companion.add_session(
        patient.id,
        datetime(2026, 12, 3, 10, 0),  # noqa: DTZ001 - a session is local wall-clock time
        Kind.IV,
        services.clock.now(),
    )
    services.rearm()
    due = services.dispatcher.next_due()
    assert due is not None
    report = await harness.advance_to(due)
    assert report.sent >= 1
    sent = harness.api.sent_to(PATIENT)
    assert len(sent) == report.sent
    assert sent[0].params["parse_mode"] == "HTML"
    next_due = services.dispatcher.next_due()
    assert next_due is None or next_due > due


async def test_a_restart_arms_the_timer_from_the_database(
    fake_api: FakeBotApi, tmp_path: Path, bot_clock: ManualClock
) -> None:
    """Pending deliveries survive a restart: post_init arms the dispatch job from the table."""
    from tests.botharness import start_harness, stop_harness

    first = await start_harness(fake_api, tmp_path, bot_clock)
    try:
        patient = first.services.companion.register_patient(PATIENT, "Ann", "Africa/Abidjan", START)
        first.services.companion.add_session(
            patient.id,
            datetime(2026, 12, 3, 10, 0),  # noqa: DTZ001 - a session is local wall-clock time
            Kind.IV,
            START,
        )
    finally:
        await stop_harness(first)
    second = await start_harness(fake_api, tmp_path, bot_clock)
    try:
        assert second.dispatch_job_due_in() is not None
        assert second.app.job_queue is not None
        assert second.app.job_queue.get_jobs_by_name("dispatch-safety-tick")
    finally:
        await stop_harness(second)


async def test_polling_answers_help(polling_harness: BotHarness) -> None:
    """With real long polling against the fake, /help is answered and the update confirmed."""
    replies = await polling_harness.say(PATIENT, "/help")
    assert "988" in (replies[0].plain_text or "")
    getupdates = polling_harness.api.calls("getUpdates")
    assert getupdates[0].params["allowed_updates"] == ALLOWED_UPDATES


def test_file_url_follows_the_api_url() -> None:
    """A local Bot API server's file URL sits beside its API URL."""
    assert file_url_for("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
    assert file_url_for("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"


def test_command_menu_has_a_description_for_every_command(catalog: Catalog) -> None:
    """Every menu entry has a 1-256 character description from the catalog."""
    menu = patient_commands(catalog)
    assert [c.command for c in menu] == list(PATIENT_COMMANDS)
    assert all(1 <= len(c.description) <= 256 for c in menu)


def test_tokens_are_redacted_from_log_records() -> None:
    """Anything shaped like a bot token is replaced, in the message and its arguments."""
    token = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ZI"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET %s", (f"/bot{token}/x",), None)
    assert TokenRedactingFilter().filter(record)
    assert token not in record.getMessage() and "<token>" in record.getMessage()
    assert redact("no token here 12:short") == "no token here 12:short"


def test_run_without_a_token_exits_2_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """run() refuses to start without TELEGRAM_BOT_TOKEN and says where to get one."""
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert run() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "@BotFather" in err


@pytest.mark.skipif(not (ROOT / "bot" / "__main__.py").exists(), reason="bot/__main__.py missing")
def test_python_m_bot_without_a_token_exits_2(tmp_path: Path) -> None:
    """The process contract: `python -m bot` with no token exits 2 with one line on stderr."""
    env = {"PATH": "/usr/bin:/bin", "COMPANION_DB": str(tmp_path / "c.db")}
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "@BotFather" in done.stderr
    assert not (tmp_path / "c.db").exists()


def test_clocks() -> None:
    """The accelerated clock runs `speed` times faster; the manual one moves when told."""
    ticks = iter([0.0, 10.0, 10.0])
    fast = AcceleratedClock(START, speed=60, monotonic=lambda: next(ticks))
    assert fast.now() == START + timedelta(minutes=10)
    assert fast.seconds_until(START + timedelta(minutes=20)) == pytest.approx(10.0)
    manual = ManualClock(START)
    manual.advance(timedelta(hours=1))
    assert manual.seconds_until(START + timedelta(hours=2)) == 3600
    assert SystemClock().now().tzinfo is not None
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 1))  # noqa: DTZ001
