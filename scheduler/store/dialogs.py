"""Dialogs: the step a chat is in during a guided flow, kept so a restart does not lose it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from scheduler.store.db import Database, to_db


class Dialogs:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, chat_id: int) -> tuple[str, dict[str, Any]] | None:
        row = self.db.conn.execute(
            "SELECT step, data FROM dialogs WHERE chat_id = ?", (chat_id,)
        ).fetchone()
        if row is None:
            return None
        data = json.loads(row["data"])
        return row["step"], data if isinstance(data, dict) else {}

    def set(self, chat_id: int, step: str, data: dict[str, Any], now: datetime) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO dialogs (chat_id, step, data, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (chat_id) DO UPDATE SET step = excluded.step,"
                " data = excluded.data, updated_at = excluded.updated_at",
                (chat_id, step, json.dumps(data, ensure_ascii=False), to_db(now)),
            )

    def clear(self, chat_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM dialogs WHERE chat_id = ?", (chat_id,))
