"""Between sessions (issue 10) through the real PTB stack: wins noted, kept, discarded, listed and
given back; tonight's check-in; the evening-before checklist; "I noticed" from family, off and on;
none of it in a family chat, all of it in /export, none after /forget."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application
from bot.clock import ManualClock
from bot.context import Settings, services_of
from bot.handlers.privacy import export_document
from bot.offline.fake_api import JSON, Call, FakeBotApi
from bot.preview import plain_text
from scheduler.model import Kind, Person
from tests.botharness import (
    FAMILY,
    PATIENT,
    BotHarness,
    link_family,
    start_harness,
    stop_harness,
    texts,
)

CRISIS = "988"
S1 = datetime(2026, 12, 1, 10, 0)  # noqa: DTZ001 - Berlin wall clock, a Tuesday
S2 = datetime(2026, 12, 3, 10, 0)  # noqa: DTZ001
CHECKLIST_S1 = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)  # Monday 20:00 in Berlin
CHECKLIST_S2 = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)  # Wednesday 20:00
CHECKIN_S1 = datetime(2026, 12, 1, 18, 30, tzinfo=UTC)  # Tuesday 19:30 in Berlin
MORNING_AFTER_S1 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # Wednesday 09:00: function_first
FAMILY_NEXT_DAY_S1 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # Wednesday 10:00
SERIES_END_NOTE = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # Friday 11:00: keep_building
IF_WORSE_S2 = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)  # Friday 17:00
BO: JSON = {"id": FAMILY, "is_bot": False, "first_name": "Bo", "language_code": "en"}


def said(calls: list[Call]) -> str:
    return "\n".join(text for text in texts(calls) if text)


def reply(h: BotHarness, key: str, **values: object) -> str:
    """A reply as the person reads it (tags stripped)."""
    return plain_text(h.services.catalog.render_reply("en", key, crisis_line=CRISIS, **values))


def deployed(h: BotHarness, key: str) -> str:
    """A reply as the bot renders it, with the deployment's own crisis line."""
    line = h.services.settings.crisis_line
    return plain_text(h.services.catalog.render_reply("en", key, crisis_line=line))


def patient_with_series(h: BotHarness, *, family: bool = False) -> Person:
    """Two sessions in a series of two (so both if_worse and the series end come), optionally a
    family member Bo; nothing sent yet."""
    companion = h.services.companion
    now = h.clock.now()
    patient = companion.register_patient(PATIENT, "Ana", "Europe/Berlin", now)
    companion.set_series_length(patient.id, 2, now)
    if family:
        link_family(companion, patient, FAMILY, "Bo", now)
    companion.add_session(patient.id, S1, Kind.IV, now)
    companion.add_session(patient.id, S2, Kind.IV, now)
    return patient


async def timed(h: BotHarness, chat_id: int, at: datetime, action: str) -> tuple[Call, int]:
    """Move to ``at``; the timed message sent to ``chat_id`` with a button ``action:<id>``, and
    that delivery id."""
    mark = h.api.mark()
    await h.advance_to(at)
    for call in h.api.sent_to(chat_id, since=mark):
        for _, data in call.buttons:
            if data.startswith(f"{action}:"):
                return call, int(data.split(":")[1])
    raise AssertionError(f"no message with {action} buttons: {said(h.api.sent_to(chat_id))}")


def step(h: BotHarness, chat_id: int = PATIENT) -> str | None:
    state = h.services.companion.step(chat_id)
    return state[0] if state else None


def exported(h: BotHarness, chat_id: int) -> dict[str, Any]:
    person = h.services.companion.person_by_chat(chat_id)
    assert person is not None
    data = json.loads(export_document(h.services.companion, person))
    assert isinstance(data, dict)
    return data


def last_answer(h: BotHarness) -> str:
    answers = h.api.calls("answerCallbackQuery")
    return str(answers[-1].params.get("text", "")) if answers else ""


# -- what got easier -------------------------------------------------------------------------------


async def test_a_written_win_is_kept_another_discarded_and_wins_lists_them(
    harness: BotHarness,
) -> None:
    """Write my own -> the next text is shown back with Keep/Discard; Keep notes it with the
    crisis line in the thanks, Discard keeps nothing; a tapped win is noted once a day."""
    h = harness
    patient = patient_with_series(h)
    morning, delivery = await timed(h, PATIENT, MORNING_AFTER_S1, "win_own")
    labels = [label for label, _ in morning.buttons]
    assert labels == [
        "Got dressed",
        "Went outside",
        "Called someone",
        "Cooked something",
        "Did a chore",
        "Write my own",
    ]

    asked = await h.press(PATIENT, f"win_own:{delivery}")
    assert said(asked) == reply(h, "win_ask")
    assert step(h) == "win_text"
    (shown,) = await h.say(PATIENT, "Walked  to the\nbakery")
    assert "Walked to the bakery" in (shown.plain_text or "")
    assert [data for _, data in shown.buttons] == ["wk", "wd"]
    (kept,) = await h.press(PATIENT, "wk", message_id=shown.result["message_id"])
    assert kept.method == "editMessageText"
    assert "Kept." in (kept.plain_text or "") and CRISIS in (kept.plain_text or "")
    assert step(h) is None

    await h.press(PATIENT, f"win_own:{delivery}")
    (shown,) = await h.say(PATIENT, "Not this one")
    (gone,) = await h.press(PATIENT, "wd", message_id=shown.result["message_id"])
    assert gone.plain_text == reply(h, "win_discarded")

    (noted,) = await h.press(PATIENT, f"win_dressed:{delivery}")
    assert "Noted for today: Got dressed" in (noted.plain_text or "")
    assert await h.press(PATIENT, f"win_dressed:{delivery}") == []
    assert last_answer(h) == reply(h, "win_already")

    (listed,) = await h.say(PATIENT, "/wins")
    text = listed.plain_text or ""
    assert "Wednesday 2 December" in text  # the patient's local day
    assert "• Walked to the bakery" in text and "• Got dressed" in text
    assert "Not this one" not in text
    notes = h.services.companion.wins(patient.id)
    assert [w.text for w in notes] == ["Walked to the bakery", "Got dressed"]


async def test_a_note_written_again_before_keep_replaces_the_one_shown(
    harness: BotHarness,
) -> None:
    """A typo fixed by sending the line again, while Keep / Discard waits, is shown back anew
    (not met with "I can't answer messages"), and Keep keeps the corrected line only."""
    h = harness
    patient = patient_with_series(h)
    _, delivery = await timed(h, PATIENT, MORNING_AFTER_S1, "win_own")
    await h.press(PATIENT, f"win_own:{delivery}")
    await h.say(PATIENT, "Cooekd dinner")
    (shown,) = await h.say(PATIENT, "Cooked dinner")
    assert "Your note:\nCooked dinner\nKeep it?" in (shown.plain_text or "")
    assert [data for _, data in shown.buttons] == ["wk", "wd"]
    await h.press(PATIENT, "wk", message_id=shown.result["message_id"])
    assert [w.text for w in h.services.companion.wins(patient.id)] == ["Cooked dinner"]
    assert step(h) is None


async def test_a_sentence_is_never_silently_filed_as_a_win(harness: BotHarness) -> None:
    """Text outside the step gets the usual answer with the crisis line; a command during the
    step ends it, so the next sentence is not a note either; Keep after that is stale."""
    h = harness
    patient = patient_with_series(h)
    morning, delivery = await timed(h, PATIENT, MORNING_AFTER_S1, "win_own")
    outside = said(await h.say(PATIENT, "everything is too much today"))
    assert CRISIS in outside and "nobody reads this chat" in outside

    await h.press(PATIENT, f"win_own:{delivery}")
    await h.say(PATIENT, "/help")
    assert step(h) is None
    after = said(await h.say(PATIENT, "went outside"))
    assert CRISIS in after
    # A forged or stale Keep: no note is waiting, so nothing is kept.
    assert await h.press(PATIENT, "wk", message_id=morning.result["message_id"]) == []
    assert last_answer(h) == reply(h, "button_stale")
    assert h.services.companion.wins(patient.id) == []
    (empty,) = await h.say(PATIENT, "/wins")
    assert empty.plain_text == reply(h, "wins_none")


async def test_wins_are_given_back_in_the_series_end_and_if_worse_messages(
    harness: BotHarness,
) -> None:
    """With wins: "You noted 2 things ..., the latest: ..."; the sentence is the patient's alone."""
    h = harness
    patient_with_series(h)
    _, delivery = await timed(h, PATIENT, MORNING_AFTER_S1, "win_own")
    await h.press(PATIENT, f"win_outside:{delivery}")
    await h.press(PATIENT, f"win_own:{delivery}")
    await h.say(PATIENT, "Made <soup> & ate it")
    await h.press(PATIENT, "wk")

    mark = h.api.mark()
    await h.advance_to(SERIES_END_NOTE)
    await h.advance_to(IF_WORSE_S2)
    sent = said(h.api.sent_to(PATIENT, since=mark))
    given = "You noted 2 things that got easier, the latest: “Made <soup> & ate it”."
    assert sent.count(given) == 2, sent  # keep_building and if_worse
    assert "Your series is complete" in sent and "a day after session 2" in sent


async def test_without_wins_the_given_back_sentence_is_left_out(harness: BotHarness) -> None:
    h = harness
    patient_with_series(h)
    mark = h.api.mark()
    await h.advance_to(IF_WORSE_S2)
    calls = h.api.sent_to(PATIENT, since=mark)
    worse = next(c.plain_text or "" for c in calls if "a day after session 2" in (c.text or ""))
    assert "You noted" not in worse
    assert "decide what comes next.\nIf you are in danger" in worse


# -- tonight's check-in ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("fine", ["Good to hear. Rest well tonight."]),
        (
            "side_effects",
            [
                "nausea, dizziness, a headache, feeling detached",
                "usually fade within hours",
                "Tell your provider if they last or worry you.",
            ],
        ),
        ("not_ok", [f"call {CRISIS}", "now.", "tell your provider how you are doing"]),
    ],
)
async def test_the_check_in_answers_fine_side_effects_and_not_ok(
    harness: BotHarness, answer: str, expected: list[str]
) -> None:
    """Sent the evening after the session (19:30, outside quiet hours); each answer gets its
    reply at once, as a message of its own; the answer is stored, privately."""
    h = harness
    patient = patient_with_series(h, family=True)
    checkin, delivery = await timed(h, PATIENT, CHECKIN_S1, "checkin_fine")
    assert "How are you this evening?" in (checkin.plain_text or "")
    assert [label for label, _ in checkin.buttons] == ["Fine", "Some side effects", "Not OK"]

    forged = f"checkin_{answer}:{delivery}"
    assert said(await h.press(FAMILY, forged, message_id=1, user=BO)) == ""
    assert last_answer(h) == reply(h, "button_stale")  # not theirs
    calls = await h.press(PATIENT, f"checkin_{answer}:{delivery}")
    (sent,) = [c for c in calls if c.method == "sendMessage"]
    for words in expected:
        assert words in (sent.plain_text or "")
    answers = h.services.companion.notes.answers(patient.id)
    assert [(a.topic, a.question, a.answer) for a in answers] == [("checkin", "evening", answer)]


async def test_no_check_in_answer_means_nothing_more_is_sent(harness: BotHarness) -> None:
    h = harness
    patient_with_series(h)
    await timed(h, PATIENT, CHECKIN_S1, "checkin_fine")
    mark = h.api.mark()
    await h.advance_to(MORNING_AFTER_S1 - timedelta(minutes=1))
    assert h.api.sent_to(PATIENT, since=mark) == []


def test_an_operator_can_switch_the_check_in_and_the_checklist_off(tmp_path: Path) -> None:
    """Switched off, they are never planned; on by default."""
    for settings, missing in (
        (Settings(), set()),
        (Settings(checkin_enabled=False), {"checkin"}),
        (Settings(checklist_enabled=False, checkin_enabled=False), {"checkin", "checklist"}),
    ):
        app = build_application(
            token="1:x", db_path=tmp_path / f"{len(missing)}.db", settings=settings
        )
        services = services_of(app)
        try:
            ids = {entry.id for entry in services.companion.timeline}
            assert {"checkin", "checklist"} - ids == missing
        finally:
            services.db.close()


# -- the evening-before checklist ------------------------------------------------------------------


async def test_the_checklist_asks_three_questions_and_only_ever_says_tell_your_clinic(
    harness: BotHarness,
) -> None:
    h = harness
    patient = patient_with_series(h)
    first, delivery = await timed(h, PATIENT, CHECKLIST_S1, "checklist_ride_yes")
    assert "Is your ride home arranged?" in (first.plain_text or "")

    (meds,) = await h.press(PATIENT, f"checklist_ride_yes:{delivery}")
    assert meds.plain_text == reply(h, "checklist_meds")
    assert [d for _, d in meds.buttons] == [
        f"checklist_meds_yes:{delivery}",
        f"checklist_meds_no:{delivery}",
    ]
    (elevated,) = await h.press(PATIENT, f"checklist_meds_yes:{delivery}")
    assert elevated.plain_text == reply(h, "checklist_elevated")
    (done,) = await h.press(PATIENT, f"checklist_elevated_no:{delivery}")
    assert done.plain_text == reply(h, "checklist_done")

    # The evening before session 2: one worrying answer is enough.
    _, second = await timed(h, PATIENT, CHECKLIST_S2, "checklist_ride_no")
    await h.press(PATIENT, f"checklist_ride_no:{second}")
    await h.press(PATIENT, f"checklist_meds_yes:{second}")
    (worrying,) = await h.press(PATIENT, f"checklist_elevated_yes:{second}")
    text = worrying.plain_text or ""
    assert "tell your clinic before the session starts" in text
    assert "dose" not in text.lower()
    companion = h.services.companion
    assert companion.checklist_answers(patient.id, delivery) == {
        "ride": "yes",
        "meds": "yes",
        "elevated": "no",
    }
    assert companion.checklist_answers(patient.id, second) == {
        "ride": "no",
        "meds": "yes",
        "elevated": "yes",
    }
    # Nothing is blocked: the session and its messages stay as they were.
    assert len(h.services.companion.sessions(patient.id)) == 2


CLINIC = "Riverside Clinic, 020 7946 0000"


@pytest.mark.parametrize("contact", [CLINIC, None])
async def test_where_the_bot_says_tell_your_clinic_it_gives_the_clinics_line(
    fake_api: FakeBotApi, tmp_path: Path, bot_clock: ManualClock, contact: str | None
) -> None:
    """The checklist's "tell your clinic" and the check-in's "tell your provider" replies carry
    the clinic's contact when the deployment has one; without one, no empty line is left."""
    settings = Settings(clinic_contact=contact)
    h = await start_harness(fake_api, tmp_path, bot_clock, settings=settings)
    try:
        patient_with_series(h)
        _, delivery = await timed(h, PATIENT, CHECKLIST_S1, "checklist_ride_no")
        await h.press(PATIENT, f"checklist_ride_no:{delivery}")
        await h.press(PATIENT, f"checklist_meds_yes:{delivery}")
        (told,) = await h.press(PATIENT, f"checklist_elevated_no:{delivery}")
        replies = [told.plain_text or ""]
        _, delivery = await timed(h, PATIENT, CHECKIN_S1, "checkin_fine")
        for answer in ("side_effects", "not_ok"):
            calls = await h.press(PATIENT, f"checkin_{answer}:{delivery}", message_id=0)
            replies += [c.plain_text or "" for c in calls if c.method == "sendMessage"]
    finally:
        await stop_harness(h)
    assert not h.errors
    assert len(replies) == 3
    for text in replies:
        if contact is None:
            assert "clinic:" not in text and not text.endswith("\n"), text
        else:
            assert text.endswith(f"\nTo reach your clinic: {CLINIC}"), text


# -- "I noticed" from family -----------------------------------------------------------------------


async def test_i_noticed_reaches_the_patient_only_when_turned_on_and_is_kept_with_one_tap(
    harness: BotHarness,
) -> None:
    h = harness
    patient = patient_with_series(h, family=True)
    await h.advance_to(MORNING_AFTER_S1)
    note, delivery = await timed(h, FAMILY, FAMILY_NEXT_DAY_S1, "noticed")
    assert [label for label, _ in note.buttons] == ["I noticed something", "Got it"]

    # Off (the default): nothing reaches the patient, nothing of it is kept.
    asked = said(await h.press(FAMILY, f"noticed:{delivery}", user=BO))
    assert asked == reply(h, "noticed_ask")
    mark = h.api.mark()
    told = said(await h.say(FAMILY, "She laughed at dinner", user=BO))
    assert told == deployed(h, "noticed_kept_private")
    assert h.api.sent_to(PATIENT, since=mark) == []
    assert h.row_counts()["noticed"] == 0
    assert step(h, FAMILY) is None

    # The patient turns it on in /settings.
    (menu,) = await h.say(PATIENT, "/settings")
    assert ("Notes from family: on", "set:n:on") in menu.buttons
    assert ("✓ Notes from family: off", "set:n:off") in menu.buttons
    await h.press(PATIENT, "set:n:on", message_id=menu.result["message_id"])
    assert h.services.companion.family_notes_on(patient.id)

    await h.press(FAMILY, f"noticed:{delivery}", user=BO)
    mark = h.api.mark()
    told = said(await h.say(FAMILY, "She went for a walk with me", user=BO))
    assert told == deployed(h, "noticed_passed_on")
    (received,) = h.api.sent_to(PATIENT, since=mark)
    assert "Bo noticed something" in (received.plain_text or "")
    assert "She went for a walk with me" in (received.plain_text or "")
    (keep,) = [data for _, data in received.buttons]
    kept = said(await h.press(PATIENT, keep, message_id=received.result["message_id"]))
    assert kept == reply(h, "noticed_kept")
    again = await h.press(PATIENT, keep, message_id=received.result["message_id"])
    assert again == [] and h.services.companion.wins(patient.id)[-1].from_name == "Bo"
    assert last_answer(h) == reply(h, "noticed_already_kept")  # kind, not "no longer valid"
    assert len(h.services.companion.wins(patient.id)) == 1  # kept once
    (listed,) = await h.say(PATIENT, "/wins")
    assert "• She went for a walk with me (noticed by Bo)" in (listed.plain_text or "")
    # A family member cannot keep it for the patient.
    assert await h.press(FAMILY, keep, message_id=1, user=BO) == []


async def test_a_hard_sentence_written_as_a_note_is_answered_with_the_crisis_line(
    harness: BotHarness,
) -> None:
    """What is typed after "Write my own" or "I noticed something" may be the sentence that
    matters: the patient's note shown back, and the family member's thanks, carry the crisis
    line at once, whatever is tapped next (a Discard says nothing more)."""
    h = harness
    patient = patient_with_series(h, family=True)
    _, morning = await timed(h, PATIENT, MORNING_AFTER_S1, "win_own")
    await h.press(PATIENT, f"win_own:{morning}")
    (shown,) = await h.say(PATIENT, "Nothing is easier and I can't see the point of going on")
    assert CRISIS in (shown.plain_text or "")
    (gone,) = await h.press(PATIENT, "wd", message_id=shown.result["message_id"])
    assert gone.plain_text == reply(h, "win_discarded")
    assert h.services.companion.wins(patient.id) == []

    _, noticed = await timed(h, FAMILY, FAMILY_NEXT_DAY_S1, "noticed")
    for on in (False, True):
        h.services.companion.set_family_notes(patient.id, on, h.clock.now())
        await h.press(FAMILY, f"noticed:{noticed}", user=BO, message_id=0)
        told = said(await h.say(FAMILY, "She barely talks and I'm scared for her", user=BO))
        assert f"Worried they're in danger? Call {CRISIS}" in told, told


# -- privacy -------------------------------------------------------------------------------------


async def _everything(h: BotHarness) -> Person:
    """A patient with a written win, a check-in, a checklist answer and a kept family line."""
    patient = patient_with_series(h, family=True)
    h.services.companion.set_family_notes(patient.id, True, h.clock.now())
    _, checklist = await timed(h, PATIENT, CHECKLIST_S1, "checklist_ride_yes")
    await h.press(PATIENT, f"checklist_ride_no:{checklist}")
    _, checkin = await timed(h, PATIENT, CHECKIN_S1, "checkin_fine")
    await h.press(PATIENT, f"checkin_side_effects:{checkin}")
    _, morning = await timed(h, PATIENT, MORNING_AFTER_S1, "win_own")
    await h.press(PATIENT, f"win_own:{morning}")
    await h.say(PATIENT, "Answered three emails")
    await h.press(PATIENT, "wk")
    _, noticed = await timed(h, FAMILY, FAMILY_NEXT_DAY_S1, "noticed")
    await h.press(FAMILY, f"noticed:{noticed}", user=BO)
    await h.say(FAMILY, "Hummed while cooking", user=BO)
    keep = next(d for c in h.api.sent_to(PATIENT) for _, d in c.buttons if d.startswith("nk:"))
    await h.press(PATIENT, keep)
    await h.advance_to(IF_WORSE_S2)
    return patient


async def test_none_of_it_in_a_family_chat_and_all_of_it_in_export(harness: BotHarness) -> None:
    h = harness
    await _everything(h)
    family_chat = said(h.api.sent_to(FAMILY)).lower()
    for private in (
        "answered three emails",
        "hummed while cooking",  # their own line is never echoed back to them either
        "you noted",
        "side effects",
        "ride home arranged",
        "kept with your notes",
    ):
        assert private not in family_chat
    (wins_there,) = await h.say(FAMILY, "/wins", user=BO)
    assert wins_there.plain_text == reply(h, "wins_not_patient")

    data = exported(h, PATIENT)
    assert [(w["text"], w["source"], w["from"]) for w in data["wins"]] == [
        ("Answered three emails", "own", None),
        ("Hummed while cooking", "family", "Bo"),
    ]
    assert {(a["topic"], a["question"], a["answer"]) for a in data["answers"]} == {
        ("checklist", "ride", "no"),
        ("checkin", "evening", "side_effects"),
    }
    assert data["family_notes_on"] is True
    (received,) = data["noticed_received"]
    assert received["from"] == "Bo" and received["kept_at"]
    family = exported(h, FAMILY)
    assert family["wins"] == [] and family["answers"] == []
    (sent,) = family["noticed_sent"]
    assert set(sent) == {"text", "created_at"}  # not whether the patient kept it


async def test_none_of_it_after_forget(harness: BotHarness) -> None:
    h = harness
    await _everything(h)
    await h.say(PATIENT, "/forget")
    await h.press(PATIENT, "forget_y")
    counts = h.row_counts()
    assert {t: counts[t] for t in ("wins", "answers", "noticed", "note_settings")} == {
        "wins": 0,
        "answers": 0,
        "noticed": 0,
        "note_settings": 0,
    }


async def test_a_family_member_who_forgets_leaves_the_kept_win_without_their_name(
    harness: BotHarness,
) -> None:
    h = harness
    patient = await _everything(h)
    await h.say(FAMILY, "/forget", user=BO)
    await h.press(FAMILY, "forget_y", user=BO)
    wins = h.services.companion.wins(patient.id)
    assert [(w.text, w.from_name) for w in wins] == [
        ("Answered three emails", None),
        ("Hummed while cooking", None),
    ]
    assert h.row_counts()["noticed"] == 0


# -- old buttons are not new answers ----------------------------------------------------------


async def test_a_week_old_win_button_is_noted_for_the_day_of_its_message(
    harness: BotHarness,
) -> None:
    """A tap on last week's "what got easier" is about that day, and the reply says which day."""
    h = harness
    patient = patient_with_series(h)
    _, delivery = await timed(h, PATIENT, MORNING_AFTER_S1, "win_dressed")
    await h.advance(timedelta(days=7))
    (noted,) = await h.press(PATIENT, f"win_dressed:{delivery}")
    text = noted.plain_text or ""
    assert "Noted for today" not in text
    line = h.services.settings.crisis_line
    assert text == plain_text(
        h.services.catalog.render_reply(
            "en", "win_noted_on", day=date(2026, 12, 2), text="Got dressed", crisis_line=line
        )
    )
    (win,) = h.services.companion.wins(patient.id)
    assert win.day == date(2026, 12, 2)
    # A second tap on that message is "already noted" for that day, not a second win.
    assert await h.press(PATIENT, f"win_dressed:{delivery}") == []
    assert last_answer(h) == reply(h, "win_already_on", day=date(2026, 12, 2))
    assert len(h.services.companion.wins(patient.id)) == 1


@pytest.mark.parametrize("change", ["moved", "cancelled"])
async def test_a_checklist_for_a_session_that_moved_or_was_cancelled_stores_nothing(
    harness: BotHarness, change: str
) -> None:
    h = harness
    patient = patient_with_series(h)
    companion = h.services.companion
    _, delivery = await timed(h, PATIENT, CHECKLIST_S1, "checklist_ride_yes")
    s1 = companion.sessions(patient.id)[0]
    if change == "moved":
        companion.move_session(patient.id, s1.id, datetime(2026, 12, 5, 10, 0), h.clock.now())  # noqa: DTZ001
    else:
        companion.cancel_session(patient.id, s1.id, h.clock.now())
    (told,) = await h.press(PATIENT, f"checklist_ride_yes:{delivery}")
    assert told.plain_text == reply(h, "checklist_outdated")
    assert not told.buttons
    assert companion.notes.answers(patient.id) == []


async def test_an_old_check_in_keyboard_never_overwrites_not_ok(harness: BotHarness) -> None:
    """Every check-in answer is kept with its time; /export shows them all."""
    h = harness
    patient = patient_with_series(h)
    _, delivery = await timed(h, PATIENT, CHECKIN_S1, "checkin_not_ok")
    await h.press(PATIENT, f"checkin_not_ok:{delivery}")
    await h.advance(timedelta(minutes=5))
    await h.press(PATIENT, f"checkin_fine:{delivery}", message_id=0)
    answers = h.services.companion.notes.answers(patient.id)
    assert [a.answer for a in answers] == ["not_ok", "fine"]
    assert answers[0].answered_at < answers[1].answered_at
    exported_answers = exported(h, PATIENT)["answers"]
    assert [a["answer"] for a in exported_answers] == ["not_ok", "fine"]
    assert exported_answers[0]["answered_at"] < exported_answers[1]["answered_at"]
