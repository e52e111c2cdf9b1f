"""Random sequences of what a patient and two family members type and tap, with replays of the
same update and replies that fail, against the real PTB stack and the real inbox (Hypothesis
stateful testing).

Invariants, after every step:
* an update is applied at most once: the same update again changes no table and queues nothing;
* every update a person sends is answered: a message to the bot queues at least one reply to that
  chat, in the same step (so the answer exists even when its send fails);
* nothing is ever queued to someone who is not linked: a message to another person's chat goes
  only to people linked to the one who acted, and a timed message for a family member waits only
  while their link is active.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from telegram import Update

from bot.app import ALLOWED_UPDATES, dispatch_now
from bot.clock import ManualClock
from bot.offline.fake_api import JSON, FakeBotApi, Fault
from bot.polling import Poller
from scheduler.model import Kind
from scheduler.store.inbox import Inbox, Incoming
from tests.botharness import FAMILY, PATIENT, START, BotHarness, start_harness, stop_harness

FAMILY_TWO = 3003
PEOPLE = (PATIENT, FAMILY, FAMILY_TWO)
PATIENT_SAYS = (
    "/start",
    "Ana",
    "Berlin",
    "iv",
    "6",
    "tomorrow 10:00",
    "thu 11:00",
    "done",
    "/add 2026-12-03 10:00",
    "/add 2026-12-04 09:00 nasal",
    "/sessions",
    "/invite",
    "/family",
    "/pause 2",
    "/resume",
    "/stop",
    "/settings",
    "/timezone London",
    "/help",
    "i don't want to live anymore",
    "/forget",
)
FAMILY_SAYS = ("/help", "/leave", "/timezone Berlin", "/stop", "/start", "/family", "hello?")
LINK = re.compile(r"\?start=([A-Za-z0-9_-]{43})")
# Tables that are bookkeeping, not state a person's action changes.
BOOKKEEPING = ("inbox", "invite_failures", "sqlite_sequence")


class Conversation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="companion-stateful-"))
        self.api = FakeBotApi().start()
        self.harness: BotHarness = self.loop.run_until_complete(
            start_harness(self.api, self.dir, ManualClock(START))
        )
        self.fed: list[JSON] = []  # every update fed, for replays

    def teardown(self) -> None:
        try:
            self.loop.run_until_complete(stop_harness(self.harness))
        finally:
            self.api.stop()
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)
        assert not self.harness.errors, self.harness.errors

    @initialize(linked=st.booleans())
    def a_patient_with_sessions_and_maybe_family(self, linked: bool) -> None:
        """Half the runs start from a set-up patient whose first family member is already in,
        so presses on family messages, removals and leaving are reached as well."""
        if not linked:
            return
        companion = self.harness.services.companion
        now = self.harness.clock.now()
        patient = companion.register_patient(PATIENT, "Ana", "Europe/Berlin", now)
        for day in ("2026-12-01 10:00", "2026-12-03 10:00"):
            companion.add_session(patient.id, datetime.fromisoformat(day), Kind.IV, now)
        link_id, _ = companion.redeem_invite(
            companion.create_invite(patient.id, now), FAMILY, "Bo", now
        )
        companion.approve_link(patient.id, link_id, now)
        self.loop.run_until_complete(self.harness.advance(timedelta(hours=10)))

    # -- driving -------------------------------------------------------------------------------

    def _handle(self, update: JSON) -> None:
        """Through the inbox and the real Poller, then the dispatcher, as in production."""
        db = self.harness.services.db
        chat = _chat_of(update)
        Inbox(db).store(
            [Incoming(update["update_id"], chat, json.dumps(update))], self.harness.clock.now()
        )
        poller = Poller(
            self.harness.app, db, now=self.harness.clock.now, allowed_updates=ALLOWED_UPDATES
        )
        self.loop.run_until_complete(poller.handle_pending())
        self.loop.run_until_complete(dispatch_now(self.harness.app))

    def _act(self, update: JSON, actor: int, *, is_message: bool) -> None:
        links_before = self._links()
        replies_before = self._replies()
        mark = self.api.mark()
        self._handle(update)
        self.fed.append(update)
        new = [row for row in self._replies() if row not in replies_before]
        if is_message:
            # Queued, or already tried (a reply to someone not stored is erased once sent).
            tried = any(c.chat_id == actor for c in self.api.calls("sendMessage", since=mark))
            assert tried or any(chat == actor for chat, _ in new), "a message went unanswered"
        links = self._links()
        if links:
            event("someone was linked")
        if any(c.buttons for c in self.api.sent_to(FAMILY, since=mark)):
            event("a family member was shown buttons")
        allowed = {actor} | self._linked_chats(actor, links_before | links)
        for chat, _ in new:
            assert chat in allowed, f"queued to chat {chat}, not linked to {actor}"

    @rule(text=st.sampled_from(PATIENT_SAYS))
    def patient_says(self, text: str) -> None:
        self._act(self.api.make_text(PATIENT, text), PATIENT, is_message=True)

    @rule(member=st.sampled_from((FAMILY, FAMILY_TWO)), text=st.sampled_from(FAMILY_SAYS))
    def family_says(self, member: int, text: str) -> None:
        self._act(self.api.make_text(member, text), member, is_message=True)

    @rule(member=st.sampled_from((FAMILY, FAMILY_TWO)))
    def family_opens_the_latest_invite(self, member: int) -> None:
        tokens = [
            m[1] for c in self.api.sent_to(PATIENT) for m in [LINK.search(c.plain_text or "")] if m
        ]
        text = f"/start {tokens[-1]}" if tokens else "/start " + "x" * 43
        self._act(self.api.make_text(member, text), member, is_message=True)

    @rule(who=st.sampled_from(PEOPLE), pick=st.integers(min_value=0))
    def press_any_button_ever_shown(self, who: int, pick: int) -> None:
        """Old buttons as well as new: whatever the bot ever showed this chat."""
        shown = [
            (call.result["message_id"], data)
            for call in self.api.sent_to(who)
            if call.ok and call.result
            for _, data in call.buttons
            if data
        ]
        if not shown:
            return
        message_id, data = shown[pick % len(shown)]
        self._act(self.api.make_callback(who, data, message_id), who, is_message=False)

    @precondition(lambda self: bool(self.fed))
    @rule(pick=st.integers(min_value=0))
    def the_same_update_comes_again(self, pick: int) -> None:
        update = self.fed[pick % len(self.fed)]
        before = self._state()
        replies = self._replies()
        # Straight to the handlers, as a replay after a crash would reach them.
        self.loop.run_until_complete(
            self.harness.app.process_update(Update.de_json(update, self.harness.app.bot))
        )
        assert self._state() == before, "a replayed update changed something"
        assert self._replies() == replies, "a replayed update queued a message"

    @rule(who=st.sampled_from(PEOPLE))
    def the_next_send_to_a_chat_fails(self, who: int) -> None:
        self.api.add_fault(Fault.server_error(method="sendMessage", chat_id=who))

    @rule(minutes=st.integers(min_value=1, max_value=600))
    def time_passes(self, minutes: int) -> None:
        self.loop.run_until_complete(self.harness.advance(timedelta(minutes=minutes)))

    # -- what must always hold -----------------------------------------------------------------

    @invariant()
    def family_timed_messages_wait_only_while_linked(self) -> None:
        rows = self.harness.services.db.conn.execute(
            "SELECT d.id FROM deliveries d JOIN people p ON p.id = d.recipient_id"
            " WHERE d.status = 'pending' AND d.body IS NULL AND d.recipient_id != d.patient_id"
            " AND NOT EXISTS (SELECT 1 FROM family_links f WHERE f.patient_id = d.patient_id"
            "   AND f.family_id = d.recipient_id AND f.status = 'active')"
        ).fetchall()
        assert rows == [], "a timed message waits for someone no longer linked"

    # -- reading the database ------------------------------------------------------------------

    def _state(self) -> dict[str, list[tuple[Any, ...]]]:
        conn = self.harness.services.db.conn
        tables = [
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if row[0] not in BOOKKEEPING
        ]
        return {t: sorted(map(tuple, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}

    def _replies(self) -> list[tuple[int, int]]:
        """(chat, row id) of every reply ever queued."""
        rows = self.harness.services.db.conn.execute(
            "SELECT coalesce(d.chat_id, p.chat_id), d.id FROM deliveries d"
            " LEFT JOIN people p ON p.id = d.recipient_id WHERE d.message_id = 'reply'"
        ).fetchall()
        return [(int(r[0]), int(r[1])) for r in rows]

    def _links(self) -> set[tuple[int, int]]:
        """(patient chat, family chat) of every link, pending or active."""
        rows = self.harness.services.db.conn.execute(
            "SELECT p.chat_id, f.chat_id FROM family_links l"
            " JOIN people p ON p.id = l.patient_id JOIN people f ON f.id = l.family_id"
        ).fetchall()
        return {(int(a), int(b)) for a, b in rows}

    @staticmethod
    def _linked_chats(actor: int, links: set[tuple[int, int]]) -> set[int]:
        return {b for a, b in links if a == actor} | {a for a, b in links if b == actor}


def _chat_of(update: JSON) -> int:
    if "message" in update:
        return int(update["message"]["chat"]["id"])
    return int(update["callback_query"]["message"]["chat"]["id"])


Conversation.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_conversations_apply_each_update_once_and_reach_only_linked_people = Conversation.TestCase
