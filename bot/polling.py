"""Long polling through the inbox, so no update Telegram was told we have is ever lost.

PTB's ``Updater`` confirms updates (asks for the ones after them) as soon as they are queued in
memory, before any handler ran: a SIGKILL then loses them. Here two loops share the inbox:

- **fetching**: ``getUpdates``, store the batch in the ``inbox`` table (one transaction), and
  only then confirm it: the next ``getUpdates`` carries ``offset = max(batch ids) + 1``. Once
  that request is answered the batch is confirmed, and later requests carry no offset at all
  (Telegram then returns its oldest unconfirmed update, whatever its id). So the offset comes
  from what this process fetched, never from ids stored earlier: at start-up the first request
  has no offset, and updates stored before a crash but never confirmed come again and are
  dropped as copies by ``update_id``. This is what survives Telegram restarting ``update_id``
  at a lower, random number after a week without updates, and a token change on the same
  database (new ids that may be lower than every stored one): an offset taken from the highest
  stored id would confirm, that is delete, such updates unseen.
- **handling**: hands stored updates to ``Application.process_update`` one at a time, in the
  inbox's fair order (round-robin across chats, each chat's own in arrival order: see
  ``scheduler.store.inbox``), and marks each done when its handlers have finished (their own
  transactions already committed). Fetching goes on meanwhile, so a chat's update queued at
  Telegram behind another chat's flood is stored, and handled in its turn, within a few updates.
  Whatever a crash left pending simply takes its turn with the rest.

A crash after a handler's commit but before "done" replays that update once: handlers must be
idempotent (a second ``/add`` of the same session is refused as a duplicate). A processed update
is never handled again. Network errors and Telegram 5xx back off with jitter and recover without
a restart; a ``Conflict`` means another process polls with this token.

A handler whose reply failed for a transient reason (network, 5xx, timeout, flood control) is
not done either (``ReplyRetries``): the update stays first in its chat's line and runs again
after a back-off, so a command sent during an outage is answered after it (twice at worst, never
not at all). Only that chat waits; other chats go on. Only failures while Telegram is otherwise
reachable (``getUpdates`` answers) count towards ``MAX_TRANSIENT_RETRIES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.error import (
    BadRequest,
    Conflict,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.context import AnyApplication, BotContext
from scheduler.store.db import Database
from scheduler.store.inbox import MAX_ATTEMPTS, Inbox, InboxItem, Incoming

_LOGGER = logging.getLogger(__name__)

POLL_TIMEOUT = 10  # seconds Telegram holds a getUpdates open when there is nothing new
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
CONFLICT_BACKOFF = 10.0  # another instance answers in its own time; don't race it
PRUNE_EVERY = 500  # answered getUpdates between prunes of old handled ids
PENDING_BATCH = 100  # stored updates read at a time (read again as soon as more arrive)
# Tries of one update whose handler kept failing transiently while getUpdates worked: past
# this it is no outage but something about this update (a file Telegram refuses, say).
MAX_TRANSIENT_RETRIES = 5


class Poller:
    """Fetching and handling over one application and its inbox: ``run(stop)`` until ``stop``.

    ``stop`` is honoured between updates, never inside a handler; the caller bounds the wait
    for the handler in progress (``bot.app`` cancels it after a few seconds, and the update,
    not marked done, is then replayed at the next start).
    """

    def __init__(
        self,
        application: AnyApplication,
        db: Database,
        *,
        now: Callable[[], datetime],
        allowed_updates: Sequence[str],
        poll_timeout: int = POLL_TIMEOUT,
        rng: random.Random | None = None,
    ) -> None:
        self.application = application
        self.db = db
        self.inbox = Inbox(db)
        self.now = now
        self.allowed_updates = list(allowed_updates)
        self.poll_timeout = poll_timeout
        self.rng = rng if rng is not None else random.Random()
        self.handled = 0  # updates handed to the application by this poller
        self._failures = 0
        self._conflicted = False
        self._batches = 0
        # The offset that confirms the last stored batch, until a getUpdates carrying it is
        # answered; None: nothing to confirm (and nothing fetched yet, at start-up).
        self._offset: int | None = None
        self._stored = 0  # batches that brought new rows (the handling loop re-reads on change)
        self._arrived = asyncio.Event()
        self._fetching: asyncio.Future[None] | None = None
        self._reachable = False  # the last getUpdates was answered
        self._answers = 0  # getUpdates answered so far
        self._current: Update | None = None  # the update being handled
        self._transient: BaseException | None = None  # what its handler hit, if transient
        self.replies = ReplyRetries(self.rng)
        application.add_error_handler(self._note_error)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and store, and handle, until ``stop``. Raises ``InvalidToken``; survives the
        rest."""
        self.inbox.prune(self.now())
        fetching = self._fetching = asyncio.ensure_future(self._fetch_loop(stop))
        try:
            while not stop.is_set() and not fetching.done():
                self._arrived.clear()
                await self.handle_pending(stop)
                await self._wait_for_work(stop, fetching)
            if fetching.done():
                fetching.result()  # InvalidToken (or a bug) surfaces here
        finally:
            self._fetching = None
            if not fetching.done():
                fetching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await fetching

    async def handle_pending(self, stop: asyncio.Event | None = None) -> int:
        """Handle every stored update that may run now, in the inbox's fair order; returns how
        many ran. A chat waiting out a failed reply is left for later, all its updates."""
        ran = 0
        queue: deque[InboxItem] = deque()
        read_as: tuple[int, frozenset[int | None]] | None = None
        while not self._halted(stop):
            held = self.replies.held()
            if not queue or read_as != (self._stored, held):
                # New arrivals may go before what was read; a held chat's later ones may not.
                read_as = (self._stored, held)
                queue = deque(self.inbox.pending(PENDING_BATCH, skip_chats=held))
                if not queue:
                    break
            item = queue.popleft()
            if item.attempts >= MAX_ATTEMPTS:
                # It was being handled when the process died, every time: a poison update.
                _LOGGER.error(
                    "update %d abandoned: its handling was cut short %d times",
                    item.update_id,
                    item.attempts,
                )
                self.inbox.abandon(item.update_id, self.now())
                continue
            if await self._handle(item):
                ran += 1
        return ran

    def _halted(self, stop: asyncio.Event | None) -> bool:
        fetching = self._fetching
        return (stop is not None and stop.is_set()) or (fetching is not None and fetching.done())

    async def _wait_for_work(self, stop: asyncio.Event, fetching: asyncio.Future[None]) -> None:
        """Until something new is stored, a waiting chat may go again, or the loop must end."""
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._arrived.wait())}
        either: set[asyncio.Future[Any]] = {*waits, fetching}
        try:
            await asyncio.wait(
                either,
                timeout=self.replies.next_release(),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for wait in waits:
                wait.cancel()

    async def _handle(self, item: InboxItem) -> bool:
        """Run one stored update; False if it stays pending (its reply failed transiently)."""
        update_id = item.update_id
        self.inbox.begin(update_id)
        try:
            update = Update.de_json(json.loads(item.payload), self.application.bot)
        except Exception as exc:  # unreadable: retrying cannot help
            _LOGGER.error("update %d unreadable (%s); abandoned", update_id, type(exc).__name__)
            self.inbox.abandon(update_id, self.now())
            return True
        scrubs = self.db.scrubs
        self._current, self._transient = update, None
        try:
            # Handler errors go to the error handlers inside; this raises only for PTB's own.
            await self.application.process_update(update)
        except Exception as exc:
            _LOGGER.error("update %d: processing raised %s", update_id, type(exc).__name__)
        finally:
            self._current = None
        if self._transient is not None:
            if self.replies.failed(
                item, self._transient, reachable=self._reachable, answers=self._answers
            ):
                self.inbox.retry(update_id)
                return False
        else:
            self.replies.succeeded(item)
        self.inbox.mark_done(update_id, self.now())
        self.handled += 1
        if self.db.scrubs != scrubs:
            # The handler erased data (/forget), and this update's own stored copy went just now.
            self.db.scrub()
        return True

    async def _note_error(self, update: object, context: BotContext) -> None:
        """An error handler that only watches: a transient error in the update being handled."""
        error = context.error
        if (
            update is not None
            and update is self._current
            and isinstance(error, NetworkError | RetryAfter)
            and not isinstance(error, BadRequest)
        ):
            self._transient = error

    async def _fetch_loop(self, stop: asyncio.Event) -> None:
        """Fetch, store, confirm, until ``stop``. Raises ``InvalidToken``; survives the rest."""
        while not stop.is_set():
            try:
                updates = await self._fetch(stop)
            except InvalidToken:
                raise
            except Conflict:
                await self._conflict(stop)
                continue
            except RetryAfter as exc:
                await self._back_off(stop, "flood control on getUpdates", floor=_seconds(exc))
                continue
            except (NetworkError, TelegramError) as exc:
                # TimedOut and 5xx arrive as NetworkError; anything else Telegram says is odd.
                await self._back_off(stop, type(exc).__name__)
                continue
            if updates is None:  # stopped while waiting
                return
            self._recovered()
            self._reachable = True
            self._answers += 1
            if updates:
                if self.inbox.store((_incoming(u) for u in updates), self.now()):
                    self._stored += 1
                    self._arrived.set()
                # Confirmed by the next request, now that they are on disk.
                self._offset = max(u.update_id for u in updates) + 1
            else:
                # The request carrying the offset was answered: that batch is confirmed, and
                # from here Telegram's oldest unconfirmed update is the next one, whatever its
                # id (ids restart lower after a week without updates).
                self._offset = None
            self._batches += 1
            if self._batches % PRUNE_EVERY == 0:
                self.inbox.prune(self.now())

    async def _fetch(self, stop: asyncio.Event) -> tuple[Update, ...] | None:
        """One long poll, abandoned at once when ``stop`` is set (nothing is confirmed by an
        unanswered request, so Telegram sends the same updates again next time)."""
        request = asyncio.ensure_future(
            self.application.bot.get_updates(
                offset=self._offset,
                timeout=self.poll_timeout,
                allowed_updates=self.allowed_updates,
            )
        )
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({request, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not request.done():
                request.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await request
        if request.cancelled():
            return None
        updates: tuple[Update, ...] = request.result()
        return updates

    async def _back_off(self, stop: asyncio.Event, why: str, floor: float = 0.0) -> None:
        self._failures += 1
        self._reachable = False
        # Full jitter: many bots (or one bot's retries) never come back in step.
        ceiling = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(self._failures - 1, 16))
        delay = max(floor, self.rng.uniform(ceiling / 2, ceiling))
        log = _LOGGER.warning if self._failures in (1, 5) or self._failures % 50 == 0 else None
        if log is not None:
            log("polling: %s (failure %d); retrying in %.1f s", why, self._failures, delay)
        await _sleep_unless(stop, delay)

    async def _conflict(self, stop: asyncio.Event) -> None:
        if not self._conflicted:
            _LOGGER.error(
                "Conflict: another instance is using this bot token (only one may poll); "
                "stop the other one or give each its own token"
            )
            self._conflicted = True
        await _sleep_unless(stop, self.rng.uniform(CONFLICT_BACKOFF / 2, CONFLICT_BACKOFF))

    def _recovered(self) -> None:
        if self._failures or self._conflicted:
            _LOGGER.info("polling: Telegram reachable again after %d failures", self._failures)
        self._failures = 0
        self._conflicted = False


class ReplyRetries:
    """Updates whose reply failed transiently, and the chats waiting for them.

    The chat of such an update waits out a back-off (Telegram's own wait, for flood control),
    then that update runs again, still first in its chat's line; every other chat goes on
    meanwhile. A failure counts towards ``MAX_TRANSIENT_RETRIES`` only when Telegram answered
    ``getUpdates`` after the previous one (it is reachable, so it is this update's fault); past
    that the update is given up (marked done). All of this goes once replies are durable
    deliveries: then a reply is retried by the dispatcher, never by re-running its update.
    """

    def __init__(self, rng: random.Random, clock: Callable[[], float] = time.monotonic) -> None:
        self._rng = rng
        self._clock = clock
        self._holds: dict[int | None, float] = {}  # chat -> clock time it may go again
        self._tries: dict[int, int] = {}  # update -> failures counted
        self._failures: dict[int, int] = {}  # update -> failures in a row, for the back-off
        self._answers: dict[int, int] = {}  # update -> getUpdates answered by its last failure

    def failed(
        self, item: InboxItem, error: BaseException, *, reachable: bool, answers: int
    ) -> bool:
        """Its reply failed transiently: True to run it again later (its chat waits until
        then), False to give up on it."""
        update_id = item.update_id
        if reachable and answers > self._answers.get(update_id, -1):
            tries = self._tries.get(update_id, 0) + 1
            if tries > MAX_TRANSIENT_RETRIES:
                _LOGGER.error(
                    "update %d: its reply failed %d times while Telegram was reachable; given up",
                    update_id,
                    tries,
                )
                self.succeeded(item)
                return False
            self._tries[update_id] = tries
        self._answers[update_id] = answers
        failures = self._failures[update_id] = self._failures.get(update_id, 0) + 1
        ceiling = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(failures - 1, 16))
        floor = _seconds(error) if isinstance(error, RetryAfter) else 0.0
        delay = max(floor, self._rng.uniform(ceiling / 2, ceiling))
        self._holds[item.chat_id] = self._clock() + delay
        if failures in (1, 5) or failures % 50 == 0:
            _LOGGER.warning(
                "update %d: reply failed (%s, failure %d); its chat waits %.1f s, others go on",
                update_id,
                type(error).__name__,
                failures,
                delay,
            )
        return True

    def succeeded(self, item: InboxItem) -> None:
        """Done with it (handled, or given up): its chat goes on."""
        for counts in (self._tries, self._failures, self._answers):
            counts.pop(item.update_id, None)
        self._holds.pop(item.chat_id, None)

    def held(self) -> frozenset[int | None]:
        """Chats waiting now (None: updates without a chat)."""
        now = self._clock()
        for chat in [c for c, until in self._holds.items() if until <= now]:
            del self._holds[chat]
        return frozenset(self._holds)

    def next_release(self) -> float | None:
        """Seconds until the first waiting chat may go again; None if none waits."""
        if not self._holds:
            return None
        return max(0.0, min(self._holds.values()) - self._clock())


def _incoming(update: Update) -> Incoming:
    chat = update.effective_chat
    return Incoming(
        update.update_id,
        None if chat is None else chat.id,
        json.dumps(update.to_dict(), ensure_ascii=False),
    )


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _seconds(exc: RetryAfter) -> float:
    # PTB 22 warns on reading retry_after as int; either type means seconds to wait.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
