"""Family opt-in through the real PTB stack: invite, deep link, join, approval, removal, leave."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.offline.fake_api import JSON, Call
from messages import Wording
from scheduler.model import Kind, Person

if TYPE_CHECKING:
    from tests.botharness import BotHarness

# Until tests/conftest.py loads it for every module (see tests/test_app.py).
pytest_plugins = ["tests.botharness"]

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # tests.botharness.START
PATIENT = 1001
FAMILY = 2002
STRANGER = 3003
GROUP = -1001234567890
SESSION = datetime(2026, 12, 2, 10, 0)  # noqa: DTZ001 - local wall-clock time in Berlin
RIDE_DUE = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # the day before, 18:00 in Berlin
_LINK = re.compile(r"https://t\.me/session_companion_bot\?start=(?P<token>[A-Za-z0-9_-]+)")


def user(chat_id: int, first_name: str) -> JSON:
    return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


SAM = user(FAMILY, "Sam")
EVE = user(STRANGER, "Eve")


def reply(h: BotHarness, key: str, **values: object) -> str:
    return h.services.catalog.render_reply("en", key, **values)


async def setup_patient(h: BotHarness, name: str = "Alex") -> Person:
    """A patient with one session; what is due at once (the provider note) is sent first, so
    the timer's own dispatch cannot slip a message in between a test's command and its reply."""
    companion = h.services.companion
    patient = companion.register_patient(PATIENT, name, "Europe/Berlin", START)
    companion.add_session(patient.id, SESSION, Kind.IV, START)
    h.services.rearm()
    await h.advance(timedelta(0))
    return patient


def data_like(calls: list[Call], prefix: str) -> str:
    """The callback data of the one button starting with ``prefix`` in these calls."""
    found = [data for c in calls for _, data in c.buttons if data.startswith(prefix)]
    assert len(found) == 1, found
    return found[0]


async def invite_message(h: BotHarness) -> Call:
    (sent,) = await h.say(PATIENT, "/invite")
    return sent


def token_in(sent: Call) -> str:
    match = _LINK.search(sent.plain_text or "")
    assert match is not None
    assert len(match["token"]) <= 64
    return match["token"]


async def invite(h: BotHarness) -> str:
    return token_in(await invite_message(h))


async def join(h: BotHarness, who: JSON, token: str) -> list[Call]:
    chat_id = int(who["id"])
    await h.say(chat_id, f"/start {token}", user=who)
    return await h.press(chat_id, f"fj:{token}", user=who)


async def approved_family(h: BotHarness, who: JSON = SAM) -> None:
    token = await invite(h)
    mark = h.api.mark()
    await join(h, who, token)
    approve = data_like(h.api.sent_to(PATIENT, since=mark), "fa:")
    await h.press(PATIENT, approve)
    await h.advance(timedelta(seconds=1))


def stored(h: BotHarness) -> dict[str, int]:
    """Rows per table, leaving out the failed-invite log that rate-limits guessing."""
    counts = h.row_counts()
    counts.pop("invite_failures", None)
    return counts


def answers(h: BotHarness, since: int) -> list[str]:
    return [str(c.params.get("text", "")) for c in h.api.calls("answerCallbackQuery", since=since)]


def assert_fit_for_family(h: BotHarness, chat_id: int, *, patient_name: str) -> None:
    """Everything sent to a family chat is protected and never names the drug or condition;
    the patient's name appears only on the screen where they decide to join."""
    words = h.services.catalog.texts("en").sensitive_words
    confirm_head = reply(h, "family_invite_confirm", name=patient_name).split("</b>")[0]
    for call in h.api.sent_to(chat_id):
        text = (call.text or "").lower()
        assert not [w for w in words if w in text], call.text
        if call.method == "sendMessage":
            assert call.params.get("protect_content") is True, call.text
            if not (call.text or "").startswith(confirm_head):
                assert patient_name.lower() not in text, call.text


async def test_invite_join_approve_and_welcome(harness: BotHarness) -> None:
    """Patient /invite -> family /start <token> -> Join -> patient Approve -> the welcome."""
    h = harness
    await setup_patient(h)
    (sent,) = await h.say(PATIENT, "/invite")
    assert "expires in 3 days" in (sent.plain_text or "")
    assert sent.buttons[0][1].startswith("fi_rv:")
    token = _LINK.search(sent.plain_text or "")
    assert token is not None

    before = h.row_counts()
    (confirm,) = await h.say(FAMILY, f"/start {token['token']}", user=SAM)
    assert (confirm.plain_text or "").startswith("Alex invited you")
    assert [data for _, data in confirm.buttons] == [f"fj:{token['token']}", "fj_no"]
    assert h.row_counts() == before  # opening the link stores nothing

    mark = h.api.mark()
    (waiting,) = await h.press(FAMILY, f"fj:{token['token']}", user=SAM)
    assert waiting.method == "editMessageText"
    assert waiting.text == reply(h, "family_join_waiting")
    (ask,) = h.api.sent_to(PATIENT, since=mark)
    assert (ask.plain_text or "").startswith("Sam wants to join")

    approve = data_like([ask], "fa:")
    mark = h.api.mark()
    (done,) = await h.press(PATIENT, approve)
    assert done.text == reply(h, "family_approved", name="Sam")
    # The welcome may already be on its way: the approval re-armed the dispatcher for "now".
    first = h.api.sent_to(FAMILY, since=mark)[0]
    assert first.text == reply(h, "family_welcome_in")

    await h.advance(timedelta(seconds=1))
    welcome = h.services.catalog.render_entry("en", "family_welcome", Wording.PLAIN, {}).text
    assert [c.text for c in h.api.sent_to(FAMILY, since=mark)].count(welcome) == 1
    assert_fit_for_family(h, FAMILY, patient_name="Alex")


async def test_every_invalid_invite_gets_the_same_reply(harness: BotHarness) -> None:
    """Unknown, malformed, own, used, revoked and expired invites: one identical answer."""
    h = harness
    await setup_patient(h)
    invalid = reply(h, "family_invite_invalid")
    texts: list[str | None] = []

    async def try_start(chat_id: int, payload: str, who: JSON) -> None:
        before = stored(h)
        (sent,) = await h.say(chat_id, f"/start {payload}", user=who)
        texts.append(sent.text)
        assert sent.buttons == []
        assert stored(h) == before

    await try_start(STRANGER, "A" * 43, EVE)  # unknown
    await try_start(STRANGER, "not-a-token!", EVE)  # malformed
    own = await invite(h)
    await try_start(PATIENT, own, user(PATIENT, "Alex"))  # the patient's own

    used = await invite(h)
    await join(h, SAM, used)
    await try_start(STRANGER, used, EVE)  # already used by Sam

    revoked = await invite_message(h)
    (ok,) = await h.press(PATIENT, data_like([revoked], "fi_rv:"))
    assert ok.text == reply(h, "family_invite_revoked")
    await try_start(STRANGER, token_in(revoked), EVE)

    expiring = await invite(h)
    h.clock.advance(timedelta(hours=72, seconds=1))
    await try_start(STRANGER, expiring, EVE)

    assert texts == [invalid] * 6


async def test_guessing_tokens_is_throttled_before_any_name_shows(harness: BotHarness) -> None:
    """After 5 wrong tokens in an hour even a valid link gets the invalid reply, no name."""
    h = harness
    await setup_patient(h)
    token = await invite(h)
    invalid = reply(h, "family_invite_invalid")
    for n in range(5):
        (sent,) = await h.say(STRANGER, f"/start {'B' * 42}{n}", user=EVE)
        assert sent.text == invalid
    (sent,) = await h.say(STRANGER, f"/start {token}", user=EVE)
    assert sent.text == invalid
    h.clock.advance(timedelta(hours=1, seconds=1))
    (sent,) = await h.say(STRANGER, f"/start {token}", user=EVE)
    assert (sent.plain_text or "").startswith("Alex invited you")


async def test_six_wrong_tokens_then_a_valid_one_get_one_identical_reply(
    harness: BotHarness,
) -> None:
    """/start <token> shares Join's per-chat limit (5 failures an hour): once over it, even a
    valid link is refused, with the very same reply and no name; nothing else is stored."""
    h = harness
    await setup_patient(h)
    token = await invite(h)
    before = stored(h)
    texts: list[str | None] = []
    for n in range(6):
        (sent,) = await h.say(STRANGER, f"/start {'C' * 42}{n}", user=EVE)
        texts.append(sent.text)
    (sent,) = await h.say(STRANGER, f"/start {token}", user=EVE)
    texts.append(sent.text)
    assert texts == [reply(h, "family_invite_invalid")] * 7
    assert sent.buttons == []
    assert stored(h) == before


async def test_join_pressed_twice_says_they_already_asked(harness: BotHarness) -> None:
    """Join replayed (e.g. after a crash): the invite is used by this very chat and the link
    waits for approval, so they hear that, not "invalid"; the patient is asked only once."""
    h = harness
    await setup_patient(h)
    token = await invite(h)
    mark = h.api.mark()
    (confirm,) = await h.say(FAMILY, f"/start {token}", user=SAM)
    (waiting,) = await h.press(FAMILY, f"fj:{token}", user=SAM)
    assert waiting.text == reply(h, "family_join_waiting")
    before = stored(h)
    # The first press took the buttons off; a replay carries the same message and data.
    confirm_id = int(confirm.result["message_id"])
    (again,) = await h.press(FAMILY, f"fj:{token}", message_id=confirm_id, user=SAM)
    assert again.text == reply(h, "family_join_asked")
    assert stored(h) == before
    assert len([c for c in h.api.sent_to(PATIENT, since=mark) if c.buttons]) == 1
    # Once the patient declines, the replay is just an invalid invite again.
    await h.press(PATIENT, data_like(h.api.sent_to(PATIENT, since=mark), "fd:"))
    (late,) = await h.press(FAMILY, f"fj:{token}", message_id=confirm_id, user=SAM)
    assert late.text == reply(h, "family_invite_invalid")


async def test_join_pressed_after_the_link_died_gets_the_same_reply(harness: BotHarness) -> None:
    """A link revoked between opening it and tapping Join: the same reply, nothing stored."""
    h = harness
    await setup_patient(h)
    sent = await invite_message(h)
    token = token_in(sent)
    await h.say(STRANGER, f"/start {token}", user=EVE)
    await h.press(PATIENT, data_like([sent], "fi_rv:"))
    before = stored(h)
    (sent,) = await h.press(STRANGER, f"fj:{token}", user=EVE)
    assert sent.text == reply(h, "family_invite_invalid")
    assert stored(h) == before


async def test_no_thanks_stores_nothing(harness: BotHarness) -> None:
    h = harness
    await setup_patient(h)
    token = await invite(h)
    await h.say(STRANGER, f"/start {token}", user=EVE)
    before = h.row_counts()
    (sent,) = await h.press(STRANGER, "fj_no", user=EVE)
    assert sent.text == reply(h, "family_join_no_thanks")
    assert h.row_counts() == before


async def test_forwarded_invite_declined_stranger_gets_nothing_more(harness: BotHarness) -> None:
    """A stranger with a forwarded link is declined: one kind note, then silence, no row kept."""
    h = harness
    await setup_patient(h)
    token = await invite(h)
    mark = h.api.mark()
    await join(h, EVE, token)
    decline = data_like(h.api.sent_to(PATIENT, since=mark), "fd:")
    mark = h.api.mark()
    (done,) = await h.press(PATIENT, decline)
    assert done.text == reply(h, "family_declined", name="Eve")
    assert [c.text for c in h.api.sent_to(STRANGER, since=mark)] == [
        reply(h, "family_join_declined")
    ]
    assert h.services.companion.person_by_chat(STRANGER) is None

    mark = h.api.mark()
    for _ in range(4):
        await h.advance(timedelta(days=1))
    assert h.api.sent_to(STRANGER, since=mark) == []
    assert_fit_for_family(h, STRANGER, patient_name="Alex")


async def test_strange_names_are_cleaned_before_the_patient_sees_them(
    harness: BotHarness,
) -> None:
    """Bidi overrides and zero-width characters go; a long name is capped."""
    h = harness
    await setup_patient(h)
    token = await invite(h)
    mark = h.api.mark()
    await join(h, user(STRANGER, "\u202eevE\u200b\u200d " + "x" * 80), token)
    (ask,) = h.api.sent_to(PATIENT, since=mark)
    member = h.services.companion.person_by_chat(STRANGER)
    assert member is not None
    assert member.display_name.startswith("evE x")
    assert len(member.display_name) <= 32
    assert "\u202e" not in (ask.text or "") and "\u200b" not in (ask.text or "")


async def test_family_list_remove_and_stale_buttons(harness: BotHarness) -> None:
    """/family lists Sam; removing withdraws queued messages, tells Sam, and Sam's old ride and
    got-it buttons are refused without any change."""
    h = harness
    await setup_patient(h)
    await approved_family(h)
    await h.advance_to(RIDE_DUE)
    ride_msg = [
        c for c in h.api.sent_to(FAMILY) if any(d.startswith("ride:") for _, d in c.buttons)
    ]
    assert len(ride_msg) == 1
    ride = data_like(ride_msg, "ride:")
    got_it = data_like(ride_msg, "got_it:")

    (listing,) = await h.say(PATIENT, "/family")
    assert "Sam" in (listing.plain_text or "")
    (ask,) = await h.press(PATIENT, data_like([listing], "fr:"))
    assert ask.text == reply(h, "family_remove_ask", name="Sam")
    mark = h.api.mark()
    await h.press(PATIENT, data_like([ask], "fr_y:"))
    assert [c.text for c in h.api.sent_to(FAMILY, since=mark)] == [
        reply(h, "family_removed_notice")
    ]
    sam = h.services.companion.person_by_chat(FAMILY)
    assert sam is not None
    conn = h.services.db.conn
    pending = conn.execute(
        "SELECT count(*) FROM deliveries WHERE recipient_id = ? AND status = 'pending'", (sam.id,)
    ).fetchone()[0]
    assert pending == 0
    assert h.services.companion.family(sam.id) == []

    before = h.row_counts()
    acked = conn.execute("SELECT count(*) FROM deliveries WHERE acknowledged_at IS NOT NULL")
    acked_before = acked.fetchone()[0]
    mark = h.api.mark()
    assert await h.press(FAMILY, ride) == []
    assert await h.press(FAMILY, got_it) == []
    assert answers(h, mark) == [reply(h, "button_stale")] * 2
    assert h.row_counts() == before
    assert conn.execute("SELECT count(*) FROM rides").fetchone()[0] == 0
    acked = conn.execute("SELECT count(*) FROM deliveries WHERE acknowledged_at IS NOT NULL")
    assert acked.fetchone()[0] == acked_before

    mark = h.api.mark()
    for _ in range(3):
        await h.advance(timedelta(days=1))
    assert h.api.sent_to(FAMILY, since=mark) == []
    assert_fit_for_family(h, FAMILY, patient_name="Alex")


async def test_family_list_shows_pending_people_and_invites(harness: BotHarness) -> None:
    h = harness
    await setup_patient(h)
    (empty,) = await h.say(PATIENT, "/family")
    assert empty.text == reply(h, "family_list_none")
    token = await invite(h)
    await invite(h)
    await join(h, SAM, token)
    (listing,) = await h.say(PATIENT, "/family")
    text = listing.plain_text or ""
    assert "Sam: waiting for your approval" in text
    assert "Unused invite links: 1" in text
    datas = [d for _, d in listing.buttons]
    assert any(d.startswith("fa:") for d in datas) and any(d.startswith("fi_rv:") for d in datas)


async def test_someone_elses_buttons_change_nothing(harness: BotHarness) -> None:
    """A stranger pressing forged approve, remove or revoke data gets 'no longer valid'."""
    h = harness
    patient = await setup_patient(h)
    token = await invite(h)
    await join(h, SAM, token)
    (link,) = h.services.companion.family(patient.id)
    before = h.row_counts()
    mark = h.api.mark()
    for data in (f"fa:{link.id}", f"fd:{link.id}", f"fr_y:{link.id}", "fi_rv:1", "fa:x"):
        await h.press(STRANGER, data, message_id=1, user=EVE)
    assert answers(h, mark) == [reply(h, "button_stale")] * 5
    assert h.row_counts() == before
    assert h.services.companion.family(link.patient_id)[0].status == "pending"


async def test_family_leave_after_confirming(harness: BotHarness) -> None:
    """/leave asks first; 'Yes' unlinks and nothing more is sent."""
    h = harness
    patient = await setup_patient(h)
    await approved_family(h)
    (ask,) = await h.say(FAMILY, "/leave")
    assert ask.params.get("protect_content") is True
    (kept,) = await h.press(FAMILY, "fl_n")
    assert kept.text == reply(h, "family_leave_kept")
    assert h.services.companion.family(patient.id)
    await h.say(FAMILY, "/leave")
    (left,) = await h.press(FAMILY, "fl_y")
    assert left.text == reply(h, "family_left")
    assert h.services.companion.family(patient.id) == []
    mark = h.api.mark()
    for _ in range(3):
        await h.advance(timedelta(days=1))
    assert h.api.sent_to(FAMILY, since=mark) == []
    (again,) = await h.say(FAMILY, "/leave")
    assert again.text == reply(h, "family_leave_none")


async def test_family_help_and_commands_they_cannot_use(harness: BotHarness) -> None:
    """A family member's /help is theirs; /invite tells them invites come from the patient."""
    h = harness
    await setup_patient(h)
    await approved_family(h)
    (help_reply,) = await h.say(FAMILY, "/help")
    assert help_reply.text == reply(h, "family_help", crisis_line=h.services.settings.crisis_line)
    (patient_help,) = await h.say(PATIENT, "/help")
    assert patient_help.text == reply(h, "help", crisis_line=h.services.settings.crisis_line)
    (no_invite,) = await h.say(FAMILY, "/invite")
    assert no_invite.text == reply(h, "family_not_patient")
    (listing,) = await h.say(FAMILY, "/family")
    assert listing.text == reply(h, "family_list_helping")
    assert_fit_for_family(h, FAMILY, patient_name="Alex")


async def test_invite_needs_a_registered_patient(harness: BotHarness) -> None:
    (sent,) = await harness.say(STRANGER, "/invite", user=EVE)
    assert sent.text == reply(harness, "family_not_patient")
    assert harness.row_counts()["invites"] == 0


async def test_commands_in_a_group_store_nothing(harness: BotHarness) -> None:
    """The private-chat guard runs before these commands: a group gets no invite, no rows."""
    h = harness
    await setup_patient(h)
    before = h.row_counts()
    replies = await h.say(GROUP, "/invite", chat_type="supergroup", user=user(PATIENT, "Alex"))
    assert [c.text for c in replies] == [reply(h, "private_only")]
    for command in ("/family", "/pause", "/settings", "/export", "/forget", "/start abc"):
        await h.say(GROUP, command, chat_type="supergroup", user=user(PATIENT, "Alex"))
    assert h.row_counts() == before
