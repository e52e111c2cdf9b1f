"""Webhook mode: Telegram POSTs each update to us, and it is in the inbox before Telegram gets 200.

The inbox guarantee (``bot.polling``) is that an update Telegram was told we have is on disk.
With long polling "told" is the next ``getUpdates``; with a webhook it is our HTTP 200: Telegram
forgets an update once its POST is answered 2xx, and sends it again (for up to a day) after any
other answer or none. So the 200 must follow the commit.

**How.** python-telegram-bot's own webhook server (``Updater.start_webhook``: tornado, the secret
token checked on every request, 403 on a wrong or missing one) parses the body into an
``Update`` and awaits ``update_queue.put(update)`` before it finishes the response. The queue we
give it (``InboxQueue``) stores the update in the inbox, synchronously and committed, inside
that ``put``; the request is answered only after ``put`` returns, and if storing fails the
exception makes tornado answer 500, so Telegram sends the update again. Nothing goes on the
queue: the same handling loop as in polling mode (``Poller.handle_pending``) takes it from the
inbox, in the inbox's fair order, exactly once.

This hook uses only public API (``Updater(bot, update_queue)``, ``start_webhook``). The
alternatives were a subclass of PTB's request handler (``telegram.ext._utils.webhookhandler``, a
private module that changes between releases) or a server of our own (Starlette, as in PTB's
``customwebhookbot`` examples), which would re-implement the secret check and add a dependency.

**Behind a reverse proxy** (README): TLS ends at the proxy; the server listens on 127.0.0.1 and
the proxy forwards the URL's path unchanged. The secret token is never logged or printed: it
comes from the environment or the config file, never from the command line (other users can
read a process's arguments), and a log filter blanks it should any library line carry it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Updater

from bot.context import AnyApplication, Settings
from bot.polling import Poller, _incoming
from scheduler.store.db import Database

_LOGGER = logging.getLogger(__name__)

SECRET_ENV = "COMPANION_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
# Telegram's rule for secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -.
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
MIN_SECRET_LENGTH = 24  # guessable secrets defeat the check; 24 random characters do not


class WebhookConfigError(ValueError):
    """The webhook settings cannot be used; the message says which and why (never the secret)."""


@dataclass(frozen=True)
class WebhookOptions:
    """Where Telegram posts (``url``, public, https), where we listen (behind the proxy), and
    the secret Telegram sends in ``X-Telegram-Bot-Api-Secret-Token``."""

    url: str
    secret: str = field(repr=False)
    listen: str = "127.0.0.1"
    port: int = 8443

    @property
    def path(self) -> str:
        """The path we serve: the public URL's, which the proxy forwards unchanged."""
        return urlsplit(self.url).path.rstrip("/") or "/"


@dataclass(frozen=True)
class WebhookFlags:
    """What the command line gave (None: not given, the config file's value applies)."""

    url: str | None = None
    secret_env: str = SECRET_ENV
    listen: str | None = None
    port: int | None = None


def webhook_options(
    settings: Settings, flags: WebhookFlags, environ: dict[str, str] | None = None
) -> WebhookOptions | None:
    """The webhook to serve, flags over the config file; None for long polling (no URL).

    Raises ``WebhookConfigError`` for a URL that is not https, a port out of range, or a
    missing or unusable secret.
    """
    env = os.environ if environ is None else environ
    url = flags.url or settings.webhook_url
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise WebhookConfigError(f"webhook URL must be https://host/path, got {url!r}")
    secret = env.get(flags.secret_env, "").strip() or settings.webhook_secret or ""
    if not secret:
        raise WebhookConfigError(
            f"webhook mode needs a secret token: set {flags.secret_env} (or webhook_secret in "
            "the config file) to 24 or more random characters (A-Z, a-z, 0-9, _ and -)"
        )
    if not _SECRET.fullmatch(secret) or len(secret) < MIN_SECRET_LENGTH:
        raise WebhookConfigError(
            f"the webhook secret token must be {MIN_SECRET_LENGTH} to 256 characters of A-Z, "
            "a-z, 0-9, _ and - (Telegram's rule, and long enough not to be guessed)"
        )
    port = flags.port if flags.port is not None else settings.webhook_port
    if not 1 <= port <= 65535:
        raise WebhookConfigError(f"webhook port must be 1-65535, got {port}")
    listen = flags.listen or settings.webhook_listen
    return WebhookOptions(url=url, secret=secret, listen=listen, port=port)


class InboxQueue(asyncio.Queue[object]):
    """The ``update_queue`` PTB's webhook server puts each update on: ``put`` stores it in the
    inbox (committed) and returns, and only then does the server answer Telegram. Anything else
    put here (PTB's own stop signal) is queued as usual."""

    def __init__(self, receive: Callable[[Update], None]) -> None:
        super().__init__()
        self._receive = receive

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            self._receive(item)  # raises if it could not be stored: Telegram gets a 500
            return
        await super().put(item)


class WebhookPoller(Poller):
    """The poller's handling loop, fed by the webhook server instead of ``getUpdates``."""

    def __init__(
        self,
        application: AnyApplication,
        db: Database,
        *,
        now: Callable[[], datetime],
        allowed_updates: Sequence[str],
        options: WebhookOptions,
    ) -> None:
        super().__init__(application, db, now=now, allowed_updates=allowed_updates)
        self.options = options
        self.received = 0  # updates stored by this server

    def receive(self, update: Update) -> None:
        """Store one posted update; wake the handling loop if it is new (not a re-send)."""
        if self.inbox.store([_incoming(update)], self.now()):
            self.received += 1
            self._stored += 1
            self._arrived.set()

    async def _fetch_loop(self, stop: asyncio.Event) -> None:
        """Serve the webhook until ``stop``: set it with Telegram (retried with back-off while
        Telegram is unreachable), then listen. Raises ``InvalidToken``."""
        updater = Updater(self.application.bot, InboxQueue(self.receive))
        await updater.initialize()  # the bot is initialized already: this only marks it so
        secret = _SecretFilter.install(self.options.secret)
        try:
            while not stop.is_set():
                try:
                    await updater.start_webhook(
                        listen=self.options.listen,
                        port=self.options.port,
                        url_path=self.options.path,
                        webhook_url=self.options.url,
                        secret_token=self.options.secret,
                        allowed_updates=self.allowed_updates,
                        drop_pending_updates=False,
                    )
                except InvalidToken:
                    raise
                except TelegramError as exc:
                    await self._back_off(stop, f"setWebhook: {type(exc).__name__}")
                    continue
                # Not the path: some operators put the bot's token in it.
                _LOGGER.info("webhook: listening on %s:%d", self.options.listen, self.options.port)
                self._recovered()
                await stop.wait()
        finally:
            if updater.running:
                await updater.stop()
            secret.remove()


class _SecretFilter(logging.Filter):
    """Blanks the webhook secret in any log line, attached to every root handler."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    @classmethod
    def install(cls, secret: str) -> _SecretFilter:
        found = cls(secret)
        for handler in logging.getLogger().handlers:
            handler.addFilter(found)
        return found

    def remove(self) -> None:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "<webhook secret>"), None
        return True
