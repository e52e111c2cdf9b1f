"""Plain ``/start`` from someone who is here as family, through the real PTB stack: they are told
whom they help and what they get, and become a patient only when they ask to; a stopped relative's
``/start`` brings their family notes back; a driver who stopped and came back can offer again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from bot.offline.fake_api import JSON, Call
from bot.preview import plain_text
from scheduler.model import Kind, Person, Role
from tests.botharness import link_family

if TYPE_CHECKING:
    from tests.botharness import BotHarness

pytest_plugins = ["tests.botharness"]

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # tests.botharness.START
ALEX_CHAT = 1001
RUTH_CHAT = 1005
SAM_CHAT = 2002
KIM_CHAT = 2003
SESSION = datetime(2026, 12, 2, 10, 0)  # noqa: DTZ001 - local wall-clock time in Berlin
RIDE_DUE = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # family_ride: the day before, 18:00 Berlin
SAM: JSON = {"id": SAM_CHAT, "is_bot": False, "first_name": "Sam", "language_code": "en"}


def reply(h: BotHarness, key: str, **values: object) -> str:
    return plain_text(h.services.catalog.render_reply("en", key, **values))


def said(calls: list[Call]) -> str:
    return "\n".join(c.plain_text or "" for c in calls)


def link(h: BotHarness, patient: Person, chat_id: int, name: str) -> None:
    link_family(h.services.companion, patient, chat_id, name, START)


def patient(h: BotHarness, chat_id: int, name: str) -> Person:
    companion = h.services.companion
    person = companion.register_patient(chat_id, name, "Europe/Berlin", START)
    companion.add_session(person.id, SESSION, Kind.IV, START)
    return person


def role(h: BotHarness, chat_id: int) -> Role | None:
    person = h.services.companion.person_by_chat(chat_id)
    return person.role if person is not None else None


async def test_a_relatives_start_says_they_are_family_and_sets_up_only_when_asked(
    harness: BotHarness,
) -> None:
    h = harness
    alex = patient(h, ALEX_CHAT, "Alex")
    link(h, alex, SAM_CHAT, "Sam")
    await h.advance(timedelta(minutes=1))  # the family welcome goes out first
    (told,) = await h.say(SAM_CHAT, "/start", user=SAM)
    text = told.plain_text or ""
    assert reply(h, "family_list_helping") in text
    assert "/help" in text
    assert "Alex" not in text  # one person helped: "the person who invited you", as /family says
    assert role(h, SAM_CHAT) is Role.FAMILY
    assert h.services.companion.step(SAM_CHAT) is None
    (own,) = [data for _, data in told.buttons]

    # Asking for their own sessions starts patient set-up and keeps the family link.
    sent = await h.press(SAM_CHAT, own, user=SAM)
    assert reply(h, "onboarding_ask_name") in said(sent)
    assert role(h, SAM_CHAT) is Role.PATIENT
    sam = h.services.companion.person_by_chat(SAM_CHAT)
    assert sam is not None
    assert [v.name for v in h.services.companion.linked_patients(sam.id)] == ["Alex"]


async def test_a_relative_helping_two_people_reads_their_names(harness: BotHarness) -> None:
    h = harness
    link(h, patient(h, ALEX_CHAT, "Alex"), SAM_CHAT, "Sam")
    link(h, patient(h, RUTH_CHAT, "Ruth"), SAM_CHAT, "Sam")
    await h.advance(timedelta(minutes=1))  # the family welcome goes out first
    (told,) = await h.say(SAM_CHAT, "/start", user=SAM)
    text = told.plain_text or ""
    assert "• Alex" in text and "• Ruth" in text
    assert role(h, SAM_CHAT) is Role.FAMILY


async def test_a_stopped_relatives_start_brings_their_notes_back(harness: BotHarness) -> None:
    h = harness
    link(h, patient(h, ALEX_CHAT, "Alex"), SAM_CHAT, "Sam")
    await h.advance(timedelta(minutes=1))
    await h.say(SAM_CHAT, "/stop", user=SAM)
    await h.press(SAM_CHAT, "stop_y", user=SAM)
    (back,) = await h.say(SAM_CHAT, "/start", user=SAM)
    assert back.plain_text == reply(h, "control_restarted")
    assert role(h, SAM_CHAT) is Role.FAMILY
    sam = h.services.companion.person_by_chat(SAM_CHAT)
    assert sam is not None and not sam.stopped
    mark = h.api.mark()
    await h.advance_to(RIDE_DUE)
    assert any(
        data.startswith("ride:")
        for c in h.api.sent_to(SAM_CHAT, since=mark)
        for _, data in c.buttons
    )


@pytest.mark.parametrize("command", ["/start", "/resume"])
async def test_a_driver_who_stopped_and_came_back_can_offer_again(
    harness: BotHarness, command: str
) -> None:
    """Their own "I can drive" went when they claimed; /stop gave the ride back. Back with
    /start, the ride still open is shown to them with the button, and their tap is a claim."""
    h = harness
    alex = patient(h, ALEX_CHAT, "Alex")
    link(h, alex, SAM_CHAT, "Sam")
    h.services.rearm()
    await h.advance_to(RIDE_DUE)
    ride = [d for c in h.api.sent_to(SAM_CHAT) for _, d in c.buttons if d.startswith("ride:")]
    await h.press(SAM_CHAT, ride[0], user=SAM)
    await h.say(SAM_CHAT, "/stop", user=SAM)
    await h.press(SAM_CHAT, "stop_y", user=SAM)
    assert h.services.companion.driver_for(alex_session(h, alex)) is None

    back = await h.say(SAM_CHAT, command, user=SAM)
    welcome = "control_restarted" if command == "/start" else "control_resumed"
    assert reply(h, welcome) in said(back)
    assert "The ride home is still open for the appointment on Wednesday 2 December at 10:00" in (
        said(back)
    )
    (again,) = [d for c in back for _, d in c.buttons if d.startswith("ride:")]
    mark = h.api.mark()
    await h.press(SAM_CHAT, again, user=SAM)
    driver = h.services.companion.driver_for(alex_session(h, alex))
    assert driver is not None and driver.display_name == "Sam"
    assert "Sam will drive you home" in said(h.api.sent_to(ALEX_CHAT, since=mark))


def alex_session(h: BotHarness, alex: Person) -> int:
    return h.services.companion.sessions(alex.id)[0].id
