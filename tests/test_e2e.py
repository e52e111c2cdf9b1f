"""`python -m bot` as a real process, polling the fake Bot API over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.offline.fake_api import Call, FakeBotApi

ROOT = Path(__file__).resolve().parents[1]
PATIENT = 1001
WAIT = 30.0  # a cold interpreter importing PTB and Babel can take a few seconds
STOP_WAIT = 10.0  # SIGTERM to exit: the process contract's promise
# Zones whose UTC offsets are at most ~4 h apart, so at any moment one of them is mid-afternoon.
AFTERNOON_CANDIDATES = (
    "Pacific/Kiritimati",  # +14
    "Pacific/Auckland",  # +12/+13
    "Asia/Tokyo",  # +9
    "Asia/Kolkata",  # +5:30
    "Europe/Istanbul",  # +3
    "Atlantic/Reykjavik",  # 0
    "America/Sao_Paulo",  # -3
    "America/Bogota",  # -5
    "America/Los_Angeles",  # -8/-7
    "Pacific/Honolulu",  # -10
)


@pytest.fixture
def bot_process(fake_api: FakeBotApi, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TELEGRAM_BOT_TOKEN": fake_api.token,
        "TELEGRAM_API_BASE_URL": fake_api.base_url,
        "COMPANION_DB": str(tmp_path / "companion.db"),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=WAIT)


@pytest.mark.slow
def test_bot_process_answers_help_and_stops_on_sigterm(
    fake_api: FakeBotApi, bot_process: subprocess.Popen[str], tmp_path: Path
) -> None:
    """The process polls the fake, answers /help, exits 0 on SIGTERM, and logs no token."""
    fake_api.wait_for(lambda: fake_api.waiting_polls, timeout=WAIT)
    assert fake_api.commands, "setMyCommands was not called at start-up"
    fake_api.add_text(PATIENT, "/help")
    (reply,) = fake_api.wait_for(lambda: fake_api.sent_to(PATIENT), timeout=WAIT)
    assert "988" in (reply.plain_text or "")

    bot_process.send_signal(signal.SIGTERM)
    _, stderr = bot_process.communicate(timeout=WAIT)
    assert bot_process.returncode == 0, stderr[-2000:]
    assert fake_api.token not in stderr
    assert fake_api.token.split(":")[1] not in stderr
    assert (tmp_path / "companion.db").exists()


@pytest.mark.slow
def test_bot_process_with_a_refused_token_exits_1(fake_api: FakeBotApi, tmp_path: Path) -> None:
    """A token Telegram refuses ends the process with status 1, a hint, and no token in logs."""
    fake_api.bad_token = "123456:" + "r" * 35
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TELEGRAM_BOT_TOKEN": fake_api.bad_token,
        "TELEGRAM_API_BASE_URL": fake_api.base_url,
        "COMPANION_DB": str(tmp_path / "companion.db"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("Telegram refused TELEGRAM_BOT_TOKEN")
    assert fake_api.bad_token not in done.stderr


def afternoon_zone(now: datetime) -> str:
    """The candidate zone whose local time is nearest 14:30: between 10:00 and 19:00 there."""

    def distance(zone: str) -> float:
        local = now.astimezone(ZoneInfo(zone))
        hours = local.hour + local.minute / 60
        return abs(hours - 14.5)

    zone = min(AFTERNOON_CANDIDATES, key=distance)
    assert 10 <= now.astimezone(ZoneInfo(zone)).hour < 19, zone
    return zone


def sends(api: FakeBotApi, since: int) -> list[Call]:
    return [c for c in api.sent_to(PATIENT, since=since) if c.method == "sendMessage"]


def say(api: FakeBotApi, text: str, *, expect: int = 1) -> list[Call]:
    """Send ``text`` as the patient; wait for ``expect`` new messages from the bot."""
    mark = api.mark()
    api.add_text(PATIENT, text)
    api.wait_for(lambda: len(sends(api, mark)) >= expect, timeout=WAIT)
    return sends(api, mark)


def press(api: FakeBotApi, data: str) -> list[Call]:
    """Tap the button carrying ``data``; wait for the bot's next message to the patient."""
    mark = api.mark()
    api.add_callback(PATIENT, data)
    return api.wait_for(lambda: sends(api, mark), timeout=WAIT)


@pytest.mark.slow
def test_bot_process_onboards_a_patient_and_sends_what_is_due(
    fake_api: FakeBotApi, bot_process: subprocess.Popen[str]
) -> None:
    """Through real chat updates: /start, name, zone, kind, a session tomorrow at 12:00. The
    series' "talk to your provider" note (two days before, 10:00; relevant until two hours
    before the session) is past its planned time but still relevant, so it comes at once.
    Then SIGTERM: exit 0 within the contract's 10 seconds."""
    fake_api.wait_for(lambda: fake_api.waiting_polls, timeout=WAIT)
    zone = afternoon_zone(datetime.now(UTC))

    welcome, ask_name = say(fake_api, "/start", expect=2)
    assert "automated" in (welcome.plain_text or "")
    assert [data for _, data in ask_name.buttons] == ["ob:name"]
    say(fake_api, "Alex")
    (zone_set,) = say(fake_api, zone)
    assert zone in (zone_set.plain_text or "")
    assert any(data == "ob:k:iv" for _, data in zone_set.buttons)
    (ask_count,) = press(fake_api, "ob:k:iv")
    assert any(data == "ob:n:6" for _, data in ask_count.buttons)
    press(fake_api, "ob:n:6")
    mark = fake_api.mark()
    saved = say(fake_api, "tomorrow 12:00")
    tomorrow = datetime.now(ZoneInfo(zone)) + timedelta(days=1)
    assert any(str(tomorrow.day) in (c.plain_text or "") for c in saved)

    started = time.monotonic()
    provider = fake_api.wait_for(
        lambda: [
            c for c in fake_api.sent_to(PATIENT, since=mark) if "provider" in (c.plain_text or "")
        ],
        timeout=WAIT,
    )
    assert time.monotonic() - started < WAIT
    assert [data.split(":")[0] for _, data in provider[0].buttons] == ["got_it"]

    bot_process.send_signal(signal.SIGTERM)
    stopping = time.monotonic()
    _, stderr = bot_process.communicate(timeout=STOP_WAIT + 5)
    assert time.monotonic() - stopping < STOP_WAIT, stderr[-2000:]
    assert bot_process.returncode == 0, stderr[-2000:]
    assert fake_api.token not in stderr


@pytest.mark.slow
def test_the_contract_path_works_from_a_fresh_chat(
    fake_api: FakeBotApi, bot_process: subprocess.Popen[str]
) -> None:
    """The contract's non-interactive path, from a chat the bot has never seen: ``/start``,
    ``/timezone Europe/Berlin``, ``/add YYYY-MM-DD HH:MM iv``; each command answered at once,
    even with set-up's first question still open."""
    fake_api.wait_for(lambda: fake_api.waiting_polls, timeout=WAIT)
    say(fake_api, "/start", expect=2)
    (zone_set,) = say(fake_api, "/timezone Europe/Berlin")
    assert "Europe/Berlin" in (zone_set.plain_text or "")
    day = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=3)).date()
    saved = say(fake_api, f"/add {day.isoformat()} 10:00 iv")
    text = saved[0].plain_text or ""
    assert text.startswith("Saved"), text
    assert "10:00" in text and "(Europe/Berlin)" in text
    bot_process.send_signal(signal.SIGTERM)
    _, stderr = bot_process.communicate(timeout=STOP_WAIT + 5)
    assert bot_process.returncode == 0, stderr[-2000:]
