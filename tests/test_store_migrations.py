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
