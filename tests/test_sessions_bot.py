"""/add, /sessions (move, cancel, second occurrence), /timezone through the real PTB stack."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.offline.fake_api import Call
from scheduler.model import Kind, Person
from tests.botharness import FAMILY, PATIENT, BotHarness, texts

OTHER_PATIENT = 3003
BERLIN = "Europe/Berlin"


def register(harness: BotHarness, chat_id: int = PATIENT, zone: str = BERLIN) -> Person:
    return harness.services.companion.register_patient(chat_id, "Ana", zone, harness.clock.now())


def add(harness: BotHarness, person: Person, local: str, kind: Kind = Kind.IV) -> int:
    session = harness.services.companion.add_session(
        person.id, datetime.fromisoformat(local), kind, harness.clock.now()
    )
    return session.id


def link_family(harness: BotHarness, patient: Person) -> Person:
    """FAMILY joins through an invite the patient approved, in New York."""
    companion = harness.services.companion
    now = harness.clock.now()
    token = companion.create_invite(patient.id, now)
    link_id, _ = companion.redeem_invite(token, FAMILY, "Bo", now)
    member = companion.approve_link(patient.id, link_id, now).person
    return companion.set_zone(member.id, "America/New_York", now)


def pending_keys(harness: BotHarness, session_id: int) -> list[str]:
    """Keys of the session's own pending reminders (series-wide ones are keyed differently)."""
    rows = harness.services.db.conn.execute(
        "SELECT key FROM deliveries WHERE session_id = ? AND status = 'pending'", (session_id,)
    ).fetchall()
    return [row[0] for row in rows if row[0].startswith(f"s{session_id}@")]


def family_notes(harness: BotHarness) -> list[Call]:
    """What FAMILY got about changes (their welcome may be dispatched meanwhile)."""
    return [c for c in harness.api.sent_to(FAMILY) if "Schedule change" in (c.plain_text or "")]


def last_answer(harness: BotHarness) -> str:
    return str(harness.api.calls("answerCallbackQuery")[-1].params.get("text", ""))


def said(calls: list[Call]) -> str:
    """Everything the person read in these calls, as one text: a reminder the dispatcher sends
    at the same moment may come before or after the reply."""
    return "\n".join(text for text in texts(calls) if text)


def buttons(calls: list[Call], containing: str = "") -> list[tuple[str, str]]:
    """The buttons of the message whose text contains ``containing``."""
    return next(c.buttons for c in calls if containing in (c.plain_text or "") and c.buttons)


# -- /add -----------------------------------------------------------------------------------------


async def test_add_replies_with_the_session_as_understood(harness: BotHarness) -> None:
    person = register(harness)
    replies = said(await harness.say(PATIENT, "/add 2026-12-01 10:00"))
    assert "Saved: Tuesday 1 December, 10:00 (Europe/Berlin), session 1 of 6." in replies
    replies = said(await harness.say(PATIENT, "/add tomorrow 9:30 nasal"))
    assert "Tuesday 1 December, 09:30" in replies
    assert "session 1 of 6" in replies  # earlier the same day, so first
    sessions = harness.services.companion.sessions(person.id)
    assert [s.kind for s in sessions] == [Kind.NASAL, Kind.IV]
    assert all(pending_keys(harness, s.id) for s in sessions)
    assert harness.dispatch_job_due_in() is not None


async def test_add_without_a_kind_reuses_the_last_kind(harness: BotHarness) -> None:
    person = register(harness)
    await harness.say(PATIENT, "/add 2026-12-01 10:00 other")
    await harness.say(PATIENT, "/add Dec 3 10am")
    assert [s.kind for s in harness.services.companion.sessions(person.id)] == [Kind.OTHER] * 2


async def test_add_usage_and_unregistered(harness: BotHarness) -> None:
    replies = said(await harness.say(PATIENT, "/add 2026-12-01 10:00"))
    assert "send /start" in replies
    assert harness.row_counts()["people"] == 0
    register(harness)
    replies = said(await harness.say(PATIENT, "/add"))
    assert "/add YYYY-MM-DD HH:MM" in replies


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/add 1/12 10:00", "day/month or month/day"),
        ("/add 2020-01-01 10:00", "already passed"),
        ("/add 2028-01-01 10:00", "more than a year ahead"),
        ("/add 2026-12-01", "add the time too"),
        ("/add soon please", "couldn't read that date"),
        ("/add 2027-03-28 02:30 iv", "jump forward at 02:00"),
        ("/add 2026-12-01 10:00 iv", "already have a session at that time"),
    ],
)
async def test_add_refuses_kindly_and_stores_nothing(
    harness: BotHarness, command: str, expected: str
) -> None:
    person = register(harness)
    add(harness, person, "2026-12-01 10:00")
    before = harness.row_counts()
    replies = said(await harness.say(PATIENT, command))
    assert expected in replies
    assert harness.row_counts() == before


async def test_add_with_words_that_are_no_date_gets_the_crisis_line(harness: BotHarness) -> None:
    """A sentence after /add may be the one that matters: the re-prompt carries the crisis
    line, as in every step; a date merely wrong in form does not need it."""
    person = register(harness)
    line = harness.services.settings.crisis_line
    replies = said(await harness.say(PATIENT, "/add I want to stop everything"))
    assert "couldn't read that date" in replies and f"Call {line} now" in replies
    replies = said(await harness.say(PATIENT, "/add 2020-01-01 10:00"))
    assert "already passed" in replies and line not in replies
    assert harness.services.companion.sessions(person.id) == []


# -- /sessions ------------------------------------------------------------------------------------


async def test_sessions_lists_upcoming_with_buttons(harness: BotHarness) -> None:
    person = register(harness)
    first = add(harness, person, "2026-12-01 10:00")
    second = add(harness, person, "2026-12-03 10:00")
    calls = await harness.say(PATIENT, "/sessions")
    text = said(calls)
    assert "1 of 6: Tuesday 1 December, 10:00" in text
    assert "2 of 6: Thursday 3 December, 10:00" in text
    assert buttons(calls, "upcoming sessions") == [
        ("Move 1", f"mv:{first}"),
        ("Cancel 1", f"cx:{first}"),
        ("Move 2", f"mv:{second}"),
        ("Cancel 2", f"cx:{second}"),
    ]


async def test_sessions_without_any(harness: BotHarness) -> None:
    register(harness)
    replies = said(await harness.say(PATIENT, "/sessions"))
    assert "no upcoming sessions" in replies


async def test_move_replans_and_tells_family_neutrally(harness: BotHarness) -> None:
    person = register(harness)
    link_family(harness, person)
    session_id = add(harness, person, "2026-12-01 10:00")
    assert all("@2026-12-01T10:00" in key for key in pending_keys(harness, session_id))
    await harness.say(PATIENT, "/sessions")
    replies = said(await harness.press(PATIENT, f"mv:{session_id}"))
    assert "When is it now?" in replies

    replies = said(await harness.say(PATIENT, "2026-12-02 11:00"))
    assert "Wednesday 2 December, 11:00" in replies
    keys = pending_keys(harness, session_id)
    assert keys and all("@2026-12-02T11:00" in key for key in keys)
    assert harness.services.companion.dialogs.get(PATIENT) is None

    to_family = family_notes(harness)
    assert len(to_family) == 1
    note = to_family[0]
    assert note.params.get("protect_content") is True
    # 11:00 in Berlin is 05:00 in New York.
    assert note.plain_text == (
        "Schedule change: an appointment has moved. It's now on Wednesday 2 December at 05:00."
    )


async def test_move_refuses_bad_times_and_keeps_the_step(harness: BotHarness) -> None:
    person = register(harness)
    session_id = add(harness, person, "2026-12-01 10:00")
    await harness.press(PATIENT, f"mv:{session_id}", message_id=1)
    before = harness.row_counts()
    for answer, expected in (
        ("yesterday 10:00", "couldn't read"),
        ("today 8:00", "already passed"),
        ("2028-01-01 10:00", "more than a year ahead"),
    ):
        replies = said(await harness.say(PATIENT, answer))
        assert expected in replies
    assert harness.row_counts() == before
    assert pending_keys(harness, session_id)[0].count("@2026-12-01T10:00") == 1
    state = harness.services.companion.dialogs.get(PATIENT)
    assert state is not None and state[0] == "mv" and state[1]["session_id"] == session_id


async def test_a_command_ends_the_move_step(harness: BotHarness) -> None:
    person = register(harness)
    session_id = add(harness, person, "2026-12-01 10:00")
    await harness.press(PATIENT, f"mv:{session_id}", message_id=1)
    await harness.say(PATIENT, "/sessions")
    replies = said(await harness.say(PATIENT, "2026-12-02 11:00"))
    # The step ended: a date typed now is pointed to the command that takes it, not applied.
    assert "/add 2026-12-02 11:00" in replies
    assert all("@2026-12-01T10:00" in key for key in pending_keys(harness, session_id))


async def test_cancel_asks_then_withdraws_and_tells_family(harness: BotHarness) -> None:
    person = register(harness)
    link_family(harness, person)
    session_id = add(harness, person, "2026-12-01 10:00")
    keep_id = add(harness, person, "2026-12-03 10:00")
    await harness.say(PATIENT, "/sessions")
    calls = await harness.press(PATIENT, f"cx:{session_id}")
    assert "Cancel session 1, on Tuesday 1 December at 10:00?" in said(calls)
    assert [data for _, data in buttons(calls, "Cancel session")] == [
        f"cxy:{session_id}",
        f"cxn:{session_id}",
    ]
    assert pending_keys(harness, session_id)  # nothing yet

    calls = await harness.press(PATIENT, f"cxy:{session_id}")
    assert any(c.method == "editMessageText" for c in calls)
    assert "Cancelled: Tuesday 1 December, 10:00" in said(calls)
    assert pending_keys(harness, session_id) == []
    status = harness.services.db.conn.execute(
        "SELECT status FROM sessions WHERE id = ?", (session_id,)
    ).fetchone()[0]
    assert status == "cancelled"
    assert pending_keys(harness, keep_id)
    remaining = harness.services.companion.sessions(person.id)
    assert [s.id for s in remaining] == [keep_id]

    to_family = family_notes(harness)
    assert [c.plain_text for c in to_family] == [
        "Schedule change: the appointment on Tuesday 1 December at 04:00 is cancelled."
    ]
    assert to_family[0].params.get("protect_content") is True

    # Pressing "yes" again, on a cancelled session: no longer valid, nothing changes.
    before = harness.row_counts()
    await harness.press(PATIENT, f"cxy:{session_id}", message_id=1)
    assert last_answer(harness) == "That button is no longer valid."
    assert harness.row_counts() == before


async def test_cancel_no_keeps_the_session(harness: BotHarness) -> None:
    person = register(harness)
    session_id = add(harness, person, "2026-12-01 10:00")
    await harness.press(PATIENT, f"cx:{session_id}", message_id=1)
    calls = await harness.press(PATIENT, f"cxn:{session_id}")
    assert "Kept. Nothing changed." in said(calls)
    assert [s.id for s in harness.services.companion.sessions(person.id)] == [session_id]


@pytest.mark.parametrize("prefix", ["mv", "cx", "cxy", "cxn", "f1"])
async def test_forged_buttons_change_nothing(harness: BotHarness, prefix: str) -> None:
    """Someone else's session, an unknown id, a past session, garbage: 'no longer valid'."""
    person = register(harness)
    other = register(harness, OTHER_PATIENT)
    theirs = add(harness, other, "2026-12-01 10:00")
    mine = add(harness, person, "2026-12-01 10:00")
    before = harness.row_counts()
    for data in (f"{prefix}:{theirs}", f"{prefix}:999999", f"{prefix}:x{mine}"):
        await harness.press(PATIENT, data, message_id=1)
        assert last_answer(harness) == "That button is no longer valid."
    # A session that has started is no longer movable either.
    harness.clock.set(datetime.fromisoformat("2026-12-01T09:30:00+00:00"))
    await harness.press(PATIENT, f"{prefix}:{mine}", message_id=1)
    assert last_answer(harness) == "That button is no longer valid."
    assert harness.row_counts() == before
    assert harness.services.companion.dialogs.get(PATIENT) is None
    assert harness.services.companion.sessions(other.id)[0].id == theirs


async def test_second_occurrence_of_a_fall_back_time(harness: BotHarness) -> None:
    """02:30 on 31 October 2027 happens twice in Berlin: first by default, second on request."""
    person = register(harness)
    calls = await harness.say(PATIENT, "/add 2027-10-31 02:30")
    text = said(calls)
    assert "comes twice" in text
    assert "00:30 UTC" in text
    (session,) = harness.services.companion.sessions(person.id)
    assert session.local_start.fold == 0
    replies = said(await harness.press(PATIENT, f"f1:{session.id}"))
    assert "01:30 UTC" in replies
    (session,) = harness.services.companion.sessions(person.id)
    assert session.local_start.fold == 1
    await harness.press(PATIENT, f"f1:{session.id}", message_id=1)
    assert last_answer(harness) == "That button is no longer valid."


# -- /timezone ------------------------------------------------------------------------------------


async def test_timezone_sets_the_zone_and_says_what_it_changes(harness: BotHarness) -> None:
    person = register(harness)
    session_id = add(harness, person, "2026-12-01 10:00")
    replies = said(await harness.say(PATIENT, "/timezone new york"))
    assert "America/New_York" in replies
    assert "04:00" in replies
    assert "keep the time and zone you entered" in replies
    updated = harness.services.companion.person(person.id)
    assert updated is not None and updated.zone == "America/New_York"
    (session,) = harness.services.companion.sessions(person.id)
    assert (session.id, session.zone) == (session_id, BERLIN)
    # New sessions use the new zone.
    replies = said(await harness.say(PATIENT, "/add 2026-12-02 10:00"))
    assert "(America/New_York)" in replies


async def test_timezone_suggestions_usage_and_unknown(harness: BotHarness) -> None:
    person = register(harness)
    calls = await harness.say(PATIENT, "/timezone")
    assert "Your time zone is Europe/Berlin" in said(calls)
    assert ("London", "tz:Europe/London") in buttons(calls)
    before = harness.row_counts()
    replies = said(await harness.say(PATIENT, "/timezone Atlantis"))
    assert "I don't know that time zone" in replies
    calls = await harness.say(PATIENT, "/timezone Lodon")
    assert ("London", "tz:Europe/London") in buttons(calls)
    assert harness.row_counts() == before
    await harness.press(PATIENT, "tz:Not/AZone", message_id=1)
    assert last_answer(harness) == "That button is no longer valid."
    replies = said(await harness.press(PATIENT, "tz:Europe/London"))
    assert "Time zone set to Europe/London" in replies
    updated = harness.services.companion.person(person.id)
    assert updated is not None and updated.zone == "Europe/London"


async def test_timezone_needs_registration(harness: BotHarness) -> None:
    replies = said(await harness.say(PATIENT, "/timezone Berlin"))
    assert "send /start" in replies
    assert harness.row_counts()["people"] == 0
