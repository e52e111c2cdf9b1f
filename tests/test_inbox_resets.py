"""The inbox across Telegram's id resets and token changes, and fair between chats.

Telegram restarts ``update_id`` at a lower, random number after a week without updates, and
another token on the same database brings ids of its own: neither may make the bot deaf. One
chat's flood must not hold the other chats back.

Storage tests on a real SQLite file; poller tests run ``bot.app.serve`` in-process against the
fake Bot API over HTTP (see ``tests/test_inbox.py``). Ordering is asserted on the order the
``/probe`` handler saw updates in, never on time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.clock import ManualClock
from bot.offline.fake_api import FakeBotApi
from scheduler.store.db import Database
from scheduler.store.inbox import KEEP_DONE, Inbox, Incoming
from tests.botharness import FAMILY, PATIENT, START
from tests.test_inbox import WAIT, incoming, start_serving

JSON = dict[str, Any]
OTHER = 3003  # a third private chat
WEEK_LATER = START + timedelta(days=8)


def raw(update_id: int, chat_id: int | None = None, payload: str = "{}") -> Incoming:
    return Incoming(update_id, chat_id, payload)


def ids(inbox: Inbox, **kwargs: Any) -> list[int]:
    return [item.update_id for item in inbox.pending(**kwargs)]


def queue_with_id(api: FakeBotApi, chat_id: int, update_id: int) -> JSON:
    """A ``/probe`` from ``chat_id`` queued at the fake with an id we choose (a reset one)."""
    update = api.make_text(chat_id, "/probe")
    update["update_id"] = update_id
    return api.add_update(update)


def offsets(api: FakeBotApi) -> list[int | None]:
    """The offset of every answered getUpdates, in order (None: sent without one)."""
    return [call.params.get("offset") for call in api.calls("getUpdates") if call.ok]


# -- the store ----------------------------------------------------------------------------------


def test_a_reset_id_below_every_stored_one_is_stored_and_handled_after_them(db: Database) -> None:
    """Arrival order, not id order: the reset update comes after what was already waiting."""
    inbox = Inbox(db)
    assert inbox.store([raw(900_001, PATIENT), raw(900_002, PATIENT)], START) == 2
    assert inbox.store([raw(17, PATIENT)], START) == 1
    assert ids(inbox) == [900_001, 900_002, 17]


def test_within_one_batch_the_order_is_update_id_order(db: Database) -> None:
    inbox = Inbox(db)
    inbox.store([raw(12, PATIENT), raw(10, PATIENT), raw(11, PATIENT)], START)
    assert ids(inbox) == [10, 11, 12]


def test_a_reset_id_equal_to_an_old_handled_one_is_a_new_update(db: Database) -> None:
    """Within a day an id already stored is Telegram sending it again; a week later it can only
    be a new update that reuses the number, even if the old row was never pruned."""
    inbox = Inbox(db)
    inbox.store([raw(500, PATIENT, '{"old": 1}')], START)
    inbox.mark_done(500, START)
    assert inbox.store([raw(500, PATIENT, '{"copy": 1}')], START + KEEP_DONE) == 0
    assert inbox.pending() == []
    assert inbox.store([raw(500, FAMILY, '{"new": 1}')], WEEK_LATER) == 1
    [item] = inbox.pending()
    assert (item.update_id, item.chat_id, item.payload, item.attempts) == (
        500,
        FAMILY,
        '{"new": 1}',
        0,
    )
    assert not inbox.is_handled(500)
    assert inbox.store([raw(500, FAMILY, '{"new": 1}')], WEEK_LATER) == 0  # and its copy


def test_a_pending_row_from_before_a_reset_gives_way_to_the_new_update(db: Database) -> None:
    """Only one row can hold an id; the person waiting now is the one with the new update."""
    inbox = Inbox(db)
    inbox.store([raw(500, PATIENT, '{"old": 1}'), raw(501, PATIENT)], START)
    assert inbox.store([raw(500, FAMILY, '{"new": 1}')], WEEK_LATER) == 1
    assert [(i.update_id, i.payload) for i in inbox.pending()] == [
        (501, "{}"),
        (500, '{"new": 1}'),
    ]


def test_pending_serves_chats_round_robin_each_in_its_own_order(db: Database) -> None:
    inbox = Inbox(db)
    inbox.store([raw(i, PATIENT) for i in range(1, 6)], START)  # a flood from one chat
    inbox.store([raw(6, FAMILY), raw(7, None), raw(8, OTHER), raw(9, FAMILY)], START)
    assert ids(inbox) == [1, 6, 7, 8, 2, 9, 3, 4, 5]
    assert ids(inbox, limit=3) == [1, 6, 7]


# -- the poller: id resets and token changes -----------------------------------------------------


async def test_ids_reset_lower_while_running_are_received_and_handled(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """After a confirmed batch the bot asks without an offset, so a reset id is returned to it
    instead of being confirmed (deleted) unseen by an offset above it."""
    running = await start_serving(fake_api, tmp_path / "companion.db")
    try:
        first = fake_api.add_text(PATIENT, "/probe")
        await fake_api.wait_for_async(lambda: first["update_id"] + 1 in offsets(fake_api), WAIT)
        reset = queue_with_id(fake_api, PATIENT, 7)
        await fake_api.wait_for_async(lambda: reset["update_id"] in running.seen, WAIT)
        await fake_api.wait_for_async(lambda: Inbox(running.db).counts() == {"done": 2}, WAIT)
        await fake_api.wait_for_async(lambda: 8 in offsets(fake_api), WAIT)  # confirmed after
        assert running.seen == [first["update_id"], 7]
        assert not fake_api.pending_updates()
    finally:
        assert await running.stop() == 0


async def test_ids_reset_after_a_quiet_week_are_handled_after_a_restart(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """The restart asks without an offset; the reset ids (one equal to an old handled id) are
    stored, handled in arrival order and only then confirmed."""
    db_path = tmp_path / "companion.db"
    running = await start_serving(fake_api, db_path)
    try:
        before = [fake_api.add_text(PATIENT, "/probe")["update_id"] for _ in range(2)]
        await fake_api.wait_for_async(lambda: running.seen == before, WAIT)
        await fake_api.wait_for_async(lambda: Inbox(running.db).counts() == {"done": 2}, WAIT)
        await fake_api.wait_for_async(lambda: before[1] + 1 in offsets(fake_api), WAIT)
    finally:
        assert await running.stop() == 0
    await fake_api.wait_for_async(lambda: fake_api.waiting_polls == 0, WAIT)
    polls = len(fake_api.calls("getUpdates"))
    # Restarted one below the old first id: two of the three reuse numbers already handled.
    start = before[0] - 1
    reset = [queue_with_id(fake_api, chat, start + i) for i, chat in enumerate((PATIENT, FAMILY))]
    reset.append(queue_with_id(fake_api, PATIENT, start + 2))
    again = await start_serving(fake_api, db_path, clock=ManualClock(WEEK_LATER))
    try:
        await fake_api.wait_for_async(lambda: Inbox(again.db).counts() == {"done": 3}, WAIT)
        await fake_api.wait_for_async(lambda: not fake_api.pending_updates(), WAIT)
        assert again.seen == [u["update_id"] for u in reset]
        assert fake_api.calls("getUpdates")[polls].params.get("offset") is None
    finally:
        assert await again.stop() == 0


async def test_a_token_change_on_the_same_database_is_heard(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """Another bot's ids, lower than every id the first one stored, are all handled."""
    db_path = tmp_path / "companion.db"
    running = await start_serving(fake_api, db_path)
    try:
        old = fake_api.add_text(PATIENT, "/probe")
        await fake_api.wait_for_async(lambda: running.seen == [old["update_id"]], WAIT)
        await fake_api.wait_for_async(lambda: Inbox(running.db).counts() == {"done": 1}, WAIT)
    finally:
        assert await running.stop() == 0
    with FakeBotApi(bot_id=7000000002, bot_username="other_companion_bot") as other:
        assert other.token != fake_api.token
        new = [queue_with_id(other, PATIENT, 5000), queue_with_id(other, FAMILY, 5001)]
        again = await start_serving(other, db_path)
        try:
            await other.wait_for_async(lambda: Inbox(again.db).counts() == {"done": 3}, WAIT)
            await other.wait_for_async(lambda: not other.pending_updates(), WAIT)
            assert again.seen == [u["update_id"] for u in new]
        finally:
            assert await again.stop() == 0


async def test_a_crash_between_store_and_confirm_replays_nothing_twice(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """Stored (one even handled) but never confirmed: Telegram sends all three again at the
    restart, which asks without an offset; the copies are dropped, the rest handled once."""
    db_path = tmp_path / "companion.db"
    db = Database(db_path)
    handled, first, second = (fake_api.add_text(PATIENT, "/probe") for _ in range(3))
    inbox = Inbox(db)
    inbox.store([incoming(u) for u in (handled, first, second)], START)
    inbox.begin(handled["update_id"])
    inbox.mark_done(handled["update_id"], START)
    db.close()
    later = fake_api.add_text(FAMILY, "/probe")  # arrived while the bot was down
    running = await start_serving(fake_api, db_path)
    try:
        await fake_api.wait_for_async(lambda: Inbox(running.db).counts() == {"done": 4}, WAIT)
        await fake_api.wait_for_async(lambda: not fake_api.pending_updates(), WAIT)
        assert sorted(running.seen) == [first["update_id"], second["update_id"], later["update_id"]]
        assert [u for u in running.seen if u != later["update_id"]] == [
            first["update_id"],
            second["update_id"],
        ]
        assert offsets(fake_api)[0] is None
    finally:
        assert await running.stop() == 0


# -- the poller: fairness -----------------------------------------------------------------------


async def test_a_flood_from_one_chat_does_not_hold_back_another_chat(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """30 updates from one chat, then one from another, fetched together: the other chat's
    comes second, and the flood keeps its own order."""
    flood = [fake_api.add_text(PATIENT, "/probe")["update_id"] for _ in range(30)]
    single = fake_api.add_text(FAMILY, "/probe")["update_id"]
    running = await start_serving(fake_api, tmp_path / "companion.db", rate_limit=False)
    try:
        await fake_api.wait_for_async(lambda: len(running.seen) == 31, WAIT)
        assert running.seen.index(single) == 1
        assert [u for u in running.seen if u != single] == flood
        chats = running.db.conn.execute("SELECT DISTINCT chat_id FROM inbox ORDER BY chat_id")
        assert [row[0] for row in chats] == [PATIENT, FAMILY]
    finally:
        assert await running.stop() == 0


async def test_a_flood_bigger_than_one_fetch_does_not_hold_back_another_chat(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """130 updates from one chat queued at Telegram before another chat's one: getUpdates
    returns 100 at a time, and fetching goes on while the first 100 are handled, so the other
    chat's update is handled long before the first fetch's flood is through. (Exactly when
    depends on when the second answer arrives, hence a bound rather than a position.)"""
    flood = [fake_api.add_text(PATIENT, "/probe")["update_id"] for _ in range(130)]
    single = fake_api.add_text(FAMILY, "/probe")["update_id"]
    running = await start_serving(fake_api, tmp_path / "companion.db", rate_limit=False)
    try:
        await fake_api.wait_for_async(lambda: len(running.seen) == 131, 3 * WAIT)
        assert running.seen.index(single) < 50
        assert [u for u in running.seen if u != single] == flood
    finally:
        assert await running.stop() == 0
