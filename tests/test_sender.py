"""TelegramSender maps every Bot API answer to a send outcome, over real HTTP to the fake."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TimedOut
from telegram.request import HTTPXRequest

from bot.offline.fake_api import JSON, Call, FakeBotApi, Fault, Upload
from bot.sender import TelegramSender, callback_data, inline_keyboard, parse_callback_data
from scheduler.sending import (
    Ambiguous,
    Button,
    Failed,
    KeyboardButton,
    NothingSent,
    OutgoingMessage,
    RecipientGone,
    RetryLater,
    Sent,
)

CHAT = 4711


class FakeTime:
    """A monotonic clock that only moves when the sender sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
async def bot(fake_api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(fake_api.token, base_url=fake_api.base_url) as client:
        yield client


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def sender(bot: Bot, fake_time: FakeTime) -> TelegramSender:
    return TelegramSender(bot)


def message(chat_id: int = CHAT, delivery_id: int = 1, **changes: object) -> OutgoingMessage:
    fields: dict[str, object] = {
        "delivery_id": delivery_id,
        "chat_id": chat_id,
        "text": "<b>Tomorrow</b> at 10:00 &amp; no driving after",
        "buttons": (Button("got_it", delivery_id, "Got it"),),
    }
    fields.update(changes)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


async def test_sends_html_with_buttons_and_protection(
    sender: TelegramSender, fake_api: FakeBotApi
) -> None:
    """A sent message is HTML, protected when asked, with action:ref buttons; the id comes back."""
    result = await sender.send(message(protect_content=True))
    (call,) = fake_api.sent_to(CHAT)
    assert result == Sent(message_ref=call.result["message_id"])
    assert call.params["parse_mode"] == "HTML"
    assert call.params["protect_content"] is True
    assert call.plain_text == "Tomorrow at 10:00 & no driving after"
    assert call.buttons == [("Got it", "got_it:1")]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.flood(7), RetryLater("flood_control", after=timedelta(seconds=7))),
        (Fault.blocked(), RecipientGone("forbidden: Forbidden: bot was blocked by the user")),
        (Fault.chat_not_found(), RecipientGone("bad_request: Chat not found")),
        (
            Fault.bad_request("user is deactivated"),
            RecipientGone("bad_request: User is deactivated"),
        ),
        (
            Fault.bad_request("message must be non-empty"),
            Failed("bad_request: Message must be non-empty"),
        ),
        # Telegram had the request: a 5xx does not say it was not delivered.
        (Fault.server_error(500), Ambiguous("server_error: Internal Server Error")),
        (Fault.server_error(502), Ambiguous("server_error: Bad Gateway")),
    ],
    ids=["429", "403-blocked", "400-chat-not-found", "400-deactivated", "400-other", "500", "502"],
)
async def test_maps_api_errors_to_outcomes(
    sender: TelegramSender, fake_api: FakeBotApi, fault: Fault, expected: object
) -> None:
    """Each kind of refusal becomes the outcome the dispatcher acts on."""
    fake_api.add_fault(fault)
    assert await sender.send(message()) == expected


async def test_html_telegram_refuses_is_failed(sender: TelegramSender) -> None:
    """A message Telegram cannot parse fails for good (retrying would fail the same way)."""
    result = await sender.send(message(text="<p>not Telegram HTML</p>"))
    assert isinstance(result, Failed) and "parse entities" in result.reason


async def test_a_connection_dropped_after_the_request_is_ambiguous(
    sender: TelegramSender, fake_api: FakeBotApi
) -> None:
    """The fake read the whole request, then closed the connection without answering: Telegram
    may have delivered it, so it is not a retry."""
    fake_api.add_fault(Fault.dropped())
    result = await sender.send(message())
    assert result == Ambiguous(
        "network: httpx.RemoteProtocolError: Server disconnected without sending a response."
    )
    assert len(fake_api.calls("sendMessage")) == 1


async def test_read_timeout_is_ambiguous(fake_api: FakeBotApi, fake_time: FakeTime) -> None:
    """A request that outlives the read timeout may still be delivered: the outcome is unknown."""
    fake_api.add_fault(Fault.slow(1.0, method="sendMessage"))
    async with Bot(
        fake_api.token, base_url=fake_api.base_url, request=HTTPXRequest(read_timeout=0.2)
    ) as bot:
        sender = TelegramSender(bot)
        assert await sender.send(message()) == Ambiguous("timed_out")
    await fake_api.wait_for_async(lambda: fake_api.sent_to(CHAT), 5.0)  # and it did arrive


class TimingOutBot:
    """Raises PTB's ``TimedOut`` the way its HTTPX request does: chained to httpx's timeout."""

    def __init__(self, cause: Exception) -> None:
        self.cause = cause

    async def send_message(self, **_: object) -> None:
        raise TimedOut() from self.cause


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (httpx.ConnectTimeout("connect"), RetryLater("timed_out: connect")),
        (httpx.PoolTimeout("pool"), RetryLater("timed_out: connect")),
        (httpx.ReadTimeout("read"), Ambiguous("timed_out")),
        (httpx.WriteTimeout("write"), Ambiguous("timed_out")),
    ],
    ids=["connect", "pool", "read", "write"],
)
async def test_timeouts_before_sending_retry_and_after_are_ambiguous(
    fake_time: FakeTime, cause: Exception, expected: object
) -> None:
    """Only a timeout after the request went out may have delivered it."""
    sender = TelegramSender(TimingOutBot(cause))  # type: ignore[arg-type]
    assert await sender.send(message()) == expected


class FailingBot:
    """Raises PTB's ``NetworkError`` the way its HTTPX request does: chained to httpx's error."""

    def __init__(self, cause: Exception) -> None:
        self.cause = cause

    async def send_message(self, **_: object) -> None:
        raise NetworkError(f"httpx.{type(self.cause).__name__}: {self.cause}") from self.cause


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (httpx.ConnectError("refused"), RetryLater("network: httpx.ConnectError: refused")),
        (httpx.ReadError("reset"), Ambiguous("network: httpx.ReadError: reset")),
        (httpx.WriteError("broken pipe"), Ambiguous("network: httpx.WriteError: broken pipe")),
        (
            httpx.RemoteProtocolError("disconnected"),
            Ambiguous("network: httpx.RemoteProtocolError: disconnected"),
        ),
    ],
    ids=["connect", "read", "write", "remote-protocol"],
)
async def test_network_errors_before_sending_retry_and_after_are_ambiguous(
    fake_time: FakeTime, cause: Exception, expected: object
) -> None:
    """Only a connection that was never made is safe to repeat; a connection that broke once
    the request was on its way may have delivered it."""
    sender = TelegramSender(FailingBot(cause))  # type: ignore[arg-type]
    assert await sender.send(message()) == expected


async def test_an_answer_that_cannot_be_read_is_ambiguous(
    sender: TelegramSender, fake_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram took the message and answered with a result PTB cannot read as a Message: the
    person has it, so the outcome is ambiguous (never a retry), after one request."""
    answer = fake_api.handle

    def garbled(token: str, method: str, params: JSON, files: tuple[Upload, ...]) -> Call:
        call = answer(token, method, params, files)
        return replace(call, result={"message_id": 7}) if method == "sendMessage" else call

    monkeypatch.setattr(fake_api, "handle", garbled)
    assert await sender.send(message()) == Ambiguous("unreadable_answer: KeyError")
    assert len(fake_api.sent_to(CHAT)) == 1


async def test_a_rejected_token_is_nothing_sent_for_the_dispatcher(
    fake_api: FakeBotApi, fake_time: FakeTime
) -> None:
    """Still an ``InvalidToken`` for the bot (which stops), and a ``NothingSent`` for the
    dispatcher, which puts the message back instead of counting it as maybe delivered."""
    async with Bot(fake_api.token, base_url=fake_api.base_url) as bot:
        fake_api.bad_token = fake_api.token
        sender = TelegramSender(bot)
        with pytest.raises(NothingSent) as raised:
            await sender.send(message())
        fake_api.bad_token = None
    assert isinstance(raised.value, InvalidToken)


async def test_connection_refused_is_retry_later(fake_time: FakeTime) -> None:
    """No server listening at all is transient too."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = Bot("1:" + "a" * 35, base_url=f"http://127.0.0.1:{port}/bot")
    await bot.request.initialize()  # skip getMe: there is nobody to answer it
    try:
        sender = TelegramSender(bot)
        result = await sender.send(message())
    finally:
        await bot.request.shutdown()
    assert isinstance(result, RetryLater) and result.reason.startswith("network")


async def test_rejected_token_is_raised(fake_api: FakeBotApi, fake_time: FakeTime) -> None:
    """A token Telegram refuses cannot be fixed by retrying: the sender raises."""
    async with Bot(fake_api.token, base_url=fake_api.base_url) as bot:
        fake_api.bad_token = fake_api.token
        sender = TelegramSender(bot)
        with pytest.raises(InvalidToken):
            await sender.send(message())
        fake_api.bad_token = None


async def test_sends_to_one_chat_never_wait_in_the_sender(
    sender: TelegramSender, fake_api: FakeBotApi
) -> None:
    """Spacing is the dispatcher's stored not-before, not a sleep here: three sends to one chat
    at once all go, so a chat's wait can never hold up the one dispatch loop."""
    results = await asyncio.gather(*(sender.send(message(delivery_id=i)) for i in range(1, 4)))
    assert all(isinstance(r, Sent) for r in results)
    assert len(fake_api.sent_to(CHAT)) == 3


def test_callback_data_round_trips_and_is_bounded() -> None:
    """action:ref encodes a button; anything malformed parses to None; > 64 bytes is refused."""
    assert callback_data(Button("snooze_30", 123, "Later")) == "snooze_30:123"
    assert parse_callback_data("snooze_30:123") == ("snooze_30", 123)
    for bad in (None, "", "nocolon", "x:", ":5", "x:-1", "x:1a", "x:" + "9" * 19):
        assert parse_callback_data(bad) is None
    with pytest.raises(ValueError, match="64 bytes"):
        callback_data(Button("a" * 60, 123456, "Too long"))
    assert inline_keyboard(OutgoingMessage(delivery_id=1, chat_id=2, text="x")) is None


def test_a_queued_reply_round_trips_through_its_body_with_its_keyboard() -> None:
    """A reply is queued as a body and sent as it was made: text, protection, rows of buttons."""
    made = OutgoingMessage(
        delivery_id=0,
        chat_id=0,
        text="Cancel <b>session 2</b>?",
        protect_content=True,
        keyboard=((KeyboardButton("Yes", "cxy:7"), KeyboardButton("No", "cxn:7")),),
    )
    again = OutgoingMessage.from_body(5, 42, made.body())
    assert (again.delivery_id, again.chat_id) == (5, 42)
    assert (again.text, again.protect_content, again.keyboard) == (
        made.text,
        made.protect_content,
        made.keyboard,
    )
    markup = inline_keyboard(again)
    assert markup is not None
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [
        ["cxy:7", "cxn:7"]
    ]
