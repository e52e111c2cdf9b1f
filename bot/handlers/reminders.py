"""The buttons on delivered messages: Got it, Remind me in 30 min, I can drive.

Their callback data is the sender's ``f"{action}:{delivery id}"``. Whether a press counts (the
presser's own sent message; for a family member only while their link is active) is the
domain's rule (``Companion.own_delivery``); anything else gets one "no longer valid" answer.
"""

from __future__ import annotations

from datetime import timedelta

from bot.sender import parse_callback_data
from bot.ui.keyboards import DELIVERY_ACTIONS
from bot.ui.turn import Turn
from scheduler.companion import ClaimResult
from scheduler.localtime import session_start, zone_info

SNOOZE_DELAY = timedelta(minutes=30)


def delivery_button(turn: Turn) -> None:
    parsed = parse_callback_data(turn.data)
    person = turn.person
    if parsed is None or parsed[0] not in DELIVERY_ACTIONS or person is None:
        turn.stale()
        return
    action, delivery_id = parsed
    companion = turn.companion
    if action == "got_it":
        if companion.acknowledge(person.id, delivery_id, turn.now):
            turn.answer("reminders_noted")
            turn.drop_buttons()
        else:
            turn.stale()
    elif action == "snooze_30":
        if companion.own_delivery(person.id, delivery_id) is None:
            turn.stale()
            return
        due = companion.snooze(person.id, delivery_id, SNOOZE_DELAY, turn.now)
        if due is None:
            turn.answer("reminders_snooze_too_late")
            return
        turn.answer("reminders_snoozed", local_time=due.astimezone(zone_info(person.zone)))
        turn.drop_buttons()
    else:
        _ride(turn, delivery_id)


def _ride(turn: Turn, delivery_id: int) -> None:
    person = turn.person
    assert person is not None
    offer = turn.companion.offer_ride(person.id, delivery_id, turn.now)
    if offer.result is ClaimResult.ALREADY_YOURS:
        turn.answer("ride_already_yours")
        return
    if offer.result is ClaimResult.TAKEN:
        turn.answer("ride_taken")
        return
    if offer.result is not ClaimResult.CLAIMED:
        turn.stale()
        return
    turn.answer()
    turn.drop_buttons()
    patient, session = offer.patient, offer.session
    told = patient is not None and session is not None and not patient.stopped
    # "I've let them know" only when they are told, in this same step.
    turn.reply("ride_thanks" if told else "ride_thanks_untold")
    if told and patient is not None and session is not None:
        start = session_start(session).astimezone(zone_info(session.zone))
        turn.tell(
            patient,
            "ride_patient_told",
            name=person.display_name,
            session_date=start,
            session_time=start,
            own=True,
        )
