"""Buttons on delivered messages through the real PTB stack: Got it, snooze, I can drive."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.offline.fake_api import JSON, Call
from scheduler.model import Kind, Person
from tests.botharness import link_family

if TYPE_CHECKING:
    from tests.botharness import BotHarness

# Until tests/conftest.py loads it for every module (see tests/test_app.py).
pytest_plugins = ["tests.botharness"]

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # tests.botharness.START
PATIENT = 1001
SAM_CHAT = 2002
KIM_CHAT = 2003
STRANGER = 3003
SESSION = datetime(2026, 12, 2, 10, 0)  # noqa: DTZ001 - local wall-clock time in Berlin
RIDE_DUE = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # family_ride: the day before, 18:00 Berlin
REST_UP_DUE = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)  # rest_up: 20:00 Berlin
REST_UP_DEADLINE = datetime(2026, 12, 1, 22, 59, tzinfo=UTC)


def user(chat_id: int, first_name: str) -> JSON:
    return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


SAM = user(SAM_CHAT, "Sam")
KIM = user(KIM_CHAT, "Kim")


def reply(h: BotHarness, key: str, **values: object) -> str:
    return h.services.catalog.render_reply("en", key, **values)


def answers(h: BotHarness, since: int) -> list[str]:
    return [str(c.params.get("text", "")) for c in h.api.calls("answerCallbackQuery", since=since)]


def data_like(calls: list[Call], prefix: str) -> str:
    found = [data for c in calls for _, data in c.buttons if data.startswith(prefix)]
    assert len(found) == 1, found
    return found[0]


async def setup(h: BotHarness, *family: tuple[int, str]) -> Person:
    """A patient with one session and approved family members; what is due now is sent."""
    companion = h.services.companion
    patient = companion.register_patient(PATIENT, "Alex", "Europe/Berlin", START)
    companion.add_session(patient.id, SESSION, Kind.IV, START)
    for chat_id, name in family:
        link_family(companion, patient, chat_id, name, START)
    h.services.rearm()
    await h.advance(timedelta(0))
    return patient


def table(h: BotHarness, sql: str, *params: object) -> list[tuple[object, ...]]:
    return [tuple(row) for row in h.services.db.conn.execute(sql, params).fetchall()]


def snapshot(h: BotHarness) -> list[list[tuple[object, ...]]]:
    return [
        table(h, "SELECT * FROM deliveries ORDER BY id"),
        table(h, "SELECT * FROM rides ORDER BY session_id"),
    ]


async def test_got_it_acknowledges_and_removes_the_buttons(harness: BotHarness) -> None:
    h = harness
    await setup(h)
    got_it = data_like(h.api.sent_to(PATIENT), "got_it:")
    delivery_id = int(got_it.split(":")[1])
    mark = h.api.mark()
    edits = await h.press(PATIENT, got_it)
    assert [c.method for c in edits] == ["editMessageReplyMarkup"]
    assert answers(h, mark) == [reply(h, "reminders_noted")]
    delivery = h.services.companion.deliveries.get(delivery_id)
    assert delivery is not None and delivery.acknowledged_at == START


async def test_forged_and_stale_data_change_nothing(harness: BotHarness) -> None:
    """Another person's delivery, malformed data, unknown or unsent ids: 'no longer valid'."""
    h = harness
    patient = await setup(h, (SAM_CHAT, "Sam"))
    sent_id = int(data_like(h.api.sent_to(PATIENT), "got_it:").split(":")[1])
    pending = table(
        h,
        "SELECT id FROM deliveries WHERE recipient_id = ? AND status = 'pending' LIMIT 1",
        patient.id,
    )[0][0]
    before = snapshot(h)
    mark = h.api.mark()
    presses = [
        (SAM_CHAT, f"got_it:{sent_id}", SAM),  # the patient's message, pressed by family
        (SAM_CHAT, f"snooze_30:{sent_id}", SAM),
        (STRANGER, f"got_it:{sent_id}", user(STRANGER, "Eve")),  # someone unknown
        (PATIENT, f"ride:{sent_id}", user(PATIENT, "Alex")),  # not family: cannot claim
        (PATIENT, f"got_it:{pending}", user(PATIENT, "Alex")),  # not sent yet
        (PATIENT, "got_it:999999", user(PATIENT, "Alex")),  # unknown
        (PATIENT, "got_it:abc", user(PATIENT, "Alex")),  # malformed
        (PATIENT, "snooze_30:", user(PATIENT, "Alex")),
        (PATIENT, "ride:-1", user(PATIENT, "Alex")),
    ]
    for chat_id, data, who in presses:
        assert await h.press(chat_id, data, message_id=1, user=who) == []
    assert answers(h, mark) == [reply(h, "button_stale")] * len(presses)
    assert snapshot(h) == before


async def test_snooze_sends_again_in_30_minutes(harness: BotHarness) -> None:
    h = harness
    await setup(h)
    await h.advance_to(REST_UP_DUE)
    snooze = data_like(h.api.sent_to(PATIENT), "snooze_30:")
    mark = h.api.mark()
    edits = await h.press(PATIENT, snooze)
    assert [c.method for c in edits] == ["editMessageReplyMarkup"]
    assert answers(h, mark) == ["Okay, I'll remind you at 20:30."]

    mark = h.api.mark()
    await h.advance(timedelta(minutes=29))
    assert h.api.sent_to(PATIENT, since=mark) == []
    await h.advance(timedelta(minutes=1))
    (again,) = h.api.sent_to(PATIENT, since=mark)
    assert "Tomorrow" in (again.plain_text or "")
    assert data_like([again], "snooze_30:") != snooze  # a new delivery, with its own buttons


async def test_snooze_never_goes_past_relevance(harness: BotHarness) -> None:
    h = harness
    await setup(h)
    await h.advance_to(REST_UP_DUE)
    snooze = data_like(h.api.sent_to(PATIENT), "snooze_30:")
    await h.advance_to(REST_UP_DEADLINE - timedelta(minutes=20))
    before = snapshot(h)
    mark = h.api.mark()
    assert await h.press(PATIENT, snooze) == []  # the buttons stay: Got it still works
    assert answers(h, mark) == [reply(h, "reminders_snooze_too_late")]
    assert snapshot(h) == before


async def test_ride_claim_thanks_the_driver_and_tells_the_patient(harness: BotHarness) -> None:
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await h.advance_to(RIDE_DUE)
    ride = data_like(h.api.sent_to(SAM_CHAT), "ride:")
    mark = h.api.mark()
    sent = await h.press(SAM_CHAT, ride, user=SAM)
    # The pressed message loses its buttons after the commit; the thanks is a queued reply the
    # dispatcher may send first: either order is right.
    assert sorted(c.method for c in sent) == ["editMessageReplyMarkup", "sendMessage"]
    (thanks,) = [c for c in sent if c.method == "sendMessage"]
    (edited,) = [c for c in sent if c.method == "editMessageReplyMarkup"]
    assert thanks.text == reply(h, "ride_thanks")
    assert thanks.params.get("protect_content") is True
    (told,) = h.api.sent_to(PATIENT, since=mark)
    assert (
        told.plain_text
        == "Sam will drive you home after your session on Wednesday 2 December at 10:00."
    )

    mark = h.api.mark()
    await h.press(SAM_CHAT, ride, message_id=edited.params["message_id"], user=SAM)
    assert answers(h, mark) == [reply(h, "ride_already_yours")]

    # The patient's evening note now names the driver.
    mark = h.api.mark()
    await h.advance_to(REST_UP_DUE)
    assert any("Sam will drive you" in t for t in h.api.texts_to(PATIENT, since=mark))


async def test_two_family_members_press_at_once_one_drives(harness: BotHarness) -> None:
    h = harness
    await setup(h, (SAM_CHAT, "Sam"), (KIM_CHAT, "Kim"))
    await h.advance_to(RIDE_DUE)
    sam_ride = data_like(h.api.sent_to(SAM_CHAT), "ride:")
    kim_ride = data_like(h.api.sent_to(KIM_CHAT), "ride:")
    mark = h.api.mark()
    await asyncio.gather(
        h.press(SAM_CHAT, sam_ride, user=SAM), h.press(KIM_CHAT, kim_ride, user=KIM)
    )
    rides = table(h, "SELECT p.display_name FROM rides r JOIN people p ON p.id = r.driver_id")
    assert len(rides) == 1
    driver = str(rides[0][0])
    told = h.api.texts_to(PATIENT, since=mark)
    assert told == [
        f"{driver} will drive you home after your session on Wednesday 2 December at 10:00."
    ]
    loser_chat = KIM_CHAT if driver == "Sam" else SAM_CHAT
    assert reply(h, "ride_taken") in answers(h, mark)
    # The loser is sent nothing new: their request is only edited (covered, button gone).
    loser_calls = h.api.sent_to(loser_chat, since=mark)
    assert {c.method for c in loser_calls} <= {"editMessageText", "editMessageReplyMarkup"}
