"""/export and /forget through the real PTB stack, for patients and family members."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.calendar import unfold
from bot.handlers.privacy import calendar_document, export_document
from bot.offline.fake_api import JSON
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
FIRST = datetime(2026, 12, 2, 10, 0)  # noqa: DTZ001 - local wall-clock time in Berlin
SECOND = datetime(2026, 12, 4, 9, 30)  # noqa: DTZ001
RIDE_DUE = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
# Every table, and what makes one of its rows about a person (:id is their person id, :chat
# their chat id). A new table must be added here, so /forget is never silently incomplete.
ABOUT_PERSON = {
    "people": "id = :id OR chat_id = :chat",
    "sessions": "patient_id = :id",
    "series": "patient_id = :id",
    "family_links": "patient_id = :id OR family_id = :id",
    "invites": "patient_id = :id",
    "rides": "driver_id = :id",
    "ride_questions": "driver_id = :id",
    "deliveries": "patient_id = :id OR recipient_id = :id OR chat_id = :chat",
    "dialogs": "chat_id = :chat",
    "invite_failures": "chat_id = :chat",
    "chat_pacing": "chat_id = :chat",  # when the chat may get its next message
    # Updates still waiting to be handled hold what people wrote; handled ones keep no payload.
    "inbox": "payload LIKE '%' || :chat || '%' OR chat_id = :chat",
    # issue 10: notes, check-in, checklist ("I noticed" lines name who sent them).
    "wins": "patient_id = :id OR from_id = :id",
    "answers": "patient_id = :id",
    "noticed": "patient_id = :id OR from_id = :id",
    "note_settings": "person_id = :id",
}


def reply(h: BotHarness, key: str, **values: object) -> str:
    return h.services.catalog.render_reply("en", key, **values)


def user(chat_id: int, first_name: str) -> JSON:
    return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


async def setup(h: BotHarness) -> tuple[Person, Person]:
    """A patient with two sessions, an approved family member who claimed a ride, an unused
    invite, a guided step in progress, and some messages sent."""
    companion = h.services.companion
    patient = companion.register_patient(PATIENT, "Alex", "Europe/Berlin", START)
    first = companion.add_session(patient.id, FIRST, Kind.IV, START)
    companion.add_session(patient.id, SECOND, Kind.NASAL, START)
    token = companion.create_invite(patient.id, START)
    link_id, _ = companion.redeem_invite(token, FAMILY, "Sam", START)
    companion.approve_link(patient.id, link_id, START)
    companion.create_invite(patient.id, START)
    companion.dialogs.set(PATIENT, "mv", {"session_id": first.id}, START)
    companion.dialogs.set(FAMILY, "ob_name", {}, START)
    h.services.rearm()
    await h.advance(timedelta(0))
    await h.advance_to(RIDE_DUE)
    family = companion.person_by_chat(FAMILY)
    assert family is not None
    assert companion.claim_ride(family.id, first.id, RIDE_DUE) == "claimed"
    # issue 10: a win, a family line kept as a win and one still waiting.
    companion.note_win(patient.id, "Walked the dog", RIDE_DUE)
    companion.set_family_notes(patient.id, True, RIDE_DUE)
    kept = companion.notice(family.id, patient.id, "Laughed at dinner", RIDE_DUE).noticed
    assert kept is not None and companion.keep_noticed(patient.id, kept.id, RIDE_DUE)
    companion.notice(family.id, patient.id, "Cooked lunch", RIDE_DUE)
    return patient, family


def rows_about(h: BotHarness, who: Person) -> dict[str, int]:
    conn = h.services.db.conn
    tables = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    assert tables <= set(ABOUT_PERSON), f"new tables to cover: {tables - set(ABOUT_PERSON)}"
    params = {"id": who.id, "chat": who.chat_id}
    return {
        name: int(conn.execute(f"SELECT count(*) FROM {name} WHERE {where}", params).fetchone()[0])
        for name, where in ABOUT_PERSON.items()
        if name in tables
    }


async def test_export_sends_json_and_a_calendar(harness: BotHarness) -> None:
    h = harness
    patient, _family = await setup(h)
    sent = await h.say(PATIENT, "/export")
    assert [c.method for c in sent] == ["sendDocument", "sendDocument"]
    (doc,) = sent[0].files
    assert doc.filename == "companion-export.json"
    assert sent[0].params["caption"] == reply(h, "privacy_export_caption")
    (ics,) = sent[1].files
    assert ics.filename == "sessions.ics"

    services = h.services
    person = services.companion.person(patient.id)
    assert person is not None
    document = export_document(services.companion, person)
    assert doc.size == len(document)  # the file sent is this document
    data = json.loads(document)
    assert data["person"]["display_name"] == "Alex"
    assert [s["local_start"] for s in data["sessions"]] == ["2026-12-02T10:00", "2026-12-04T09:30"]
    assert data["sessions"][0]["driver"] == "Sam"
    assert [f["name"] for f in data["family"]] == ["Sam"]
    assert data["deliveries"]

    calendar = calendar_document(services.companion, services.catalog, person, h.clock.now())
    assert calendar is not None and ics.size == len(calendar)
    text = calendar.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 2
    assert "DTSTART:20261202T090000Z" in lines  # 10:00 in Berlin
    assert "DTSTART:20261204T083000Z" in lines
    assert "DURATION:PT1H40M" in lines and "DURATION:PT2H" in lines
    assert "SUMMARY:Ketamine session 1 of 6" in lines
    assert sum(line.startswith("UID:") for line in lines) == 2
    assert sum(line.startswith("DTSTAMP:20261201T170000Z") for line in lines) == 2


async def test_discreet_calendar_never_names_the_treatment(harness: BotHarness) -> None:
    h = harness
    patient, _family = await setup(h)
    services = h.services
    person = services.companion.set_wording(patient.id, Wording.DISCREET, h.clock.now())
    calendar = calendar_document(services.companion, services.catalog, person, h.clock.now())
    assert calendar is not None
    text = calendar.decode("utf-8").lower()
    assert "summary:appointment 1 of 6" in text
    assert not [w for w in services.catalog.texts("en").sensitive_words if w in text]


async def test_family_export_is_json_only_and_protected(harness: BotHarness) -> None:
    h = harness
    _patient, family = await setup(h)
    (sent,) = await h.say(FAMILY, "/export", user=user(FAMILY, "Sam"))
    assert sent.method == "sendDocument"
    assert sent.params.get("protect_content") is True
    data = json.loads(export_document(h.services.companion, family))
    assert data["person"]["role"] == "family"
    assert data["sessions"] == []
    assert [p["name"] for p in data["linked_patients"]] == ["Alex"]


async def test_nothing_to_export_or_forget_for_a_stranger(harness: BotHarness) -> None:
    h = harness
    for command in ("/export", "/forget"):
        (sent,) = await h.say(STRANGER, command)
        assert sent.text == reply(h, "privacy_nothing")
    assert h.row_counts()["people"] == 0


async def test_forget_a_patient_leaves_no_row_about_them(harness: BotHarness) -> None:
    h = harness
    patient, family = await setup(h)
    before = rows_about(h, patient)
    assert before["sessions"] == 2 and before["invites"] == 2 and before["family_links"] == 1
    assert before["deliveries"] > 0 and before["dialogs"] == 1
    (ask,) = await h.say(PATIENT, "/forget")
    assert ask.text == reply(h, "privacy_forget_ask")
    (kept,) = await h.press(PATIENT, "forget_n")
    assert kept.text == reply(h, "privacy_forget_kept")
    assert h.services.companion.person(patient.id) is not None

    await h.say(PATIENT, "/forget")
    # A command ends any guided step, so the step to erase is set after the command.
    h.services.companion.dialogs.set(PATIENT, "mv", {}, h.clock.now())
    (done,) = await h.press(PATIENT, "forget_y")
    assert done.text == reply(h, "privacy_forgotten")
    assert set(rows_about(h, patient).values()) == {0}
    # The family member stays, unlinked, with nothing left queued about the patient.
    assert h.services.companion.person(family.id) is not None
    mark = h.api.mark()
    await h.advance(timedelta(days=4))
    assert h.api.sent_to(FAMILY, since=mark) == []


async def test_forget_a_family_member_leaves_no_row_about_them(harness: BotHarness) -> None:
    h = harness
    patient, family = await setup(h)
    before = rows_about(h, family)
    assert before["rides"] == 1 and before["family_links"] == 1 and before["deliveries"] > 0
    assert before["dialogs"] == 1
    await h.say(FAMILY, "/forget", user=user(FAMILY, "Sam"))
    h.services.companion.dialogs.set(FAMILY, "ob_name", {}, h.clock.now())
    (done,) = await h.press(FAMILY, "forget_y", user=user(FAMILY, "Sam"))
    assert done.text == reply(h, "privacy_forgotten")
    assert set(rows_about(h, family).values()) == {0}
    assert h.services.companion.family(patient.id) == []
    assert h.services.companion.sessions(patient.id)  # the patient's own data is untouched
    # A stale forget button afterwards changes nothing and says so.
    mark = h.api.mark()
    await h.press(
        FAMILY, "forget_y", message_id=done.params["message_id"], user=user(FAMILY, "Sam")
    )
    answers = [c.params.get("text") for c in h.api.calls("answerCallbackQuery", since=mark)]
    assert answers == [reply(h, "button_stale")]
