"""/pause, /resume, /stop and /settings through the real PTB stack: the DB and the plan change."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.handlers.control import parse_pause_days
from bot.offline.fake_api import JSON
from messages import Wording
from scheduler.model import Kind, Person, QuietHours
from scheduler.store.db import from_db

if TYPE_CHECKING:
    from tests.botharness import BotHarness

# Until tests/conftest.py loads it for every module (see tests/test_app.py).
pytest_plugins = ["tests.botharness"]

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # tests.botharness.START
PATIENT = 1001
FAMILY = 2002
STRANGER = 3003
SESSION = datetime(2026, 12, 2, 10, 0)  # noqa: DTZ001 - local wall-clock time in Berlin
SESSION_END = datetime(2026, 12, 2, 10, 40, tzinfo=UTC)  # 11:40 Berlin: IV is 100 minutes


def reply(h: BotHarness, key: str, **values: object) -> str:
    return h.services.catalog.render_reply("en", key, **values)


def user(chat_id: int, first_name: str) -> JSON:
    return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


async def setup(h: BotHarness, *, family: bool = False) -> Person:
    companion = h.services.companion
    patient = companion.register_patient(PATIENT, "Alex", "Europe/Berlin", START)
    companion.add_session(patient.id, SESSION, Kind.IV, START)
    if family:
        token = companion.create_invite(patient.id, START)
        link_id, _ = companion.redeem_invite(token, FAMILY, "Sam", START)
        companion.approve_link(patient.id, link_id, START)
    h.services.rearm()
    await h.advance(timedelta(0))
    return patient


async def walk(h: BotHarness, until: datetime) -> None:
    """Move the clock from one due delivery to the next, sending each on time, up to ``until``."""
    while (due := h.services.dispatcher.next_due()) is not None and due <= until:
        await h.advance_to(max(due, h.clock.now()))
    await h.advance_to(until)


def person(h: BotHarness, chat_id: int) -> Person:
    found = h.services.companion.person_by_chat(chat_id)
    assert found is not None
    return found


def pending_due(h: BotHarness, recipient_id: int, message_id: str) -> datetime:
    row = h.services.db.conn.execute(
        "SELECT due_at FROM deliveries WHERE recipient_id = ? AND message_id = ?"
        " AND status = 'pending'",
        (recipient_id, message_id),
    ).fetchone()
    assert row is not None
    return from_db(row[0])


def statuses(h: BotHarness, recipient_id: int) -> dict[str, str]:
    rows = h.services.db.conn.execute(
        "SELECT message_id, status, reason FROM deliveries WHERE recipient_id = ?",
        (recipient_id,),
    ).fetchall()
    return {row[0]: f"{row[1]}:{row[2]}" for row in rows}


def test_pause_days_are_read_kindly() -> None:
    assert parse_pause_days([]) == 3
    assert parse_pause_days(["5"]) == 5
    assert parse_pause_days(["5d"]) == 5
    assert parse_pause_days(["7", "days"]) == 7
    assert parse_pause_days(["1"]) == 1
    for bad in (["0"], ["31"], ["abc"], ["-2"], ["2.5"], ["9" * 40]):
        assert parse_pause_days(bad) is None


async def test_pause_skips_everyday_notes_but_not_urgent_ones(harness: BotHarness) -> None:
    h = harness
    patient = await setup(h)
    (sent,) = await h.say(PATIENT, "/pause")
    assert sent.text == reply(h, "control_paused", days=3)
    assert person(h, PATIENT).paused_until == START + timedelta(days=3)

    await walk(h, SESSION_END + timedelta(minutes=1))
    done = statuses(h, patient.id)
    assert done["rest_up"] == "skipped:paused"
    assert done["calm_start"] == "skipped:paused"
    assert done["last_steps"] == "sent:None"  # urgent: still comes
    assert done["dont_drive"] == "sent:None"


async def test_bad_pause_changes_nothing(harness: BotHarness) -> None:
    h = harness
    await setup(h)
    line = h.services.settings.crisis_line
    step_help = reply(h, "step_help", crisis_line=line)
    for text in ("/pause 0", "/pause 45", "/pause soon", "/pause I can't cope with any of it"):
        (sent,) = await h.say(PATIENT, text)
        # Words after /pause may be the sentence that matters: the crisis line comes too.
        assert sent.text == f"{reply(h, 'control_pause_usage')}\n\n{step_help}"
    assert person(h, PATIENT).paused_until is None
    (one,) = await h.say(PATIENT, "/pause 1")
    assert one.text == reply(h, "control_paused_one")


async def test_resume_turns_messages_back_on(harness: BotHarness) -> None:
    h = harness
    patient = await setup(h)
    (not_paused,) = await h.say(PATIENT, "/resume")
    assert not_paused.text == reply(h, "control_not_paused")
    await h.say(PATIENT, "/pause 10")
    (resumed,) = await h.say(PATIENT, "/resume")
    assert resumed.text == reply(h, "control_resumed")
    assert person(h, PATIENT).paused_until is None
    await walk(h, SESSION_END + timedelta(minutes=1))
    assert statuses(h, patient.id)["calm_start"] == "sent:None"


async def test_stop_asks_then_withdraws_everything_and_start_brings_it_back(
    harness: BotHarness,
) -> None:
    h = harness
    patient = await setup(h)
    (ask,) = await h.say(PATIENT, "/stop")
    assert ask.text == reply(h, "control_stop_ask")
    (kept,) = await h.press(PATIENT, "stop_n")
    assert kept.text == reply(h, "control_stop_kept")
    assert not person(h, PATIENT).stopped

    await h.say(PATIENT, "/stop")
    (stopped,) = await h.press(PATIENT, "stop_y")
    assert stopped.text == reply(h, "control_stopped")
    assert person(h, PATIENT).stopped
    assert "pending" not in {s.split(":")[0] for s in statuses(h, patient.id).values()}
    assert h.services.companion.sessions(patient.id)  # data kept until /forget
    mark = h.api.mark()
    await h.advance(timedelta(days=1))
    assert h.api.sent_to(PATIENT, since=mark) == []

    (back,) = await h.say(PATIENT, "/start")  # no second setup: just back on
    assert back.text == reply(h, "control_restarted")
    assert not person(h, PATIENT).stopped
    assert "pending" in {s.split(":")[0] for s in statuses(h, patient.id).values()}


async def test_family_member_can_stop_and_pause(harness: BotHarness) -> None:
    h = harness
    await setup(h, family=True)
    sam = person(h, FAMILY)
    (paused,) = await h.say(FAMILY, "/pause 2", user=user(FAMILY, "Sam"))
    assert paused.params.get("protect_content") is True
    assert person(h, FAMILY).paused_until == START + timedelta(days=2)
    await h.say(FAMILY, "/stop", user=user(FAMILY, "Sam"))
    await h.press(FAMILY, "stop_y", user=user(FAMILY, "Sam"))
    assert person(h, FAMILY).stopped
    assert "pending" not in {s.split(":")[0] for s in statuses(h, sam.id).values()}


async def test_settings_menu_changes_quiet_hours_and_the_plan(harness: BotHarness) -> None:
    h = harness
    patient = await setup(h)
    (menu,) = await h.say(PATIENT, "/settings")
    labels = dict((data, text) for text, data in menu.buttons)
    assert labels["set:q:2130"].startswith("✓ ")
    assert labels["set:w:plain"].startswith("✓ ")
    assert labels["set:l:en"] == "✓ English"
    # calm_start is 3 h before 10:00 Berlin: 07:00 falls in the default quiet hours -> 08:00.
    assert pending_due(h, patient.id, "calm_start") == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)

    mark = h.api.mark()
    (edited,) = await h.press(PATIENT, "set:q:2300")
    assert edited.method == "editMessageText"
    assert dict((d, t) for t, d in edited.buttons)["set:q:2300"].startswith("✓ ")
    assert person(h, PATIENT).quiet == QuietHours(time(23, 0), time(9, 0))
    assert pending_due(h, patient.id, "calm_start") == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert h.api.calls("answerCallbackQuery", since=mark)[0].params["text"] == reply(
        h, "settings_saved"
    )

    await h.press(PATIENT, "set:q:off")
    assert person(h, PATIENT).quiet is None
    assert pending_due(h, patient.id, "calm_start") == datetime(2026, 12, 2, 6, 0, tzinfo=UTC)

    # The same choice again: answered, nothing edited.
    assert await h.press(PATIENT, "set:q:off") == []


async def test_settings_discreet_wording_reaches_the_messages(harness: BotHarness) -> None:
    h = harness
    await setup(h)
    await h.say(PATIENT, "/settings")
    await h.press(PATIENT, "set:w:discreet")
    assert person(h, PATIENT).wording is Wording.DISCREET
    mark = h.api.mark()
    await walk(h, SESSION_END + timedelta(minutes=1))
    texts = " ".join(h.api.texts_to(PATIENT, since=mark)).lower()
    assert "don't drive" in texts
    assert "ketamine" not in texts


async def test_bad_settings_data_changes_nothing(harness: BotHarness) -> None:
    h = harness
    await setup(h)
    await h.say(PATIENT, "/settings")
    before = person(h, PATIENT)
    mark = h.api.mark()
    for data in ("set:q:0400", "set:w:loud", "set:l:xx", "set:z:1"):
        assert await h.press(PATIENT, data, message_id=1) == []
    assert [c.params["text"] for c in h.api.calls("answerCallbackQuery", since=mark)] == [
        reply(h, "button_stale")
    ] * 4
    assert person(h, PATIENT) == before


async def test_control_commands_need_a_person(harness: BotHarness) -> None:
    h = harness
    for command in ("/pause", "/resume", "/stop", "/settings"):
        (sent,) = await h.say(STRANGER, command)
        assert sent.text == reply(h, "control_not_registered")
    assert h.services.companion.person_by_chat(STRANGER) is None


def gone(h: BotHarness, person_id: int) -> bool:
    state = h.services.companion.people.state(person_id)
    assert state is not None
    return state.gone


async def test_blocking_marks_gone_and_start_brings_them_back(harness: BotHarness) -> None:
    """Blocking the bot (a private ``my_chat_member`` to 'kicked') marks the person gone and
    withdraws their messages; a plain /start afterwards resumes them without a second setup."""
    h = harness
    patient = await setup(h)
    blocked = h.api.make_my_chat_member(
        PATIENT, chat_type="private", new_status="kicked", old_status="member"
    )
    assert await h.feed(blocked, PATIENT, expect=0) == []
    assert gone(h, patient.id)
    assert "pending" not in {s.split(":")[0] for s in statuses(h, patient.id).values()}

    (back,) = await h.say(PATIENT, "/start")
    assert back.text == reply(h, "control_restarted")
    assert not gone(h, patient.id) and not person(h, PATIENT).stopped
    assert "pending" in {s.split(":")[0] for s in statuses(h, patient.id).values()}


async def test_blocking_from_an_unknown_chat_stores_nothing(harness: BotHarness) -> None:
    h = harness
    before = h.row_counts()
    blocked = h.api.make_my_chat_member(
        STRANGER, chat_type="private", new_status="kicked", old_status="member"
    )
    assert await h.feed(blocked, STRANGER, expect=0) == []
    assert h.row_counts() == before
    assert h.services.companion.person_by_chat(STRANGER) is None
