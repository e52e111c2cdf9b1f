"""The schema is migrated in place: an older file keeps its data and gains what is new."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from scheduler.store.db import MIGRATIONS, Database, _statements


def _database_at_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:version]:
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO people (chat_id, role, display_name, zone, created_at)"
        " VALUES (42, 'patient', 'Ana', 'Europe/Berlin', '2026-11-01T09:00:00.000000+00:00')"
    )
    conn.close()


def test_a_version_1_file_is_upgraded_to_the_latest_schema_with_its_rows(tmp_path: Path) -> None:
    """Opening an old file applies every later migration once and keeps what it held."""
    path = tmp_path / "old.db"
    _database_at_version(path, 1)
    db = Database(path)
    try:
        assert db.version == len(MIGRATIONS)
        row = db.conn.execute("SELECT display_name FROM people WHERE chat_id = 42").fetchone()
        assert row[0] == "Ana"
        names = {row[0] for row in db.conn.execute("SELECT name FROM sqlite_master")}
        assert {"inbox", "invite_failures", "deliveries_sending"} <= names
    finally:
        db.close()
    again = Database(path)  # a second open finds nothing to do
    try:
        assert again.version == len(MIGRATIONS)
    finally:
        again.close()


def test_version_3_data_keeps_its_ids_references_and_series_keys(tmp_path: Path) -> None:
    """Migration 4 rebuilds tables: every row, reference and stored key survives it, and the
    patient's sessions become one series whose id is the patient's (so ``series{id}`` keys of
    messages already sent stay the same and are never planned twice)."""
    path = tmp_path / "v3.db"
    _database_at_version(path, 3)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "INSERT INTO sessions (patient_id, local_start, zone, kind, created_at)"
        " VALUES (1, '2026-12-01T10:00', 'Europe/Berlin', 'iv', '2026-11-01T09:00:00+00:00')"
    )
    conn.execute(
        "INSERT INTO deliveries (key, patient_id, recipient_id, session_id, message_id, due_at,"
        " deadline, status) VALUES ('series1:provider_first:p1', 1, 1, 1, 'provider_first',"
        " '2026-11-20T09:00:00.000000+00:00', '2026-12-01T09:00:00.000000+00:00', 'sent')"
    )
    conn.close()
    db = Database(path)
    try:
        session = db.conn.execute("SELECT id, patient_id, series_id FROM sessions").fetchone()
        assert tuple(session) == (1, 1, 1)
        series = db.conn.execute("SELECT id, patient_id, planned FROM series").fetchone()
        assert tuple(series) == (1, 1, 1)
        sent = db.conn.execute("SELECT key, status FROM deliveries").fetchone()
        assert tuple(sent) == ("series1:provider_first:p1", "sent")
        assert db.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        # The cascade still works after the rebuild: erasing the patient erases their rows.
        db.conn.execute("DELETE FROM people WHERE id = 1")
        counts = [
            db.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("sessions", "series", "deliveries")
        ]
        assert counts == [0, 0, 0]
    finally:
        db.close()


def test_ids_are_never_reused_after_the_newest_row_is_erased(tmp_path: Path) -> None:
    """An old button names a row by id: after /forget, a new sign-up must get a new id."""
    db = Database(tmp_path / "ids.db")
    try:
        insert = (
            "INSERT INTO people (chat_id, role, zone, created_at)"
            " VALUES (?, 'patient', 'UTC', '2026-11-01T09:00:00+00:00')"
        )
        first = db.conn.execute(insert, (7,)).lastrowid
        db.conn.execute("DELETE FROM people WHERE id = ?", (first,))
        second = db.conn.execute(insert, (7,)).lastrowid
        assert second != first
    finally:
        db.close()
