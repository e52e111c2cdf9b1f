"""/start's guided steps through the real PTB stack: the happy path, every wrong answer at every
step (nothing stored), a restart in the middle, and a command that ends a step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.offline.fake_api import JSON, Call, FakeBotApi
from scheduler.model import Kind
from tests.botharness import (
    PATIENT,
    BotHarness,
    start_harness,
    stop_harness,
    texts,
)

NAME, ZONE, KIND, COUNT = "ob_name", "ob_zone", "ob_kind", "ob_count"
FIRST, MORE = "ob_first", "ob_more"


def step(harness: BotHarness, chat_id: int = PATIENT) -> str | None:
    state = harness.services.companion.dialogs.get(chat_id)
    return state[0] if state else None


def stored(harness: BotHarness) -> dict[str, int]:
    """Row counts of everything but the dialog table (the step itself is allowed to exist)."""
    counts = harness.row_counts()
    counts.pop("dialogs", None)
    return counts


def said(calls: list[Call]) -> str:
    """Everything the person read in these calls, as one text: a reminder the dispatcher sends
    at the same moment may come before or after the reply."""
    return "\n".join(text for text in texts(calls) if text)


def buttons(calls: list[Call]) -> list[tuple[str, str]]:
    return [button for call in calls for button in call.buttons]


def last_answer(harness: BotHarness) -> str:
    """The text of the latest callback answer (what a press showed the person)."""
    calls = harness.api.calls("answerCallbackQuery")
    return str(calls[-1].params.get("text", ""))


async def send_non_text(harness: BotHarness, kind: str, chat_id: int = PATIENT) -> str:
    """A sticker, photo or voice note instead of text."""
    update = harness.api.make_text(chat_id, "placeholder")
    message: JSON = update["message"]
    del message["text"]
    media: dict[str, Any] = {
        "sticker": {
            "file_id": "s1",
            "file_unique_id": "u1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        },
        "photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}],
        "voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 2},
    }
    message[kind] = media[kind]
    return said(await harness.feed(update, chat_id))


async def to_step(harness: BotHarness, target: str) -> None:
    """Walk the guide up to ``target`` with good answers."""
    await harness.say(PATIENT, "/start")
    if target == NAME:
        return
    await harness.say(PATIENT, "Ana")
    if target == ZONE:
        return
    await harness.say(PATIENT, "Berlin")
    if target == KIND:
        return
    await harness.press(PATIENT, "ob:k:iv")
    if target == COUNT:
        return
    await harness.press(PATIENT, "ob:n:6")
    if target == FIRST:
        return
    await harness.say(PATIENT, "tomorrow 9:30")
    assert step(harness) == MORE


async def test_happy_path_from_welcome_to_summary(harness: BotHarness) -> None:
    """Name, zone by city, kind, "tomorrow 9:30", Mon/Wed/Fri x6: six sessions, all planned."""
    replies = said(await harness.say(PATIENT, "/start"))
    assert "nobody reads this chat" in replies
    assert "988" in replies
    assert "what should I call you" in replies
    assert buttons(harness.api.sent_to(PATIENT)) == [("Test", "ob:name")]
    assert step(harness) == NAME

    replies = said(await harness.say(PATIENT, "Ana"))
    assert "Thanks, Ana" in replies
    assert step(harness) == ZONE

    # START is 09:00 UTC on Monday 30 November: 10:00 in Berlin.
    replies = said(await harness.say(PATIENT, "berlin"))
    assert "Europe/Berlin" in replies
    assert "10:00" in replies
    person = harness.services.companion.person_by_chat(PATIENT)
    assert person is not None
    assert (person.display_name, person.zone) == ("Ana", "Europe/Berlin")

    replies = said(await harness.press(PATIENT, "ob:k:iv"))
    assert "How many sessions" in replies
    assert step(harness) == COUNT
    replies = said(await harness.say(PATIENT, "6"))
    assert "When is your next session" in replies
    assert step(harness) == FIRST

    replies = said(await harness.say(PATIENT, "tomorrow 9:30"))
    assert "Tuesday 1 December, 09:30" in replies
    assert "(Europe/Berlin)" in replies
    assert "session 1 of 6" in replies
    assert step(harness) == MORE

    replies = said(await harness.say(PATIENT, "Mon,Wed,Fri x6"))
    assert "Sessions added: 5" in replies
    summary = replies
    for line in (
        "1 of 6: Tuesday 1 December, 09:30",
        "2 of 6: Wednesday 2 December, 09:30",
        "3 of 6: Friday 4 December, 09:30",
        "4 of 6: Monday 7 December, 09:30",
        "5 of 6: Wednesday 9 December, 09:30",
        "6 of 6: Friday 11 December, 09:30",
    ):
        assert line in summary
    assert "/invite" in summary
    assert step(harness) is None

    sessions = harness.services.companion.sessions(person.id)
    assert len(sessions) == 6
    assert {s.kind for s in sessions} == {Kind.IV}
    pending = harness.services.db.conn.execute(
        "SELECT count(DISTINCT session_id) FROM deliveries WHERE status = 'pending'"
    ).fetchone()[0]
    assert pending == 6
    assert harness.dispatch_job_due_in() is not None


async def test_buttons_walk_the_guide_too(harness: BotHarness) -> None:
    """Name, zone and kind by button, "done" by button; each used button leaves its message."""
    await harness.say(PATIENT, "/start")
    await harness.press(PATIENT, "ob:name")
    assert step(harness) == ZONE
    replies = said(await harness.press(PATIENT, "ob:z:America/Chicago"))
    assert "America/Chicago" in replies
    assert "03:00" in replies  # 09:00 UTC is 03:00 in Chicago
    await harness.press(PATIENT, "ob:k:nasal")
    await harness.press(PATIENT, "ob:n:3")
    await harness.say(PATIENT, "2026-12-02 10:00")
    await harness.say(PATIENT, "thu 10:00")
    replies = said(await harness.press(PATIENT, "ob:done"))
    assert "All set, Test" in replies
    assert "1 of 3: Wednesday 2 December, 10:00" in replies
    assert "2 of 3: Thursday 3 December, 10:00" in replies
    person = harness.services.companion.person_by_chat(PATIENT)
    assert person is not None
    assert {s.kind for s in harness.services.companion.sessions(person.id)} == {Kind.NASAL}
    assert step(harness) is None
    edits = harness.api.calls("editMessageReplyMarkup")
    assert len(edits) == 5


async def test_series_button_repeats_the_last_session(harness: BotHarness) -> None:
    await to_step(harness, MORE)
    replies = said(await harness.press(PATIENT, "ob:s:13:6"))
    assert "Sessions added: 5" in replies
    assert "6 of 6: Thursday 17 December, 09:30" in replies


async def test_wrong_names_store_nothing(harness: BotHarness) -> None:
    await to_step(harness, NAME)
    before = stored(harness)
    for answer in ("x" * 65, "   ", "i don't think i can do this anymore", "help me"):
        replies = said(await harness.say(PATIENT, answer))
        assert "doesn't look like a name" in replies
        assert "No one reads this chat" in replies
        assert "988" in replies
    for kind in ("sticker", "photo", "voice"):
        replies = await send_non_text(harness, kind)
        assert "doesn't look like a name" in replies
    person = harness.services.companion.person_by_chat(PATIENT)
    assert person is not None and person.display_name == "Test"  # the Telegram name stands
    assert stored(harness) == before
    assert step(harness) == NAME


async def test_wrong_zones_store_nothing(harness: BotHarness) -> None:
    await to_step(harness, ZONE)
    before = stored(harness)
    replies = said(await harness.say(PATIENT, "Atlantis"))
    assert "I don't know that time zone" in replies
    calls = await harness.say(PATIENT, "Berln")
    assert "Did you mean" in said(calls)
    assert ("Berlin", "ob:z:Europe/Berlin") in buttons(calls)
    replies = await send_non_text(harness, "sticker")
    assert "I don't know that time zone" in replies
    await harness.press(PATIENT, "ob:z:Not/AZone", message_id=1)
    assert last_answer(harness) == "That button is no longer valid."
    assert stored(harness) == before
    assert step(harness) == ZONE
    # The suggestion button then works.
    await harness.press(PATIENT, "ob:z:Europe/Berlin")
    assert step(harness) == KIND


async def test_wrong_kinds_store_nothing(harness: BotHarness) -> None:
    await to_step(harness, KIND)
    before = stored(harness)
    replies = said(await harness.say(PATIENT, "pizza"))
    assert "Please tap one of the buttons" in replies
    replies = await send_non_text(harness, "voice")
    assert "Please tap one of the buttons" in replies
    await harness.press(PATIENT, "ob:k:oral", message_id=1)
    assert last_answer(harness) == "That button is no longer valid."
    await harness.press(PATIENT, "ob:done", message_id=1)  # a button from a later step
    assert last_answer(harness) == "That button is no longer valid."
    assert stored(harness) == before
    assert step(harness) == KIND
    # Typing the kind works as well as the buttons.
    await harness.say(PATIENT, "spray")
    state = harness.services.companion.dialogs.get(PATIENT)
    assert state is not None and state[0] == COUNT and state[1]["kind"] == "nasal"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("1/12 10:00", "day/month or month/day"),
        ("31 feb 10:00", "isn't in the calendar"),
        ("wed 1 dec 10:00", "weekday doesn't match"),
        ("today 8:00", "already passed"),
        ("2026-11-01 10:00", "already passed"),
        ("2028-01-01 10:00", "more than a year ahead"),
        ("tomorrow", "add the time too"),
        ("whenever", "couldn't read that date"),
        ("2027-03-28 02:30", "clocks in Europe/Berlin jump forward at 02:00, so 02:30"),
    ],
)
async def test_wrong_first_dates_store_nothing(
    harness: BotHarness, answer: str, expected: str
) -> None:
    await to_step(harness, FIRST)
    before = stored(harness)
    replies = said(await harness.say(PATIENT, answer))
    assert expected in replies
    assert stored(harness) == before
    assert step(harness) == FIRST


async def test_media_instead_of_a_date_stores_nothing(harness: BotHarness) -> None:
    await to_step(harness, FIRST)
    before = stored(harness)
    for kind in ("sticker", "photo", "voice"):
        replies = await send_non_text(harness, kind)
        assert "couldn't read that date" in replies
    assert stored(harness) == before
    assert step(harness) == FIRST


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("mon,wed x30", "more than 24 sessions"),
        ("blue", "I couldn't read that"),
        ("today 8:00", "already passed"),
        ("tomorrow 9:30", "already have a session at that time"),
        ("1/12 10:00", "day/month or month/day"),
    ],
)
async def test_wrong_answers_after_the_first_session_store_nothing(
    harness: BotHarness, answer: str, expected: str
) -> None:
    await to_step(harness, MORE)
    before = stored(harness)
    calls = await harness.say(PATIENT, answer)
    assert expected in said(calls)
    assert any(data == "ob:done" for _, data in buttons(calls))
    assert stored(harness) == before
    assert step(harness) == MORE


async def test_media_after_the_first_session_stores_nothing(harness: BotHarness) -> None:
    await to_step(harness, MORE)
    before = stored(harness)
    replies = await send_non_text(harness, "photo")
    assert "I couldn't read that" in replies
    await harness.press(PATIENT, "ob:s:0:99", message_id=1)
    assert last_answer(harness) == "That button is no longer valid."
    assert stored(harness) == before


async def test_a_command_mid_step_runs_and_ends_the_step(harness: BotHarness) -> None:
    await to_step(harness, ZONE)
    replies = said(await harness.say(PATIENT, "/help"))
    assert "nobody reads this chat" in replies
    assert step(harness) is None
    replies = said(await harness.say(PATIENT, "Berlin"))
    assert "nobody reads this chat" in replies
    # And a button of the ended step changes nothing.
    await harness.press(PATIENT, "ob:z:Europe/London")
    assert last_answer(harness) == "That button is no longer valid."
    person = harness.services.companion.person_by_chat(PATIENT)
    assert person is not None and person.zone == "America/New_York"  # the default until chosen


async def test_start_again_keeps_sessions_and_says_so(harness: BotHarness) -> None:
    await to_step(harness, MORE)
    await harness.press(PATIENT, "ob:done")
    person = harness.services.companion.person_by_chat(PATIENT)
    assert person is not None
    replies = said(await harness.say(PATIENT, "/start"))
    assert "saved sessions stay as they are" in replies
    assert step(harness) == NAME
    await harness.say(PATIENT, "Ana")
    await harness.say(PATIENT, "London")
    person = harness.services.companion.person_by_chat(PATIENT)
    assert person is not None and person.zone == "Europe/London"
    sessions = harness.services.companion.sessions(person.id)
    assert len(sessions) == 1
    assert sessions[0].zone == "Europe/Berlin"  # entered there; a zone change never moves it


async def test_a_restart_continues_the_step(
    fake_api: FakeBotApi, tmp_path: Path, bot_clock: ManualClock
) -> None:
    """A new Application on the same database file picks up at the step the person was at."""
    first = await start_harness(fake_api, tmp_path, bot_clock)
    try:
        await first.say(PATIENT, "/start")
        await first.say(PATIENT, "Ana")
        await first.say(PATIENT, "Sydney")
        assert step(first) == KIND
    finally:
        await stop_harness(first)
    assert not first.errors

    second = await start_harness(fake_api, tmp_path, bot_clock)
    try:
        replies = said(await second.say(PATIENT, "other"))
        assert "How many sessions" in replies
        replies = said(await second.say(PATIENT, "4 sessions"))
        assert "When is your next session" in replies
        replies = said(await second.say(PATIENT, "tomorrow 10:00"))
        assert "(Australia/Sydney)" in replies
        assert step(second) == MORE
    finally:
        await stop_harness(second)
    assert not second.errors


async def test_start_with_a_payload_is_not_onboarding(harness: BotHarness) -> None:
    """ "/start <token>" is the family deep link: the guide must not start for it."""
    await harness.say(PATIENT, "/start sometoken")
    assert step(harness) is None
    assert stored(harness)["people"] == 0
