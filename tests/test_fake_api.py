"""The fake Bot API behaves like Telegram for a real ``telegram.Bot`` over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot.offline.fake_api import FakeBotApi, Fault

CHAT = 5150


@pytest.fixture
async def bot(fake_api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(
        fake_api.token, base_url=fake_api.base_url, base_file_url=fake_api.base_file_url
    ) as client:
        yield client


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Got it", callback_data=data)]])


async def test_get_me_answers_with_the_fake_bot(bot: Bot, fake_api: FakeBotApi) -> None:
    """Initializing a Bot calls getMe, and the fake's user comes back."""
    assert bot.username == "session_companion_bot"
    assert [c.method for c in fake_api.calls()] == ["getMe"]


async def test_send_message_returns_a_realistic_message(bot: Bot, fake_api: FakeBotApi) -> None:
    """sendMessage answers with a Message: id, chat, date, parsed text and the keyboard."""
    sent = await bot.send_message(
        CHAT, "<b>Hello</b> &amp; welcome", parse_mode="HTML", reply_markup=keyboard("got_it:1")
    )
    assert sent.message_id == 1
    assert sent.chat.id == CHAT and sent.chat.type == "private"
    assert sent.text == "Hello & welcome"
    assert sent.reply_markup == keyboard("got_it:1")
    call = fake_api.sent_to(CHAT)[0]
    assert call.text == "<b>Hello</b> &amp; welcome"
    assert call.plain_text == "Hello & welcome"
    assert call.buttons == [("Got it", "got_it:1")]
    assert fake_api.texts_to(CHAT) == ["Hello & welcome"]


async def test_message_ids_count_per_chat(bot: Bot) -> None:
    """Each chat numbers its messages from 1, as private chats do."""
    first = await bot.send_message(CHAT, "a")
    second = await bot.send_message(CHAT, "b")
    other = await bot.send_message(CHAT + 1, "c")
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)


async def test_get_updates_returns_queued_text_with_a_command_entity(
    bot: Bot, fake_api: FakeBotApi
) -> None:
    """A queued '/help' arrives as a message with a bot_command entity at offset 0."""
    fake_api.add_text(CHAT, "/help")
    updates = await bot.get_updates(timeout=1)
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.text == "/help"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 5
    assert message.from_user is not None and message.from_user.id == CHAT


async def test_offset_confirms_earlier_updates(bot: Bot, fake_api: FakeBotApi) -> None:
    """Updates below the offset are gone for good; later ones stay until confirmed."""
    first = fake_api.add_text(CHAT, "one")
    second = fake_api.add_text(CHAT, "two")
    assert len(await bot.get_updates(timeout=0)) == 2
    remaining = await bot.get_updates(offset=first["update_id"] + 1, timeout=0)
    assert [u.update_id for u in remaining] == [second["update_id"]]
    assert await bot.get_updates(offset=second["update_id"] + 1, timeout=0) == ()
    assert fake_api.pending_updates() == []


async def test_long_poll_waits_for_the_timeout_when_nothing_comes(bot: Bot) -> None:
    """An empty long poll returns after its timeout, not at once."""
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 3


async def test_long_poll_wakes_as_soon_as_an_update_arrives(bot: Bot, fake_api: FakeBotApi) -> None:
    """An update queued mid-poll is returned without waiting out the timeout."""
    timer = threading.Timer(0.2, fake_api.add_text, args=(CHAT, "hi"))
    timer.start()
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    timer.join()
    assert len(updates) == 1
    assert time.monotonic() - started < 2


async def test_allowed_updates_filters_and_persists(bot: Bot, fake_api: FakeBotApi) -> None:
    """allowed_updates leaves other kinds out, also on later calls that do not repeat it."""
    fake_api.add_my_chat_member(-100)
    fake_api.add_text(CHAT, "hello")
    got = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.message is not None for u in got] == [True]
    again = await bot.get_updates(timeout=0)
    assert len(again) == 1 and again[0].message is not None


async def test_callback_refers_to_the_bot_message_with_that_button(
    bot: Bot, fake_api: FakeBotApi
) -> None:
    """add_callback finds the latest message carrying the data and embeds it."""
    await bot.send_message(CHAT, "first", reply_markup=keyboard("got_it:1"))
    await bot.send_message(CHAT, "second", reply_markup=keyboard("got_it:2"))
    fake_api.add_callback(CHAT, "got_it:1")
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.data == "got_it:1"
    assert query.message is not None and query.message.message_id == 1
    assert await query.answer() is True
    with pytest.raises(LookupError):
        fake_api.make_callback(CHAT, "nothing:9")


async def test_edits_change_the_stored_message(bot: Bot, fake_api: FakeBotApi) -> None:
    """editMessageText/ReplyMarkup edit; an identical edit is 'message is not modified'."""
    sent = await bot.send_message(CHAT, "before", reply_markup=keyboard("got_it:1"))
    await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=None)
    stored = fake_api.message(CHAT, sent.message_id)
    assert stored is not None and "reply_markup" not in stored
    await bot.edit_message_text("after", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("after", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=999)
    assert fake_api.texts_to(CHAT) == ["before", "after"]  # a markup edit has no text


async def test_send_document_records_the_upload(bot: Bot, fake_api: FakeBotApi) -> None:
    """A multipart upload is recorded by name and size; the caption comes back."""
    data = b'{"sessions": []}' * 10
    sent = await bot.send_document(
        CHAT, io.BytesIO(data), filename="export.json", caption="Your data"
    )
    assert sent.document is not None
    assert sent.document.file_name == "export.json" and sent.document.file_size == len(data)
    assert sent.caption == "Your data"
    (call,) = fake_api.calls("sendDocument")
    assert call.files[0].filename == "export.json" and call.files[0].size == len(data)


async def test_commands_leave_and_get_chat(bot: Bot, fake_api: FakeBotApi) -> None:
    """setMyCommands is kept; leaveChat and getChat answer like Telegram."""
    await bot.set_my_commands([("help", "What this bot does")])
    assert fake_api.commands == [{"command": "help", "description": "What this bot does"}]
    assert await bot.leave_chat(-100) is True
    assert fake_api.left_chats == [-100]
    chat = await bot.get_chat(CHAT)
    assert chat.id == CHAT and chat.type == "private"


async def test_refuses_what_telegram_refuses(bot: Bot) -> None:
    """Unsupported HTML, empty or over-long text, and oversized callback data are 400s."""
    with pytest.raises(BadRequest, match="parse entities"):
        await bot.send_message(CHAT, "<br>line", parse_mode="HTML")
    with pytest.raises(BadRequest, match="parse entities"):
        await bot.send_message(CHAT, "<b>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(CHAT, "x" * 4097)
    with pytest.raises(BadRequest, match="empty"):
        await bot.send_message(CHAT, " ")
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(CHAT, "x", reply_markup=keyboard("a" * 65))


async def test_bad_token_is_unauthorized(fake_api: FakeBotApi) -> None:
    """The configured bad token gets 401, which PTB raises as InvalidToken."""
    fake_api.bad_token = "123:" + "b" * 35
    with pytest.raises(InvalidToken):
        async with Bot(fake_api.bad_token, base_url=fake_api.base_url):
            pass


async def test_faults_answer_as_scripted_then_stop(bot: Bot, fake_api: FakeBotApi) -> None:
    """A fault hits the matching calls ``times`` times, then calls succeed again."""
    fake_api.add_fault(Fault.flood(7, method="sendMessage"))
    fake_api.add_fault(Fault.blocked(chat_id=CHAT + 1, times=None))
    with pytest.raises(RetryAfter):
        await bot.send_message(CHAT, "x")
    await bot.send_message(CHAT, "x")
    for _ in range(2):
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(CHAT + 1, "x")
    fake_api.add_fault(Fault.server_error(502))
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(CHAT, "x")
    assert [c.status for c in fake_api.calls("sendMessage")] == [429, 200, 403, 403, 502]
    fake_api.clear_faults()
    await bot.send_message(CHAT + 1, "x")


async def test_json_and_form_bodies_are_both_understood(fake_api: FakeBotApi) -> None:
    """A JSON body and a form body reach the same method with typed parameters."""
    base = f"{fake_api.base_url}{fake_api.token}/sendMessage"

    def post(body: bytes, content_type: str) -> dict[str, object]:
        request = urllib.request.Request(
            base, data=body, headers={"Content-Type": content_type}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            answer: dict[str, object] = json.loads(response.read())
            return answer

    markup = json.dumps({"inline_keyboard": [[{"text": "A", "callback_data": "a:1"}]]})
    as_json = await asyncio.to_thread(
        post,
        json.dumps({"chat_id": CHAT, "text": "123", "reply_markup": json.loads(markup)}).encode(),
        "application/json",
    )
    as_form = await asyncio.to_thread(
        post,
        f"chat_id={CHAT}&text=123&reply_markup={urllib.parse.quote(markup)}".encode(),
        "application/x-www-form-urlencoded",
    )
    assert as_json["ok"] is True and as_form["ok"] is True
    first, second = fake_api.calls("sendMessage")
    assert first.params == second.params
    assert second.params["text"] == "123" and second.chat_id == CHAT
    assert second.buttons == [("A", "a:1")]


async def test_unknown_method_is_not_found(fake_api: FakeBotApi) -> None:
    """Methods the fake does not implement answer 404 like a wrong endpoint."""
    url = f"{fake_api.base_url}{fake_api.token}/sendPoll"

    def get() -> int:
        try:
            urllib.request.urlopen(url, timeout=5)
        except urllib.error.HTTPError as exc:
            return exc.code
        return 200

    assert await asyncio.to_thread(get) == 404


async def test_wait_for_is_bounded(fake_api: FakeBotApi) -> None:
    """wait_for and wait_for_async give up with TimeoutError after their timeout."""
    with pytest.raises(TimeoutError, match="not met"):
        fake_api.wait_for(lambda: fake_api.calls("sendMessage"), timeout=0.1)
    with pytest.raises(TimeoutError):
        await fake_api.wait_for_async(lambda: fake_api.calls("sendMessage"), timeout=0.1)


def test_stop_ends_a_long_poll_at_once() -> None:
    """Stopping the server releases a long poll instead of holding the test for its timeout."""
    api = FakeBotApi().start()
    url = f"{api.base_url}{api.token}/getUpdates?timeout=30"
    result: list[float] = []

    def poll() -> None:
        started = time.monotonic()
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=10).read()
        result.append(time.monotonic() - started)

    thread = threading.Thread(target=poll)
    thread.start()
    api.wait_for(lambda: True, timeout=0.1)
    time.sleep(0.2)
    api.stop()
    thread.join(timeout=5)
    assert result and result[0] < 3
