"""Dialog state survives a restart (a new connection to the same file)."""

from __future__ import annotations

from datetime import UTC, datetime

from scheduler.store.db import Database
from scheduler.store.dialogs import Dialogs

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_set_get_overwrite_clear(db: Database) -> None:
    """The latest step wins; clearing forgets it."""
    dialogs = Dialogs(db)
    assert dialogs.get(7) is None
    dialogs.set(7, "onboarding.zone", {"name": "Zoë"}, NOW)
    dialogs.set(7, "onboarding.first_session", {"name": "Zoë", "zone": "Europe/Berlin"}, NOW)
    assert dialogs.get(7) == ("onboarding.first_session", {"name": "Zoë", "zone": "Europe/Berlin"})
    dialogs.clear(7)
    assert dialogs.get(7) is None


def test_state_survives_reopening_the_file(db: Database) -> None:
    """A restarted process finds the chat in the step it was in."""
    Dialogs(db).set(7, "add.kind", {"when": "2026-04-01 10:00"}, NOW)
    db.close()
    reopened = Database(db.path)
    try:
        assert Dialogs(reopened).get(7) == ("add.kind", {"when": "2026-04-01 10:00"})
    finally:
        reopened.close()
