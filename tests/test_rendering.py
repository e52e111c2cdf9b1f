"""One render path: the preview and the dispatcher render a delivery through the same function,
and a reader on another clock reads the session time on their own, with the zone named."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.preview import PreviewRequest, build_preview
from messages import Catalog, Wording, load_catalog
from messages.render import TimeInZone, format_value
from scheduler.companion import Companion
from scheduler.dispatch import Dispatcher
from scheduler.model import DEFAULT_CRISIS_LINE, Kind, Role, Session
from scheduler.rendering import DeliveryFacts, delivery_values, render_delivery
from scheduler.store.db import Database
from scheduler.store.deliveries import Deliveries
from tests.fakes import FakeSender

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
NOW = datetime(2026, 11, 16, 14, 0, tzinfo=UTC)  # 09:00 in New York
# New York wall clock, as the patient typed it.
STARTS = (datetime.fromisoformat("2026-12-01 10:00"), datetime.fromisoformat("2026-12-03 10:00"))

# A clinic's edit: the evening-before note greets the patient by name.
GREETING = r'''
[messages.rest_up]
plain = """
Good evening, {patient_name}. \
<b>Tomorrow: session {session_number} of {series_length}</b>, {session_date} at {session_time}.
"""
'''


@pytest.fixture
def clinic_catalog(tmp_path: Path) -> Catalog:
    folder = tmp_path / "clinic"
    (folder / "locales").mkdir(parents=True)
    (folder / "locales" / "en.toml").write_text(GREETING, encoding="utf-8")
    return load_catalog(folder)


def facts(
    message_id: str, role: Role, zone: str, *, wording: Wording = Wording.PLAIN, **more: object
) -> DeliveryFacts:
    session = Session(id=1, patient_id=1, local_start=STARTS[0], zone=NEW_YORK, series_id=1)
    base: dict[str, object] = {
        "message_id": message_id,
        "role": role,
        "zone": zone,
        "locale": "en",
        "wording": wording,
        "patient_name": "Alex",
        "crisis_line": "988",
        "session": session,
        "series": (session,),
        "planned": 6,
    }
    return DeliveryFacts(**(base | more))  # type: ignore[arg-type]


async def test_a_clinic_text_with_patient_name_renders_identically_in_preview_and_dispatch(
    clinic_catalog: Catalog, tmp_path: Path
) -> None:
    """The same patient, family member and sessions, once previewed and once stored, planned
    and dispatched: every message has the same text at the same instant, the clinic's
    {patient_name} greeting included, and the family's times named in their own zone."""
    request = PreviewRequest(
        zone=NEW_YORK,
        kind=Kind.IV,
        starts=STARTS,
        family=True,
        family_zone=BERLIN,
        now=NOW,
        planned=6,
    )
    preview = build_preview(request, clinic_catalog)
    previewed = sorted(
        (item.delivery.due_at, item.delivery.message_id, item.recipient, item.html)
        for item in preview.pending
        if item.ride != "claimed"  # the preview's other case: nobody claims a ride here
    )

    db = Database(tmp_path / "companion.db")
    try:
        companion = Companion(db, clinic_catalog.timeline)
        alex = companion.register_patient(100, "Alex", NEW_YORK, NOW)
        for start in STARTS:
            companion.add_session(alex.id, start, Kind.IV, NOW)
        link_id, _ = companion.redeem_invite(companion.create_invite(alex.id, NOW), 200, "Sam", NOW)
        sam = companion.approve_link(alex.id, link_id, NOW).person
        companion.set_zone(sam.id, BERLIN, NOW)
        sender = FakeSender()
        dispatcher = Dispatcher(
            db, clinic_catalog, sender, crisis_line=DEFAULT_CRISIS_LINE, rng=random.Random(1)
        )
        store = Deliveries(db)
        while (due := dispatcher.next_due()) is not None:
            await dispatcher.dispatch_due(due)
        roles = {100: "patient", 200: "family"}
        dispatched = []
        for message in sender.sent:
            row = store.get(message.delivery_id)
            assert row is not None and row.status.value == "sent"
            dispatched.append((row.due_at, row.message_id, roles[message.chat_id], message.text))
    finally:
        db.close()

    assert sorted(dispatched) == previewed
    texts = [(message_id, who, text) for _, message_id, who, text in previewed]
    assert [text for message_id, _, text in texts if message_id == "rest_up"] == [
        "Good evening, Alex. <b>Tomorrow: session 1 of 6</b>, Tuesday 1 December at 10:00.",
        "Good evening, Alex. <b>Tomorrow: session 2 of 6</b>, Thursday 3 December at 10:00.",
    ]
    rides = [text for message_id, _, text in texts if message_id == "family_ride"]
    assert len(rides) == 2
    assert "Tuesday 1 December at 16:00 (Berlin Time)" in rides[0]


def test_a_family_member_in_another_zone_reads_their_own_time_with_the_zone_named(
    catalog: Catalog,
) -> None:
    """10:00 in New York is 16:00 in Berlin: the Berlin relative reads 16:00 with Berlin named,
    the patient reads 10:00 as it is; neither family wording names the drug or condition."""
    patient = render_delivery(catalog, facts("rest_up", Role.PATIENT, NEW_YORK)).text
    assert "Tuesday 1 December at 10:00." in patient
    assert "Time)" not in patient
    sensitive = catalog.locales["en"].sensitive_words
    for wording in Wording:
        family = render_delivery(
            catalog, facts("family_ride", Role.FAMILY, BERLIN, wording=wording)
        ).text
        assert "on Tuesday 1 December at 16:00 (Berlin Time)." in family
        assert not [stem for stem in sensitive if stem in family.lower()]
        assert "New York" not in family and "Alex" not in family


def test_a_late_evening_session_shows_the_readers_own_date_too(catalog: Catalog) -> None:
    """22:00 in New York is 04:00 the next day in Berlin: date and time are both the reader's."""
    late = Session(
        id=1,
        patient_id=1,
        local_start=datetime.fromisoformat("2026-12-01 22:00"),
        zone=NEW_YORK,
        series_id=1,
    )
    text = render_delivery(
        catalog,
        facts("family_ride", Role.FAMILY, BERLIN, session=late, series=(late,)),
    ).text
    assert "on Wednesday 2 December at 04:00 (Berlin Time)." in text


def test_the_zone_is_not_named_when_the_clocks_agree() -> None:
    """A relative in Toronto of a patient in New York reads the same clock: no zone named."""
    values = delivery_values(facts("family_ride", Role.FAMILY, "America/Toronto"))
    assert values["session_time"] == datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo(NEW_YORK))
    assert not isinstance(values["session_time"], TimeInZone)
    named = delivery_values(facts("family_ride", Role.FAMILY, BERLIN))["session_time"]
    assert isinstance(named, TimeInZone) and named.at.tzinfo == ZoneInfo(BERLIN)


def test_values_name_the_patient_only_to_the_patient_and_the_driver_only_with_a_ride() -> None:
    """{patient_name} goes to the patient alone; driver_name only once a ride is claimed;
    numbering is within the series, of its planned length."""
    to_patient = delivery_values(facts("rest_up", Role.PATIENT, NEW_YORK))
    assert to_patient["patient_name"] == "Alex"
    assert (to_patient["session_number"], to_patient["series_length"]) == (1, 6)
    assert "driver_name" not in to_patient
    to_family = delivery_values(facts("family_ride", Role.FAMILY, NEW_YORK, driver_name="Sam"))
    assert "patient_name" not in to_family and to_family["driver_name"] == "Sam"
    welcome = delivery_values(facts("family_welcome", Role.FAMILY, BERLIN, session=None))
    assert welcome == {"crisis_line": "988"}


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Europe/Berlin", "16:00 (Berlin Time)"),
        ("America/Indiana/Knox", "16:00 (Knox, Indiana Time)"),
        ("Etc/GMT+5", "16:00 (GMT-05:00)"),  # no city; and its name's sign is the reverse
        ("UTC", "16:00 (GMT+00:00)"),
    ],
)
def test_a_named_zone_reads_as_its_city_or_else_its_offset(zone: str, shown: str) -> None:
    """The locale's words for a zone: its city where it has one, its offset otherwise."""
    at = datetime(2026, 12, 1, 16, 0, tzinfo=ZoneInfo(zone))
    text = format_value(
        "session_time", TimeInZone(at), locale="en", date_format="EEEE d MMMM", time_format="HH:mm"
    )
    assert text == shown
