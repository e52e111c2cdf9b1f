"""Retention: an old series goes, a current one stays, handled updates and stale dialogs go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from messages import Catalog
from scheduler.companion import Companion
from scheduler.dispatch import Dispatcher
from scheduler.model import Kind
from scheduler.retention import erase_expired
from scheduler.store.db import Database
from scheduler.store.deliveries import Deliveries
from scheduler.store.inbox import Inbox, Incoming
from tests.fakes import FakeSender

JAN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # the January series ended ~140 days before
ZONE = "Europe/Berlin"
MARK = "retention-marker-7f3a"  # a string stored only on a row of the old series


def wall(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def settle(db: Database, catalog: Catalog, until: datetime) -> None:
    """Send (to a fake) or skip everything due by ``until``, as the running bot would have."""
    await Dispatcher(db, catalog, FakeSender(), crisis_line="988").dispatch_due(until)


def count(db: Database, sql: str, *params: object) -> int:
    return int(db.conn.execute(sql, params).fetchone()[0])


@pytest.fixture
async def seeded(companion: Companion, db: Database, catalog: Catalog) -> dict[str, int]:
    """Ada: a January series and a June one still to come. Bo: only a January series."""
    ada = companion.register_patient(11, "Ada", ZONE, JAN)
    bo = companion.register_patient(12, "Bo", ZONE, JAN)
    old = [
        companion.add_session(ada.id, wall("2026-01-12 10:00"), Kind.IV, JAN),
        companion.add_session(ada.id, wall("2026-01-14 10:00"), Kind.IV, JAN),
        companion.add_session(bo.id, wall("2026-01-13 10:00"), Kind.NASAL, JAN),
    ]
    await settle(db, catalog, JAN + timedelta(days=60))
    db.conn.execute("UPDATE deliveries SET reason = ? WHERE session_id = ?", (MARK, old[0].id))
    booked = NOW - timedelta(days=2)
    current = companion.add_session(ada.id, wall("2026-06-10 10:00"), Kind.IV, booked)
    return {"ada": ada.id, "bo": bo.id, "old": old[0].id, "current": current.id}


async def test_an_old_series_is_erased_and_a_current_one_kept(
    companion: Companion, db: Database, seeded: dict[str, int]
) -> None:
    """Sessions, deliveries and the series row of ended series go; the June series, its
    deliveries and both people stay."""
    ada, bo = seeded["ada"], seeded["bo"]
    current_rows = count(
        db, "SELECT count(*) FROM deliveries WHERE session_id = ?", seeded["current"]
    )
    assert current_rows > 0
    assert count(db, "SELECT count(*) FROM deliveries WHERE session_id = ?", seeded["old"]) > 0

    erased = erase_expired(db, NOW, retention_days=90)

    assert (erased.series, erased.sessions) == (2, 3)
    assert [s.id for s in companion.sessions(ada)] == [seeded["current"]]
    assert companion.sessions(bo) == []
    assert count(db, "SELECT count(*) FROM sessions") == 1
    assert count(db, "SELECT count(*) FROM series") == 1
    assert count(db, "SELECT count(*) FROM deliveries WHERE session_id = ?", seeded["old"]) == 0
    remaining = count(db, "SELECT count(*) FROM deliveries WHERE message_id != 'reply'")
    assert remaining == current_rows
    assert companion.person(ada) is not None and companion.person(bo) is not None


async def test_a_series_inside_the_window_is_kept(db: Database, seeded: dict[str, int]) -> None:
    """With a year's retention nothing of January is old enough."""
    erased = erase_expired(db, NOW, retention_days=365)
    assert (erased.series, erased.sessions) == (0, 0)
    assert count(db, "SELECT count(*) FROM sessions") == 4


async def test_the_latest_series_waits_while_a_session_could_still_join_it(
    companion: Companion, db: Database, catalog: Catalog
) -> None:
    """A short retention never erases the series a new session would still join."""
    cy = companion.register_patient(13, "Cy", ZONE, JAN)
    companion.add_session(cy.id, wall("2026-01-12 10:00"), Kind.IV, JAN)
    await settle(db, catalog, JAN + timedelta(days=20))
    day_after = datetime(2026, 1, 25, 9, 0, tzinfo=UTC)  # 13 days after: inside the 28-day gap
    assert erase_expired(db, day_after, retention_days=7).series == 0
    assert erase_expired(db, day_after + timedelta(days=20), retention_days=7).series == 1


async def test_a_series_with_a_message_still_to_send_is_kept(
    companion: Companion, db: Database
) -> None:
    """Never dispatched (the bot was down): its pending rows hold the series back."""
    dee = companion.register_patient(14, "Dee", ZONE, JAN)
    companion.add_session(dee.id, wall("2026-01-12 10:00"), Kind.IV, JAN)
    assert erase_expired(db, NOW, retention_days=90).series == 0


async def test_erased_rows_do_not_stay_in_the_file(
    db: Database, seeded: dict[str, int], tmp_path: Path
) -> None:
    """secure_delete is on and the WAL is truncated: the old series' text is gone from disk."""
    assert db.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    db.scrub()
    files = [tmp_path / "companion.db", tmp_path / "companion.db-wal"]
    assert any(MARK.encode() in f.read_bytes() for f in files if f.exists())
    erase_expired(db, NOW, retention_days=90)
    assert db.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert all(MARK.encode() not in f.read_bytes() for f in files if f.exists())


def test_handled_updates_past_the_window_and_stale_dialogs_are_erased(
    companion: Companion, db: Database
) -> None:
    """A handled update older than a day goes, a pending one never; a set-up left for 30 days
    goes, a recent one stays."""
    inbox = Inbox(db)
    old = NOW - timedelta(days=2)
    inbox.store([Incoming(1, 11, "{}"), Incoming(2, 11, "{}")], old)
    inbox.mark_done(1, old)
    inbox.store([Incoming(3, 11, "{}")], NOW)
    inbox.mark_done(3, NOW)
    companion.dialogs.set(11, "onboarding.name", {}, NOW - timedelta(days=31))
    companion.dialogs.set(12, "onboarding.name", {}, NOW - timedelta(days=3))

    erased = erase_expired(db, NOW)

    assert (erased.updates, erased.dialogs) == (1, 1)
    ids = [row[0] for row in db.conn.execute("SELECT update_id FROM inbox ORDER BY update_id")]
    assert ids == [2, 3]
    assert companion.dialogs.get(11) is None
    assert companion.dialogs.get(12) is not None


def test_old_answers_are_erased_and_recent_or_unsent_ones_kept(db: Database) -> None:
    deliveries = Deliveries(db)
    for when in (NOW - timedelta(days=100), NOW - timedelta(days=10)):
        deliveries.queue_reply(
            chat_id=11, recipient_id=None, body="{}", now=when, relevance=timedelta(hours=12)
        )
    db.conn.execute("UPDATE deliveries SET status = 'sent', body = NULL")
    deliveries.queue_reply(
        chat_id=11,
        recipient_id=None,
        body="{}",
        now=NOW - timedelta(days=100),
        relevance=timedelta(hours=12),
    )  # never sent (the bot was down): not erased while pending

    assert erase_expired(db, NOW).replies == 1
    left = db.conn.execute("SELECT status FROM deliveries ORDER BY id").fetchall()
    assert [row[0] for row in left] == ["sent", "pending"]


def test_retention_refuses_a_window_below_a_day(db: Database) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        erase_expired(db, NOW, retention_days=0)
