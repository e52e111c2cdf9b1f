"""The error handler, and the log hygiene that keeps tokens and people's words out of logs.

PTB hands every exception from a handler, a job or the polling loop to the error handlers and
otherwise only logs it. Ours logs the exception type, the update id and the code location; never
the exception's message (it can quote what a person typed), the update, or the chat.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
import types

from telegram import Update
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, TimedOut

from bot.context import BotContext

_LOGGER = logging.getLogger(__name__)

# Harmless races: a second tap on a button (same content), a tap answered after Telegram's
# 15-second window, a message the person already deleted.
TOLERATED_BAD_REQUESTS = (
    "message is not modified",
    "query is too old",
    "message to edit not found",
    "message to delete not found",
)
TOKEN_PATTERN = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if error is None:
        return
    if isinstance(error, Conflict):
        _LOGGER.error(
            "Conflict: another instance is using this token (only one may poll); "
            "stop the other one or use a separate bot token"
        )
        return
    if isinstance(error, Forbidden):
        _LOGGER.info("update %s: the person blocked the bot or left (Forbidden)", update_id)
        return
    if isinstance(error, BadRequest) and any(
        known in error.message.lower() for known in TOLERATED_BAD_REQUESTS
    ):
        _LOGGER.debug("update %s: tolerated BadRequest", update_id)
        return
    if isinstance(error, TimedOut | NetworkError) and not isinstance(error, BadRequest):
        _LOGGER.warning("update %s: network trouble (%s)", update_id, type(error).__name__)
        return
    where = "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)))
    _LOGGER.error(
        "update %s: unhandled %s, raised at:\n%s", update_id, type(error).__name__, where.rstrip()
    )


# PTB log lines whose arguments are whole updates, request parameters or response bodies: what
# people wrote, their names, session times. Mostly DEBUG, but "Received data was" is CRITICAL.
PAYLOAD_TEMPLATES = (
    "Processing update",
    "Dropping pending update",
    "Calling Bot API endpoint",
    "Received data was",
    "Can not load invalid JSON data",
    "Webhook received data",
    "Error while building CallbackContext",
)
WITHHELD = "<withheld: may hold personal data>"


def redact(text: str) -> str:
    return TOKEN_PATTERN.sub("<token>", text)


class TokenRedactingFilter(logging.Filter):
    """Rewrites records so nothing shaped like a bot token, and no update or request payload
    that PTB would log, reaches a log.

    Attach it to handlers, not loggers: a logger's filters skip records propagated from children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and any(t in record.msg for t in PAYLOAD_TEMPLATES):
            record.msg, record.args = f"{record.msg.split('%', 1)[0]}{WITHHELD}", None
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """INFO logging to stderr, tokens redacted; httpx quiet because its request lines hold the
    token, APScheduler quiet because it logs every job run."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TokenRedactingFilter) for f in handler.filters):
            handler.addFilter(TokenRedactingFilter())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # With max_retries=0 it logs every 429 as an ERROR with a traceback; the sender already
    # records each one as a retry with its wait, so a flood-control storm is not an error storm.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    install_excepthooks()


def install_excepthooks() -> None:
    """Uncaught exceptions print through the redacting filter too: PTB's ``InvalidToken`` text
    quotes the token, and a traceback may show a request URL, which holds it."""

    def hook(
        exc_type: type[BaseException],
        exc: BaseException,
        tb: types.TracebackType | None,
    ) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(redact(text))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
