"""SIGKILL at 20 moments while 1000 deliveries for 200 people are due; restart after each.

The real ``python -m bot`` sends to the fake Bot API; the test reads the database file and the
fake's record of every request. Figures are printed (``pytest -s``) for the report.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from bot.offline.fake_api import FakeBotApi, Fault
from messages.catalog import TimelineEntry
from tests.faultbot import STOP_WAIT, BotProcess, db_rows, seed_due, status_counts, wait_active

PEOPLE = 200
KILLS = 20
GONE = (7, 77, 177)  # patients who blocked the bot: 403 for every send to them


def _ok_sends(api: FakeBotApi) -> int:
    return sum(1 for c in api.calls("sendMessage") if c.ok)


def _wait_sends(api: FakeBotApi, process: BotProcess, target: int, db_path: Path) -> None:
    """Until ``target`` sends went well, or nothing is left to send (up to 16 rows in flight at
    each kill become ``unknown``, so how many sends the backlog holds is not known ahead)."""
    wait_active(
        api,
        lambda: (
            _ok_sends(api) >= target
            or not db_rows(db_path, "SELECT 1 FROM deliveries WHERE status = 'pending' LIMIT 1")
        ),
        process,
    )


@pytest.mark.slow
def test_sigkill_at_20_moments_loses_nothing_and_duplicates_only_urgent_in_flight(
    fake_api: FakeBotApi, tmp_path: Path, timeline: tuple[TimelineEntry, ...]
) -> None:
    """Every row ends sent, skipped, failed/cancelled (gone) or unknown; none pending; only
    urgent rows in flight at a kill are sent twice; every chat gets its messages in order."""
    db_path = tmp_path / "companion.db"
    seeded = seed_due(db_path, timeline, people=PEOPLE, expired_every=50, gone=GONE)
    for chat in seeded.gone_chats:
        fake_api.add_fault(Fault.blocked(method="sendMessage", chat_id=chat, times=None))
    total = len(db_rows(db_path, "SELECT id FROM deliveries"))
    assert total == 1000
    rng = random.Random(20)
    in_flight: dict[int, bool] = {}  # delivery id -> urgent, for rows "sending" at a kill
    moments: list[str] = []
    began = time.monotonic()
    for kill in range(KILLS):
        process = BotProcess(fake_api, db_path, tmp_path / "logs")
        try:
            if kill % 5 == 0:
                # During start-up: imports, migration, recovery, the first claims.
                delay = rng.uniform(0.3, 1.5)
                time.sleep(delay)
                moments.append(f"t+{delay:.2f}s")
            else:
                # Spread over the whole backlog, so urgent rows (the last two rounds) are hit:
                # each kill also ends up to 16 sends in flight, so steps stay short.
                target = _ok_sends(fake_api) + rng.randint(10, 35)
                _wait_sends(fake_api, process, target, db_path)
                time.sleep(rng.uniform(0, 0.01))
                moments.append(f"after {target} sends")
            assert process.running(), process.stderr()[-3000:]
            process.kill()
        finally:
            process.close()
        for row in db_rows(db_path, "SELECT id, urgent FROM deliveries WHERE status = 'sending'"):
            in_flight[row["id"]] = bool(row["urgent"])
    final = BotProcess(fake_api, db_path, tmp_path / "logs")
    try:
        wait_active(
            fake_api,
            lambda: (
                not db_rows(
                    db_path,
                    "SELECT 1 FROM deliveries WHERE status IN ('pending', 'sending') LIMIT 1",
                )
            ),
            final,
        )
        code, took = final.terminate()
        assert code == 0, final.stderr()[-3000:]
        assert took < STOP_WAIT
    finally:
        final.close()
    elapsed = time.monotonic() - began

    counts = status_counts(db_path)
    rows = db_rows(
        db_path,
        "SELECT d.id, d.key, d.status, d.reason, d.urgent, d.message_ref, p.chat_id"
        " FROM deliveries d JOIN people p ON p.id = d.recipient_id ORDER BY d.due_at, d.id",
    )
    assert set(counts) <= {"sent", "skipped", "failed", "cancelled", "unknown"}, counts
    for row in rows:
        if row["status"] == "skipped":
            assert row["reason"] == "expired"
        if row["status"] in ("failed", "cancelled"):
            assert row["chat_id"] in seeded.gone_chats, dict(row)
        if row["key"] in seeded.expired_keys:
            assert row["status"] in ("skipped", "cancelled")
        if row["status"] == "unknown":
            assert row["id"] in in_flight
    by_chat: dict[int, list[str]] = defaultdict(list)
    for call in fake_api.calls("sendMessage"):
        if call.ok and isinstance(call.chat_id, int):
            by_chat[call.chat_id].append(call.plain_text or "")
    duplicates = 0
    urgent_in_flight_by_chat: Counter[int] = Counter()
    row_chat = {row["id"]: row["chat_id"] for row in rows}
    for delivery_id, urgent in in_flight.items():
        if urgent:
            urgent_in_flight_by_chat[row_chat[delivery_id]] += 1
    for chat, received in by_chat.items():
        sent_rows = [r for r in rows if r["chat_id"] == chat and r["status"] == "sent"]
        unknown = sum(1 for r in rows if r["chat_id"] == chat and r["status"] == "unknown")
        extra = len(received) - len(set(received))
        duplicates += extra
        # Only urgent rows interrupted mid-send may arrive twice, once each.
        assert extra <= urgent_in_flight_by_chat[chat], (chat, received)
        assert len(sent_rows) <= len(set(received)) <= len(sent_rows) + unknown
        # Order: each sent row's text first appears after the previous row's.
        texts = []
        for row in sent_rows:
            message = fake_api.message(chat, row["message_ref"])
            assert message is not None
            texts.append(message["text"])
        firsts = [received.index(text) for text in texts]
        assert firsts == sorted(firsts), f"chat {chat}: out of order"
    print(
        f"\n[crash x{KILLS}] {total} deliveries, {PEOPLE} people, {elapsed:.1f}s;"
        f" final statuses {dict(sorted(counts.items()))};"
        f" in flight at kills: {len(in_flight)} ({sum(in_flight.values())} urgent);"
        f" duplicates delivered: {duplicates}; kill moments: {', '.join(moments)}"
    )
