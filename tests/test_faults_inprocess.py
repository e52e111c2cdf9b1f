"""Telegram faults on simulated time: the real bot stack in-process, a ManualClock, the fake API.

Where the process adds nothing (the dispatcher's decisions over hours), simulated time keeps
the semantics at full scale: a 30-second flood-control storm, three hours of downtime.
Tests marked ``xfail(strict=True)`` pin behaviour the fault policy needs from code outside this
suite's owner (named in each reason); they start passing, and so fail as XPASS, once it lands.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.errors import TokenRedactingFilter
from bot.offline.fake_api import FakeBotApi, Fault
from bot.sender import TelegramSender
from messages import Catalog
from scheduler.companion import Companion
from scheduler.dispatch import Dispatcher
from scheduler.model import Kind
from scheduler.store.db import Database
from scheduler.store.deliveries import Deliveries, Delivery
from tests.botharness import FAMILY, PATIENT, START, BotHarness

SESSION = datetime(2026, 12, 2, 10, 0)  # noqa: DTZ001 - local wall-clock, Europe/Berlin


def _register(harness: BotHarness) -> int:
    companion = harness.services.companion
    patient = companion.register_patient(PATIENT, "Ann", "Europe/Berlin", START)
    companion.add_session(patient.id, SESSION, Kind.IV, START)
    harness.services.rearm()
    return patient.id


def _rows(harness: BotHarness, person_id: int) -> list[Delivery]:
    return Deliveries(harness.services.db).for_person(person_id)


def _first_due(harness: BotHarness) -> datetime:
    due = harness.services.dispatcher.next_due()
    assert due is not None
    return due


# -- downtime -----------------------------------------------------------------------------------


async def test_three_hours_down_across_a_session_sends_the_relevant_once_in_order(
    harness: BotHarness,
) -> None:
    """Down from 70 minutes before the session (09:00 UTC) to 110 minutes after it: what is
    still relevant goes once, in order per chat; the rest is skipped as expired; nothing is
    sent after its deadline."""
    patient = _register(harness)
    companion = harness.services.companion
    link_id, _ = companion.redeem_invite(
        companion.create_invite(patient, START), FAMILY, "Bo", START
    )
    companion.approve_link(patient, link_id, START)
    family = companion.person_by_chat(FAMILY)
    assert family is not None
    session_start = datetime(2026, 12, 2, 9, 0, tzinfo=START.tzinfo)
    down_from = session_start - timedelta(minutes=70)
    down_until = down_from + timedelta(hours=3)
    await harness.advance_to(down_from)
    already = {r.id for p in (patient, family.id) for r in _rows(harness, p) if r.sent_at}
    mark = harness.api.mark()
    # (A dispatch job already waiting on the lock may be the one that sends them.)
    await harness.advance_to(down_until)
    during = [
        r
        for person in (patient, family.id)
        for r in _rows(harness, person)
        if down_from < r.due_at <= down_until and r.id not in already
    ]
    assert during, "the outage covered no delivery"
    for row in during:
        if row.deadline <= down_until:
            assert (row.status.value, row.reason) == ("skipped", "expired")
        else:
            assert row.status.value == "sent"
            assert row.sent_at is not None and row.sent_at < row.deadline
    sent = sorted((r for r in during if r.status.value == "sent"), key=lambda r: (r.due_at, r.id))
    skipped = [r for r in during if r.status.value == "skipped"]
    assert sent and skipped
    for chat, person in ((PATIENT, patient), (FAMILY, family.id)):
        refs = [c.result["message_id"] for c in harness.api.sent_to(chat, since=mark)]
        assert refs == [r.message_ref for r in sent if r.recipient_id == person]
    print(
        f"\n[downtime 3h] {len(during)} due while down: {len(sent)} sent late-but-relevant"
        f" ({', '.join(r.message_id for r in sent)}), {len(skipped)} skipped as expired"
        f" ({', '.join(r.message_id for r in skipped)}), 0 sent past a deadline"
    )


# -- 403, 400, dropped ----------------------------------------------------------------------------


async def test_blocked_marks_the_person_gone_and_stops_their_pending_messages(
    harness: BotHarness,
) -> None:
    patient = _register(harness)
    harness.api.add_fault(Fault.blocked(method="sendMessage", chat_id=PATIENT, times=None))
    await harness.advance_to(_first_due(harness))
    statuses = {r.status.value for r in _rows(harness, patient)}
    assert "pending" not in statuses and "failed" in statuses
    state = harness.services.companion.people.state(patient)
    assert state is not None and state.gone
    assert harness.services.dispatcher.next_due() is None


async def test_a_blocked_person_who_comes_back_with_start_gets_messages_again(
    harness: BotHarness,
) -> None:
    patient = _register(harness)
    harness.api.add_fault(Fault.blocked(method="sendMessage", chat_id=PATIENT, times=1))
    await harness.advance_to(_first_due(harness))
    harness.api.clear_faults()
    await harness.say(PATIENT, "/start", expect=0)
    state = harness.services.companion.people.state(patient)
    assert state is not None and not state.gone
    assert harness.services.dispatcher.next_due() is not None


async def test_a_400_fails_that_message_only_and_logs_no_text(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    patient = _register(harness)
    harness.api.add_fault(
        Fault.bad_request("can't parse entities", method="sendMessage", chat_id=PATIENT)
    )
    # Even at DEBUG, with the production filter on the handler: PTB's own payload lines are
    # withheld, and ours never carry text.
    caplog.handler.addFilter(TokenRedactingFilter())
    with caplog.at_level(logging.DEBUG):
        await harness.advance_to(_first_due(harness))
        await harness.advance_to(_first_due(harness))
    (refused,) = [c for c in harness.api.calls("sendMessage") if c.status == 400]
    rows = _rows(harness, patient)
    failed = [r for r in rows if r.status.value == "failed"]
    assert len(failed) == 1 and (failed[0].reason or "").startswith("bad_request")
    assert any(r.status.value == "sent" for r in rows)
    text = refused.plain_text or ""
    assert text and text[:40] not in caplog.text


async def test_a_connection_dropped_mid_send_is_unknown_and_never_resent(
    harness: BotHarness,
) -> None:
    """The fake reads the request, then closes the connection without answering: Telegram may
    have delivered it, so a reminder is recorded unknown after exactly one request, and the
    rows after it still go."""
    patient = _register(harness)
    harness.api.add_fault(Fault.dropped(method="sendMessage", chat_id=PATIENT))
    due = _first_due(harness)
    first = await harness.advance_to(due)
    assert (first.unknown, first.retried) == (1, 0)
    await harness.advance_to(due + timedelta(hours=2))
    rows = _rows(harness, patient)
    earliest = min(rows, key=lambda r: (r.due_at, r.id))
    assert not earliest.urgent and earliest.status.value == "unknown"
    assert (earliest.reason or "").startswith("ambiguous:network: httpx.RemoteProtocolError")
    assert earliest.attempts == 1
    assert len(harness.api.calls("sendMessage")) == 1  # the one request, never repeated
    later = [r for r in rows if r.id != earliest.id and r.due_at <= due + timedelta(hours=2)]
    assert all(r.status.value == "sent" for r in later)


async def test_an_urgent_message_dropped_mid_send_goes_once_more_and_no_more(
    harness: BotHarness,
) -> None:
    """An urgent message whose connection dropped after the request goes once more (a second
    "last steps" is harmless, a missing one is not); dropped again, it is unknown: two requests
    in all, never a third."""
    patient = _register(harness)
    urgent = min((r for r in _rows(harness, patient) if r.urgent), key=lambda r: r.due_at)
    await harness.advance_to(urgent.due_at - timedelta(minutes=1))
    mark = harness.api.mark()
    harness.api.add_fault(Fault.dropped(method="sendMessage", chat_id=PATIENT, times=2))
    report = await harness.advance_to(urgent.due_at)
    assert report.retried == 1
    await harness.advance_to(urgent.due_at + timedelta(minutes=5))
    after = Deliveries(harness.services.db).get(urgent.id)
    assert after is not None and after.status.value == "unknown"
    calls = harness.api.calls("sendMessage", since=mark)
    assert [c.status for c in calls] == [0, 0]  # dropped twice, not tried a third time
    assert calls[0].params["text"] == calls[1].params["text"]


# -- 429 at full scale ----------------------------------------------------------------------------


async def test_a_30_second_storm_of_retry_after_5_loses_nothing(harness: BotHarness) -> None:
    patient = _register(harness)
    storm = harness.api.add_fault(Fault.flood(5, method="sendMessage", times=None))
    now = _first_due(harness)
    await harness.advance_to(now)
    for _ in range(5):  # the storm's 30 s, in steps of its retry_after: six 429s in all
        now += timedelta(seconds=5)
        await harness.advance_to(now)
    storm.times = storm.hits  # over
    await harness.advance_to(now + timedelta(seconds=5))
    first = min(_rows(harness, patient), key=lambda r: (r.due_at, r.id))
    assert first.status.value == "sent", (first.status, first.reason)


# -- read timeouts: ambiguous ---------------------------------------------------------------------


@pytest.fixture
async def short_timeout_bot(fake_api: FakeBotApi) -> AsyncIterator[Bot]:
    request = HTTPXRequest(read_timeout=0.3, connect_timeout=1.0)
    async with Bot(fake_api.token, base_url=fake_api.base_url, request=request) as bot:
        yield bot


async def test_a_read_timeout_on_a_reminder_is_unknown_and_not_resent(
    fake_api: FakeBotApi,
    short_timeout_bot: Bot,
    tmp_path: Path,
    catalog: Catalog,
) -> None:
    db = Database(tmp_path / "c.db")
    try:
        companion = Companion(db, catalog.timeline)
        patient = companion.register_patient(PATIENT, "Ann", "Europe/Berlin", START)
        companion.add_session(patient.id, SESSION, Kind.IV, START)
        dispatcher = Dispatcher(
            db,
            catalog,
            TelegramSender(short_timeout_bot),
            crisis_line="988",
            chat_interval=timedelta(0),
        )
        store = Deliveries(db)
        due = store.next_due()
        assert due is not None
        (row,) = [r for r in store.for_person(patient.id) if r.due_at == due][:1]
        assert not row.urgent
        fake_api.add_fault(Fault.slow(1.0, method="sendMessage", chat_id=PATIENT))
        await dispatcher.dispatch_due(due)
        await fake_api.wait_for_async(lambda: fake_api.sent_to(PATIENT), 5.0)  # it did arrive
        await dispatcher.dispatch_due(due + timedelta(hours=1))
        after = store.get(row.id)
        assert after is not None and after.status.value == "unknown"
        assert len(fake_api.sent_to(PATIENT)) == 1  # delivered once, by the timed-out request
    finally:
        db.close()
