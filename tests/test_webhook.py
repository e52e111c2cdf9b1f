"""Webhook mode: an update is in the inbox before Telegram gets its 200; a wrong secret stores
nothing. ``bot.app.serve`` runs in-process with python-telegram-bot's real webhook server on
127.0.0.1, and the test POSTs to it over HTTP as Telegram would."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Update
from telegram.ext import ApplicationHandlerStop, CommandHandler

from bot.__main__ import main
from bot.app import ALLOWED_UPDATES, build_application, runtime_of, serve
from bot.clock import ManualClock
from bot.context import BotContext, CompanionApp, Settings, services_of
from bot.offline.fake_api import FakeBotApi
from bot.webhook import WebhookConfigError, WebhookFlags, WebhookOptions, webhook_options
from scheduler.store.db import Database
from tests.botharness import FAMILY, PATIENT, START, shared_catalog

WAIT = 10.0
SECRET = "s3cret-token_for-the-webhook-0123456789"
PUBLIC_URL = "https://bot.example.org/companion/hook"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Hooked:
    app: CompanionApp
    api: FakeBotApi
    task: asyncio.Task[int]
    options: WebhookOptions
    gate: asyncio.Event = field(default_factory=asyncio.Event)  # /probe waits until set
    seen: list[int] = field(default_factory=list)

    @property
    def db(self) -> Database:
        return services_of(self.app).db

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.options.port}{self.options.path}"

    def row(self, update_id: int) -> tuple[str, bool] | None:
        """The inbox row of an update: its status and whether its payload is still stored."""
        found = self.db.conn.execute(
            "SELECT status, payload IS NOT NULL FROM inbox WHERE update_id = ?", (update_id,)
        ).fetchone()
        return None if found is None else (found[0], bool(found[1]))

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[HEADER] = secret
        async with httpx.AsyncClient(timeout=WAIT) as client:
            return await client.post(self.endpoint, json=update, headers=headers)


@pytest.fixture
async def hooked(fake_api: FakeBotApi, tmp_path: Path) -> AsyncIterator[Hooked]:
    app = build_application(
        token=fake_api.token,
        db_path=tmp_path / "companion.db",
        base_url=fake_api.base_url,
        clock=ManualClock(START),
        catalog=shared_catalog(),
    )
    options = WebhookOptions(url=PUBLIC_URL, secret=SECRET, port=free_port())
    running = Hooked(app, fake_api, asyncio.ensure_future(serve(app, webhook=options)), options)

    async def probe(update: Update, context: BotContext) -> None:
        """Records the update and holds the handling loop until the test opens the gate."""
        running.seen.append(update.update_id)
        await running.gate.wait()
        raise ApplicationHandlerStop

    app.add_handler(CommandHandler("probe", probe), group=-50)
    await fake_api.wait_for_async(lambda: _listening(options.port), WAIT)
    try:
        yield running
    finally:
        running.gate.set()
        runtime_of(app).request_stop()
        assert await asyncio.wait_for(running.task, timeout=WAIT) == 0


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


async def test_the_webhook_is_set_with_the_secret_and_the_allowed_updates(hooked: Hooked) -> None:
    assert hooked.api.webhook is not None
    assert hooked.api.webhook["url"] == PUBLIC_URL
    assert hooked.api.webhook["secret_token"] == SECRET
    assert hooked.api.webhook["allowed_updates"] == ALLOWED_UPDATES
    assert hooked.api.webhook.get("drop_pending_updates") in (None, False)


async def test_an_update_is_stored_before_telegram_gets_its_200(hooked: Hooked) -> None:
    """With the handling loop held inside the first update, the second is answered 200 only
    once its row is committed: Telegram may forget it from then on, and nothing is lost."""
    first = hooked.api.make_text(PATIENT, "/probe")
    second = hooked.api.make_text(FAMILY, "/probe")

    answer = await hooked.post(first)
    assert answer.status_code == 200
    assert hooked.row(first["update_id"]) is not None  # stored when the answer came
    await hooked.api.wait_for_async(lambda: hooked.seen == [first["update_id"]], WAIT)

    answer = await hooked.post(second)  # processing is blocked in the first update
    assert answer.status_code == 200
    assert hooked.row(second["update_id"]) == ("pending", True)
    assert hooked.seen == [first["update_id"]]

    hooked.gate.set()
    await hooked.api.wait_for_async(
        lambda: hooked.row(second["update_id"]) == ("done", False), WAIT
    )
    assert hooked.seen == [first["update_id"], second["update_id"]]


async def test_a_resent_update_is_handled_once(hooked: Hooked) -> None:
    """Telegram re-sends an update whose answer it missed: stored and handled once."""
    hooked.gate.set()
    update = hooked.api.make_text(PATIENT, "/probe")
    assert (await hooked.post(update)).status_code == 200
    await hooked.api.wait_for_async(
        lambda: hooked.row(update["update_id"]) == ("done", False), WAIT
    )
    assert (await hooked.post(update)).status_code == 200
    later = hooked.api.make_text(PATIENT, "/probe")
    assert (await hooked.post(later)).status_code == 200
    await hooked.api.wait_for_async(lambda: len(hooked.seen) == 2, WAIT)
    assert hooked.seen == [update["update_id"], later["update_id"]]


async def test_an_update_that_cannot_be_stored_is_not_answered_200(hooked: Hooked) -> None:
    """A failing write (here a trigger refusing inserts) answers 500, so Telegram sends the
    update again; once the write works, the re-sent copy is stored and handled."""
    hooked.gate.set()
    hooked.db.conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    update = hooked.api.make_text(PATIENT, "/probe")
    answer = await hooked.post(update)
    assert answer.status_code == 500
    assert hooked.row(update["update_id"]) is None
    hooked.db.conn.execute("DROP TRIGGER refuse")
    assert (await hooked.post(update)).status_code == 200
    await hooked.api.wait_for_async(lambda: hooked.seen == [update["update_id"]], WAIT)


@pytest.mark.parametrize("secret", ["wrong-secret-token-of-the-right-length", None])
async def test_a_wrong_or_missing_secret_is_refused_and_stores_nothing(
    hooked: Hooked, secret: str | None
) -> None:
    update = hooked.api.make_text(PATIENT, "/probe")
    answer = await hooked.post(update, secret=secret)
    assert answer.status_code == 403
    assert hooked.row(update["update_id"]) is None
    assert hooked.db.conn.execute("SELECT count(*) FROM inbox").fetchone()[0] == 0


async def test_a_real_command_by_webhook_gets_its_reply(hooked: Hooked) -> None:
    """The whole path: POST, inbox, handler, queued reply, dispatcher, sendMessage."""
    update = hooked.api.make_text(PATIENT, "/help")
    assert (await hooked.post(update)).status_code == 200
    replies = await hooked.api.wait_for_async(lambda: hooked.api.sent_to(PATIENT), WAIT)
    assert "988" in (replies[0].plain_text or "")


async def test_the_secret_is_never_logged(
    fake_api: FakeBotApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Even with PTB's DEBUG lines on (they carry setWebhook's parameters)."""
    caplog.set_level(logging.DEBUG)
    app = build_application(
        token=fake_api.token,
        db_path=tmp_path / "companion.db",
        base_url=fake_api.base_url,
        clock=ManualClock(START),
        catalog=shared_catalog(),
    )
    options = WebhookOptions(url=PUBLIC_URL, secret=SECRET, port=free_port())
    task = asyncio.ensure_future(serve(app, webhook=options))
    await fake_api.wait_for_async(lambda: _listening(options.port), WAIT)
    runtime_of(app).request_stop()
    assert await asyncio.wait_for(task, timeout=WAIT) == 0
    assert SECRET not in repr(options)
    assert all(SECRET not in caplog.handler.format(r) for r in caplog.records)


async def test_polling_after_webhook_mode_removes_the_webhook(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """Telegram refuses getUpdates while a webhook is set: going back to polling removes it."""
    fake_api.webhook = {"url": PUBLIC_URL}
    app = build_application(
        token=fake_api.token,
        db_path=tmp_path / "companion.db",
        base_url=fake_api.base_url,
        clock=ManualClock(START),
        catalog=shared_catalog(),
    )
    task = asyncio.ensure_future(serve(app, poll_timeout=1))
    try:
        fake_api.add_text(PATIENT, "/help")
        await fake_api.wait_for_async(lambda: fake_api.sent_to(PATIENT), WAIT)
        assert fake_api.webhook is None
    finally:
        runtime_of(app).request_stop()
        assert await asyncio.wait_for(task, timeout=WAIT) == 0


# -- settings ----------------------------------------------------------------------------------


def test_no_url_means_long_polling() -> None:
    assert webhook_options(Settings(), WebhookFlags(), {}) is None


def test_flags_win_over_the_config_file() -> None:
    settings = Settings(webhook_url="https://a.example/x", webhook_secret="c" * 32)
    flags = WebhookFlags(url=PUBLIC_URL, port=9000, listen="::1")
    options = webhook_options(settings, flags, {"COMPANION_WEBHOOK_SECRET": SECRET})
    assert options == WebhookOptions(url=PUBLIC_URL, secret=SECRET, listen="::1", port=9000)
    assert options.path == "/companion/hook"
    from_file = webhook_options(settings, WebhookFlags(), {})
    assert from_file is not None and from_file.secret == "c" * 32 and from_file.port == 8443


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("http://bot.example.org/hook", {"COMPANION_WEBHOOK_SECRET": SECRET}, "https"),
        (PUBLIC_URL, {}, "COMPANION_WEBHOOK_SECRET"),
        (PUBLIC_URL, {"COMPANION_WEBHOOK_SECRET": "short"}, "24 to 256"),
        (PUBLIC_URL, {"COMPANION_WEBHOOK_SECRET": "x" * 30 + "!"}, "24 to 256"),
    ],
)
def test_unusable_webhook_settings_are_refused_without_echoing_the_secret(
    url: str, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(WebhookConfigError, match=expected) as caught:
        webhook_options(Settings(), WebhookFlags(url=url), env)
    for value in env.values():
        assert value not in str(caught.value)


def test_the_bot_refuses_to_start_with_unusable_webhook_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Exit 2 with the reason, before the database is touched; the secret is not echoed."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:" + "A" * 35)
    monkeypatch.setenv("COMPANION_DB", str(tmp_path / "companion.db"))
    monkeypatch.delenv("COMPANION_WEBHOOK_SECRET", raising=False)
    assert main(["--webhook-url", PUBLIC_URL]) == 2
    assert "COMPANION_WEBHOOK_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("MY_SECRET", "too-short-secret")
    assert main(["--webhook-url", PUBLIC_URL, "--webhook-secret-env", "MY_SECRET"]) == 2
    err = capsys.readouterr().err
    assert "24 to 256" in err and "too-short-secret" not in err
    assert not (tmp_path / "companion.db").exists()
