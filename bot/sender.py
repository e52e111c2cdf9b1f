"""``TelegramSender``: the dispatcher's ``Sender`` port, spoken over the Bot API.

Every Bot API error becomes one of the five outcomes in ``scheduler.sending``, so the dispatcher
never sees a Telegram exception; only a rejected token is raised (``TokenRejected``, an
``InvalidToken`` and a ``NothingSent``), because no retry can fix it and the process must stop.
Connection errors before the request left are retried; anything after it may have delivered the
message and is ``Ambiguous``. Also the keyboard encoding shared with the handlers that read the
presses.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from scheduler.sending import (
    Ambiguous,
    Button,
    Failed,
    NothingSent,
    OutgoingMessage,
    RecipientGone,
    RetryLater,
    SendResult,
    Sent,
)

_LOGGER = logging.getLogger(__name__)

MAX_CALLBACK_DATA_BYTES = 64  # Telegram refuses longer callback_data with BUTTON_DATA_INVALID
# BadRequest descriptions that mean the person can no longer be reached at all.
_GONE_MARKERS = ("chat not found", "user is deactivated", "peer_id_invalid", "bot was blocked")
_PRUNE_ABOVE = 10_000  # chats remembered for spacing before old entries are dropped


def callback_data(button: Button) -> str:
    """``action:ref``, the wire form of a button press; at most 64 bytes."""
    data = f"{button.action}:{button.ref}"
    if len(data.encode()) > MAX_CALLBACK_DATA_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_DATA_BYTES} bytes: {data!r}")
    return data


def parse_callback_data(data: str | None) -> tuple[str, int] | None:
    """``"got_it:42"`` -> ``("got_it", 42)``; None for anything else (old or foreign buttons)."""
    if not data:
        return None
    action, sep, ref = data.rpartition(":")
    # Ids are SQLite integers: more than 18 digits is no row of ours, and would overflow a query.
    if not sep or not action or not ref.isdigit() or len(ref) > 18:
        return None
    return action, int(ref)


def inline_keyboard(message: OutgoingMessage) -> InlineKeyboardMarkup | None:
    """A reply's own rows of buttons; or a timed message's buttons, one a row, so labels stay
    whole on a narrow phone screen."""
    if message.keyboard:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
                for row in message.keyboard
            ]
        )
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=callback_data(b))] for b in message.buttons]
    )


class TelegramSender:
    """Sends one rendered message; maps errors to outcomes; spaces messages to one chat.

    Telegram allows about one message per second to a chat; the ``AIORateLimiter`` only spaces
    group chats, so private chats are spaced here: two sends to one chat start at least
    ``min_chat_interval`` seconds apart. ``clock`` (monotonic seconds) and ``sleep`` are
    injectable so tests need no real waiting.
    """

    def __init__(
        self,
        bot: Bot,
        *,
        min_chat_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._interval = min_chat_interval
        self._clock = clock
        self._sleep = sleep
        self._last_start: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def send(self, message: OutgoingMessage) -> SendResult:
        lock = self._locks.setdefault(message.chat_id, asyncio.Lock())
        async with lock:
            await self._wait_turn(message.chat_id)
            result = await self._send_now(message)
        self._prune()
        if not isinstance(result, Sent):
            # The reason is Telegram's description or an exception name: never the text.
            _LOGGER.info(
                "delivery %d: %s (%s)", message.delivery_id, type(result).__name__, result.reason
            )
        return result

    async def _wait_turn(self, chat_id: int) -> None:
        last = self._last_start.get(chat_id)
        if last is not None:
            remaining = last + self._interval - self._clock()
            if remaining > 0:
                await self._sleep(remaining)
        self._last_start[chat_id] = self._clock()

    async def _send_now(self, message: OutgoingMessage) -> SendResult:
        try:
            markup = inline_keyboard(message)
        except ValueError:  # callback data over 64 bytes: this message can never be sent
            return Failed("bad_keyboard")
        try:
            sent = await self._bot.send_message(
                chat_id=message.chat_id,
                text=message.text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                protect_content=message.protect_content,
                # A preview card of a helpline site would crowd a short reminder.
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except InvalidToken as exc:
            # 401/404: Telegram refused the request itself, so nothing was sent; the process stops.
            raise TokenRejected(exc.message) from exc
        except RetryAfter as exc:
            return RetryLater("flood_control", after=_retry_after(exc))
        except Forbidden as exc:
            return RecipientGone(f"forbidden: {_short(exc)}")
        except ChatMigrated:
            return Failed("chat_migrated")
        # BadRequest is a NetworkError: it must come first.
        except BadRequest as exc:
            if any(marker in exc.message.lower() for marker in _GONE_MARKERS):
                return RecipientGone(f"bad_request: {_short(exc)}")
            return Failed(f"bad_request: {_short(exc)}")
        except NetworkError as exc:  # TimedOut included
            return _network_outcome(exc)
        except TelegramError as exc:
            # An answer came that could not be read ("Invalid server response"): the request
            # reached Telegram, which may have delivered it.
            return Ambiguous(f"{type(exc).__name__}: {_short(exc)}")
        except Exception as exc:
            # PTB raised on an answer it could not turn into a Message (a result of the wrong
            # shape): the request went out. The name only: the text may echo the answer.
            return Ambiguous(f"unreadable_answer: {type(exc).__name__}")
        return Sent(message_ref=sent.message_id)

    def _prune(self) -> None:
        if len(self._last_start) <= _PRUNE_ABOVE:
            return
        horizon = self._clock() - self._interval
        for chat_id, started in list(self._last_start.items()):
            lock = self._locks.get(chat_id)
            if started < horizon and (lock is None or not lock.locked()):
                del self._last_start[chat_id]
                self._locks.pop(chat_id, None)


def _retry_after(exc: RetryAfter) -> timedelta:
    # PTB 22 warns on reading retry_after as int; either type means seconds to wait.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


# httpx errors raised before a byte of the request was written: no connection could be made, or
# none was free in the pool. Everything else (ReadError, WriteError, RemoteProtocolError, a read
# or write timeout) may come after Telegram had the request.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _never_sent(exc: NetworkError) -> bool:
    """The request never left: PTB chains the httpx error it wraps as ``__cause__``."""
    return isinstance(exc.__cause__, _NEVER_SENT)


def _network_outcome(exc: NetworkError) -> RetryLater | Ambiguous:
    """Retry what never left; everything else may have been delivered.

    PTB raises ``NetworkError``/``TimedOut`` chained to an httpx error for transport failures,
    and an unchained ``NetworkError`` for an HTTP error status it has no class for (5xx):
    Telegram had the request then, and a gateway error does not say it was not delivered.
    """
    timed_out = isinstance(exc, TimedOut)
    if _never_sent(exc):
        return RetryLater("timed_out: connect" if timed_out else f"network: {_short(exc)}")
    if timed_out:
        return Ambiguous("timed_out")
    if isinstance(exc.__cause__, httpx.HTTPError):
        # The connection broke after the request was written (a dropped connection reads as
        # RemoteProtocolError "Server disconnected without sending a response").
        return Ambiguous(f"network: {_short(exc)}")
    return Ambiguous(f"server_error: {_short(exc)}")


class TokenRejected(InvalidToken, NothingSent):
    """Telegram refused the bot's token: still an ``InvalidToken`` for the bot, which stops; a
    ``NothingSent`` for the dispatcher, which puts the message back."""


def _short(exc: TelegramError) -> str:
    """Telegram's description, bounded: error descriptions never carry the message text."""
    return exc.message[:200]
