"""``stats``: exact counts over a seeded database, and nothing but counts in what it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.stats import collect
from scheduler.store.db import Database, to_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def seed(db: Database) -> None:
    """Three patients and two family members; series and deliveries with known outcomes."""
    conn = db.conn
    people = [(1, "patient"), (2, "patient"), (3, "patient"), (4, "family"), (5, "family")]
    for pid, role in people:
        conn.execute(
            "INSERT INTO people (id, chat_id, role, display_name, zone, created_at)"
            " VALUES (?, ?, ?, ?, 'UTC', ?)",
            (pid, 100 + pid, role, f"Person{pid}", to_db(NOW)),
        )
    # Series 1: a session tomorrow (active). Series 2: one under way now (active).
    # Series 3: ended last week. Series 4: a cancelled session tomorrow only (not active).
    sessions = [
        (1, 1, 1, "2026-06-02T10:00", "active"),
        (2, 2, 2, "2026-06-01T11:30", "active"),  # iv, 100 min: until 13:10
        (3, 3, 3, "2026-05-25T10:00", "active"),
        (4, 3, 4, "2026-06-03T10:00", "cancelled"),
        (5, 1, 1, "2026-06-04T10:00", "active"),  # a second session of series 1
    ]
    for sid, patient, series, start, status in sessions:
        conn.execute(
            "INSERT OR IGNORE INTO series (id, patient_id, created_at) VALUES (?, ?, ?)",
            (series, patient, to_db(NOW)),
        )
        conn.execute(
            "INSERT INTO sessions (id, patient_id, series_id, local_start, zone, kind, status,"
            " created_at) VALUES (?, ?, ?, ?, 'UTC', 'iv', ?, ?)",
            (sid, patient, series, start, status, to_db(NOW)),
        )
    rows = [
        # (status, due relative to NOW, message_id)
        ("pending", timedelta(hours=2), "prep"),
        ("pending", timedelta(hours=23), "prep"),
        ("pending", timedelta(hours=25), "prep"),  # beyond 24 h
        ("pending", -timedelta(minutes=3), "prep"),  # already due: the lag
        ("pending", -timedelta(seconds=30), "prep"),
        ("sent", -timedelta(days=1), "prep"),
        ("sent", -timedelta(days=6), "prep"),
        ("sent", -timedelta(days=8), "prep"),  # before the week
        ("skipped", -timedelta(days=2), "prep"),
        ("failed", -timedelta(days=3), "prep"),
        ("unknown", -timedelta(hours=5), "prep"),
        ("unknown", -timedelta(hours=6), "prep"),
        ("cancelled", -timedelta(hours=6), "prep"),
        ("sent", -timedelta(hours=1), "reply"),
        ("sent", -timedelta(days=9), "reply"),
    ]
    for n, (status, offset, message_id) in enumerate(rows):
        due = NOW + offset
        conn.execute(
            "INSERT INTO deliveries (key, patient_id, recipient_id, message_id, due_at, deadline,"
            " status, sent_at) VALUES (?, 1, 1, ?, ?, ?, ?, ?)",
            (
                f"k{n}",
                message_id,
                to_db(due),
                to_db(due + timedelta(hours=12)),
                status,
                to_db(due) if status == "sent" else None,
            ),
        )


def test_stats_over_a_seeded_database(db: Database) -> None:
    seed(db)
    stats = collect(db, NOW)
    assert (stats.patients, stats.family) == (3, 2)
    assert stats.active_series == 2
    assert stats.due_next_day == 2
    assert {k: stats.last_week.get(k, 0) for k in ("sent", "skipped", "failed", "unknown")} == {
        "sent": 2,
        "skipped": 1,
        "failed": 1,
        "unknown": 2,
    }
    assert stats.replies_sent == 1
    assert stats.lag == timedelta(minutes=3)
    assert stats.lines() == [
        "people: 3 patients, 2 family",
        "active series: 2",
        "due in the next 24 h: 2",
        "last 7 days: 2 sent, 1 skipped, 1 failed, 2 unknown",
        "replies sent, last 7 days: 1",
        "dispatcher lag: 3 min 0 s",
    ]


def test_stats_of_an_empty_database(db: Database) -> None:
    stats = collect(db, NOW)
    assert stats.lines()[0] == "people: 0 patients, 0 family"
    assert stats.lines()[-1] == "dispatcher lag: 0 s"


def test_stats_show_no_names(db: Database) -> None:
    seed(db)
    assert "Person" not in "\n".join(collect(db, NOW).lines())
