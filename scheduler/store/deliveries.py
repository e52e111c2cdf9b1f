"""The deliveries table: the one record of what must be sent, and what became of it.

It works like an outbox. The planner's output is written by ``replace_plan``; a dispatcher claims
due rows (``pending`` -> ``sending``) under the write lock, records the attempt before it sends,
and writes the outcome back. A row is therefore always in exactly one state, and a crash between
claim and outcome leaves a ``sending`` row for ``recover_in_flight`` to judge.

Every method runs in ``db.transaction()``, which is re-entrant: a domain call can wrap several of
them (re-plan plus cancel, say) in one atomic unit.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from messages import Wording

from scheduler.model import DeliveryStatus, Kind, PlannedDelivery, Role, Session
from scheduler.store.db import Database, from_db, to_db
from scheduler.store.notes import Notes

REPLY = "reply"  # message_id and key prefix of the rows queue_reply makes
REPLY_AHEAD = timedelta(milliseconds=1)
SNOOZE_MARK = ":snooze@"  # a snoozed copy's key is f"{root key}{SNOOZE_MARK}{due instant}"
RECOVERED = "recovered"  # reason on a row that recover_in_flight already put back once
_TICK = timedelta(microseconds=1)  # rows put behind a postponed one keep their order by this


@dataclass(frozen=True)
class Delivery:
    """One row of the table, as stored."""

    id: int
    key: str
    patient_id: int | None  # None only on a reply to a chat with no person
    recipient_id: int | None
    session_id: int | None
    message_id: str
    due_at: datetime
    deadline: datetime
    urgent: bool
    status: DeliveryStatus
    reason: str | None
    planned_skip: bool
    attempts: int
    claimed_at: datetime | None
    sent_at: datetime | None
    message_ref: int | None
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class ClaimedDelivery:
    """A row this dispatcher now owns (status ``sending``); ``attempts`` includes this one."""

    id: int
    key: str
    patient_id: int | None  # None only on a reply to a chat with no person
    recipient_id: int | None
    session_id: int | None
    message_id: str
    due_at: datetime
    deadline: datetime
    urgent: bool
    attempts: int
    # A reply a person's command or press caused: its chat and its rendered body (JSON, see
    # ``queue_reply``). ``None`` on timed rows, which are rendered at send time.
    chat_id: int | None = None
    body: str | None = None
    # Where it goes: the reply's chat, or the recipient's (None only if the recipient is gone).
    target_chat: int | None = None


@dataclass(frozen=True)
class Held:
    """What ``Deliveries.hold_chat`` did to a chat's other pending rows."""

    requeued: int = 0  # now due behind the postponed row, in their order
    expired: int = 0  # would have waited past their deadline: skipped as expired


@dataclass(frozen=True)
class RenderContext:
    """What the dispatcher needs to decide on and render one delivery, read fresh before sending.

    ``session`` is the delivery's own session (for series-wide messages the first or last one),
    ``None`` for the family welcome; ``series`` the active sessions of its series (in no order:
    numbering them is the planner's rule, ``scheduler.timeline.number_sessions``) and
    ``series_planned`` how many sessions the patient planned it to have (None: a series with no
    row, whose sessions predate series: as many as entered). ``patient_name`` is the display name
    of the patient the delivery is about.
    """

    delivery_id: int
    recipient_id: int
    chat_id: int
    role: Role
    zone: str
    locale: str
    wording: Wording
    paused_until: datetime | None
    stopped: bool
    gone: bool
    linked: bool  # the recipient is the patient, or a family member with an active link
    session: Session | None
    session_active: bool  # False when the session was cancelled after the row was claimed
    driver_name: str | None  # display name of the family member who claimed the ride
    series: tuple[Session, ...]
    series_planned: int | None
    patient_name: str
    helping: int = 1  # active links of a family recipient: more than one, and texts say whose
    # The patient's wins (issue 10), read only when the recipient is the patient.
    wins: int = 0
    latest_win: str | None = None


@dataclass(frozen=True)
class Recovery:
    requeued: int  # urgent rows put back to pending
    unknown: int  # rows whose outcome is now recorded as unknown


_COLUMNS = (
    "id, key, patient_id, recipient_id, session_id, message_id, due_at, deadline, urgent, "
    "status, reason, planned_skip, attempts, claimed_at, sent_at, message_ref, acknowledged_at"
)


class Deliveries:
    """Repository for the ``deliveries`` table."""

    def __init__(self, db: Database, *, on_change: Callable[[], None] | None = None) -> None:
        """``on_change`` runs after the commit of any transaction that changed what is due
        (a plan, a queued reply, a snooze, a withdrawal): the bot re-arms its one timer there."""
        self.db = db
        self.on_change = on_change

    def _changed(self) -> None:
        if self.on_change is not None:
            self.db.on_commit(self.on_change)

    # -- planning --------------------------------------------------------------------------

    def replace_plan(self, patient_id: int, planned: Sequence[PlannedDelivery]) -> None:
        """Make the stored plan of one patient equal to ``planned``, keeping history.

        Deletes the patient's ``pending`` rows and planner-made skips the plan no longer holds,
        inserts the keys it does not have yet, and updates in place (ids stay) only the rows
        whose planned values differ: a re-plan that changes nothing writes nothing. A key
        already sent, sending, skipped by the dispatcher, failed or unknown is never written
        twice. A pending row that is backing off (``attempts > 0``) keeps its attempts, its later
        due instant and its reason (``recovered``, the crash-recovery mark, among them). A
        ``cancelled`` row whose key the planner asks for again is revived with the new plan's
        values: cancelling happens when a person stops or leaves, and a planner that includes
        them again means they came back (the dispatcher re-checks stop/gone/link before every
        send, so a revival can never reach someone who opted out). Snoozed copies stay while
        their root key is still in the plan.
        """
        rows: dict[str, tuple[object, ...]] = {}
        for item in planned:
            if item.patient_id != patient_id:
                raise ValueError(f"delivery {item.key!r} belongs to another patient")
            if item.status not in (DeliveryStatus.PENDING, DeliveryStatus.SKIPPED):
                raise ValueError(f"delivery {item.key!r}: a plan holds pending or skipped rows")
            rows[item.key] = _plan_row(item)
        with self.db.transaction() as conn:
            reader = conn.cursor()
            reader.row_factory = None  # plain tuples: cheaper to build and to slice
            existing = reader.execute(
                f"SELECT {_PLAN_COLUMNS} FROM deliveries WHERE patient_id = ?",  # noqa: S608
                (patient_id,),
            ).fetchall()
            stale: list[tuple[int]] = []
            updates: list[tuple[object, ...]] = []
            stored: set[str] = set()
            for old in existing:
                key = old[1]
                stored.add(key)
                row = rows.get(key)
                if row is None:
                    if _stale(old, rows):
                        stale.append((old[0],))
                elif old[11] == 0 and old[2:11] == row:
                    continue  # as planned, never attempted: nothing to write (most rows)
                elif _replaceable(old):
                    new = _merged(old, row)
                    if new != old[2:12]:
                        updates.append((*new, old[0]))
            inserts = [(key, patient_id, *row) for key, row in rows.items() if key not in stored]
            if not (stale or updates or inserts):
                return
            self._changed()
            conn.executemany("DELETE FROM deliveries WHERE id = ?", stale)
            conn.executemany(
                "UPDATE deliveries SET recipient_id = ?, session_id = ?, message_id = ?,"
                " due_at = ?, deadline = ?, urgent = ?, status = ?, reason = ?,"
                " planned_skip = ?, attempts = ?, claimed_at = NULL WHERE id = ?",
                updates,
            )
            # A key this patient has no row for: normally new. The upsert keeps the rules for a
            # key stored under another patient (history there is never overwritten either).
            conn.executemany(
                "INSERT INTO deliveries (key, patient_id, recipient_id, session_id, message_id,"
                " due_at, deadline, urgent, status, reason, planned_skip)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET"
                " recipient_id = excluded.recipient_id, session_id = excluded.session_id,"
                " message_id = excluded.message_id,"
                " due_at = CASE WHEN deliveries.status = 'pending' AND deliveries.attempts > 0"
                "   AND excluded.status = 'pending'"
                "   THEN max(deliveries.due_at, excluded.due_at) ELSE excluded.due_at END,"
                " reason = CASE WHEN deliveries.status = 'pending' AND deliveries.attempts > 0"
                "   AND excluded.status = 'pending'"
                "   THEN deliveries.reason ELSE excluded.reason END,"
                " attempts = CASE WHEN deliveries.status = 'pending'"
                "   AND excluded.status = 'pending' THEN deliveries.attempts ELSE 0 END,"
                " deadline = excluded.deadline, urgent = excluded.urgent,"
                " status = excluded.status, planned_skip = excluded.planned_skip, claimed_at = NULL"
                " WHERE deliveries.status = 'cancelled'"
                " OR (deliveries.status = 'skipped' AND deliveries.planned_skip = 1)"
                " OR (deliveries.status = 'pending' AND deliveries.body IS NULL)",
                inserts,
            )

    def cancel_pending(
        self,
        *,
        reason: str,
        session_id: int | None = None,
        recipient_id: int | None = None,
        patient_id: int | None = None,
    ) -> int:
        """Withdraw pending rows matching every filter given; returns how many were cancelled."""
        filters: list[str] = []
        params: list[object] = [reason]
        for column, value in (
            ("session_id", session_id),
            ("recipient_id", recipient_id),
            ("patient_id", patient_id),
        ):
            if value is not None:
                filters.append(f"{column} = ?")
                params.append(value)
        if not filters:
            raise ValueError("cancel_pending needs a session_id, recipient_id or patient_id")
        where = " AND ".join(filters)
        with self.db.transaction() as conn:
            self._changed()
            cursor = conn.execute(
                "UPDATE deliveries SET status = 'cancelled', reason = ?"  # noqa: S608
                f" WHERE status = 'pending' AND body IS NULL AND {where}",
                params,
            )
            return cursor.rowcount

    def stop_recipient(self, recipient_id: int, reason: str) -> int:
        """Cancel everything still pending for one person (stop, removal, gone)."""
        return self.cancel_pending(reason=reason, recipient_id=recipient_id)

    def queue_reply(
        self,
        *,
        chat_id: int,
        recipient_id: int | None,
        body: str,
        now: datetime,
        relevance: timedelta,
    ) -> int:
        """Queue a message a person's action caused (a reply, a note to their family), due now.

        It goes out through the same claim, send and outcome steps as a timed message, so a
        failed send is retried by the dispatcher and never re-runs the command. ``body`` is the
        rendered message as JSON (text, keyboard, protection): the adapter's format, opaque here.
        It is erased once the row has an outcome, since it may hold what a person wrote or a link.
        The row belongs to the recipient (``patient_id`` too), so it goes when they are erased.
        """
        with self.db.transaction() as conn:
            self._changed()
            # Urgent for the crash policy: an answer whose send was cut short is sent once more
            # (a duplicate answer is harmless; a missing one leaves a person wondering whether
            # the bot heard them). Nothing else about urgency applies to a reply.
            cursor = conn.execute(
                "INSERT INTO deliveries (key, patient_id, recipient_id, message_id, due_at,"
                " deadline, urgent, status, chat_id, body)"
                " VALUES (?, ?, ?, ?, ?, ?, 1, 'pending', ?, ?)",
                (
                    f"{REPLY}:{secrets.token_hex(12)}",
                    recipient_id,
                    recipient_id,
                    REPLY,
                    # Just ahead of the instant: an answer goes before the timed messages that
                    # fall due with it (the family welcome its own approval just planned).
                    to_db(now - REPLY_AHEAD),
                    to_db(now + relevance),
                    chat_id,
                    body,
                ),
            )
            return int(cursor.lastrowid or 0)

    def forget_chat(self, chat_id: int) -> None:
        """/forget: replies already sent to a chat with no person left keep nothing (the rows of
        the person themselves go with them, by the foreign key), nor does the chat's pacing."""
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM deliveries WHERE chat_id = ? AND recipient_id IS NULL"
                " AND status NOT IN ('pending', 'sending')",
                (chat_id,),
            )
            conn.execute("DELETE FROM chat_pacing WHERE chat_id = ?", (chat_id,))

    def erase_answered(self, delivery_id: int) -> None:
        """A reply to a chat with no person, once it has an outcome: nothing of it is kept."""
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM deliveries WHERE id = ? AND recipient_id IS NULL"
                " AND status NOT IN ('pending', 'sending')",
                (delivery_id,),
            )

    # -- dispatching -----------------------------------------------------------------------

    def claim_due(self, now: datetime, limit: int = 50) -> list[ClaimedDelivery]:
        """Move up to ``limit`` due pending rows to ``sending`` and return them in due order.

        One ``UPDATE ... RETURNING`` under ``BEGIN IMMEDIATE``: the write lock is held from the
        choice of rows to their new status, so two dispatchers on the same file (two
        connections or two processes) can never claim the same row.
        """
        with self.db.transaction() as conn:
            rows = conn.execute(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1,"
                " claimed_at = ?"
                " WHERE id IN (SELECT id FROM deliveries"
                "   WHERE status = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?)"
                " AND status = 'pending'"
                " RETURNING id, key, patient_id, recipient_id, session_id, message_id,"
                " due_at, deadline, urgent, attempts, chat_id, body",
                (to_db(now), to_db(now), limit),
            ).fetchall()
        claimed = [_claimed(row) for row in rows]
        # RETURNING order is unspecified; the dispatcher relies on due order.
        claimed.sort(key=lambda item: (item.due_at, item.id))
        return claimed

    def claim_next(
        self, now: datetime, limit: int, busy: Collection[int] = ()
    ) -> list[ClaimedDelivery]:
        """Claim up to ``limit`` due rows for the concurrent dispatcher, one per chat at most.

        Skipped: chats in ``busy`` (a send to them is in flight: never two at once to one chat)
        and chats whose stored not-before (``chat_pacing``: the 1 s spacing, a flood wait) is
        after ``now``. Within a chat, rows go in due order (a person reads them in the order
        they were meant), replies ahead: they answer what the person just did. Across chats,
        those with an urgent row due go first ("don't drive", the last steps), then by due
        time, so when more is due than can go at once the urgent ones do not wait. A row's
        chat is known without rendering it: a reply's ``chat_id``, else its recipient's.

        Choice and claim happen under one write lock (``BEGIN IMMEDIATE``), as in ``claim_due``.
        """
        if limit < 1:
            return []
        stamp = to_db(now)
        with self.db.transaction() as conn:
            chats = self._choose(conn, stamp, limit, busy)
            if not chats:
                return []
            rows = conn.execute(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1,"
                " claimed_at = ?"
                " WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending'"
                " RETURNING id, key, patient_id, recipient_id, session_id, message_id,"
                " due_at, deadline, urgent, attempts, chat_id, body",
                (stamp, json.dumps(list(chats))),
            ).fetchall()
        claimed = [_claimed(row, target_chat=chats[row["id"]]) for row in rows]
        order = {delivery_id: n for n, delivery_id in enumerate(chats)}
        claimed.sort(key=lambda item: order[item.id])
        return claimed

    def _choose(
        self, conn: sqlite3.Connection, stamp: str, limit: int, busy: Collection[int]
    ) -> dict[int, int | None]:
        """Up to ``limit`` rows to claim, delivery id -> chat, in claiming order.

        Walks the due rows in order, urgent ones first (index ``deliveries_claim``), taking the
        first row met of each chat that is free, so the work is about ``limit`` rows plus the
        rows of waiting chats passed over, never a sort of everything due. A chat met through
        an urgent row sends its own first row (a reply, else the earliest), so its messages
        keep their order."""
        taken = set(busy)
        chosen: dict[int, int | None] = {}
        for urgent in (1, 0):
            cursor = conn.execute(
                "SELECT d.id, coalesce(d.chat_id, p.chat_id) FROM deliveries d"
                " LEFT JOIN people p ON p.id = d.recipient_id"
                " WHERE d.status = 'pending' AND d.urgent = ? AND d.due_at <= ?"
                " ORDER BY d.urgent, d.due_at, d.id",
                (urgent, stamp),
            )
            while len(chosen) < limit and (batch := cursor.fetchmany(64)):
                for delivery_id, chat in batch:
                    if chat is None:  # no chat left to pace (erased meanwhile): let it be judged
                        chosen[delivery_id] = None
                    elif chat in taken:
                        continue
                    else:
                        taken.add(chat)
                        if _waiting(conn, chat, stamp):
                            continue
                        head = _head(conn, chat, stamp) if urgent else delivery_id
                        chosen[head] = chat
                    if len(chosen) >= limit:
                        break
            cursor.close()
            if len(chosen) >= limit:
                break
        return chosen

    def hold_chat(
        self, chat_id: int, until: datetime, *, after_id: int, reason: str = "behind"
    ) -> Held:
        """Put a chat's other pending rows due before ``until`` behind the row ``after_id``,
        which was postponed to ``until``: a microsecond apart each, in their order, uncounted.
        A row that would then be due at or after its deadline is skipped as expired. So a chat
        never gets its later messages before an earlier one that had to wait.
        """
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, deadline, due_at FROM deliveries WHERE status = 'pending'"
                " AND chat_id = ?3 AND id != ?1 AND due_at <= ?2"
                " UNION ALL SELECT id, deadline, due_at FROM deliveries"
                " WHERE recipient_id = (SELECT id FROM people WHERE chat_id = ?3)"
                " AND status = 'pending' AND chat_id IS NULL AND id != ?1 AND due_at <= ?2"
                " ORDER BY due_at, id",
                (after_id, to_db(until), chat_id),
            ).fetchall()
            if not rows:
                return Held()
            self._changed()
            requeue: list[tuple[str, str, int]] = []
            expire: list[tuple[int]] = []
            due = until
            for row in rows:
                due += _TICK
                if to_db(due) >= row["deadline"]:
                    expire.append((row["id"],))
                else:
                    requeue.append((to_db(due), reason, row["id"]))
            conn.executemany(
                "UPDATE deliveries SET due_at = ?,"  # noqa: S608
                f" reason = CASE WHEN reason = '{RECOVERED}' THEN reason ELSE ? END"
                " WHERE id = ? AND status = 'pending'",
                requeue,
            )
            conn.executemany(
                "UPDATE deliveries SET status = 'skipped', reason = 'expired', body = NULL"
                " WHERE id = ? AND status = 'pending'",
                expire,
            )
        return Held(requeued=len(requeue), expired=len(expire))

    def next_due(self) -> datetime | None:
        """When the next row can go: the earliest of, over pending rows, its due instant or its
        chat's stored not-before, whichever is later (None: nothing pending).

        Cheap at any size: an index seek for the earliest pending row, a walk in due order past
        rows whose chat is waiting, and per waiting chat (few: ``ChatPacing.prune`` drops waits
        that are over) two index seeks for its earliest row.
        """
        conn = self.db.conn
        first = conn.execute(
            "SELECT due_at FROM deliveries WHERE status = 'pending' ORDER BY due_at LIMIT 1"
        ).fetchone()
        if first is None:
            return None
        free = conn.execute(
            "SELECT d.due_at FROM deliveries d LEFT JOIN people p ON p.id = d.recipient_id"
            " WHERE d.status = 'pending' AND NOT EXISTS (SELECT 1 FROM chat_pacing c"
            "   WHERE c.chat_id = coalesce(d.chat_id, p.chat_id) AND c.not_before > d.due_at)"
            " ORDER BY d.due_at LIMIT 1"
        ).fetchone()
        best: str | None = None if free is None else free[0]
        # Only chats waiting past the earliest due row and ending before the best so far matter.
        waiting = conn.execute(
            "SELECT chat_id, not_before FROM chat_pacing WHERE not_before > ?"
            " AND (? IS NULL OR not_before < ?)",
            (first[0], best, best),
        ).fetchall()
        for chat_id, not_before in waiting:
            row = conn.execute(
                "SELECT min(due_at) FROM ("
                " SELECT min(due_at) AS due_at FROM deliveries"
                "   WHERE status = 'pending' AND chat_id = ?1"
                " UNION ALL SELECT min(due_at) FROM deliveries"
                "   WHERE status = 'pending' AND chat_id IS NULL"
                "   AND recipient_id = (SELECT id FROM people WHERE chat_id = ?1))",
                (chat_id,),
            ).fetchone()
            if row[0] is None:
                continue
            candidate = max(row[0], not_before)
            if best is None or candidate < best:
                best = candidate
        return None if best is None else from_db(best)

    def record_sent(self, delivery_id: int, *, now: datetime, message_ref: int | None) -> bool:
        return self._finish(
            delivery_id,
            "status = 'sent', reason = NULL, sent_at = ?, message_ref = ?, body = NULL",
            (to_db(now), message_ref),
        )

    def record_skipped(self, delivery_id: int, reason: str) -> bool:
        return self._finish(delivery_id, "status = 'skipped', reason = ?, body = NULL", (reason,))

    def record_failed(self, delivery_id: int, reason: str) -> bool:
        return self._finish(delivery_id, "status = 'failed', reason = ?, body = NULL", (reason,))

    def record_cancelled(self, delivery_id: int, reason: str) -> bool:
        return self._finish(delivery_id, "status = 'cancelled', reason = ?, body = NULL", (reason,))

    def record_unknown(self, delivery_id: int, reason: str) -> bool:
        return self._finish(delivery_id, "status = 'unknown', reason = ?, body = NULL", (reason,))

    def record_retry(
        self, delivery_id: int, *, due_at: datetime, reason: str, count_attempt: bool = True
    ) -> bool:
        """Back to ``pending`` at ``due_at``; the deadline stays.

        ``count_attempt=False`` re-queues a row that was claimed but never tried (it waits behind
        an earlier message to the same chat), so it does not use up an attempt. A row that
        recovery already put back keeps that mark, so a crash loop still ends in ``unknown``.
        """
        attempts = "attempts" if count_attempt else "max(attempts - 1, 0)"
        return self._finish(
            delivery_id,
            f"status = 'pending', due_at = ?, attempts = {attempts},"
            f" reason = CASE WHEN reason = '{RECOVERED}' THEN reason ELSE ? END",
            (to_db(due_at), reason),
        )

    def record_recipient_gone(self, delivery_id: int, recipient_id: int | None, reason: str) -> int:
        """The platform says the person is unreachable for good: fail this row, mark the person
        ``gone`` and cancel their other pending rows, atomically. Returns how many were cancelled.
        A reply to a chat with no person (``recipient_id`` None) only fails.
        """
        with self.db.transaction() as conn:
            self._finish(delivery_id, "status = 'failed', reason = ?, body = NULL", (reason,))
            if recipient_id is None:
                return 0
            conn.execute("UPDATE people SET gone = 1 WHERE id = ?", (recipient_id,))
            return self.cancel_pending(reason="recipient_gone", recipient_id=recipient_id)

    def recover_in_flight(self, now: datetime) -> Recovery:
        """Judge rows a crash left in ``sending``; call once at start-up, before dispatching.

        Such a row may or may not have reached the person. Policy:

        * urgent and still before its deadline, and not recovered before: back to ``pending``
          at its own due instant (reason ``recovered``), so it goes first again and its chat
          still gets messages in order (``now`` would put it behind the chat's later rows,
          out of order whenever the interrupted send never reached Telegram). A duplicate
          "don't drive" is harmless; a missing one is not.
        * everything else: ``unknown``, never resent. A duplicate reminder is noise, and a row
          that already came back once and crashed again may be what crashes the process.

        It takes every ``sending`` row, so no other dispatcher may be using the file meanwhile
        (``bot.lock`` makes sure of that).
        """
        with self.db.transaction() as conn:
            requeued = conn.execute(
                "UPDATE deliveries SET status = 'pending', reason = ?"
                " WHERE status = 'sending' AND urgent = 1 AND deadline > ?"
                " AND (reason IS NULL OR reason != ?)",
                (RECOVERED, to_db(now), RECOVERED),
            ).rowcount
            unknown = conn.execute(
                "UPDATE deliveries SET status = 'unknown', reason = 'crashed_while_sending',"
                " body = NULL WHERE status = 'sending'"
            ).rowcount
        return Recovery(requeued=requeued, unknown=unknown)

    def render_context(self, delivery_id: int) -> RenderContext | None:
        """Fresh recipient, session, ride and series data for one delivery, or ``None`` when the
        row or its recipient no longer exists (erased meanwhile)."""
        conn = self.db.conn
        row = conn.execute(
            "SELECT d.id, d.recipient_id, d.patient_id, p.chat_id, p.role, p.zone, p.locale,"
            " p.wording, p.paused_until, p.stopped, p.gone,"
            " d.session_id, s.status AS session_status, driver.display_name AS driver_name,"
            " patient.display_name AS patient_name,"
            " coalesce(s.series_id, s.patient_id) AS series_ref, series.planned AS series_planned,"
            " (d.recipient_id = d.patient_id OR EXISTS (SELECT 1 FROM family_links f"
            "   WHERE f.patient_id = d.patient_id AND f.family_id = d.recipient_id"
            "   AND f.status = 'active')) AS linked,"
            " (SELECT count(*) FROM family_links h WHERE h.family_id = d.recipient_id"
            "   AND h.status = 'active') AS helping"
            " FROM deliveries d JOIN people p ON p.id = d.recipient_id"
            " LEFT JOIN people patient ON patient.id = d.patient_id"
            " LEFT JOIN sessions s ON s.id = d.session_id"
            " LEFT JOIN series ON series.id = coalesce(s.series_id, s.patient_id)"
            "   AND series.patient_id = s.patient_id"
            " LEFT JOIN rides r ON r.session_id = d.session_id"
            " LEFT JOIN people driver ON driver.id = r.driver_id"
            " WHERE d.id = ?",
            (delivery_id,),
        ).fetchone()
        if row is None:
            return None
        # The session's series: sessions in no stored series form the patient's implicit one,
        # whose id is the patient's (``Session.series_ref``).
        series = (
            conn.execute(
                "SELECT id, patient_id, series_id, local_start, fold, zone, kind, duration_min"
                " FROM sessions WHERE patient_id = ? AND status = 'active'"
                " AND coalesce(series_id, patient_id) = ?",
                (row["patient_id"], row["series_ref"]),
            ).fetchall()
            if row["series_ref"] is not None
            else []
        )
        wins, latest_win = 0, None
        if row["recipient_id"] == row["patient_id"]:  # the patient's own: never for family
            wins, latest_win = Notes(self.db).given_back(row["patient_id"])
        session = None
        if row["session_id"] is not None:
            session = _session(
                conn.execute(
                    "SELECT id, patient_id, series_id, local_start, fold, zone, kind,"
                    " duration_min FROM sessions WHERE id = ?",
                    (row["session_id"],),
                ).fetchone()
            )
        return RenderContext(
            delivery_id=row["id"],
            recipient_id=row["recipient_id"],
            chat_id=row["chat_id"],
            role=Role(row["role"]),
            zone=row["zone"],
            locale=row["locale"],
            wording=Wording(row["wording"]),
            paused_until=_instant(row["paused_until"]),
            stopped=bool(row["stopped"]),
            gone=bool(row["gone"]),
            linked=bool(row["linked"]),
            session=session,
            session_active=row["session_status"] == "active",
            driver_name=row["driver_name"],
            series=tuple(_session(item) for item in series),
            series_planned=row["series_planned"],
            patient_name=row["patient_name"] or "",
            helping=int(row["helping"]),
            wins=wins,
            latest_win=latest_win,
        )

    # -- for the bot -----------------------------------------------------------------------

    def get(self, delivery_id: int) -> Delivery | None:
        row = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM deliveries WHERE id = ?",  # noqa: S608
            (delivery_id,),
        ).fetchone()
        return None if row is None else _delivery(row)

    def acknowledge(self, recipient_id: int, delivery_id: int, now: datetime) -> bool:
        """Record the "got it" tap on a sent message; only its own recipient may. A second tap
        keeps the first instant and still answers True."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE deliveries SET acknowledged_at = coalesce(acknowledged_at, ?)"
                " WHERE id = ? AND recipient_id = ? AND status = 'sent'",
                (to_db(now), delivery_id, recipient_id),
            )
            return cursor.rowcount == 1

    def snooze(
        self, recipient_id: int, delivery_id: int, delay: timedelta, now: datetime
    ) -> datetime | None:
        """Send a sent message again at ``now + delay``; returns that instant.

        ``None`` when the row is not this recipient's sent message or the new instant is not
        before its deadline: a reminder is never snoozed past its relevance. Snoozing again
        replaces the copy still pending, so a double tap never sends twice.
        """
        due = now + delay
        with self.db.transaction() as conn:
            self._changed()
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM deliveries"  # noqa: S608
                " WHERE id = ? AND recipient_id = ? AND status = 'sent'",
                (delivery_id, recipient_id),
            ).fetchone()
            if row is None:
                return None
            original = _delivery(row)
            if due >= original.deadline:
                return None
            root = _root_key(original.key)
            prefix = root + SNOOZE_MARK
            conn.execute(
                "DELETE FROM deliveries WHERE key >= ? AND key < ? AND status = 'pending'",
                (prefix, _prefix_end(prefix)),
            )
            conn.execute(
                "INSERT INTO deliveries (key, patient_id, recipient_id, session_id, message_id,"
                " due_at, deadline, urgent, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT(key) DO NOTHING",
                (
                    prefix + to_db(due),
                    original.patient_id,
                    original.recipient_id,
                    original.session_id,
                    original.message_id,
                    to_db(due),
                    to_db(original.deadline),
                    int(original.urgent),
                ),
            )
        return due

    def for_person(self, person_id: int) -> list[Delivery]:
        """Every row addressed to one person, in due order (for /export)."""
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM deliveries"  # noqa: S608
            " WHERE recipient_id = ? ORDER BY due_at, id",
            (person_id,),
        ).fetchall()
        return [_delivery(row) for row in rows]

    # -- internals -------------------------------------------------------------------------

    def _finish(self, delivery_id: int, assignments: str, params: Iterable[object]) -> bool:
        """Apply an outcome to a row this dispatcher holds; False when it no longer does."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE deliveries SET {assignments}"  # noqa: S608
                " WHERE id = ? AND status = 'sending'",
                (*params, delivery_id),
            )
            return cursor.rowcount == 1


def _waiting(conn: sqlite3.Connection, chat: int, stamp: str) -> bool:
    """Whether the chat's stored not-before is still ahead (a primary-key lookup)."""
    return (
        conn.execute(
            "SELECT 1 FROM chat_pacing WHERE chat_id = ? AND not_before > ?", (chat, stamp)
        ).fetchone()
        is not None
    )


def _head(conn: sqlite3.Connection, chat: int, stamp: str) -> int:
    """The chat's first due row: its earliest reply, else its earliest timed row."""
    row = conn.execute(
        "SELECT id FROM deliveries WHERE status = 'pending' AND chat_id = ?1 AND due_at <= ?2"
        " ORDER BY due_at, id LIMIT 1",
        (chat, stamp),
    ).fetchone()
    if row is None:
        row = conn.execute(
            "SELECT id FROM deliveries"
            " WHERE recipient_id = (SELECT id FROM people WHERE chat_id = ?1)"
            " AND status = 'pending' AND chat_id IS NULL AND due_at <= ?2"
            " ORDER BY due_at, id LIMIT 1",
            (chat, stamp),
        ).fetchone()
    return int(row[0])


# What replace_plan reads of a patient's rows; _merged and _stale index into it.
_PLAN_COLUMNS = (
    "id, key, recipient_id, session_id, message_id, due_at, deadline, urgent, status, reason,"
    " planned_skip, attempts, body"
)


# Re-planning a patient turns the same instants into text again and again: kept, bounded.
_db_text = lru_cache(maxsize=1 << 14)(to_db)


def _claimed(row: sqlite3.Row, *, target_chat: int | None = None) -> ClaimedDelivery:
    """A row just moved to ``sending``, from the columns both claims return."""
    return ClaimedDelivery(
        id=row["id"],
        key=row["key"],
        patient_id=row["patient_id"],
        recipient_id=row["recipient_id"],
        session_id=row["session_id"],
        message_id=row["message_id"],
        due_at=from_db(row["due_at"]),
        deadline=from_db(row["deadline"]),
        urgent=bool(row["urgent"]),
        attempts=row["attempts"],
        chat_id=row["chat_id"],
        body=row["body"],
        target_chat=target_chat,
    )


def _plan_row(item: PlannedDelivery) -> tuple[object, ...]:
    """The planned values of one row, in ``_PLAN_COLUMNS`` order from ``recipient_id`` to
    ``planned_skip``."""
    return (
        item.recipient_id,
        item.session_id,
        item.message_id,
        _db_text(item.due_at),
        _db_text(item.deadline),
        int(item.urgent),
        item.status.value,
        item.reason,
        int(item.status is DeliveryStatus.SKIPPED),
    )


def _replaceable(old: tuple[Any, ...]) -> bool:
    """A row a plan may rewrite: pending timed rows, planner-made skips and cancelled rows."""
    status = old[8]
    return (
        status == "cancelled"
        or (status == "skipped" and old[10] == 1)
        or (status == "pending" and old[12] is None)
    )


def _stale(old: tuple[Any, ...], planned: dict[str, tuple[object, ...]]) -> bool:
    """A row whose key the plan lacks that goes: a pending timed row or a planner-made skip; a
    pending snoozed copy once its root is no longer planned. Cancelled rows stay (history)."""
    key, status = old[1], old[8]
    if SNOOZE_MARK in key:
        return status == "pending" and _root_key(key) not in planned
    return (status == "pending" and old[12] is None) or (status == "skipped" and old[10] == 1)


def _merged(old: tuple[Any, ...], row: tuple[Any, ...]) -> tuple[object, ...]:
    """The values a replaceable row ``old`` takes under the planned ``row``: the plan's, except
    that a pending row staying pending keeps its attempts, and one backing off (attempts > 0)
    also its later due instant and its reason (``recovered`` among them)."""
    staying = old[8] == "pending" and row[6] == "pending"
    backing = staying and old[11] > 0
    return (
        row[0],
        row[1],
        row[2],
        max(old[5], row[3]) if backing else row[3],
        row[4],
        row[5],
        row[6],
        old[9] if backing else row[7],
        row[8],
        old[11] if staying else 0,
    )


def _root_key(key: str) -> str:
    return key.split(SNOOZE_MARK, 1)[0]


def _prefix_end(prefix: str) -> str:
    """The smallest string after every string starting with ``prefix`` (an index range scan)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _session(row: sqlite3.Row) -> Session:
    duration = row["duration_min"]
    return Session(
        id=row["id"],
        patient_id=row["patient_id"],
        local_start=datetime.fromisoformat(row["local_start"]).replace(fold=row["fold"]),
        zone=row["zone"],
        kind=Kind(row["kind"]),
        duration=None if duration is None else timedelta(minutes=duration),
        series_id=row["series_id"],
    )


def _instant(text: str | None) -> datetime | None:
    return None if text is None else from_db(text)


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=row["id"],
        key=row["key"],
        patient_id=row["patient_id"],
        recipient_id=row["recipient_id"],
        session_id=row["session_id"],
        message_id=row["message_id"],
        due_at=from_db(row["due_at"]),
        deadline=from_db(row["deadline"]),
        urgent=bool(row["urgent"]),
        status=DeliveryStatus(row["status"]),
        reason=row["reason"],
        planned_skip=bool(row["planned_skip"]),
        attempts=row["attempts"],
        claimed_at=_instant(row["claimed_at"]),
        sent_at=_instant(row["sent_at"]),
        message_ref=row["message_ref"],
        acknowledged_at=_instant(row["acknowledged_at"]),
    )
