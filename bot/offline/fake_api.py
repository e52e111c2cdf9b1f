"""A fake Telegram Bot API served over real HTTP on 127.0.0.1, for the offline demo and the tests.

The bot under test keeps its whole PTB stack (httpx, request encoding, error mapping, polling);
only the far end of the wire is ours. That catches what a mocked ``Bot`` would not: wrong
parameter encoding, HTML Telegram would refuse, callback data over 64 bytes, a missing
``bot_command`` entity.

Point a bot at it with ``base_url=api.base_url`` (in-process) or
``TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT/bot`` (a subprocess). Stdlib only, so the demo needs
nothing beyond the bot's own dependencies.

Everything the bot calls is recorded as a :class:`Call`; tests read them with :meth:`calls`,
:meth:`sent_to` and :meth:`wait_for`. People are simulated with :meth:`add_text`,
:meth:`add_callback` and :meth:`add_my_chat_member`, which queue realistic ``Update`` JSON for
``getUpdates``; the ``make_*`` twins build the same JSON without queueing it, for tests that feed
``Application.process_update`` directly. Faults (flood control, blocked, chat not found, server
errors, slowness, dropped connections) are scripted with :meth:`add_fault`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.parser
import email.policy
import html.parser
import itertools
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit

JSON = dict[str, Any]
T = TypeVar("T")

DEFAULT_BOT_ID = 7000000001
GROUP_MEMBER_ID = 4242  # who speaks in a group or adds the bot to one, unless a test says
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
# Methods whose successful call puts something in a chat a person reads.
REPLY_METHODS = frozenset(
    {"sendMessage", "sendDocument", "editMessageText", "editMessageReplyMarkup"}
)
# Form values are strings; these stay strings, everything else is decoded as JSON when it parses
# (PTB sends numbers, booleans and objects JSON-encoded inside form fields).
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "description",
        "short_description",
        "name",
        "language_code",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "file_id",
        "secret_token",
    }
)
# What Telegram's HTML parse mode accepts; anything else is a 400 "can't parse entities".
_ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)


class ApiError(Exception):
    """An error answer: the HTTP status and Telegram's description, as the real API sends them."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request: recorded, never stored."""

    field: str
    filename: str
    size: int
    content_type: str


@dataclass(frozen=True)
class Call:
    """One request the bot made, with what the fake answered."""

    method: str
    params: JSON
    chat_id: int | str | None
    at: float  # time.monotonic() when the request arrived
    status: int  # the HTTP status answered; 200 unless a fault or a validation said otherwise
    files: tuple[Upload, ...] = ()
    result: Any = None  # the "result" of a successful answer (a Message dict for sends)
    description: str = ""  # the error description of a failed answer

    @property
    def ok(self) -> bool:
        return self.status == HTTPStatus.OK

    @property
    def text(self) -> str | None:
        """The text or caption as the bot sent it (HTML, tags included)."""
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    @property
    def plain_text(self) -> str | None:
        """The text as the person reads it: HTML tags stripped and entities decoded."""
        text = self.text
        if text is None:
            return None
        if str(self.params.get("parse_mode", "")).upper() != "HTML":
            return text
        try:
            return _check_html(text)
        except ApiError:
            return text

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """Inline buttons row by row, flattened: (label, callback_data or url)."""
        return _buttons(self.params.get("reply_markup"))


@dataclass
class Fault:
    """A scripted misbehaviour for calls matching ``method`` and ``chat_id`` (None: any).

    ``status`` None answers normally after ``delay`` seconds; ``disconnect`` closes the
    connection without answering. ``times`` is how many matching calls it affects (None: all);
    ``until`` (a ``time.monotonic()`` instant, see :meth:`lasting`) ends it at a moment instead.
    """

    status: int | None = None
    description: str = ""
    retry_after: int | None = None
    delay: float = 0.0
    disconnect: bool = False
    method: str | None = None
    chat_id: int | str | None = None
    times: int | None = 1
    hits: int = 0
    until: float | None = None

    def matches(self, method: str, chat_id: int | str | None) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.until is not None and time.monotonic() >= self.until:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id

    @classmethod
    def flood(
        cls,
        retry_after: int = 5,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        return cls(
            status=429,
            description=f"Too Many Requests: retry after {retry_after}",
            retry_after=retry_after,
            method=method,
            chat_id=chat_id,
            times=times,
        )

    @classmethod
    def blocked(
        cls, *, method: str | None = None, chat_id: int | None = None, times: int | None = 1
    ) -> Fault:
        return cls(
            status=403,
            description="Forbidden: bot was blocked by the user",
            method=method,
            chat_id=chat_id,
            times=times,
        )

    @classmethod
    def chat_not_found(
        cls, *, method: str | None = None, chat_id: int | None = None, times: int | None = 1
    ) -> Fault:
        return cls.bad_request("chat not found", method=method, chat_id=chat_id, times=times)

    @classmethod
    def bad_request(
        cls,
        description: str,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        return cls(
            status=400,
            description=f"Bad Request: {description}",
            method=method,
            chat_id=chat_id,
            times=times,
        )

    @classmethod
    def server_error(
        cls,
        status: int = 502,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        return cls(
            status=status,
            description=HTTPStatus(status).phrase,
            method=method,
            chat_id=chat_id,
            times=times,
        )

    @classmethod
    def slow(
        cls,
        seconds: float,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        return cls(delay=seconds, method=method, chat_id=chat_id, times=times)

    def lasting(self, seconds: float) -> Fault:
        """Affect every matching call for the next ``seconds`` (a storm), then none."""
        self.times = None
        self.until = time.monotonic() + seconds
        return self

    @property
    def active(self) -> bool:
        """Still affecting calls (neither used up nor over)."""
        if self.times is not None and self.hits >= self.times:
            return False
        return self.until is None or time.monotonic() < self.until

    @classmethod
    def conflict(cls, *, times: int | None = 1) -> Fault:
        """Another process is polling with the same token (Telegram answers 409)."""
        return cls(
            status=409,
            description="Conflict: terminated by other getUpdates request; make sure that only "
            "one bot instance is running",
            method="getUpdates",
            times=times,
        )

    @classmethod
    def unauthorized(cls, *, method: str | None = None, times: int | None = 1) -> Fault:
        """The token was revoked (Telegram answers 401 to everything)."""
        return cls(status=401, description="Unauthorized", method=method, times=times)

    @classmethod
    def dropped(
        cls, *, method: str | None = None, chat_id: int | None = None, times: int | None = 1
    ) -> Fault:
        return cls(disconnect=True, method=method, chat_id=chat_id, times=times)


class FakeBotApi:
    """The fake server. Thread-safe: HTTP handlers run in threads, tests read from any thread."""

    def __init__(
        self,
        *,
        bad_token: str | None = None,
        bot_id: int = DEFAULT_BOT_ID,
        bot_username: str = "session_companion_bot",
        now: Callable[[], float] = time.time,
    ) -> None:
        self.bad_token = bad_token
        self.bot_user: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Session Companion",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._now = now
        self._cond = threading.Condition(threading.RLock())
        self._calls: list[Call] = []
        self._updates: list[JSON] = []  # queued, not yet confirmed by an offset
        self._update_ids = itertools.count(100_000)
        self._callback_ids = itertools.count(1)
        self._next_message_id: dict[int | str, int] = {}
        self._messages: dict[tuple[int | str, int], JSON] = {}  # the bot's messages, as edited
        self._chats: dict[int | str, JSON] = {}
        self._faults: list[Fault] = []
        self._allowed_updates: list[str] | None = None
        self.commands: list[JSON] = []  # from setMyCommands, default scope
        self.webhook: JSON | None = None  # setWebhook's parameters, until deleteWebhook
        self.left_chats: list[int | str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._waiting_polls = 0
        self._polls_started = 0
        self._last_port = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, port: int = 0) -> Self:
        """Serve on 127.0.0.1 at ``port`` (0: any free one)."""
        server = _Server(("127.0.0.1", port), _Handler)
        server.api = self
        self._server = server
        self._stopping = False
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; long polls return at once and open connections are cut."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        server = self._server
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def down(self) -> int:
        """Stop serving, as a server outage: connections are refused until :meth:`up`. Returns
        the port; queued updates, recorded calls and faults are kept."""
        port = self.port
        self._last_port = port
        self.stop()
        return port

    def up(self) -> Self:
        """Serve again on the port :meth:`down` gave up (same ``base_url``)."""
        port = self._last_port
        # A previous server's socket may linger a moment; SO_REUSEADDR covers TIME_WAIT only.
        deadline = time.monotonic() + 5.0
        while True:
            try:
                return self.start(port)
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port served on; while :meth:`down`, the one it will serve on again."""
        if self._server is None:
            if self._last_port:
                return self._last_port
            raise RuntimeError("FakeBotApi is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What ``TELEGRAM_API_BASE_URL`` / ``ApplicationBuilder.base_url`` should be."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def token(self) -> str:
        """A well-formed token for this fake's bot (any token except ``bad_token`` works)."""
        return f"{self.bot_user['id']}:FAKE-token-for-tests-0123456789abcdef"

    # -- reading what the bot did --------------------------------------------------------------

    def calls(self, method: str | None = None, *, since: int = 0) -> list[Call]:
        """Every call in the order answered (from index ``since``, see :meth:`mark`); a long
        poll is recorded when it returns. ``Call.at`` is when a request arrived."""
        with self._cond:
            return [c for c in self._calls[since:] if method is None or c.method == method]

    def mark(self) -> int:
        """A position in the call log, for ``calls(since=...)`` and ``sent_to(since=...)``."""
        with self._cond:
            return len(self._calls)

    def sent_to(self, chat_id: int | str, *, since: int = 0) -> list[Call]:
        """Successful sends and edits the person in ``chat_id`` sees, in order."""
        return [
            c
            for c in self.calls(since=since)
            if c.ok and c.method in REPLY_METHODS and c.chat_id == chat_id
        ]

    def texts_to(self, chat_id: int | str, *, since: int = 0) -> list[str]:
        """What the person read, tags stripped: messages, captions and edited texts."""
        return [c.plain_text for c in self.sent_to(chat_id, since=since) if c.plain_text]

    def message(self, chat_id: int | str, message_id: int) -> JSON | None:
        """The bot's message as it stands now (after edits), or None."""
        with self._cond:
            found = self._messages.get((chat_id, message_id))
            return None if found is None else copy.deepcopy(found)

    def pending_updates(self) -> list[JSON]:
        """Queued updates the bot has not confirmed yet."""
        with self._cond:
            return list(self._updates)

    @property
    def waiting_polls(self) -> int:
        """How many getUpdates long polls are open right now (a polling bot has one)."""
        with self._cond:
            return self._waiting_polls

    @property
    def polls_started(self) -> int:
        """How many getUpdates requests have arrived (counted on arrival, unlike :meth:`calls`,
        which records a long poll when it returns). A restarted bot polls when this grows."""
        with self._cond:
            return self._polls_started

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Block until ``predicate()`` is truthy and return it; TimeoutError after ``timeout``.

        For a bot in another thread or process. A bot on the caller's event loop needs
        :meth:`wait_for_async`, or it never gets to run.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(timeout))
                self._cond.wait(min(remaining, 0.25))

    async def wait_for_async(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Like :meth:`wait_for`, yielding to the event loop between checks."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_message(timeout))
            await asyncio.sleep(0.01)

    def _timeout_message(self, timeout: float) -> str:
        recent = ", ".join(f"{c.method}({c.chat_id})->{c.status}" for c in self.calls()[-8:])
        return f"fake Bot API: condition not met within {timeout}s; last calls: [{recent}]"

    # -- simulating people ---------------------------------------------------------------------

    def make_text(
        self,
        chat_id: int,
        text: str,
        *,
        user: JSON | None = None,
        chat_type: str = "private",
    ) -> JSON:
        """An Update with a message from a person; a leading ``/word`` is a bot command."""
        chat = self._chat(chat_id, chat_type, user)
        sender = user or _default_user(chat_id if chat_type == "private" else GROUP_MEMBER_ID)
        message: JSON = {
            "message_id": self._new_message_id(chat_id),
            "date": int(self._now()),
            "chat": chat,
            "text": text,
        }
        if chat_type == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = sender
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        key = "channel_post" if chat_type == "channel" else "message"
        return {"update_id": next(self._update_ids), key: message}

    def make_callback(
        self,
        chat_id: int,
        data: str,
        message_id: int | None = None,
        *,
        user: JSON | None = None,
    ) -> JSON:
        """An Update for a press on an inline button of the bot's message ``message_id``.

        Without ``message_id``, the latest bot message in the chat with a button carrying
        ``data`` is used.
        """
        with self._cond:
            if message_id is None:
                message_id = self._message_with_button(chat_id, data)
            message = self._messages.get((chat_id, message_id))
            if message is None:
                message = {
                    "message_id": message_id,
                    "date": int(self._now()),
                    "chat": self._chat(chat_id, "private", user),
                    "from": self.bot_user,
                    "text": "(a message sent before this fake started)",
                }
            message = copy.deepcopy(message)
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": str(next(self._callback_ids)),
                "from": user or _default_user(chat_id),
                "chat_instance": f"ci{chat_id}",
                "message": message,
                "data": data,
            },
        }

    def make_my_chat_member(
        self,
        chat_id: int,
        *,
        chat_type: str = "group",
        new_status: str = "member",
        old_status: str = "left",
        user: JSON | None = None,
    ) -> JSON:
        """An Update saying the bot's membership in a chat changed (added to a group, blocked)."""
        chat = self._chat(chat_id, chat_type, user)
        return {
            "update_id": next(self._update_ids),
            "my_chat_member": {
                "chat": chat,
                "from": user
                or _default_user(chat_id if chat_type == "private" else GROUP_MEMBER_ID),
                "date": int(self._now()),
                "old_chat_member": _member(self.bot_user, old_status),
                "new_chat_member": _member(self.bot_user, new_status),
            },
        }

    def add_update(self, update: JSON) -> JSON:
        """Queue an Update for ``getUpdates``; an ``update_id`` is assigned when missing."""
        with self._cond:
            update.setdefault("update_id", next(self._update_ids))
            self._updates.append(update)
            self._cond.notify_all()
        return update

    def add_text(
        self,
        chat_id: int,
        text: str,
        *,
        user: JSON | None = None,
        chat_type: str = "private",
    ) -> JSON:
        return self.add_update(self.make_text(chat_id, text, user=user, chat_type=chat_type))

    def add_callback(
        self,
        chat_id: int,
        data: str,
        message_id: int | None = None,
        *,
        user: JSON | None = None,
    ) -> JSON:
        return self.add_update(self.make_callback(chat_id, data, message_id, user=user))

    def add_my_chat_member(
        self,
        chat_id: int,
        *,
        chat_type: str = "group",
        new_status: str = "member",
        old_status: str = "left",
        user: JSON | None = None,
    ) -> JSON:
        return self.add_update(
            self.make_my_chat_member(
                chat_id,
                chat_type=chat_type,
                new_status=new_status,
                old_status=old_status,
                user=user,
            )
        )

    # -- faults --------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        """Script a misbehaviour; faults are tried in the order added, first match wins."""
        with self._cond:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    def _take_fault(self, method: str, chat_id: int | str | None) -> Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.matches(method, chat_id):
                    fault.hits += 1
                    return fault
        return None

    # -- serving -------------------------------------------------------------------------------

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    def handle(self, token: str, method: str, params: JSON, files: tuple[Upload, ...]) -> Call:
        """Answer one request (after faults): the Call to record, result or error included."""
        chat_id = _chat_id(params.get("chat_id"))
        at = time.monotonic()
        try:
            if self.bad_token is not None and token == self.bad_token:
                raise ApiError(401, "Unauthorized")
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            result = handler(params, files)
        except ApiError as exc:
            return Call(method, params, chat_id, at, exc.status, files, None, exc.description)
        return Call(method, params, chat_id, at, HTTPStatus.OK, files, result)

    def _api_getMe(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        return self.bot_user

    def _api_deleteWebhook(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        with self._cond:
            self.webhook = None
        return True

    def _api_setWebhook(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        url = params.get("url")
        if not isinstance(url, str) or not url:
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        with self._cond:
            self.webhook = dict(params)
        return True

    def _api_getWebhookInfo(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        with self._cond:
            url = self.webhook["url"] if self.webhook else ""
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

    def _api_close(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        return True

    def _api_logOut(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        return True

    def _api_setMyCommands(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands must be an array")
        if params.get("scope") in (None, {"type": "default"}) and not params.get("language_code"):
            with self._cond:
                self.commands = commands
        return True

    def _api_getMyCommands(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        with self._cond:
            return list(self.commands)

    def _api_deleteMyCommands(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        with self._cond:
            self.commands = []
        return True

    def _api_getUpdates(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active;"
                " use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates")
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiting_polls += 1
            self._polls_started += 1
            try:
                return self._poll(offset, limit, allowed, deadline)
            finally:
                self._waiting_polls -= 1
                self._cond.notify_all()

    def _poll(self, offset: int, limit: int, allowed: Any, deadline: float) -> list[JSON]:
        with self._cond:
            if isinstance(allowed, list):
                # Telegram keeps the last allowed_updates for later calls without one.
                self._allowed_updates = allowed or None
            while True:
                if offset > 0:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                elif offset < 0:
                    self._updates = self._updates[offset:]
                ready = [u for u in self._updates if self._is_allowed(u)][:limit]
                remaining = deadline - time.monotonic()
                if ready or self._stopping or remaining <= 0:
                    return ready
                self._cond.wait(min(remaining, 0.5))

    def _is_allowed(self, update: JSON) -> bool:
        if self._allowed_updates is None:
            # Telegram's default leaves out chat_member, message_reaction(_count).
            return not any(
                k in update for k in ("chat_member", "message_reaction", "message_reaction_count")
            )
        return any(kind in update for kind in self._allowed_updates)

    def _api_sendMessage(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        chat_id = _require_chat(params)
        text = _check_text(params, "text", MAX_TEXT_LENGTH, "message is too long")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        _check_markup(params.get("reply_markup"))
        message = self._bot_message(chat_id, params)
        message["text"] = text
        return self._store(message)

    def _api_sendDocument(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        chat_id = _require_chat(params)
        document = next((f for f in files if f.field == "document"), None)
        message = self._bot_message(chat_id, params)
        if document is not None:
            message["document"] = {
                "file_id": f"doc{message['message_id']}",
                "file_unique_id": f"udoc{message['message_id']}",
                "file_name": document.filename,
                "mime_type": document.content_type,
                "file_size": document.size,
            }
        elif isinstance(params.get("document"), str):
            message["document"] = {
                "file_id": params["document"],
                "file_unique_id": params["document"],
            }
        else:
            raise ApiError(400, "Bad Request: there is no document in the request")
        if "caption" in params:
            message["caption"] = _check_text(
                params, "caption", MAX_CAPTION_LENGTH, "message caption is too long"
            )
        _check_markup(params.get("reply_markup"))
        return self._store(message)

    def _api_editMessageText(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        text = _check_text(params, "text", MAX_TEXT_LENGTH, "MESSAGE_TOO_LONG")
        _check_markup(params.get("reply_markup"))
        with self._cond:
            message = self._editable(params)
            markup = params.get("reply_markup")
            if message.get("text") == text and message.get("reply_markup") == markup:
                raise ApiError(
                    400,
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message",
                )
            message["text"] = text
            _set_markup(message, markup)
            message["edit_date"] = int(self._now())
            return copy.deepcopy(message)

    def _api_editMessageReplyMarkup(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        _check_markup(params.get("reply_markup"))
        with self._cond:
            message = self._editable(params)
            markup = params.get("reply_markup")
            if message.get("reply_markup") == markup or (
                markup is None and "reply_markup" not in message
            ):
                raise ApiError(
                    400,
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message",
                )
            _set_markup(message, markup)
            message["edit_date"] = int(self._now())
            return copy.deepcopy(message)

    def _api_answerCallbackQuery(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        if not params.get("callback_query_id"):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        return True

    def _api_leaveChat(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        chat_id = _require_chat(params)
        with self._cond:
            self.left_chats.append(chat_id)
        return True

    def _api_getChat(self, params: JSON, files: tuple[Upload, ...]) -> Any:
        chat_id = _require_chat(params)
        chat = dict(self._chat(chat_id, "private" if _is_user_id(chat_id) else "group", None))
        chat.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return chat

    def _bot_message(self, chat_id: int | str, params: JSON) -> JSON:
        message: JSON = {
            "message_id": self._new_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat(chat_id, "private" if _is_user_id(chat_id) else "group", None),
            "date": int(self._now()),
        }
        if params.get("protect_content"):
            message["has_protected_content"] = True
        _set_markup(message, params.get("reply_markup"))
        return message

    def _store(self, message: JSON) -> JSON:
        with self._cond:
            self._messages[(message["chat"]["id"], message["message_id"])] = message
            return copy.deepcopy(message)

    def _editable(self, params: JSON) -> JSON:
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: inline messages are not supported by this fake")
        chat_id = _require_chat(params)
        message = self._messages.get((chat_id, int(params.get("message_id") or 0)))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def _new_message_id(self, chat_id: int | str) -> int:
        with self._cond:
            next_id = self._next_message_id.get(chat_id, 1)
            self._next_message_id[chat_id] = next_id + 1
            return next_id

    def _chat(self, chat_id: int | str, chat_type: str, user: JSON | None) -> JSON:
        with self._cond:
            known = self._chats.get(chat_id)
            if known is not None:
                return dict(known)
            chat: JSON = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = (user or {}).get("first_name", "Test")
            else:
                chat["title"] = f"Test {chat_type}"
            self._chats[chat_id] = chat
            return dict(chat)

    def _message_with_button(self, chat_id: int, data: str) -> int:
        for (chat, message_id), message in reversed(self._messages.items()):
            if chat == chat_id and any(
                value == data for _, value in _buttons(message.get("reply_markup"))
            ):
                return message_id
        raise LookupError(f"no bot message in chat {chat_id} has a button with data {data!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeBotApi

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a cancelled long poll at shutdown) is normal, not an error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Cut keep-alive connections so their handler threads end with the server."""
        with self._open_lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects from a Bot API server
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms a request), which made every test and benchmark slow for nothing.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry the token."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        api = self.server.api
        url = urlsplit(self.path)
        body = self._read_body()
        parts = url.path.split("/")
        # /bot<token>/<method>; the file endpoint (/file/bot<token>/...) has nothing to serve.
        if len(parts) != 3 or not parts[1].startswith("bot") or not parts[2]:
            self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, method = parts[1][3:], parts[2]
        try:
            params, files = _parse_params(url.query, self.headers.get("Content-Type", ""), body)
        except ValueError as exc:
            description = f"Bad Request: {exc}"
            self._answer(400, {"ok": False, "error_code": 400, "description": description})
            return
        chat_id = _chat_id(params.get("chat_id"))
        fault = api._take_fault(method, chat_id)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.disconnect:
            api._record(Call(method, params, chat_id, time.monotonic(), 0, files))
            self.close_connection = True
            return
        if fault is not None and fault.status is not None:
            api._record(
                Call(
                    method,
                    params,
                    chat_id,
                    time.monotonic(),
                    fault.status,
                    files,
                    None,
                    fault.description,
                )
            )
            answer: JSON = {
                "ok": False,
                "error_code": fault.status,
                "description": fault.description,
            }
            if fault.retry_after is not None:
                answer["parameters"] = {"retry_after": fault.retry_after}
            self._answer(fault.status, answer)
            return
        call = api.handle(token, method, params, files)
        api._record(call)
        if call.ok:
            self._answer(200, {"ok": True, "result": call.result})
        else:
            self._answer(
                call.status,
                {"ok": False, "error_code": call.status, "description": call.description},
            )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, payload: JSON) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _parse_params(query: str, content_type: str, body: bytes) -> tuple[JSON, tuple[Upload, ...]]:
    params: JSON = {k: _decode(k, v) for k, v in parse_qsl(query)}
    files: list[Upload] = []
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        pass
    elif kind == "application/json":
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("request body must be a JSON object")
        params.update(data)
    elif kind == "application/x-www-form-urlencoded":
        params.update({k: _decode(k, v) for k, v in parse_qsl(body.decode())})
    elif kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(name, str) or not isinstance(payload, bytes):
                continue
            filename = part.get_filename()
            if filename is not None:
                files.append(Upload(name, filename, len(payload), part.get_content_type()))
            else:
                params[name] = _decode(name, payload.decode())
    else:
        raise ValueError(f"unsupported content type {kind!r}")
    return params, tuple(files)


def _decode(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _chat_id(value: Any) -> int | str | None:
    if value is None or isinstance(value, int):
        return value
    text = str(value)
    try:
        return int(text)
    except ValueError:
        return text


def _require_chat(params: JSON) -> int | str:
    chat_id = _chat_id(params.get("chat_id"))
    if chat_id is None or chat_id == "":
        raise ApiError(400, "Bad Request: chat_id is empty")
    return chat_id


def _is_user_id(chat_id: int | str) -> bool:
    return isinstance(chat_id, int) and chat_id > 0


def _default_user(user_id: int) -> JSON:
    return {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": "en"}


def _member(user: JSON, status: str) -> JSON:
    member: JSON = {"user": user, "status": status}
    if status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=False,
            can_manage_video_chats=False,
            can_restrict_members=False,
            can_promote_members=False,
            can_change_info=False,
            can_invite_users=False,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
        )
    elif status == "kicked":
        member["until_date"] = 0
    elif status == "restricted":
        raise ValueError("restricted bot membership is not simulated")
    return member


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _buttons(markup: Any) -> list[tuple[str, str]]:
    if not isinstance(markup, dict):
        return []
    found = []
    for row in markup.get("inline_keyboard", []):
        for button in row:
            value = button.get("callback_data", button.get("url", ""))
            found.append((str(button.get("text", "")), str(value)))
    return found


def _set_markup(message: JSON, markup: Any) -> None:
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)


def _check_text(params: JSON, key: str, limit: int, too_long: str) -> str:
    raw = params.get(key)
    if raw is None:
        raise ApiError(400, f"Bad Request: {key} is empty")
    text = str(raw)
    if str(params.get("parse_mode", "")).upper() == "HTML":
        text = _check_html(text)
    if _utf16_len(text) > limit:
        raise ApiError(400, f"Bad Request: {too_long}")
    return text


def _check_markup(markup: Any) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if not button.get("text"):
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )


def _check_html(text: str) -> str:
    """Validate Telegram-flavoured HTML the way the API does; return the text a person reads."""
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    if parser.error is None and parser.open_tags:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.open_tags[-1]}"'
    if parser.error is not None:
        raise ApiError(400, f"Bad Request: can't parse entities: {parser.error}")
    return "".join(parser.text)


class _TelegramHtml(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.open_tags: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.error is None and tag not in _ALLOWED_TAGS:
            self.error = f'Unsupported start tag "{tag}"'
        self.open_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.error is not None:
            return
        if not self.open_tags or self.open_tags[-1] != tag:
            self.error = f'Unmatched end tag "{tag}"'
            return
        self.open_tags.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
