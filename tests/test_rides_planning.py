"""Rides in the pure parts: which entries the planner gives whom by the state of the ride home,
what the render path does with a driver and with a helper of several people, and the catalog's
check of the ``ride`` field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from messages import CatalogError, Wording, load_catalog, load_timeline
from scheduler.model import FamilyLink, Person, Role, Session
from scheduler.rendering import DeliveryFacts, render_delivery
from scheduler.timeline import plan_deliveries

TIMELINE = load_timeline()
NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
ALEX = Person(id=1, chat_id=101, role=Role.PATIENT, zone="Europe/Berlin", display_name="Alex")
SAM = Person(id=2, chat_id=102, role=Role.FAMILY, zone="Europe/Berlin", display_name="Sam")
KIM = Person(id=3, chat_id=103, role=Role.FAMILY, zone="Europe/Berlin", display_name="Kim")
WALL = datetime(2026, 12, 1, 10, 0)  # noqa: DTZ001 - a wall-clock time in Berlin
SESSION = Session(id=7, patient_id=1, local_start=WALL, zone="Europe/Berlin")
FAMILY = [FamilyLink(SAM, joined_at=NOW), FamilyLink(KIM, joined_at=NOW)]


def who_gets(message_id: str, *, family: list[FamilyLink], drivers: dict[int, int]) -> set[int]:
    planned = plan_deliveries(ALEX, [SESSION], family, TIMELINE, NOW, drivers=drivers)
    return {item.recipient_id for item in planned if item.message_id == message_id}


def test_nobody_drives_the_family_is_asked_and_the_patient_told_the_evening_before() -> None:
    assert who_gets("family_ride", family=FAMILY, drivers={}) == {SAM.id, KIM.id}
    assert who_gets("ride_unclaimed", family=FAMILY, drivers={}) == {ALEX.id}
    assert who_gets("ride_pickup", family=FAMILY, drivers={}) == set()


def test_a_claimed_ride_withdraws_the_requests_and_gives_the_driver_alone_the_pickup() -> None:
    drivers = {SESSION.id: SAM.id}
    assert who_gets("family_ride", family=FAMILY, drivers=drivers) == set()
    assert who_gets("ride_unclaimed", family=FAMILY, drivers=drivers) == set()
    assert who_gets("ride_pickup", family=FAMILY, drivers=drivers) == {SAM.id}
    # Everything else is as without a driver.
    assert who_gets("family_today", family=FAMILY, drivers=drivers) == {SAM.id, KIM.id}


def test_without_family_there_is_nobody_to_ask() -> None:
    assert who_gets("ride_unclaimed", family=[], drivers={}) == set()


def test_a_driver_who_no_longer_gets_messages_gets_no_pickup_note() -> None:
    """A driver not among the family recipients (stopped, unlinked) is not planned for."""
    assert who_gets("ride_pickup", family=FAMILY[1:], drivers={SESSION.id: SAM.id}) == set()


def facts(message_id: str, reader: Person, **more: object) -> DeliveryFacts:
    return DeliveryFacts(
        message_id=message_id,
        role=reader.role,
        zone=reader.zone,
        locale="en",
        wording=Wording.PLAIN,
        patient_name="Alex",
        crisis_line="988",
        session=SESSION,
        series=(SESSION,),
        **more,  # type: ignore[arg-type]
    )


def test_a_helper_of_several_reads_whose_note_it_is_and_nobody_else_does() -> None:
    catalog = load_catalog()
    several = render_delivery(catalog, facts("family_today", SAM, whose="Alex"))
    assert several.text.startswith("<b>About Alex</b>\n")
    one = render_delivery(catalog, facts("family_today", SAM))
    assert "Alex" not in one.text
    # Never on a patient's own note, whatever is passed.
    own = render_delivery(catalog, facts("dont_drive", ALEX, whose="Alex"))
    assert not own.text.startswith("<b>About")


def test_with_a_driver_the_request_has_no_claim_button() -> None:
    catalog = load_catalog()
    open_ride = render_delivery(catalog, facts("family_ride", KIM))
    assert [button for button, _ in open_ride.buttons] == ["ride", "got_it"]
    covered = render_delivery(catalog, facts("family_ride", KIM, driver_name="Sam"))
    assert [button for button, _ in covered.buttons] == ["got_it"]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('ride = "maybe"', 'ride must be "claimed" or "unclaimed"'),
        ('ride = "claimed"\nanchor = "series_start"', "ride is for entries anchored to a session"),
    ],
)
def test_the_ride_field_is_checked(tmp_path: Path, entry: str, problem: str) -> None:
    (tmp_path / "timeline.toml").write_text(f"[keep_building]\n{entry}\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=problem):
        load_catalog(tmp_path)
