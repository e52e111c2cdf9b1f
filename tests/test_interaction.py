"""What people type and tap, through the real PTB stack: every case that went wrong when the bot
was tried from outside (issue 8), each written to fail on the handlers before the change.

Updates go through the real inbox and ``Poller`` where the inbox matters (a failed reply, a
replay); replies are rows of the deliveries table, sent by the dispatcher (``harness.feed``
dispatches, as the timer would at once).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.app import ALLOWED_UPDATES, dispatch_now
from bot.offline.fake_api import JSON, Call, Fault
from bot.polling import Poller
from scheduler.model import Kind, Person
from scheduler.store.inbox import Inbox, Incoming
from tests.botharness import FAMILY, PATIENT, BotHarness, shared_catalog, texts

BERLIN = "Europe/Berlin"
CRISIS = "988"
DISTRESS = "i don't want to live anymore"


def said(calls: list[Call]) -> str:
    return "\n".join(texts(calls))


def person(harness: BotHarness, chat_id: int = PATIENT) -> Person:
    found = harness.services.companion.person_by_chat(chat_id)
    assert found is not None
    return found


def step(harness: BotHarness, chat_id: int = PATIENT) -> str | None:
    state = harness.services.companion.step(chat_id)
    return state[0] if state else None


def sessions(harness: BotHarness, chat_id: int = PATIENT) -> list[str]:
    return [
        f"{s.local_start:%Y-%m-%d %H:%M}"
        for s in harness.services.companion.sessions(person(harness, chat_id).id)
    ]


def last_answer(harness: BotHarness) -> str:
    answers = harness.api.calls("answerCallbackQuery")
    return str(answers[-1].params.get("text", "")) if answers else ""


def wall(text: str) -> datetime:
    """A naive local wall-clock time, as a patient types it."""
    return datetime.fromisoformat(text)


def registered(harness: BotHarness, zone: str = BERLIN) -> Person:
    return harness.services.companion.register_patient(PATIENT, "Ana", zone, harness.clock.now())


def with_family(harness: BotHarness, patient: Person) -> Person:
    companion = harness.services.companion
    now = harness.clock.now()
    link_id, _ = companion.redeem_invite(
        companion.create_invite(patient.id, now), FAMILY, "Bo", now
    )
    return companion.approve_link(patient.id, link_id, now).person


async def via_inbox(harness: BotHarness, update: JSON) -> None:
    """Store ``update`` in the inbox and let the real ``Poller`` handle it, then dispatch."""
    Inbox(harness.services.db).store(
        [Incoming(update["update_id"], _chat_of(update), json.dumps(update))],
        harness.clock.now(),
    )
    poller = Poller(
        harness.app,
        harness.services.db,
        now=harness.clock.now,
        allowed_updates=ALLOWED_UPDATES,
    )
    await poller.handle_pending()
    await dispatch_now(harness.app)


def _chat_of(update: JSON) -> int:
    for key in ("message", "edited_message"):
        if key in update:
            return int(update[key]["chat"]["id"])
    return int(update["callback_query"]["message"]["chat"]["id"])


def edited(update: JSON) -> JSON:
    """The same message, edited by its sender: what Telegram sends as ``edited_message``."""
    message: dict[str, Any] = dict(update["message"])
    message["edit_date"] = message["date"] + 30
    return {"update_id": update["update_id"] + 10_000, "edited_message": message}


def location(harness: BotHarness, chat_id: int = PATIENT) -> JSON:
    update = harness.api.make_text(chat_id, "x")
    message = update["message"]
    del message["text"]
    message["location"] = {"latitude": 52.52, "longitude": 13.40}
    return update


# -- commands at any moment -----------------------------------------------------------------------


async def test_the_contract_path_works_in_the_middle_of_set_up(harness: BotHarness) -> None:
    """/start registers at once; /timezone and /add during the name question just work."""
    replies = said(await harness.say(PATIENT, "/start"))
    assert "what should I call you" in replies
    assert person(harness).display_name == "Test"  # the Telegram first name, until chosen
    replies = said(await harness.say(PATIENT, "/timezone Europe/Berlin"))
    assert "Time zone set to Europe/Berlin" in replies
    assert step(harness) is None  # the command ended the step
    replies = said(await harness.say(PATIENT, "/add 2026-12-10 10:00 iv"))
    assert "Saved: Thursday 10 December, 10:00 (Europe/Berlin)" in replies
    assert sessions(harness) == ["2026-12-10 10:00"]
    replies = said(await harness.say(PATIENT, "/start"))
    assert "what should I call you" in replies  # set-up again, sessions kept
    replies = said(await harness.say(PATIENT, "/sessions"))
    assert "10 December" in replies


async def test_start_in_the_middle_of_a_step_resumes_it(harness: BotHarness) -> None:
    await harness.say(PATIENT, "/start")
    await harness.say(PATIENT, "Ana")
    replies = said(await harness.say(PATIENT, "/start"))
    assert "pick up where we left off" in replies
    assert "Which time zone" in replies
    assert step(harness) == "ob_zone"


# -- nothing mistaken, nothing unanswered ---------------------------------------------------------


async def test_a_sentence_at_the_name_step_is_not_taken_as_a_name(harness: BotHarness) -> None:
    await harness.say(PATIENT, "/start")
    replies = said(await harness.say(PATIENT, "i don't think i can do this anymore"))
    assert "Thanks, i don't" not in replies
    assert CRISIS in replies and "No one reads this chat" in replies
    assert person(harness).display_name == "Test"
    assert step(harness) == "ob_name"


async def test_distress_at_every_step_gets_the_crisis_line(harness: BotHarness) -> None:
    """The zone, kind, count, date and move steps each answer a sentence with the crisis line
    and that nobody reads the chat, and keep the step."""
    await harness.say(PATIENT, "/start")
    await harness.say(PATIENT, "Ana")
    for answer_before, expected_step in (
        (None, "ob_zone"),
        ("Berlin", "ob_kind"),
        ("iv", "ob_count"),
        ("6", "ob_first"),
        ("tomorrow 9:30", "ob_more"),
    ):
        if answer_before is not None:
            await harness.say(PATIENT, answer_before)
        assert step(harness) == expected_step
        replies = said(await harness.say(PATIENT, DISTRESS))
        assert CRISIS in replies, expected_step
        assert "nobody reads this chat" in replies, expected_step
        assert step(harness) == expected_step
    await harness.press(PATIENT, "ob:done")
    session_id = harness.services.companion.sessions(person(harness).id)[0].id
    await harness.press(PATIENT, f"mv:{session_id}", message_id=1)
    replies = said(await harness.say(PATIENT, DISTRESS))
    assert CRISIS in replies and "nobody reads this chat" in replies
    assert step(harness) == "mv"


async def test_photos_locations_and_stray_text_are_always_answered(harness: BotHarness) -> None:
    registered(harness)
    replies = said(await harness.feed(location(harness), PATIENT))
    assert CRISIS in replies and "nobody reads this chat" in replies
    replies = said(await harness.say(PATIENT, DISTRESS))
    assert CRISIS in replies
    stranger = 4242
    replies = said(await harness.feed(location(harness, stranger), stranger))
    assert CRISIS in replies


async def test_a_date_typed_outside_a_step_points_to_add(harness: BotHarness) -> None:
    registered(harness)
    replies = said(await harness.say(PATIENT, "Fri 10:00"))
    assert "/add Fri 10:00" in replies
    assert sessions(harness) == []


async def test_edits_are_read_while_their_step_is_open_and_said_unread_after(
    harness: BotHarness,
) -> None:
    await harness.say(PATIENT, "/start")
    await harness.say(PATIENT, "Ana")
    typo = harness.api.make_text(PATIENT, "Atlantis")
    await harness.feed(typo, PATIENT)
    assert step(harness) == "ob_zone"
    fixed = edited(typo)
    fixed["edited_message"]["text"] = "Berlin"
    replies = said(await harness.feed(fixed, PATIENT))
    assert "Europe/Berlin" in replies
    assert person(harness).zone == BERLIN
    # The step is closed now: a later edit of the same answer changes nothing, and says so.
    again = edited(typo)
    again["update_id"] += 1
    again["edited_message"]["text"] = "Chicago"
    replies = said(await harness.feed(again, PATIENT))
    assert "don't read edited messages" in replies
    assert person(harness).zone == BERLIN


async def test_an_edited_move_answer_after_the_move_is_answered(harness: BotHarness) -> None:
    patient = registered(harness)
    session = harness.services.companion.add_session(
        patient.id, wall("2026-12-04 10:00"), Kind.IV, harness.clock.now()
    )
    await harness.press(PATIENT, f"mv:{session.id}", message_id=1)
    answer = harness.api.make_text(PATIENT, "Fri 10:00")
    await harness.feed(answer, PATIENT)
    fix = edited(answer)
    fix["edited_message"]["text"] = "Fri 11:00"
    replies = said(await harness.feed(fix, PATIENT))
    assert "don't read edited messages" in replies
    assert sessions(harness) == ["2026-12-04 10:00"]


# -- time zones -----------------------------------------------------------------------------------


async def test_abbreviations_and_offsets_get_a_question_about_the_city(
    harness: BotHarness,
) -> None:
    registered(harness)
    for typed in ("EST", "GMT+1", "UTC+1", "Etc/GMT+1"):
        calls = await harness.say(PATIENT, f"/timezone {typed}")
        assert "which city are you in" in said(calls), typed
        assert person(harness).zone == BERLIN
    calls = await harness.say(PATIENT, "/timezone GMT+1")
    offered = [data for call in calls for _, data in call.buttons]
    now = harness.clock.now()
    for data in offered:
        zone = data.removeprefix("tz:")
        offset = now.astimezone(ZoneInfo(zone)).utcoffset()
        assert offset == timedelta(hours=1), zone  # never an hour off


async def test_a_family_member_sets_their_own_zone(harness: BotHarness) -> None:
    patient = registered(harness, zone="America/New_York")
    with_family(harness, patient)
    replies = said(await harness.say(FAMILY, "/timezone Berlin"))
    assert "Time zone set to Europe/Berlin" in replies
    assert "/sessions" not in replies  # they have none to move
    assert person(harness, FAMILY).zone == BERLIN
    assert person(harness).zone == "America/New_York"


# -- dates ----------------------------------------------------------------------------------------


async def test_a_repeat_over_the_spring_forward_night_says_which_date_and_why(
    harness: BotHarness,
) -> None:
    registered(harness)
    replies = said(await harness.say(PATIENT, "/add 2027-03-21 02:30 iv Sun x3"))
    assert "Sessions added: 2" in replies
    assert "Sunday 28 March" in replies and "clocks go forward" in replies
    assert sessions(harness) == ["2027-03-21 02:30", "2027-04-04 02:30"]


async def test_overlapping_sessions_are_saved_with_a_word(harness: BotHarness) -> None:
    registered(harness)
    await harness.say(PATIENT, "/add 2026-12-01 10:00")
    replies = said(await harness.say(PATIENT, "/add 2026-12-01 10:30"))
    assert "Saved" in replies and "overlaps your session" in replies
    assert len(sessions(harness)) == 2


async def test_add_takes_the_repeat_syntax(harness: BotHarness) -> None:
    registered(harness)
    replies = said(await harness.say(PATIENT, "/add 2026-12-01 10:00 nasal Tue,Thu x4"))
    assert "Sessions added: 4" in replies
    assert sessions(harness) == [
        "2026-12-01 10:00",
        "2026-12-03 10:00",
        "2026-12-08 10:00",
        "2026-12-10 10:00",
    ]
    kinds = {s.kind for s in harness.services.companion.sessions(person(harness).id)}
    assert kinds == {Kind.NASAL}
    series = harness.services.companion.current_series(person(harness).id)
    assert series is not None and series.planned == 4  # "x4" is four in all: 1 of 4 ... 4 of 4
    assert "1 of 4: Tuesday 1 December" in said(await harness.say(PATIENT, "/sessions"))


# -- exactly once ---------------------------------------------------------------------------------


async def test_a_failed_reply_is_retried_never_the_command(harness: BotHarness) -> None:
    """/add tomorrow 9:30 at 23:50 whose reply fails: the reply is sent after midnight, and
    tomorrow still means 1 December (the command ran once, at 23:50)."""
    registered(harness)
    harness.clock.set(datetime(2026, 11, 30, 22, 50, tzinfo=UTC))  # 23:50 in Berlin
    harness.api.add_fault(Fault.server_error(method="sendMessage", chat_id=PATIENT))
    await via_inbox(harness, harness.api.make_text(PATIENT, "/add tomorrow 9:30"))
    assert sessions(harness) == ["2026-12-01 09:30"]
    harness.clock.set(datetime(2026, 11, 30, 23, 20, tzinfo=UTC))  # 00:20 in Berlin
    await via_inbox(harness, harness.api.make_text(PATIENT, "/help"))
    await harness.advance(timedelta(minutes=5))
    assert sessions(harness) == ["2026-12-01 09:30"]
    saved = [t for t in texts(harness.api.sent_to(PATIENT)) if t.startswith("Saved")]
    assert saved == ["Saved: Tuesday 1 December, 09:30 (Europe/Berlin), session 1 of 6."]
    assert Inbox(harness.services.db).counts() == {"done": 2}


async def test_an_update_handled_before_changes_nothing_when_it_comes_again(
    harness: BotHarness,
) -> None:
    registered(harness)
    update = harness.api.make_text(PATIENT, "/add 2026-12-01 10:00")
    await via_inbox(harness, update)
    before = len(harness.api.sent_to(PATIENT))
    await harness.feed(update, PATIENT)  # the same update again, straight to the handlers
    assert len(harness.api.sent_to(PATIENT)) == before
    assert sessions(harness) == ["2026-12-01 10:00"]


async def test_a_late_cancel_press_still_tells_the_family(harness: BotHarness) -> None:
    """The press is handled after Telegram's 15 seconds: its answer fails, its follow-ups not."""
    patient = registered(harness)
    with_family(harness, patient)
    session = harness.services.companion.add_session(
        patient.id, wall("2026-12-04 10:00"), Kind.IV, harness.clock.now()
    )
    too_old = "query is too old and response timeout expired or query ID is invalid"
    harness.api.add_fault(Fault.bad_request(too_old, method="answerCallbackQuery", times=None))
    await harness.press(PATIENT, f"cxy:{session.id}", message_id=1)
    assert sessions(harness) == []
    to_family = said(harness.api.sent_to(FAMILY))
    assert "is cancelled" in to_family


async def test_a_late_approval_still_welcomes_the_member(harness: BotHarness) -> None:
    patient = registered(harness)
    companion = harness.services.companion
    now = harness.clock.now()
    link_id, _ = companion.redeem_invite(
        companion.create_invite(patient.id, now), FAMILY, "Bo", now
    )
    too_old = "query is too old and response timeout expired or query ID is invalid"
    harness.api.add_fault(Fault.bad_request(too_old, method="answerCallbackQuery", times=None))
    await harness.press(PATIENT, f"fa:{link_id}", message_id=1)
    to_family = texts(harness.api.sent_to(FAMILY))
    assert any(t.startswith("You're in") for t in to_family)
    # "You're in" before the family welcome it was approved for, not after.
    first = next(i for i, t in enumerate(to_family) if t.startswith("You're in"))
    welcome = next(i for i, t in enumerate(to_family) if t.startswith("Welcome"))
    assert first < welcome


async def test_an_old_button_after_forget_acts_on_nothing_new(harness: BotHarness) -> None:
    patient = registered(harness)
    old = harness.services.companion.add_session(
        patient.id, wall("2026-12-04 10:00"), Kind.IV, harness.clock.now()
    )
    await harness.say(PATIENT, "/forget")
    await harness.press(PATIENT, "forget_y")
    new_patient = registered(harness)
    new = harness.services.companion.add_session(
        new_patient.id, wall("2026-12-05 10:00"), Kind.IV, harness.clock.now()
    )
    assert new.id != old.id and new_patient.id != patient.id
    await harness.press(PATIENT, f"cxy:{old.id}", message_id=1)
    assert last_answer(harness) == "That button is no longer valid."
    assert sessions(harness) == ["2026-12-05 10:00"]


def test_every_cannot_use_that_reply_keeps_the_crisis_line_in_every_locale() -> None:
    """What the bot says when it cannot use what someone sent always carries the crisis line."""
    catalog = shared_catalog()
    for code in catalog.locales:
        replies = catalog.texts(code).replies
        for key in ("unknown_text", "unknown_command", "step_help", "onboarding_name_reprompt"):
            assert "{crisis_line}" in replies[key], (code, key)


async def test_a_family_note_to_someone_who_is_also_a_patient_is_protected(
    harness: BotHarness,
) -> None:
    """Protection follows what the message is, not who reads it: FAMILY has sessions of their
    own, and still gets the note about the patient's cancelled session protected."""
    patient = registered(harness)
    member = with_family(harness, patient)
    harness.services.companion.register_patient(FAMILY, "Bo", BERLIN, harness.clock.now())
    assert person(harness, FAMILY).id == member.id
    session = harness.services.companion.add_session(
        patient.id, wall("2026-12-04 10:00"), Kind.IV, harness.clock.now()
    )
    await harness.press(PATIENT, f"cxy:{session.id}", message_id=1)
    (note,) = [c for c in harness.api.sent_to(FAMILY) if "is cancelled" in (c.plain_text or "")]
    assert note.params.get("protect_content") is True
