"""The buttons on delivered messages: Got it, Remind me in 30 min, I can drive; and the driver's
answer when a session they drive for has moved (``rc_y``/``rc_n``).

Their callback data is the sender's ``f"{action}:{delivery id}"``. Whether a press counts (the
presser's own sent message; for a family member only while their link is active) is the
domain's rule (``Companion.own_delivery``); anything else gets one "no longer valid" answer.

A claim turns the other family members' requests into "covered" (``bot.ui.rides``), and a press
on a request someone else already covered is answered so. "I've let them know" is said only when
the patient is told in the same step.
"""

from __future__ import annotations

from datetime import timedelta

from bot.sender import parse_callback_data
from bot.ui.keyboards import DELIVERY_ACTIONS, RIDE_ANSWER, RIDE_YES_PREFIX
from bot.ui.rides import cover_requests, reachable, reopen_requests, whose_heading
from bot.ui.turn import Turn
from scheduler.companion import ClaimResult, RideOffer
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
    if _stopped_driver(turn):
        return
    _claimed(turn, turn.companion.offer_ride(person.id, delivery_id, turn.now), "ride_patient_told")


def _stopped_driver(turn: Turn) -> bool:
    """Someone who stopped all messages would never get the pick-up note, so their tap on an
    old "I can drive" is not taken as a promise: they are told how to make it one."""
    person = turn.person
    if person is None or not person.stopped:
        return False
    turn.answer()
    turn.reply("ride_stopped_first")
    return True


def _claimed(turn: Turn, offer: RideOffer, told_key: str) -> None:
    """What a claim's outcome says to the presser, to the patient and to the other helpers."""
    person = turn.person
    assert person is not None
    if offer.result is ClaimResult.ALREADY_YOURS:
        turn.answer("ride_already_yours")
        turn.drop_buttons()
        return
    if offer.result is ClaimResult.TAKEN:
        # Someone else drives: this request is covered, and its button goes.
        turn.answer("ride_taken")
        turn.drop_buttons()
        return
    if offer.result is not ClaimResult.CLAIMED:
        turn.stale()
        return
    turn.answer()
    turn.drop_buttons()
    patient, session = offer.patient, offer.session
    told = patient is not None and session is not None and reachable(turn, patient)
    # "I've let them know" only when they are told, in this same step.
    thanks = turn.render("ride_thanks" if told else "ride_thanks_untold")
    heading = whose_heading(turn, person, patient) if patient is not None else None
    turn.reply_text(f"{heading}\n{thanks}" if heading else thanks)
    if told and patient is not None and session is not None:
        start = session_start(session).astimezone(zone_info(session.zone))
        turn.tell(
            patient,
            told_key,
            name=person.display_name,
            session_date=start,
            session_time=start,
            own=True,
        )
    cover_requests(turn, offer)


def ride_answer_button(turn: Turn) -> None:
    """The driver of a moved session answers whether its new time suits them. Yes is a claim
    (someone may have offered meanwhile); No leaves the ride open and tells the patient."""
    match = RIDE_ANSWER.match(turn.data)
    person = turn.person
    if match is None or person is None:
        turn.stale()
        return
    session_id, stamp = int(match["id"]), match["stamp"]
    if match["answer"] == RIDE_YES_PREFIX:
        if _stopped_driver(turn):
            return
        offer = turn.companion.confirm_ride(person.id, session_id, stamp, turn.now)
        _claimed(turn, offer, "ride_move_confirmed_patient")
        return
    found = turn.companion.ride_question(person.id, session_id, stamp, turn.now)
    if found is None:
        turn.stale()
        return
    patient, session = found
    # A No after a Yes (an older keyboard) takes the ride back: the patient hears that too.
    driver = turn.companion.driver_for(session.id)
    if driver is not None and driver.id != person.id:
        turn.settle("ride_taken")
        return
    if turn.companion.decline_ride(person.id, session.id, turn.now):
        reopen_requests(turn, patient, session)  # their requests said "covered"
    told = reachable(turn, patient)
    turn.settle("ride_move_declined" if told else "ride_move_declined_untold")
    if told:
        start = session_start(session).astimezone(zone_info(session.zone))
        turn.tell(
            patient,
            "ride_move_declined_patient",
            name=person.display_name,
            session_date=start,
            session_time=start,
            own=True,
        )
