"""Telegram misbehaving, against the real ``python -m bot`` process.

The fake Bot API injects the faults (429, 403, 400, 5xx, slowness, dropped connections, the
server down); the bot runs on the system clock, so deliveries are seeded due "now". Figures are
printed (``pytest -s``) for the report.
"""

from __future__ import annotations

import itertools
import signal
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from bot.offline.fake_api import Call, FakeBotApi, Fault
from messages.catalog import TimelineEntry
from tests.faultbot import (
    STOP_WAIT,
    BotProcess,
    db_rows,
    seed_due,
    status_counts,
    wait_active,
)

PATIENT = 1001


def _settled(db_path: Path) -> bool:
    return not db_rows(
        db_path, "SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending') LIMIT 1"
    )


def _by_chat(calls: list[Call]) -> dict[int, list[Call]]:
    chats: dict[int, list[Call]] = defaultdict(list)
    for call in calls:
        if isinstance(call.chat_id, int):
            chats[call.chat_id].append(call)
    return chats


def _assert_in_seeded_order(api: FakeBotApi, db_path: Path) -> None:
    """Every chat received its sent rows in due order, each once."""
    rows = db_rows(
        db_path,
        "SELECT p.chat_id, d.message_ref FROM deliveries d JOIN people p"
        " ON p.id = d.recipient_id WHERE d.status = 'sent' ORDER BY d.due_at, d.id",
    )
    refs: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        refs[row["chat_id"]].append(row["message_ref"])
    for chat, calls in _by_chat(api.calls("sendMessage")).items():
        received = [c.result["message_id"] for c in calls if c.ok]
        assert received == refs[chat], f"chat {chat}"


# -- 429 ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_429_storm_loses_nothing_and_no_chat_is_asked_before_its_wait(
    fake_api: FakeBotApi, tmp_path: Path, timeline: tuple[TimelineEntry, ...]
) -> None:
    """Every sendMessage answered 429 retry_after=2 for 8 s (the 5 s / 30 s storm scaled by
    0.27, the same four to five 429s per message): all sent afterwards, in order, and no chat
    asked again before its retry_after had passed."""
    retry_after, storm = 2, 8.0
    db_path = tmp_path / "companion.db"
    seed_due(db_path, timeline, people=50, messages=("provider_first", "rest_up", "calm_start"))
    fake_api.add_fault(Fault.flood(retry_after, method="sendMessage").lasting(storm))
    began = time.monotonic()
    # The global limiter stays on (the AIORateLimiter passes 429s through, max_retries=0).
    process = BotProcess(fake_api, db_path, tmp_path / "logs", env={"COMPANION_RATE_LIMIT": None})
    try:
        wait_active(fake_api, lambda: _settled(db_path), process)
        elapsed = time.monotonic() - began
        code, _ = process.terminate()
        assert code == 0, process.stderr()[-3000:]
    finally:
        process.close()
    assert status_counts(db_path) == {"sent": 150}
    floods = 0
    tightest = float("inf")
    for chat, calls in _by_chat(fake_api.calls("sendMessage")).items():
        for earlier, later in itertools.pairwise(calls):
            if earlier.status == 429:
                floods += 1
                waited = later.at - earlier.at
                tightest = min(tightest, waited)
                assert waited >= retry_after, f"chat {chat} asked again after {waited:.3f}s"
    _assert_in_seeded_order(fake_api, db_path)
    assert "Traceback" not in process.stderr()
    print(
        f"\n[429 storm] retry_after={retry_after}s for {storm}s, 150 deliveries to 50 chats:"
        f" {floods} answered 429, all sent after {elapsed:.1f}s,"
        f" shortest gap after a 429 {tightest:.2f}s"
    )


# -- outages --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_5xx_and_the_server_down_are_waited_out_without_a_restart(
    fake_api: FakeBotApi, tmp_path: Path, timeline: tuple[TimelineEntry, ...]
) -> None:
    """Three seconds of 502 for polling and for the patient's chat, then three seconds of
    connection refused: the same process answers the command whose reply met the 502s (a 502
    may have been delivered, so an answer is tried once more, as after a crash), and sends the
    deliveries that fell due while the server was down (after their back-off), each once."""
    db_path = tmp_path / "companion.db"
    seed_due(db_path, timeline, people=5, messages=("provider_first",), due_in=timedelta(seconds=6))
    process = BotProcess(fake_api, db_path, tmp_path / "logs")
    try:
        process.wait_polling()
        outage_began = time.monotonic()
        fake_api.add_text(PATIENT, "/help")  # its reply meets the 502s
        fake_api.add_fault(Fault.server_error(502, method="getUpdates", times=None).lasting(3.0))
        fake_api.add_fault(
            Fault.server_error(502, method="sendMessage", chat_id=PATIENT, times=None).lasting(3.0)
        )
        time.sleep(3.0)
        fake_api.down()
        time.sleep(3.0)
        fake_api.up()
        replies = wait_active(fake_api, lambda: fake_api.sent_to(PATIENT), process)
        answered_after = time.monotonic() - outage_began
        assert "988" in (replies[0].plain_text or "")
        wait_active(fake_api, lambda: _settled(db_path), process)
        sent_after = time.monotonic() - outage_began
        assert process.running()
        code, _ = process.terminate()
        assert code == 0, process.stderr()[-3000:]
    finally:
        process.close()
    assert status_counts(db_path) == {"sent": 5}
    for chat, calls in _by_chat(fake_api.calls("sendMessage")).items():
        assert sum(c.ok for c in calls) == 1, f"chat {chat}"  # each delivered once
    refused = [c for c in fake_api.calls() if c.status == 502]
    stderr = process.stderr()
    assert "Traceback" not in stderr
    assert "Telegram reachable again" in stderr
    print(
        f"\n[outage] 3 s of 502 ({len(refused)} requests answered 502) + 3 s server down:"
        f" /help answered {answered_after:.1f}s after the outage began; 5 deliveries due"
        f" during it all sent once, the last {sent_after:.1f}s after (dispatcher back-off 30 s+)"
    )


# -- tokens ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_refused_token_exits_1_within_10_seconds_without_printing_it(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    token = "987654321:" + "R" * 35
    fake_api.bad_token = token
    began = time.monotonic()
    process = BotProcess(fake_api, tmp_path / "c.db", tmp_path / "logs", token=token)
    try:
        code = process.wait(timeout=STOP_WAIT)
    finally:
        process.close()
    took = time.monotonic() - began
    assert code == 1 and took < STOP_WAIT
    output = process.stdout() + process.stderr()
    assert token not in output and token.split(":")[1] not in output
    assert "Telegram refused TELEGRAM_BOT_TOKEN" in output
    print(f"\n[token] refused at start: exit 1 after {took:.1f}s, token not in output")


@pytest.mark.slow
def test_a_token_revoked_while_running_stops_with_1(fake_api: FakeBotApi, tmp_path: Path) -> None:
    process = BotProcess(fake_api, tmp_path / "c.db", tmp_path / "logs")
    try:
        process.wait_polling()
        fake_api.add_fault(Fault.unauthorized(times=None))
        began = time.monotonic()
        code = process.wait(timeout=STOP_WAIT + 20)  # the open long poll ends first (10 s)
        took = time.monotonic() - began
    finally:
        process.close()
    assert code == 1
    assert fake_api.token.split(":")[1] not in process.stdout() + process.stderr()
    print(f"\n[token] revoked while running: exit 1 after {took:.1f}s")


@pytest.mark.slow
def test_a_conflict_is_logged_as_another_instance_using_the_token(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    fake_api.add_fault(Fault.conflict(times=2))
    process = BotProcess(fake_api, tmp_path / "c.db", tmp_path / "logs")
    try:
        conflict = "another instance is using this bot token"
        wait_active(fake_api, lambda: conflict in process.stderr(), process)
        fake_api.add_text(PATIENT, "/help")
        wait_active(fake_api, lambda: fake_api.sent_to(PATIENT), process)
        code, _ = process.terminate()
        assert code == 0
    finally:
        process.close()
    assert process.stderr().count("another instance is using this bot token") == 1


# -- stopping -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_mid_handler_exits_0_within_10_s_and_loses_nothing(
    fake_api: FakeBotApi, tmp_path: Path, sig: signal.Signals
) -> None:
    """The reply hangs for 30 s when the signal comes: the process still exits 0 within 10 s.
    The command was applied once, with its reply queued; the reply cut short is sent again at
    the next start (an answer is resent once after a crash), and the command is not re-run."""
    db_path = tmp_path / "companion.db"
    process = BotProcess(fake_api, db_path, tmp_path / "logs")
    try:
        process.wait_polling()
        hang = fake_api.add_fault(Fault.slow(30.0, method="sendMessage", chat_id=PATIENT))
        fake_api.add_text(PATIENT, "/help")
        wait_active(fake_api, lambda: hang.hits, process)
        code, took = process.terminate(sig)
    finally:
        process.close()
    assert code == 0, process.stderr()[-3000:]
    assert took < STOP_WAIT
    assert db_rows(db_path, "SELECT status FROM inbox")[0]["status"] == "done"
    reply = db_rows(db_path, "SELECT status FROM deliveries WHERE message_id = 'reply'")
    # Cut short: still "sending" (judged at the next start), or back to "pending" when the
    # shutdown closed its connection first; either way it is sent again, never lost.
    assert [row["status"] for row in reply] in (["sending"], ["pending"])
    again = BotProcess(fake_api, db_path, tmp_path / "logs")
    try:
        # Its back-off (30 s and up, from the moment the shutdown cut it) is waited out. The
        # hung first try counts too once the fake answers it: the person may read it twice,
        # never not at all.
        wait_active(
            fake_api, lambda: len([c for c in fake_api.sent_to(PATIENT) if c.ok]) >= 2, again
        )
        code, _ = again.terminate()
        assert code == 0
    finally:
        again.close()
    print(f"\n[stop] {sig.name} while a reply hung: exit 0 after {took:.1f}s; resent next start")


@pytest.mark.slow
def test_started_while_telegram_is_down_it_waits_then_serves(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """Connection refused at start is not fatal: it retries with back-off, then serves; a
    SIGTERM during that wait still stops it at once."""
    fake_api.down()
    process = BotProcess(fake_api, tmp_path / "c.db", tmp_path / "logs")
    try:
        wait_active(fake_api, lambda: "Telegram unreachable" in process.stderr(), process)
        assert process.running()
        fake_api.up()
        process.wait_polling()
        fake_api.add_text(PATIENT, "/help")
        wait_active(fake_api, lambda: fake_api.sent_to(PATIENT), process)
        code, _ = process.terminate()
        assert code == 0
        fake_api.down()
        second = BotProcess(fake_api, tmp_path / "c.db", tmp_path / "logs")
        try:
            wait_active(fake_api, lambda: "Telegram unreachable" in second.stderr(), second)
            code, took = second.terminate()
            assert code == 0 and took < 2.0
        finally:
            second.close()
        fake_api.up()
    finally:
        process.close()
