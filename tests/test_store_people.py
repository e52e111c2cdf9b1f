"""People repository on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, time

from messages.catalog import Wording
from scheduler.model import QuietHours, Role
from scheduler.store.db import Database
from scheduler.store.people import People

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_create_and_read_back_by_id_and_chat(db: Database) -> None:
    """A new person has the schema's defaults and is found by id and by chat id."""
    people = People(db)
    created = people.create(501, Role.PATIENT, "Ana", "Europe/Berlin", NOW)
    assert people.get(created.id) == created == people.by_chat(501)
    assert created.quiet == QuietHours(time(21, 30), time(8, 0))
    assert created.wording is Wording.PLAIN and not created.stopped
    assert people.get(created.id + 1) is None and people.by_chat(999) is None


def test_every_setting_round_trips(db: Database) -> None:
    """Each setter changes exactly its field, including clearing quiet hours and pauses."""
    people = People(db)
    pid = people.create(501, Role.FAMILY, "Ana", "Europe/Berlin", NOW).id
    people.set_role(pid, Role.PATIENT)
    people.set_zone(pid, "America/New_York")
    people.set_locale(pid, "de")
    people.set_wording(pid, Wording.DISCREET)
    people.set_display_name(pid, "Anna")
    people.set_quiet(pid, QuietHours(time(22, 0), time(7, 15)))
    people.set_paused_until(pid, datetime(2026, 3, 2, 12, tzinfo=UTC))
    people.set_stopped(pid, True)
    people.set_gone(pid, True)
    state = people.state(pid)
    assert state is not None and state.gone and state.created_at == NOW
    person = state.person
    assert (person.role, person.zone, person.locale, person.display_name) == (
        Role.PATIENT,
        "America/New_York",
        "de",
        "Anna",
    )
    assert person.wording is Wording.DISCREET and person.stopped
    assert person.quiet == QuietHours(time(22, 0), time(7, 15))
    assert person.paused_until == datetime(2026, 3, 2, 12, tzinfo=UTC)
    people.set_quiet(pid, None)
    people.set_paused_until(pid, None)
    cleared = people.get(pid)
    assert cleared is not None and cleared.quiet is None and cleared.paused_until is None


def test_delete_removes_the_row(db: Database) -> None:
    """Forgetting deletes the person; their chat id is free again."""
    people = People(db)
    pid = people.create(501, Role.PATIENT, "Ana", "Europe/Berlin", NOW).id
    people.delete(pid)
    assert people.get(pid) is None and people.by_chat(501) is None
