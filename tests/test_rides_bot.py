"""Rides home kept true, through the real PTB stack: a claim covers the others' requests, the
driver's pick-up note, the evening note when nobody offered, and every way a promised ride goes
away (leave, forget, removal, move, stop) reaching the patient at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from bot.offline.fake_api import JSON, Call
from scheduler.model import Kind, Person
from tests.botharness import link_family

if TYPE_CHECKING:
    from tests.botharness import BotHarness

pytest_plugins = ["tests.botharness"]

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # tests.botharness.START
PATIENT = 1001
SAM_CHAT = 2002
KIM_CHAT = 2003
SESSION = datetime(2026, 12, 2, 10, 0)  # noqa: DTZ001 - local wall-clock time in Berlin
RIDE_DUE = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # family_ride: the day before, 18:00 Berlin
UNCLAIMED_DUE = datetime(2026, 12, 1, 18, 30, tzinfo=UTC)  # ride_unclaimed: 19:30 Berlin
REST_UP_DUE = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)  # rest_up: 20:00 Berlin
PICKUP_DUE = datetime(2026, 12, 2, 10, 20, tzinfo=UTC)  # ride_pickup: 11:20 Berlin (end - 20m)
WHEN = "Wednesday 2 December at 10:00"


def user(chat_id: int, first_name: str) -> JSON:
    return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


SAM = user(SAM_CHAT, "Sam")
KIM = user(KIM_CHAT, "Kim")


def reply(h: BotHarness, key: str, **values: object) -> str:
    return h.services.catalog.render_reply("en", key, **values)


def plain(h: BotHarness, key: str, **values: object) -> str:
    """A reply as the person reads it (tags dropped)."""
    return reply(h, key, **values).replace("<b>", "").replace("</b>", "")


def answers(h: BotHarness, since: int) -> list[str]:
    return [str(c.params.get("text", "")) for c in h.api.calls("answerCallbackQuery", since=since)]


def data_like(calls: list[Call], prefix: str) -> str:
    found = [data for c in calls for _, data in c.buttons if data.startswith(prefix)]
    assert len(found) == 1, found
    return found[0]


def said(h: BotHarness, chat_id: int, since: int) -> str:
    return "\n".join(h.api.texts_to(chat_id, since=since))


def drivers(h: BotHarness) -> list[str]:
    rows = h.services.db.conn.execute(
        "SELECT p.display_name FROM rides r JOIN people p ON p.id = r.driver_id"
    ).fetchall()
    return [str(row[0]) for row in rows]


async def setup(h: BotHarness, *family: tuple[int, str]) -> Person:
    """A patient with one session and approved family members; the ride requests are sent."""
    companion = h.services.companion
    patient = companion.register_patient(PATIENT, "Alex", "Europe/Berlin", START)
    companion.add_session(patient.id, SESSION, Kind.IV, START)
    for chat_id, name in family:
        link_family(companion, patient, chat_id, name, START)
    h.services.rearm()
    await h.advance_to(RIDE_DUE)
    return patient


async def sam_drives(h: BotHarness) -> None:
    await h.press(SAM_CHAT, data_like(h.api.sent_to(SAM_CHAT), "ride:"), user=SAM)
    assert drivers(h) == ["Sam"]


async def test_a_claim_covers_the_other_request_and_its_button_is_refused(
    harness: BotHarness,
) -> None:
    h = harness
    await setup(h, (SAM_CHAT, "Sam"), (KIM_CHAT, "Kim"))
    kim_ride = data_like(h.api.sent_to(KIM_CHAT), "ride:")
    mark = h.api.mark()
    await sam_drives(h)
    (covered,) = h.api.sent_to(KIM_CHAT, since=mark)
    assert covered.method == "editMessageText"
    assert (covered.plain_text or "").startswith(
        f"The ride home is covered for the appointment on {WHEN}."
    )
    kim_message = h.api.message(KIM_CHAT, int(covered.params["message_id"]))
    assert kim_message is not None and not kim_message.get("reply_markup")
    assert "Sam" not in (covered.plain_text or "") and "Alex" not in (covered.plain_text or "")

    # The old button (a client that kept it) is refused as covered, and changes nothing.
    mark = h.api.mark()
    await h.press(KIM_CHAT, kim_ride, message_id=int(covered.params["message_id"]), user=KIM)
    assert answers(h, mark) == [reply(h, "ride_taken")]
    assert drivers(h) == ["Sam"]

    # The evening: no "nobody offered" note; the pick-up note reaches the driver alone.
    mark = h.api.mark()
    await h.advance_to(UNCLAIMED_DUE)
    assert "Nobody has offered" not in said(h, PATIENT, mark)
    mark = h.api.mark()
    await h.advance_to(PICKUP_DUE)
    assert "Time to set off for the pick-up." in said(h, SAM_CHAT, mark)
    assert "pick-up" not in said(h, KIM_CHAT, mark)
    pickup = [c for c in h.api.sent_to(SAM_CHAT, since=mark) if "pick-up" in (c.text or "")]
    assert pickup[0].params.get("protect_content") is True


async def test_nobody_offered_by_the_evening_the_patient_is_told(harness: BotHarness) -> None:
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    mark = h.api.mark()
    await h.advance_to(UNCLAIMED_DUE)
    text = said(h, PATIENT, mark)
    assert "Nobody has offered to drive you home yet" in text
    assert "ask someone directly now" in text


async def test_without_family_there_is_no_nobody_offered_note(harness: BotHarness) -> None:
    h = harness
    await setup(h)
    mark = h.api.mark()
    await h.advance_to(REST_UP_DUE)
    text = said(h, PATIENT, mark)
    assert "Nobody has offered" not in text and "Line up a ride home now" in text


async def test_driver_leaving_tells_the_patient_at_once(harness: BotHarness) -> None:
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await sam_drives(h)
    (ask,) = await h.say(SAM_CHAT, "/leave", user=SAM)
    assert ask.text == f"{reply(h, 'family_leave_ask')}\n{reply(h, 'ride_give_back_warning')}"
    mark = h.api.mark()
    sent = await h.press(SAM_CHAT, "fl_y", user=SAM)
    assert any("I've let them know you won't be driving" in (c.plain_text or "") for c in sent)
    told = said(h, PATIENT, mark)
    assert "Sam has left your family list" in told
    assert f"Sam can't drive you home any more after your session on {WHEN}" in told
    mark = h.api.mark()
    await h.advance_to(REST_UP_DUE)
    evening = said(h, PATIENT, mark)
    assert "Sam will drive you" not in evening and "Line up a ride home now" in evening


async def test_driver_forgetting_tells_the_patient_at_once(harness: BotHarness) -> None:
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await sam_drives(h)
    (ask,) = await h.say(SAM_CHAT, "/forget", user=SAM)
    assert ask.text == f"{reply(h, 'privacy_forget_ask')}\n{reply(h, 'ride_give_back_warning')}"
    mark = h.api.mark()
    await h.press(SAM_CHAT, "forget_y", user=SAM)
    assert f"Sam can't drive you home any more after your session on {WHEN}" in said(
        h, PATIENT, mark
    )
    assert drivers(h) == []


async def test_patient_removing_the_driver_is_told_the_ride_is_off(harness: BotHarness) -> None:
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await sam_drives(h)
    (listing,) = await h.say(PATIENT, "/family")
    await h.press(PATIENT, data_like([listing], "fr:"))
    mark = h.api.mark()
    await h.press(PATIENT, data_like(h.api.sent_to(PATIENT), "fr_y:"))
    assert f"Sam had offered to drive you home after your session on {WHEN}" in said(
        h, PATIENT, mark
    )
    assert drivers(h) == []


async def move(h: BotHarness, to: str) -> None:
    (listing,) = await h.say(PATIENT, "/sessions")
    await h.press(PATIENT, data_like([listing], "mv:"))
    await h.say(PATIENT, to)


async def test_a_move_asks_the_driver_and_the_ride_stands_only_after_yes(
    harness: BotHarness,
) -> None:
    h = harness
    await setup(h, (SAM_CHAT, "Sam"), (KIM_CHAT, "Kim"))
    await sam_drives(h)
    mark = h.api.mark()
    await move(h, "2026-12-03 11:00")
    assert "I've asked them whether the new time works" in said(h, PATIENT, mark)
    assert drivers(h) == []  # not carried over unasked
    ask = [c for c in h.api.sent_to(SAM_CHAT, since=mark) if c.buttons]
    assert (ask[0].plain_text or "").startswith(
        "The appointment has moved to Thursday 3 December at 11:00."
    )
    assert "Schedule change" not in said(h, SAM_CHAT, mark)  # asked instead of told
    assert "Schedule change" in said(h, KIM_CHAT, mark)

    # The evening before the new time, before Sam answers: no word that Sam drives.
    mark = h.api.mark()
    await h.advance_to(datetime(2026, 12, 2, 19, 0, tzinfo=UTC))
    assert "Sam will drive you" not in said(h, PATIENT, mark)

    mark = h.api.mark()
    await h.press(SAM_CHAT, data_like(ask, "rc_y:"), user=SAM)
    assert reply(h, "ride_thanks") in [c.text for c in h.api.sent_to(SAM_CHAT, since=mark)]
    assert "Sam can still drive you home after your session on Thursday 3 December at 11:00." in (
        said(h, PATIENT, mark)
    )
    assert drivers(h) == ["Sam"]
    # Kim's request for the new time now says covered.
    assert "The ride home is covered" in said(h, KIM_CHAT, mark)

    # Sam changes their mind (the No of the same question): the patient hears it, and Kim is
    # asked again, since "covered" is no longer true.
    mark = h.api.mark()
    no = data_like(ask, "rc_n:")
    await h.press(SAM_CHAT, no, user=SAM, message_id=int(ask[0].result["message_id"]))
    assert drivers(h) == []
    assert "Sam can't drive you at the new time" in said(h, PATIENT, mark)
    assert "The ride home is open again" in said(h, KIM_CHAT, mark)


async def test_a_move_answered_no_tells_the_patient(harness: BotHarness) -> None:
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await sam_drives(h)
    mark = h.api.mark()
    await move(h, "2026-12-03 11:00")
    ask = [c for c in h.api.sent_to(SAM_CHAT, since=mark) if c.buttons]
    mark = h.api.mark()
    sent = await h.press(SAM_CHAT, data_like(ask, "rc_n:"), user=SAM)
    assert reply(h, "ride_move_declined") in [c.text for c in sent]
    assert "Sam can't drive you at the new time" in said(h, PATIENT, mark)
    assert drivers(h) == []
    # An answer about an older time is stale once the session moved again.
    await move(h, "2026-12-04 11:00")
    mark = h.api.mark()
    await h.press(SAM_CHAT, data_like(ask, "rc_y:"), user=SAM, message_id=0)
    assert answers(h, mark) == [reply(h, "button_stale")]
    assert drivers(h) == []


async def test_a_stopped_patient_is_not_said_to_be_told(harness: BotHarness) -> None:
    """After /stop nothing reaches the patient, so the driver never hears "I've let them
    know", neither when claiming nor when leaving."""
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await h.say(PATIENT, "/stop")
    await h.press(PATIENT, "stop_y")
    mark = h.api.mark()
    await h.press(SAM_CHAT, data_like(h.api.sent_to(SAM_CHAT), "ride:"), user=SAM)
    assert reply(h, "ride_thanks_untold") in [c.text for c in h.api.sent_to(SAM_CHAT, since=mark)]
    assert h.api.sent_to(PATIENT, since=mark) == []
    await h.say(SAM_CHAT, "/leave", user=SAM)
    mark = h.api.mark()
    sent = await h.press(SAM_CHAT, "fl_y", user=SAM)
    assert all("let them know" not in (c.plain_text or "") for c in sent)
    assert h.api.sent_to(PATIENT, since=mark) == []


async def test_a_driver_who_stops_gives_the_ride_back_and_the_patient_hears_it(
    harness: BotHarness,
) -> None:
    """A stopped driver gets no pick-up note and cannot be asked about a moved session: the
    ride goes at /stop, the patient hears it then (not at some later move), the others are
    asked again, and the driver is told the patient knows."""
    h = harness
    await setup(h, (SAM_CHAT, "Sam"), (KIM_CHAT, "Kim"))
    await sam_drives(h)
    (ask,) = await h.say(SAM_CHAT, "/stop", user=SAM)
    assert ask.text == f"{reply(h, 'control_stop_ask')}\n{reply(h, 'ride_give_back_warning')}"
    mark = h.api.mark()
    sent = await h.press(SAM_CHAT, "stop_y", user=SAM)
    (stopped,) = sent
    assert stopped.plain_text == (f"{plain(h, 'control_stopped')}\n{plain(h, 'ride_left_told')}")
    assert drivers(h) == []
    assert f"Sam can't drive you home any more after your session on {WHEN}" in said(
        h, PATIENT, mark
    )
    assert "The ride home is open again" in said(h, KIM_CHAT, mark)
    mark = h.api.mark()
    await h.advance_to(REST_UP_DUE)
    evening = said(h, PATIENT, mark)
    assert "Sam will drive you" not in evening and "Line up a ride home now" in evening
    mark = h.api.mark()
    await move(h, "2026-12-03 11:00")
    assert "Sam" not in said(h, PATIENT, mark)
    assert h.api.sent_to(SAM_CHAT, since=mark) == []


async def test_a_driver_who_blocks_the_bot_gives_the_ride_back(harness: BotHarness) -> None:
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await sam_drives(h)
    mark = h.api.mark()
    blocked = h.api.make_my_chat_member(
        SAM_CHAT, chat_type="private", new_status="kicked", old_status="member", user=SAM
    )
    await h.feed(blocked, SAM_CHAT)
    assert drivers(h) == []
    assert f"Sam can't drive you home any more after your session on {WHEN}" in said(
        h, PATIENT, mark
    )
    assert h.api.sent_to(SAM_CHAT, since=mark) == []


async def test_a_stopped_family_members_old_claim_button_makes_no_promise(
    harness: BotHarness,
) -> None:
    """After /stop the pick-up note would never come, so a tap on the old "I can drive" tells
    them how to turn messages back on and promises the patient nothing; after /start it counts."""
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    ride = data_like(h.api.sent_to(SAM_CHAT), "ride:")
    await h.say(SAM_CHAT, "/stop", user=SAM)
    await h.press(SAM_CHAT, "stop_y", user=SAM)
    mark = h.api.mark()
    (told,) = await h.press(SAM_CHAT, ride, user=SAM, message_id=0)
    assert told.text == reply(h, "ride_stopped_first")
    assert drivers(h) == []
    assert h.api.sent_to(PATIENT, since=mark) == []

    await h.say(SAM_CHAT, "/start", user=SAM)
    mark = h.api.mark()
    await h.press(SAM_CHAT, ride, user=SAM, message_id=0)
    assert drivers(h) == ["Sam"]
    assert f"Sam will drive you home after your session on {WHEN}" in said(h, PATIENT, mark)


async def test_a_stopping_patient_keeps_their_drivers_promise(harness: BotHarness) -> None:
    """Only a driver's own /stop gives their ride back: the patient stopping their messages
    leaves who drives them as it was."""
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await sam_drives(h)
    (ask,) = await h.say(PATIENT, "/stop")
    assert ask.text == reply(h, "control_stop_ask")
    (stopped,) = await h.press(PATIENT, "stop_y")
    assert stopped.plain_text == plain(h, "control_stopped")
    assert drivers(h) == ["Sam"]


async def test_a_ride_that_goes_away_is_offered_again_to_the_others(harness: BotHarness) -> None:
    """Kim's request said "covered"; once Sam leaves that is untrue, so Kim is asked again,
    and her answer is a claim like any other."""
    h = harness
    await setup(h, (SAM_CHAT, "Sam"), (KIM_CHAT, "Kim"))
    await sam_drives(h)
    await h.say(SAM_CHAT, "/leave", user=SAM)
    mark = h.api.mark()
    await h.press(SAM_CHAT, "fl_y", user=SAM)
    (again,) = [c for c in h.api.sent_to(KIM_CHAT, since=mark) if c.method == "sendMessage"]
    assert (again.plain_text or "").startswith(
        f"The ride home is open again for the appointment on {WHEN}"
    )
    assert again.params.get("protect_content") is True
    mark = h.api.mark()
    await h.press(KIM_CHAT, data_like([again], "ride:"), user=KIM)
    assert drivers(h) == ["Kim"]
    assert f"Kim will drive you home after your session on {WHEN}." in said(h, PATIENT, mark)


async def _driver_goes(h: BotHarness, how: str) -> None:
    if how == "block":
        blocked = h.api.make_my_chat_member(
            SAM_CHAT, chat_type="private", new_status="kicked", old_status="member", user=SAM
        )
        await h.feed(blocked, SAM_CHAT)
        return
    command, confirm = {"stop": ("/stop", "stop_y"), "leave": ("/leave", "fl_y")}.get(
        how, ("/forget", "forget_y")
    )
    (ask,) = await h.say(SAM_CHAT, command, user=SAM)
    assert reply(h, "ride_give_back_warning") in (ask.text or "")  # said before they decide
    await h.press(SAM_CHAT, confirm, user=SAM)


@pytest.mark.parametrize("how", ["stop", "leave", "forget", "block"])
async def test_a_driver_who_goes_away_with_the_move_question_open_the_patient_hears_it(
    harness: BotHarness, how: str
) -> None:
    """After a move the patient read "I'll tell you their answer": if the driver stops, leaves,
    erases their data or blocks the bot before answering, that answer is "the ride is off"."""
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await sam_drives(h)
    await move(h, "2026-12-03 11:00")
    mark = h.api.mark()
    await _driver_goes(h, how)
    assert (
        "Sam can't drive you home any more after your session on Thursday 3 December at 11:00"
        in said(h, PATIENT, mark)
    )
    count = h.services.db.conn.execute("SELECT count(*) FROM ride_questions").fetchone()[0]
    assert count == 0


async def test_an_answered_move_question_is_not_told_twice(harness: BotHarness) -> None:
    """Sam said No already, so leaving later adds no second "ride is off" about it."""
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await sam_drives(h)
    mark = h.api.mark()
    await move(h, "2026-12-03 11:00")
    ask = [c for c in h.api.sent_to(SAM_CHAT, since=mark) if c.buttons]
    await h.press(SAM_CHAT, data_like(ask, "rc_n:"), user=SAM)
    (warning,) = await h.say(SAM_CHAT, "/leave", user=SAM)
    assert warning.text == reply(h, "family_leave_ask")
    mark = h.api.mark()
    await h.press(SAM_CHAT, "fl_y", user=SAM)
    assert "can't drive you home any more" not in said(h, PATIENT, mark)


async def test_a_second_move_asks_the_driver_about_the_newest_time(harness: BotHarness) -> None:
    """While the first question is open the session moves again: the driver is asked about the
    newest time (the old buttons are stale), so the patient's "I'll tell you" still holds."""
    h = harness
    await setup(h, (SAM_CHAT, "Sam"))
    await sam_drives(h)
    await move(h, "2026-12-03 11:00")
    mark = h.api.mark()
    await move(h, "2026-12-04 11:00")
    assert "I've asked them whether the new time works" in said(h, PATIENT, mark)
    ask = [c for c in h.api.sent_to(SAM_CHAT, since=mark) if c.buttons]
    assert (ask[0].plain_text or "").startswith(
        "The appointment has moved to Friday 4 December at 11:00."
    )
    mark = h.api.mark()
    await h.press(SAM_CHAT, data_like(ask, "rc_y:"), user=SAM)
    assert drivers(h) == ["Sam"]
