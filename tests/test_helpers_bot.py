"""A family member who helps two people, and the bounds on sessions and invites, through the
real PTB stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.offline.fake_api import JSON, Call
from scheduler.companion import MAX_PENDING_INVITES, MAX_UPCOMING_SESSIONS
from scheduler.model import Kind, Person
from tests.botharness import link_family

if TYPE_CHECKING:
    from tests.botharness import BotHarness

pytest_plugins = ["tests.botharness"]

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # tests.botharness.START
ALEX_CHAT = 1001
BO_CHAT = 1004
SAM_CHAT = 2002
SAM: JSON = {"id": SAM_CHAT, "is_bot": False, "first_name": "Sam", "language_code": "en"}
ALEX_SESSION = datetime(2026, 12, 2, 10, 0)  # noqa: DTZ001 - wall clock in Berlin
BO_SESSION = datetime(2026, 12, 3, 10, 0)  # noqa: DTZ001
ALEX_RIDE_DUE = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 18:00 Berlin the day before
BO_RIDE_DUE = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


def reply(h: BotHarness, key: str, **values: object) -> str:
    return h.services.catalog.render_reply("en", key, **values)


def said(h: BotHarness, chat_id: int, since: int) -> str:
    return "\n".join(h.api.texts_to(chat_id, since=since))


def with_button(calls: list[Call], prefix: str) -> list[Call]:
    return [c for c in calls if any(data.startswith(prefix) for _, data in c.buttons)]


def patient_with_session(h: BotHarness, chat_id: int, name: str, local: datetime) -> Person:
    companion = h.services.companion
    patient = companion.register_patient(chat_id, name, "Europe/Berlin", START)
    companion.add_session(patient.id, local, Kind.IV, START)
    return patient


def link(h: BotHarness, patient: Person, chat_id: int, name: str) -> None:
    link_family(h.services.companion, patient, chat_id, name, START)


async def test_a_helper_of_two_tells_their_notes_apart_and_leaves_one(
    harness: BotHarness,
) -> None:
    h = harness
    alex = patient_with_session(h, ALEX_CHAT, "Alex", ALEX_SESSION)
    bo = patient_with_session(h, BO_CHAT, "Bo", BO_SESSION)
    link(h, alex, SAM_CHAT, "Sam")
    link(h, bo, SAM_CHAT, "Sam")
    h.services.rearm()
    await h.advance_to(ALEX_RIDE_DUE)
    (alex_ride,) = with_button(h.api.sent_to(SAM_CHAT), "ride:")
    assert (alex_ride.plain_text or "").startswith("About Alex\nA ride home is needed")
    assert alex_ride.params.get("protect_content") is True

    (listing,) = await h.say(SAM_CHAT, "/family", user=SAM)
    assert listing.plain_text == "\n".join(
        [
            "You help:",
            "• Alex",
            "• Bo",
            "You get a few short notes on how to help each of them. /leave stops them.",
        ]
    )

    (ask,) = await h.say(SAM_CHAT, "/leave", user=SAM)
    assert ask.text == reply(h, "family_leave_which")
    labels = [label for label, _ in ask.buttons]
    assert labels == ["Alex", "Bo", "Stop for everyone", "No, stay"]
    leave_alex = next(data for label, data in ask.buttons if label == "Alex")
    mark = h.api.mark()
    (done,) = await h.press(SAM_CHAT, leave_alex, user=SAM)
    assert done.text == reply(h, "family_left_one", name="Alex")
    assert "Sam has left your family list" in said(h, ALEX_CHAT, mark)
    assert h.api.sent_to(BO_CHAT, since=mark) == []
    sam = h.services.companion.person_by_chat(SAM_CHAT)
    assert sam is not None
    assert [item.name for item in h.services.companion.linked_patients(sam.id)] == ["Bo"]

    # Helping one person again, Sam reads "the person who invited you" with no name.
    mark = h.api.mark()
    await h.advance_to(BO_RIDE_DUE)
    (bo_ride,) = with_button(h.api.sent_to(SAM_CHAT, since=mark), "ride:")
    assert (bo_ride.plain_text or "").startswith("A ride home is needed")
    assert "Bo" not in (bo_ride.plain_text or "")


async def test_a_helper_of_two_reads_whom_an_i_noticed_line_is_for(harness: BotHarness) -> None:
    """Sam pressed "I noticed something" under Alex's note and then under Bo's: the question
    and the outcome both name whom the line is for, so it never goes to the other unknowingly."""
    h = harness
    alex = patient_with_session(h, ALEX_CHAT, "Alex", datetime(2026, 12, 1, 10, 0))  # noqa: DTZ001
    bo = patient_with_session(h, BO_CHAT, "Bo", datetime(2026, 12, 1, 14, 0))  # noqa: DTZ001
    link(h, alex, SAM_CHAT, "Sam")
    link(h, bo, SAM_CHAT, "Sam")
    h.services.companion.set_family_notes(alex.id, True, START)
    h.services.rearm()
    await h.advance_to(datetime(2026, 12, 2, 16, 0, tzinfo=UTC))
    about_alex, about_bo = with_button(h.api.sent_to(SAM_CHAT), "noticed:")

    def noticed(call: Call) -> str:
        return next(data for _, data in call.buttons if data.startswith("noticed:"))

    (asked,) = await h.press(SAM_CHAT, noticed(about_alex), user=SAM)
    assert (
        asked.plain_text
        == f"About Alex\n{reply(h, 'noticed_ask').replace('<i>', '').replace('</i>', '')}"
    )
    (asked,) = await h.press(SAM_CHAT, noticed(about_bo), user=SAM)
    assert (asked.plain_text or "").startswith("About Bo\nWhat did you notice")
    (told,) = await h.say(SAM_CHAT, "Went to the shop alone", user=SAM)
    assert (told.plain_text or "").startswith("About Bo\nThank you for noticing.")
    await h.press(SAM_CHAT, noticed(about_alex), user=SAM)
    mark = h.api.mark()
    (told,) = await h.say(SAM_CHAT, "Went to the shop alone", user=SAM)
    assert (told.plain_text or "").startswith("About Alex\nThank you. I've passed it on")
    assert "Sam noticed something" in said(h, ALEX_CHAT, mark)


async def test_family_while_waiting_for_approval_says_so(harness: BotHarness) -> None:
    """Before the patient approves, /family does not claim they are linked and getting notes."""
    h = harness
    alex = patient_with_session(h, ALEX_CHAT, "Alex", ALEX_SESSION)
    companion = h.services.companion
    companion.redeem_invite(companion.create_invite(alex.id, START), SAM_CHAT, "Sam", START)
    (waiting,) = await h.say(SAM_CHAT, "/family", user=SAM)
    assert waiting.text == reply(h, "family_join_asked")


async def test_a_worried_relatives_message_gets_a_crisis_line_for_them(harness: BotHarness) -> None:
    """A family member who writes in is most often worried about the person they help: the
    usual answer says "worried someone is?", with the crisis line, and changes nothing."""
    h = harness
    alex = patient_with_session(h, ALEX_CHAT, "Alex", ALEX_SESSION)
    link(h, alex, SAM_CHAT, "Sam")
    await h.advance(timedelta(0))  # the welcome now due, out of the way
    before = h.row_counts()
    (answer,) = await h.say(SAM_CHAT, "She hasn't got out of bed all day, what do I do?", user=SAM)
    line = h.services.settings.crisis_line
    assert answer.text == reply(h, "family_unknown_text", crisis_line=line)
    assert f"worried someone is? Call {line} now" in (answer.plain_text or "")
    assert h.row_counts() == before


async def test_a_helper_of_one_is_never_shown_a_name(harness: BotHarness) -> None:
    h = harness
    alex = patient_with_session(h, ALEX_CHAT, "Alex", ALEX_SESSION)
    link(h, alex, SAM_CHAT, "Sam")
    h.services.rearm()
    await h.advance_to(ALEX_RIDE_DUE)
    assert all("Alex" not in text for text in h.api.texts_to(SAM_CHAT))
    (listing,) = await h.say(SAM_CHAT, "/family", user=SAM)
    assert listing.text == reply(h, "family_list_helping")


async def test_a_patient_who_helps_others_sees_both_parts_in_family(harness: BotHarness) -> None:
    """Bo has a series of their own and helps Alex and Cy: /family lists Bo's own family first,
    then whom Bo helps; with no family of their own, the none-yet line and then the helping."""
    h = harness
    alex = patient_with_session(h, ALEX_CHAT, "Alex", ALEX_SESSION)
    bo = patient_with_session(h, BO_CHAT, "Bo", BO_SESSION)
    link(h, alex, BO_CHAT, "Bo")
    await h.advance(timedelta(0))  # the welcomes now due, out of the way
    (alone,) = await h.say(BO_CHAT, "/family")
    assert alone.text == f"{reply(h, 'family_list_none')}\n\n{reply(h, 'family_list_helping')}"

    cy = patient_with_session(h, 1005, "Cy", ALEX_SESSION)
    link(h, cy, BO_CHAT, "Bo")
    link(h, bo, SAM_CHAT, "Sam")
    await h.advance(timedelta(0))
    (listing,) = await h.say(BO_CHAT, "/family")
    assert listing.plain_text == "\n".join(
        [
            "Your family and friends",
            "• Sam",
            "",
            "You help:",
            "• Alex",
            "• Cy",
            "You get a few short notes on how to help each of them. /leave stops them.",
        ]
    )
    assert [label for label, _ in listing.buttons] == ["Remove Sam"]


async def test_invites_stop_at_the_cap_with_a_kind_reply(harness: BotHarness) -> None:
    h = harness
    patient_with_session(h, ALEX_CHAT, "Alex", ALEX_SESSION)
    await sent_what_is_due(h)
    for _ in range(MAX_PENDING_INVITES):
        (sent,) = await h.say(ALEX_CHAT, "/invite")
        assert "invite link" in (sent.plain_text or "")
    before = h.row_counts()
    (refused,) = await h.say(ALEX_CHAT, "/invite")
    assert refused.text == reply(h, "family_invite_cap", count=MAX_PENDING_INVITES)
    assert h.row_counts() == before
    # Cancelling one makes room again.
    (listing,) = await h.say(ALEX_CHAT, "/family")
    cancel = next(data for _, data in listing.buttons if data.startswith("fi_rv:"))
    await h.press(ALEX_CHAT, cancel)
    (sent,) = await h.say(ALEX_CHAT, "/invite")
    assert "t.me/" in (sent.plain_text or "")


async def sent_what_is_due(h: BotHarness) -> None:
    """What is due at once (the provider note) goes first, so replies come alone."""
    h.services.rearm()
    await h.advance(timedelta(0))


def fill_sessions(h: BotHarness, patient: Person, count: int) -> None:
    """``count`` upcoming sessions, one a day at noon from 2027-01-01."""
    first = datetime(2027, 1, 1, 12, 0)  # noqa: DTZ001 - wall clock in Berlin
    for day in range(count):
        h.services.companion.add_session(
            patient.id, first + timedelta(days=day), Kind.IV, h.clock.now()
        )


async def test_sessions_stop_at_the_cap_with_a_kind_reply(harness: BotHarness) -> None:
    h = harness
    alex = patient_with_session(h, ALEX_CHAT, "Alex", ALEX_SESSION)
    fill_sessions(h, alex, MAX_UPCOMING_SESSIONS - 1)
    await sent_what_is_due(h)
    assert len(h.services.companion.sessions(alex.id)) == MAX_UPCOMING_SESSIONS
    before = h.row_counts()
    (refused,) = await h.say(ALEX_CHAT, "/add 2027-06-01 10:00")
    assert refused.text == reply(h, "sessions_upcoming_cap", count=MAX_UPCOMING_SESSIONS)
    assert h.row_counts() == before


async def test_a_repeat_past_the_cap_adds_what_fits_and_says_how_many(
    harness: BotHarness,
) -> None:
    h = harness
    alex = patient_with_session(h, ALEX_CHAT, "Alex", ALEX_SESSION)
    fill_sessions(h, alex, MAX_UPCOMING_SESSIONS - 3)  # 58 upcoming
    await sent_what_is_due(h)
    calls = await h.say(ALEX_CHAT, "/add 2027-06-01 10:00 Tue,Thu x6")
    text = "\n".join(c.plain_text or "" for c in calls)
    assert "Sessions added: 2." in text  # the one typed and one repeat
    assert "• 4 more dates weren't added" in text
    assert len(h.services.companion.sessions(alex.id)) == MAX_UPCOMING_SESSIONS


async def test_the_guided_repeat_respects_the_cap_too(harness: BotHarness) -> None:
    h = harness
    await h.say(ALEX_CHAT, "/start")
    await h.say(ALEX_CHAT, "Ana")
    await h.say(ALEX_CHAT, "Berlin")
    await h.press(ALEX_CHAT, "ob:k:iv")
    await h.press(ALEX_CHAT, "ob:n:6")
    person = h.services.companion.person_by_chat(ALEX_CHAT)
    assert person is not None
    fill_sessions(h, person, MAX_UPCOMING_SESSIONS - 2)
    await h.say(ALEX_CHAT, "tomorrow 9:30")  # 59 upcoming
    calls = await h.say(ALEX_CHAT, "Mon,Wed,Fri x6")
    text = "\n".join(c.plain_text or "" for c in calls)
    assert "Sessions added: 1." in text
    assert "• 4 more dates weren't added" in text
    assert len(h.services.companion.sessions(person.id)) == MAX_UPCOMING_SESSIONS
