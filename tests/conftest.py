"""Shared fixtures: a real SQLite file per test, the real timeline and catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from messages.catalog import Catalog, TimelineEntry
from messages.loader import load_timeline
from scheduler.companion import Companion
from scheduler.store.db import Database

# Real-PTB-stack fixtures (fake Bot API, harness, error collector) for the bot tests.
pytest_plugins = ["tests.botharness"]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated database in a file, so WAL and a second connection behave as in production."""
    database = Database(tmp_path / "companion.db")
    yield database
    database.close()


@pytest.fixture(scope="session")
def timeline() -> tuple[TimelineEntry, ...]:
    return load_timeline()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    from messages.loader import load_catalog

    return load_catalog()


@pytest.fixture
def companion(db: Database, timeline: tuple[TimelineEntry, ...]) -> Companion:
    return Companion(db, timeline)
