"""Forged button presses: arbitrary callback data changes nothing that is not the presser's.

Callback data comes from the client and anyone can send any string with any id in it. Through
the real handlers (``harness``), random strings, known prefixes with other people's ids,
replays of buttons sent to someone else, and confirmations from a stranger are pressed by the
patient, their family member, another patient and someone unknown; the database (every table
but the invite-failure log, which records guesses on purpose) must be the same afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from telegram.error import BadRequest

from bot.errors import TOLERATED_BAD_REQUESTS
from scheduler.model import Kind
from tests.botharness import FAMILY, PATIENT, START, BotHarness

STRANGER = 3003  # another patient, with sessions of their own
UNKNOWN = 4004  # never talked to the bot
PRESSERS = (PATIENT, FAMILY, STRANGER, UNKNOWN)
# prefix -> the table and owner column that say whose the id is
ID_PREFIXES = {
    "got_it": ("deliveries", "recipient_id"),
    "snooze_30": ("deliveries", "recipient_id"),
    "ride": ("deliveries", "recipient_id"),
    "mv": ("sessions", "patient_id"),
    "cx": ("sessions", "patient_id"),
    "cxy": ("sessions", "patient_id"),
    "cxn": ("sessions", "patient_id"),
    "f1": ("sessions", "patient_id"),
    "fi_rv": ("invites", "patient_id"),
    "fa": ("family_links", "patient_id"),
    "fd": ("family_links", "patient_id"),
    "fr": ("family_links", "patient_id"),
    "fr_y": ("family_links", "patient_id"),
    "fr_n": ("family_links", "patient_id"),
}
# Acting on the presser's own settings or data: valid for anyone registered, so only a stranger
# to the bot pressing them, or their values garbled, must change nothing.
SELF_PREFIXES = ("set:", "tz:", "ob:z:", "ob:k:", "ob:s:", "fj:")
SELF_ACTIONS = ("stop_y", "stop_n", "forget_y", "forget_n", "fl_y", "fl_n", "fj_no")
IGNORED_TABLES = ("invite_failures", "sqlite_sequence")


@dataclass
class World:
    harness: BotHarness
    ids: dict[int, int]  # chat -> person id
    replays: list[str]  # callback data the bot really sent, to anyone
    pressed_on: dict[int, int]  # chat -> a bot message there, the one "pressed"


async def _build(harness: BotHarness) -> World:
    services = harness.services
    companion = services.companion
    patient = companion.register_patient(PATIENT, "Ann", "Europe/Berlin", START)
    stranger = companion.register_patient(STRANGER, "Sam", "Africa/Abidjan", START)
    for person in (patient, stranger):
        for day in (2, 4):
            companion.add_session(person.id, datetime(2026, 12, day, 10, 0), Kind.IV, START)  # noqa: DTZ001
    link_id, _ = companion.redeem_invite(
        companion.create_invite(patient.id, START), FAMILY, "Bo", START
    )
    companion.approve_link(patient.id, link_id, START)
    services.rearm()
    await harness.advance_to(START + timedelta(days=1, hours=9))  # some reminders, with buttons
    for chat, command in ((PATIENT, "/sessions"), (PATIENT, "/family"), (PATIENT, "/invite")):
        await harness.say(chat, command)
    await harness.say(STRANGER, "/sessions")
    pressed_on = {}
    for chat in PRESSERS:
        (reply, *_) = await harness.say(chat, "/help")
        pressed_on[chat] = reply.result["message_id"]
    harness.take_errors()
    replays = sorted(
        {data for call in harness.api.calls() if call.ok for _, data in call.buttons if data}
    )
    ids = {
        chat: p.id for chat in (PATIENT, FAMILY, STRANGER) if (p := companion.person_by_chat(chat))
    }
    return World(harness, ids, replays, pressed_on)


def _snapshot(harness: BotHarness) -> dict[str, list[tuple[object, ...]]]:
    conn = harness.services.db.conn
    tables = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if r[0] not in IGNORED_TABLES
    ]
    return {t: sorted(map(tuple, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}


def _owned(world: World, presser: int, data: str) -> bool:
    """Whether the data acts on something of the presser's (then a change may be legitimate)."""
    prefix, _, ref = data.partition(":")
    person = world.ids.get(presser)
    if prefix in ID_PREFIXES and ref.isdigit():
        if person is None:
            return False
        table, owner = ID_PREFIXES[prefix]
        row = world.harness.services.db.conn.execute(
            f'SELECT {owner} FROM "{table}" WHERE id = ?',
            (int(ref),),
        ).fetchone()
        return row is not None and row[0] == person
    return person is not None and (data in SELF_ACTIONS or data.startswith(SELF_PREFIXES))


callback_data = st.one_of(
    st.text(max_size=64),
    st.builds(lambda p, n: f"{p}:{n}", st.sampled_from(sorted(ID_PREFIXES)), st.integers(-1, 60)),
    st.builds(lambda p, s: p + s, st.sampled_from(SELF_PREFIXES), st.text(max_size=40)),
    st.sampled_from(SELF_ACTIONS),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(presser=st.sampled_from(PRESSERS), data=callback_data, replay=st.data())
async def test_forged_callback_data_changes_nothing_that_is_not_the_pressers(
    harness: BotHarness, presser: int, data: str, replay: st.DataObject
) -> None:
    world: World | None = getattr(harness, "fuzz_world", None)
    if world is None:
        world = await _build(harness)
        harness.fuzz_world = world  # type: ignore[attr-defined]
    if replay.draw(st.booleans()):
        data = replay.draw(st.sampled_from(world.replays))
    if not data or len(data.encode()) > 64 or _owned(world, presser, data):
        event("skipped: empty, too long or the presser's own")
        return
    event("checked: " + (data.partition(":")[0][:8] if ":" in data else "no prefix"))
    before = _snapshot(harness)
    update = harness.api.make_callback(presser, data, message_id=world.pressed_on[presser])
    await harness.feed(update, presser)
    errors = [
        e
        for e in harness.take_errors()
        if not (
            isinstance(e, BadRequest)
            and any(known in e.message.lower() for known in TOLERATED_BAD_REQUESTS)
        )
    ]
    assert errors == []
    after = _snapshot(harness)
    changed = {t for t in before if before[t] != after[t]}
    assert not changed, f"{presser} pressing {data!r} changed {changed}"
