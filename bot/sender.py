"""``TelegramSender``: the dispatcher's ``Sender`` port, spoken over the Bot API.

Every Bot API error becomes one of the five outcomes in ``scheduler.sending``, so the dispatcher
never sees a Telegram exception; only a rejected token is raised (``TokenRejected``, an
``InvalidToken`` and a ``NothingSent``), because no retry can fix it and the process must stop.
Connection errors before the request left are retried; anything after it may have delivered the
message and is ``Ambiguous``. Also the keyboard encoding shared with the handlers that read the
presses.
"""

from __future__ import annotations

import logging
import warnings
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
    """Sends one rendered message and maps errors to outcomes; never waits for a turn.

    Spacing is the dispatcher's (a not-before instant stored per chat, so one chat's wait never
    holds up another), and the global rate the bot's ``AIORateLimiter``: this class neither
    sleeps nor keeps per-chat state, so many sends can be in flight at once.
    """

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def send(self, message: OutgoingMessage) -> SendResult:
        result = await self._send_now(message)
        if not isinstance(result, Sent):
            # The reason is Telegram's description or an exception name: never the text.
            _LOGGER.info(
                "delivery %d: %s (%s)", message.delivery_id, type(result).__name__, result.reason
            )
        return result

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
