"""`python -m bot` as a real process, polling the fake Bot API over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.fake_api import FakeBotApi


ROOT = Path(__file__).resolve().parents[1]
PATIENT = 1001
WAIT = 30.0  # a cold interpreter importing PTB and Babel can take a few seconds


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
