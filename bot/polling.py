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
  ``scheduler.store.inbox``), and marks each done when its handlers have finished (a handler
  that ran ``Companion.handling`` marked it already, in its own transaction). Fetching goes on
  meanwhile, so a chat's update queued at Telegram behind another chat's flood is stored, and
  handled in its turn, within a few updates. Whatever a crash left pending simply takes its turn
  with the rest; one that crashed the process ``MAX_ATTEMPTS`` times is abandoned.

A processed update is never handled again, whatever its handler did (an exception goes to the
error handlers, and the update is done all the same; one replayed after a crash that came
between its handler's commit and this mark finds it handled and changes nothing). Replies are
not sent here: they are rows of the deliveries table, committed with the update's change and
sent, and retried, by the dispatcher, so no update waits on Telegram taking its reply. Network
errors and Telegram 5xx on ``getUpdates`` back off with jitter and recover without a restart; a
``Conflict`` means another process polls with this token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.context import AnyApplication
from scheduler.store.db import Database
from scheduler.store.inbox import MAX_ATTEMPTS, Inbox, InboxItem, Incoming

_LOGGER = logging.getLogger(__name__)

POLL_TIMEOUT = 10  # seconds Telegram holds a getUpdates open when there is nothing new
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
CONFLICT_BACKOFF = 10.0  # another instance answers in its own time; don't race it
PRUNE_EVERY = 500  # answered getUpdates between prunes of old handled ids
PENDING_BATCH = 100  # stored updates read at a time (read again as soon as more arrive)


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
        """Handle every stored update, in the inbox's fair order; returns how many ran."""
        ran = 0
        queue: deque[InboxItem] = deque()
        read_as: int | None = None
        while not self._halted(stop):
            if not queue or read_as != self._stored:
                # New arrivals may go before what was read (another chat's turn may come first).
                read_as = self._stored
                queue = deque(self.inbox.pending(PENDING_BATCH))
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
            await self._handle(item)
            ran += 1
            # Handlers rarely wait on anything now (their replies are queued, not sent): let
            # fetching run between updates, so a flood cannot starve it.
            await asyncio.sleep(0)
        return ran

    def _halted(self, stop: asyncio.Event | None) -> bool:
        fetching = self._fetching
        return (stop is not None and stop.is_set()) or (fetching is not None and fetching.done())

    async def _wait_for_work(self, stop: asyncio.Event, fetching: asyncio.Future[None]) -> None:
        """Until something new is stored, or the loop must end."""
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._arrived.wait())}
        either: set[asyncio.Future[Any]] = {*waits, fetching}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _handle(self, item: InboxItem) -> None:
        """Run one stored update and mark it done (abandoned if unreadable)."""
        update_id = item.update_id
        self.inbox.begin(update_id)
        try:
            update = Update.de_json(json.loads(item.payload), self.application.bot)
        except Exception as exc:  # unreadable: retrying cannot help
            _LOGGER.error("update %d unreadable (%s); abandoned", update_id, type(exc).__name__)
            self.inbox.abandon(update_id, self.now())
            return
        scrubs = self.db.scrubs
        try:
            # Handler errors go to the error handlers inside; this raises only for PTB's own.
            await self.application.process_update(update)
        except Exception as exc:
            _LOGGER.error("update %d: processing raised %s", update_id, type(exc).__name__)
        self.inbox.mark_done(update_id, self.now())
        self.handled += 1
        if self.db.scrubs != scrubs:
            # The handler erased data (/forget), and this update's own stored copy went just now.
            self.db.scrub()

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
