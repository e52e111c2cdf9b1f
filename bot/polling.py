"""Long polling through the inbox, so no update Telegram was told we have is ever lost.

PTB's ``Updater`` confirms updates (asks for the ones after them) as soon as they are queued in
memory, before any handler ran: a SIGKILL then loses them. This loop instead:

1. ``getUpdates(offset=<highest stored id + 1>)``; that offset is what confirms earlier ones, so
   nothing is confirmed before it is on disk;
2. stores the batch in the ``inbox`` table in one transaction (``INSERT OR IGNORE`` by id);
3. hands each stored update to ``Application.process_update``, oldest first, one at a time, and
   marks it done when its handlers have finished (their own transactions already committed);
4. repeats. At start-up step 3 runs first, for whatever a crash left pending.

A crash after a handler's commit but before "done" replays that update once: handlers must be
idempotent (a second ``/add`` of the same session is refused as a duplicate). A processed update
is never handled again. Network errors and Telegram 5xx back off with jitter and recover without
a restart; a ``Conflict`` means another process polls with this token.

A handler whose reply failed for a transient reason (network, 5xx, timeout, flood control) is
not done either: the update stays first in line and runs again once Telegram answers, so a
command sent during an outage is answered after it (twice at worst, never not at all). Only
failures while Telegram is otherwise reachable count towards ``MAX_TRANSIENT_RETRIES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

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
from scheduler.store.inbox import MAX_ATTEMPTS, Inbox

_LOGGER = logging.getLogger(__name__)

POLL_TIMEOUT = 10  # seconds Telegram holds a getUpdates open when there is nothing new
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
CONFLICT_BACKOFF = 10.0  # another instance answers in its own time; don't race it
PRUNE_EVERY = 500  # batches between prunes of old handled ids
# Tries of one update whose handler kept failing transiently while getUpdates worked: past
# this it is no outage but something about this update (a file Telegram refuses, say).
MAX_TRANSIENT_RETRIES = 5


class Poller:
    """One polling loop over one application and its inbox. ``run(stop)`` until ``stop`` is set.

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
        self._current: int | None = None  # the update being handled
        self._transient: BaseException | None = None  # what its handler hit, if transient
        self._retries: dict[int, int] = {}
        self._reachable = False  # the last getUpdates was answered
        application.add_error_handler(self._note_error)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll, store, handle, until ``stop``. Raises ``InvalidToken``; survives the rest."""
        self.inbox.prune(self.now())
        while not stop.is_set():
            await self.handle_pending(stop)
            if stop.is_set():
                return
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
            if updates:
                self.inbox.store(
                    ((u.update_id, json.dumps(u.to_dict(), ensure_ascii=False)) for u in updates),
                    self.now(),
                )
            self._batches += 1
            if self._batches % PRUNE_EVERY == 0:
                self.inbox.prune(self.now())

    async def handle_pending(self, stop: asyncio.Event | None = None) -> int:
        """Handle every stored update not yet done, oldest first; returns how many ran."""
        ran = 0
        while stop is None or not stop.is_set():
            batch = self.inbox.pending(limit=100)
            if not batch:
                break
            for item in batch:
                if stop is not None and stop.is_set():
                    break
                if item.attempts >= MAX_ATTEMPTS:
                    # It was being handled when the process died, every time: a poison update.
                    _LOGGER.error(
                        "update %d abandoned: its handling was cut short %d times",
                        item.update_id,
                        item.attempts,
                    )
                    self.inbox.abandon(item.update_id, self.now())
                    continue
                if not await self._handle(item.update_id, item.payload):
                    # Telegram did not take the reply: keep the order, try again after a pause
                    # (and a getUpdates, which tells an outage from a bad update).
                    if stop is not None:
                        await self._back_off(stop, "a reply failed")
                    return ran
                ran += 1
        return ran

    async def _handle(self, update_id: int, payload: str) -> bool:
        """Run one stored update; False if it stays pending (its reply failed transiently)."""
        self.inbox.begin(update_id)
        try:
            update = Update.de_json(json.loads(payload), self.application.bot)
        except Exception as exc:  # unreadable: retrying cannot help
            _LOGGER.error("update %d unreadable (%s); abandoned", update_id, type(exc).__name__)
            self.inbox.abandon(update_id, self.now())
            return True
        scrubs = self.db.scrubs
        self._current, self._transient = update_id, None
        try:
            # Handler errors go to the error handlers inside; this raises only for PTB's own.
            await self.application.process_update(update)
        except Exception as exc:
            _LOGGER.error("update %d: processing raised %s", update_id, type(exc).__name__)
        finally:
            self._current = None
        if self._transient is not None and self._retry(update_id):
            self.inbox.retry(update_id)
            return False
        self._retries.pop(update_id, None)
        self.inbox.mark_done(update_id, self.now())
        self.handled += 1
        if self.db.scrubs != scrubs:
            # The handler erased data (/forget), and this update's own stored copy went just now.
            self.db.scrub()
        return True

    def _retry(self, update_id: int) -> bool:
        """Whether to run this update again after its handler hit a transient error."""
        if not self._reachable:
            return True  # Telegram is down: not this update's fault
        tries = self._retries.get(update_id, 0) + 1
        self._retries[update_id] = tries
        if tries > MAX_TRANSIENT_RETRIES:
            _LOGGER.error(
                "update %d: its reply failed %d times while Telegram was reachable; given up",
                update_id,
                tries,
            )
            self._retries.pop(update_id, None)
            return False
        return True

    async def _note_error(self, update: object, context: BotContext) -> None:
        """An error handler that only watches: a transient error in the update being handled."""
        error = context.error
        if (
            isinstance(update, Update)
            and update.update_id == self._current
            and isinstance(error, NetworkError | RetryAfter)
            and not isinstance(error, BadRequest)
        ):
            self._transient = error

    async def _fetch(self, stop: asyncio.Event) -> tuple[Update, ...] | None:
        """One long poll, abandoned at once when ``stop`` is set (nothing is confirmed by an
        unanswered request, so Telegram sends the same updates again next time)."""
        request = asyncio.ensure_future(
            self.application.bot.get_updates(
                offset=self.inbox.next_offset(),
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


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _seconds(exc: RetryAfter) -> float:
    # PTB 22 warns on reading retry_after as int; either type means seconds to wait.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
