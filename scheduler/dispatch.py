"""The dispatcher: claim what is due, decide, render, send, record; several chats at once.

Per row the order is claim -> send -> record, never send before the claim is committed: a crash
in between leaves a ``sending`` row that ``Deliveries.recover_in_flight`` judges at start-up,
instead of a message sent twice or silently lost. Up to ``concurrency`` rows are in flight, each
to a different chat, so a crash leaves at most that many rows in ``sending``.

Pacing is data, not sleep: after a request to a chat its not-before instant is stored
(``chat_pacing``: the spacing Telegram wants between messages to one chat, or the flood wait it
named), claiming skips chats that are not free yet, and ``next_due`` wakes the bot when one is.
The global rate (about 30 messages a second) is the bot's rate limiter's, in the request path.

Times: the run's ``now`` decides what is due; what happens after a send (a retry's due instant,
``sent_at``, the chat's next turn) counts from when the outcome arrived, read from the optional
``now_fn`` the bot passes (its clock), which also lets a long run pick up what fell due while it
ran. Without one (tests) the domain reads no clock and uses the run's ``now``.

Logs carry delivery ids, statuses and reason codes only: never text, names or session times.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from messages import Audience, Catalog

from scheduler.localtime import quiet_period_end
from scheduler.model import DeliveryStatus, Role
from scheduler.rendering import DeliveryFacts, Renderer, render_delivery
from scheduler.sending import (
    Ambiguous,
    Button,
    Failed,
    NothingSent,
    OutgoingMessage,
    RecipientGone,
    RetryLater,
    Sender,
    SendResult,
    Sent,
)
from scheduler.store.db import Database
from scheduler.store.deliveries import (
    RECOVERED,
    ClaimedDelivery,
    Deliveries,
    Held,
    RenderContext,
)
from scheduler.store.pacing import ChatPacing
from scheduler.store.people import People
from scheduler.timeline import session_key_part

log = logging.getLogger(__name__)

EXPIRED = "expired"
PAUSED = "paused"
STOPPED = "stopped"
RECIPIENT_GONE = "recipient_gone"
UNLINKED = "unlinked"
SESSION_CANCELLED = "session_cancelled"
SESSION_MOVED = "session_moved"  # claimed for the session's old time; the new plan has its own row
QUIET_HOURS = "quiet_hours"  # held until the recipient's quiet hours end, or skipped if too late
RENDER_ERROR = "render_error"
RETRIES_EXHAUSTED = "retries_exhausted"
# Planned before the operator switched the message off: in the catalog overlay (``enabled =
# false``), or an optional message turned off in the config (``checkin``, ``checklist``).
SWITCHED_OFF = "switched_off"

FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=30)
MIN_RETRY_DELAY = timedelta(seconds=1)
CHAT_INTERVAL = timedelta(seconds=1)  # Telegram: about one message a second to one chat
# Sends in flight at once: enough that the 30/s cap, not the round trip, sets the pace (16 at
# 150 ms is 100+/s), and few enough that httpcore's pool, whose bookkeeping grows with the
# connections open, stays cheap (32 cost more CPU per message than 12 in the backlog benchmark).
CONCURRENCY = 16


@dataclass(frozen=True)
class DispatchReport:
    sent: int = 0
    skipped: int = 0
    retried: int = 0  # postponed: transient errors and rows waiting behind them
    failed: int = 0
    cancelled: int = 0
    unknown: int = 0  # the request may have been delivered (no usable answer): never resent
    next_due: datetime | None = None


def backoff(attempt: int, rng: random.Random) -> timedelta:
    """30 s, 1 min, 2 min, 4 min ... for attempt 1, 2, 3, 4 ..., plus up to 20 % jitter so rows
    postponed together do not all come back together; never more than 30 min."""
    base = FIRST_BACKOFF * (1 << min(max(attempt - 1, 0), 16))
    return min(base * (1 + rng.uniform(0.0, 0.2)), MAX_BACKOFF)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        catalog: Renderer,
        sender: Sender,
        *,
        crisis_line: str | Callable[[str | None, str], str],
        clinic_contact: str | None = None,
        max_attempts: int = 6,
        rng: random.Random | None = None,
        now_fn: Callable[[], datetime] | None = None,
        switched_off: frozenset[str] = frozenset(),
        concurrency: int = CONCURRENCY,
        chat_interval: timedelta = CHAT_INTERVAL,
        admit: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``crisis_line`` is one line for everyone, or the line for a reader's (locale, zone):
        the operator's lines by language and by country. ``now_fn`` tells the time an outcome
        arrived (the bot passes its clock's ``now``); without it the run's ``now`` stands in, so
        tests need no clock. ``switched_off``: timeline messages the operator turned off (issue
        10's check-in and checklist); rows of them planned before are cancelled instead of
        sent. ``concurrency`` bounds the sends in flight (and so the rows a crash can leave
        ``sending``); ``chat_interval`` is the wait stored for a chat after each request to it.
        ``admit``, if given, is awaited before each row is claimed (the bot's global rate: a
        send slot), so a row waiting for its turn stays ``pending``, and only rows whose request
        can go at once are ``sending`` when a kill lands."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.deliveries = Deliveries(db)
        self.pacing = ChatPacing(db)
        self.people = People(db)
        self.catalog = catalog
        # Who each timeline message is written for; protection follows it, not the reader's role.
        self.audiences: dict[str, Audience] = (
            {entry.id: entry.audience for entry in catalog.timeline}
            if isinstance(catalog, Catalog)
            else {}
        )
        self.sender = sender
        self.crisis_line_for: Callable[[str | None, str], str] = (
            crisis_line if callable(crisis_line) else lambda _locale, _zone: crisis_line
        )
        self.clinic_contact = clinic_contact
        self.max_attempts = max_attempts
        self.rng = rng if rng is not None else random.Random()
        self.now_fn = now_fn
        self.switched_off = switched_off
        self.concurrency = concurrency
        self.chat_interval = chat_interval
        self.admit = admit

    def _current(self, run_now: datetime) -> datetime:
        """The instant now, never before the run's: a send can take seconds (timeouts, a 429
        backlog), and a retry's wait counts from when its answer came."""
        if self.now_fn is None:
            return run_now
        return max(run_now, self.now_fn())

    def next_due(self) -> datetime | None:
        """When to wake up next: arm one timer at exactly this instant (None: nothing pending).
        A row whose chat is still waiting counts from the end of that wait."""
        return self.deliveries.next_due()

    async def dispatch_due(self, now: datetime) -> DispatchReport:
        """Handle every row due at ``now`` whose chat is free, and say what happened.

        Up to ``concurrency`` sends are in flight, never two to one chat; rows are claimed as
        slots free up (a few at a time, so claiming stays cheap), urgent ones first, then by due
        time. With a ``now_fn`` each claim looks at the current instant, so what falls due (or
        whose chat becomes free) while the run goes on is picked up by it. The run ends when
        nothing is in flight and nothing more can be claimed.

        A crash (SIGKILL included) leaves at most ``concurrency`` rows in ``sending``, each one
        whose fate is really unknown; never a batch claimed but not yet tried.
        """
        counts = {"sent": 0, "skipped": 0, "retried": 0, "failed": 0, "cancelled": 0, "unknown": 0}
        self.pacing.prune(now)
        running: dict[asyncio.Task[str], int | None] = {}
        refill = max(1, self.concurrency // 4)
        error: BaseException | None = None
        try:
            while True:
                free = self.concurrency - len(running)
                claimed: list[ClaimedDelivery] = []
                if error is None and free > 0 and (not running or free >= refill):
                    if self.admit is not None:
                        await self.admit()  # a send slot first: then one row, claimed now
                        free = 1
                    claim_at = self._current(now)
                    busy = [chat for chat in running.values() if chat is not None]
                    claimed = self.deliveries.claim_next(claim_at, free, busy)
                    for row in claimed:
                        started = self._start(row, claim_at, counts)
                        if isinstance(started, str):
                            counts[started] += 1
                        else:
                            running[asyncio.create_task(started)] = row.target_chat
                if claimed and (self.admit is not None or not running):
                    # One row per slot, or all decided without a send: claim on while there is
                    # room (finished sends are collected when it runs out).
                    continue
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    del running[task]
                    try:
                        counts[task.result()] += 1
                    except BaseException as exc:
                        # NothingSent, or a cancelled send: claim nothing more, let the sends
                        # in flight finish and record, then raise.
                        error = error or exc
        except asyncio.CancelledError:
            # The run itself was cancelled (shutdown): its sends stop where they are, as a
            # crash would leave them, for recover_in_flight.
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        if error is not None:
            raise error
        self.pacing.prune(self._current(now))
        report = DispatchReport(**counts, next_due=self.deliveries.next_due())
        if any(counts.values()):
            log.info(
                "dispatch: sent=%d skipped=%d retried=%d failed=%d cancelled=%d unknown=%d",
                report.sent,
                report.skipped,
                report.retried,
                report.failed,
                report.cancelled,
                report.unknown,
            )
        return report

    def _start(
        self, row: ClaimedDelivery, now: datetime, counts: dict[str, int]
    ) -> str | Coroutine[Any, Any, str]:
        """Decide on one claimed row at once: its outcome when nothing is to be sent (skipped,
        cancelled, held, failed to render), else the send still to run. Deciding never waits,
        so a run that only skips rows never yields to the event loop. Whatever goes wrong, the
        row gets an outcome: never left ``sending`` while the process runs (only a kill leaves
        it so, for ``recover_in_flight``). ``counts`` takes rows a postponement put behind it."""
        attempt = _Attempt(counts)
        try:
            decided = self._decide(row, now)
        except Exception as exc:
            return self._after_error(row, now, attempt, exc)
        if isinstance(decided, str):
            return decided
        return self._deliver(row, decided, now, attempt)

    async def _deliver(
        self, row: ClaimedDelivery, message: OutgoingMessage, now: datetime, attempt: _Attempt
    ) -> str:
        """Send one decided message and record what came of it."""
        try:
            result = await self._send(message, attempt)
            outcome = self._record(row, message.chat_id, result, self._current(now), attempt)
            if row.body is not None and row.recipient_id is None:
                # A reply to someone not (or no longer) stored, e.g. the "erased" note after
                # /forget: once answered, no row may say this chat was here.
                self.deliveries.erase_answered(row.id)
            return outcome
        except NothingSent:
            # Nothing can go out (the token was refused): put it back untouched and stop the run.
            self.deliveries.record_retry(
                row.id, due_at=row.due_at, reason="not_sent", count_attempt=False
            )
            raise
        except Exception as exc:
            return self._after_error(row, now, attempt, exc)

    def _decide(self, row: ClaimedDelivery, now: datetime) -> str | OutgoingMessage:
        """The row's outcome when it is not to be sent now, else the message to send."""
        store = self.deliveries
        current = self._current(now)
        if current >= row.deadline:  # a long run may have outlived it
            return self._skip(row, EXPIRED)
        if row.body is not None:
            return self._reply(row, row.body)
        if row.message_id in self.switched_off:
            return self._cancel(row, SWITCHED_OFF)
        ctx = store.render_context(row.id)
        if ctx is None:  # erased between claim and now: nothing left to record
            log.info("delivery %d: gone from the store before sending", row.id)
            return "cancelled"
        refusal = _refusal(ctx, row, now)
        if refusal is not None:
            status, reason = refusal
            return self._skip(row, reason) if status == "skipped" else self._cancel(row, reason)
        if _moved(row, ctx):
            return self._skip(row, SESSION_MOVED)
        if self.audiences and row.message_id not in self.audiences:
            return self._skip(row, SWITCHED_OFF)
        if not row.urgent:
            held_until = self._quiet_until(ctx, current)
            if held_until is not None:
                return self._hold_for_quiet_hours(row, held_until)
        try:
            return self._message(row, ctx, now)
        except (KeyError, ValueError) as exc:
            log.error("delivery %d: cannot render (%s)", row.id, type(exc).__name__)
            store.record_failed(row.id, RENDER_ERROR)
            return "failed"

    def _reply(self, row: ClaimedDelivery, body: str) -> str | OutgoingMessage:
        """A queued reply: already rendered when the person acted, sent as it is. Stop, pause,
        quiet hours and the session's current time do not hold it back: it answers what the
        person just did."""
        chat_id = row.chat_id
        if chat_id is None:  # queue_reply always sets it; an old or forged row cannot be sent
            self.deliveries.record_failed(row.id, "no_chat")
            return "failed"
        try:
            return OutgoingMessage.from_body(row.id, chat_id, body)
        except (KeyError, ValueError, TypeError) as exc:
            log.error("delivery %d: unreadable reply (%s)", row.id, type(exc).__name__)
            self.deliveries.record_failed(row.id, RENDER_ERROR)
            return "failed"

    async def _send(self, message: OutgoingMessage, attempt: _Attempt) -> SendResult:
        attempt.chat_id = message.chat_id
        attempt.requested = True  # from here on the request may have gone out
        try:
            return await self.sender.send(message)
        except NothingSent:
            raise
        except Exception as exc:
            # A sender bug, or a failure reading the answer: how far the send got is unknown, so
            # it is not repeated as if nothing had gone out. Only the type is logged: an
            # exception's message may carry text or a token-bearing URL.
            log.warning("delivery %d: sender raised %s", message.delivery_id, type(exc).__name__)
            return Ambiguous(reason=f"exception:{type(exc).__name__}")

    def _after_error(
        self, row: ClaimedDelivery, now: datetime, attempt: _Attempt, exc: Exception
    ) -> str:
        """An exception between claim and record (a store error, a bug): record an outcome all
        the same. Before the request it is a retry (counted, so a row that always fails ends);
        once the request may have gone out, the ambiguous policy. If even that cannot be written
        the error propagates (the store itself is failing)."""
        log.error("delivery %d: error while dispatching (%s)", row.id, type(exc).__name__)
        stored = self.deliveries.get(row.id)
        if stored is None:
            return "cancelled"
        if stored.status is not DeliveryStatus.SENDING:
            return _COUNTED_AS[stored.status]  # its outcome was recorded before the error
        reason = f"error:{type(exc).__name__}"
        current = self._current(now)
        if attempt.requested:
            if attempt.chat_id is not None:
                self._pace(attempt.chat_id, current, self.chat_interval)
            return self._ambiguous(row, attempt, reason, current)
        return self._retry(row, attempt, reason, None, current)

    def _record(
        self,
        row: ClaimedDelivery,
        chat_id: int,
        result: SendResult,
        now: datetime,
        attempt: _Attempt,
    ) -> str:
        """Record ``result`` and the chat's next turn, in one transaction; ``now`` is when the
        result arrived. Any request may have reached the chat, so each one spaces the next;
        a flood wait Telegram named holds the chat for that long instead."""
        # A reply to a chat with no person (the note after /forget) leaves no trace of the
        # chat but a flood wait Telegram named, which must hold.
        wait = timedelta(0) if row.body is not None and row.recipient_id is None else None
        if wait is None:
            wait = self.chat_interval
        if isinstance(result, RetryLater) and result.after is not None:
            wait = max(result.after, wait)
        with self.deliveries.db.transaction():
            self._pace(chat_id, now, wait)
            return self._outcome(row, result, now, attempt)

    def _pace(self, chat_id: int, now: datetime, wait: timedelta) -> None:
        """Nothing more to this chat for ``wait`` from ``now`` (stored: it outlives the run)."""
        if wait > timedelta(0):
            self.pacing.hold(chat_id, now + wait)

    def _outcome(
        self, row: ClaimedDelivery, result: SendResult, now: datetime, attempt: _Attempt
    ) -> str:
        store = self.deliveries
        match result:
            case Sent(message_ref=ref):
                store.record_sent(row.id, now=now, message_ref=ref)
                log.info("delivery %d: sent", row.id)
                return "sent"
            case RecipientGone(reason=reason):
                cancelled = store.record_recipient_gone(row.id, row.recipient_id, RECIPIENT_GONE)
                log.info(
                    "delivery %d: recipient %d gone (%s); %d pending cancelled",
                    row.id,
                    row.recipient_id,
                    reason,
                    cancelled,
                )
                return "failed"
            case RetryLater(reason=reason, after=after):
                return self._retry(row, attempt, reason, after, now)
            case Ambiguous(reason=reason):
                return self._ambiguous(row, attempt, reason, now)
            case Failed(reason=reason):
                store.record_failed(row.id, reason)
                log.warning("delivery %d: failed (%s)", row.id, reason)
                return "failed"
        raise AssertionError(f"unknown send result {type(result).__name__}")  # pragma: no cover

    def _retry(
        self,
        row: ClaimedDelivery,
        attempt: _Attempt,
        reason: str,
        after: timedelta | None,
        now: datetime,
    ) -> str:
        """Back to pending, later; ``now`` is when the outcome arrived.

        A wait the platform named is its pace, not a failure: it does not use up an attempt,
        and the row comes back exactly when the wait is over. Only the deadline bounds it.
        Other transient errors back off and count toward ``max_attempts``. The chat's other
        due rows wait behind it, in order.
        """
        store = self.deliveries
        paced = after is not None and after > timedelta(0)
        if not paced and row.attempts >= self.max_attempts:
            store.record_failed(row.id, f"{RETRIES_EXHAUSTED}:{reason}")
            log.warning("delivery %d: failed after %d attempts", row.id, row.attempts)
            return "failed"
        if after is not None and paced:
            due = now + after
        else:
            delay = backoff(row.attempts, self.rng)
            # Never "due now": the run would claim it again at once and spin through attempts.
            due = now + max(delay, MIN_RETRY_DELAY)
        if due >= row.deadline:
            return self._skip(row, EXPIRED)
        store.record_retry(row.id, due_at=due, reason=reason, count_attempt=not paced)
        self._hold_behind(row, attempt, due)
        log.info("delivery %d: retry %d (%s)", row.id, row.attempts, reason)
        return "retried"

    def _hold_behind(self, row: ClaimedDelivery, attempt: _Attempt, due: datetime) -> None:
        """The chat's other pending rows due before ``due`` go behind the postponed row, once
        its request was made (an error before it says nothing about the chat)."""
        if attempt.chat_id is None:
            return
        held: Held = self.deliveries.hold_chat(attempt.chat_id, due, after_id=row.id)
        attempt.counts["retried"] += held.requeued
        attempt.counts["skipped"] += held.expired
        if held.requeued or held.expired:
            log.info(
                "delivery %d: %d later rows to its chat wait behind it, %d expired",
                row.id,
                held.requeued,
                held.expired,
            )

    def _ambiguous(
        self, row: ClaimedDelivery, attempt: _Attempt, reason: str, now: datetime
    ) -> str:
        """The request went out and no usable answer came (a read timeout, a connection lost
        after the request, a 5xx, an answer that cannot be read, a sender exception): the person
        may have the message. The crash-recovery policy
        (``Deliveries.recover_in_flight``): ``unknown`` and never resent, except an urgent row
        still before its deadline that has not come back before, which is tried once more
        (marked ``recovered``, the mark recovery uses, so the two share the one extra try).
        """
        store = self.deliveries
        if row.urgent:
            current = store.get(row.id)
            due = now + max(backoff(row.attempts, self.rng), MIN_RETRY_DELAY)
            if current is not None and current.reason != RECOVERED and due < row.deadline:
                store.record_retry(row.id, due_at=due, reason=RECOVERED)
                self._hold_behind(row, attempt, due)
                log.info("delivery %d: no answer (%s); urgent, tried once more", row.id, reason)
                return "retried"
        store.record_unknown(row.id, f"ambiguous:{reason}")
        log.warning("delivery %d: no answer (%s); outcome unknown, not resent", row.id, reason)
        return "unknown"

    def _quiet_until(self, ctx: RenderContext, now: datetime) -> datetime | None:
        """When the recipient's quiet hours around ``now`` end, or None when they are not in
        them. The planner keeps plans out of quiet hours; a retry, a wait behind a flood limit or
        a catch-up after an outage can still fall due in them."""
        person = self.people.get(ctx.recipient_id)
        if person is None:
            return None
        return quiet_period_end(now, person.quiet, ctx.zone)

    def _hold_for_quiet_hours(self, row: ClaimedDelivery, until: datetime) -> str:
        """Not at night: back to pending for the morning, uncounted, if it is still relevant
        then; skipped otherwise. Later messages to the chat are not held: an urgent one still
        goes now."""
        if until >= row.deadline:
            return self._skip(row, QUIET_HOURS)
        self.deliveries.record_retry(row.id, due_at=until, reason=QUIET_HOURS, count_attempt=False)
        log.info("delivery %d: held for the end of quiet hours", row.id)
        return "retried"

    def _skip(self, row: ClaimedDelivery, reason: str) -> str:
        self.deliveries.record_skipped(row.id, reason)
        log.info("delivery %d: skipped (%s)", row.id, reason)
        return "skipped"

    def _cancel(self, row: ClaimedDelivery, reason: str) -> str:
        self.deliveries.record_cancelled(row.id, reason)
        log.info("delivery %d: cancelled (%s)", row.id, reason)
        return "cancelled"

    def _for_family(self, row: ClaimedDelivery) -> bool:
        """Whether the message is written for family: the timeline entry says so, or it goes to
        someone other than the patient it is about. The recipient's own role does not count: a
        patient can also be someone else's family member."""
        audience = self.audiences.get(row.message_id)
        return audience is Audience.FAMILY or row.recipient_id != row.patient_id

    def _message(self, row: ClaimedDelivery, ctx: RenderContext, now: datetime) -> OutgoingMessage:
        family = self._for_family(row)
        # The preview renders through the same function, so what an operator reviews is sent.
        facts = DeliveryFacts(
            message_id=row.message_id,
            # What the reader is to this message: a family text never gets a patient's name.
            role=Role.FAMILY if family else ctx.role,
            zone=ctx.zone,
            locale=ctx.locale,
            wording=ctx.wording,
            patient_name=ctx.patient_name,
            crisis_line=self.crisis_line_for(ctx.locale, ctx.zone),
            session=ctx.session,
            series=ctx.series,
            planned=ctx.series_planned,
            driver_name=ctx.driver_name,
            clinic_contact=self.clinic_contact,
            # A helper of two people reads whose message this is (issue 10).
            whose=ctx.patient_name if family and ctx.helping > 1 else None,
            # The patient's own notes: never in a family message.
            wins=0 if family else ctx.wins,
            latest_win=None if family else ctx.latest_win,
        )
        rendered = render_delivery(self.catalog, facts)
        return OutgoingMessage(
            delivery_id=row.id,
            chat_id=ctx.chat_id,
            text=rendered.text,
            buttons=tuple(
                Button(action=action, ref=row.id, label=label) for action, label in rendered.buttons
            ),
            protect_content=family,  # every family message: no forwarding or saving
        )


def _refusal(ctx: RenderContext, row: ClaimedDelivery, now: datetime) -> tuple[str, str] | None:
    """Why this row must not be sent now, as (status, reason); None when it may go."""
    if ctx.gone:
        return "cancelled", RECIPIENT_GONE
    if ctx.stopped:
        return "cancelled", STOPPED
    if not ctx.linked:
        return "cancelled", UNLINKED
    if row.session_id is not None and not ctx.session_active:
        return "cancelled", SESSION_CANCELLED
    if ctx.paused_until is not None and ctx.paused_until > now and not row.urgent:
        return "skipped", PAUSED
    return None


def _moved(row: ClaimedDelivery, ctx: RenderContext) -> bool:
    """The row was planned for another start of its session than the session has now.

    Session rows carry the session's local start in their key (``s{id}@{local start}:...``,
    snoozed copies too); series-wide rows and replies carry none and are not judged here.
    """
    if row.session_id is None or ctx.session is None:
        return False
    if not row.key.startswith(f"s{row.session_id}@"):
        return False
    return not row.key.startswith(session_key_part(ctx.session) + ":")


class _Attempt:
    """How far one row got: whether its request may have gone out, and to which chat; and the
    run's counts, for rows its postponement put behind it."""

    __slots__ = ("chat_id", "counts", "requested")

    def __init__(self, counts: dict[str, int]) -> None:
        self.chat_id: int | None = None
        self.requested = False
        self.counts = counts


_COUNTED_AS = {
    DeliveryStatus.PENDING: "retried",
    DeliveryStatus.SENDING: "retried",
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.SKIPPED: "skipped",
    DeliveryStatus.CANCELLED: "cancelled",
    DeliveryStatus.FAILED: "failed",
    DeliveryStatus.UNKNOWN: "unknown",
}
