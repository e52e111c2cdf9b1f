"""The buttons on delivered messages: Got it, Remind me in 30 min, I can drive.

Their callback data is the sender's ``f"{action}:{delivery id}"`` (``bot.sender.callback_data``):

    got_it:<delivery id>     record the acknowledgement, take the buttons off
    snooze_30:<delivery id>  send the message again in 30 minutes, never past its relevance
    ride:<delivery id>       offer to drive the patient home after that delivery's session

A press counts only on the presser's own sent delivery, and for a family member only while their
link to the patient is active: a forged id, someone else's message, a removed family member's old
buttons and malformed data all get one "no longer valid" answer and change nothing.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot.context import BotContext, CompanionApp
from bot.handlers.basics import locale_for
from bot.handlers.family import chat_person, remove_keyboard, stale, tell
from bot.sender import parse_callback_data
from scheduler.companion import ClaimResult
from scheduler.localtime import session_start, zone_info
from scheduler.model import DeliveryStatus, Person
from scheduler.store.deliveries import Delivery

GOT_IT = "got_it"
SNOOZE = "snooze_30"
RIDE = "ride"
SNOOZE_DELAY = timedelta(minutes=30)
PATTERN = rf"^(?:{GOT_IT}|{SNOOZE}|{RIDE}):"


def _own_delivery(update: Update, context: BotContext) -> tuple[str, Person, Delivery] | None:
    """(action, presser, delivery) when the press is valid for this person, else None."""
    query = update.callback_query
    parsed = parse_callback_data(query.data if query is not None else None)
    person = chat_person(update, context)
    if parsed is None or person is None:
        return None
    action, delivery_id = parsed
    companion = context.services.companion
    delivery = companion.deliveries.get(delivery_id)
    if (
        action not in (GOT_IT, SNOOZE, RIDE)
        or delivery is None
        or delivery.recipient_id != person.id
        or delivery.status is not DeliveryStatus.SENT
    ):
        return None
    if delivery.recipient_id != delivery.patient_id and not companion.links.active_link(
        delivery.patient_id, person.id
    ):
        return None  # removed or left: their old buttons do nothing
    return action, person, delivery


async def delivery_button(update: Update, context: BotContext) -> None:
    found = _own_delivery(update, context)
    if found is None:
        await stale(update, context)
        return
    action, person, delivery = found
    if action == GOT_IT:
        await _got_it(update, context, person, delivery)
    elif action == SNOOZE:
        await _snooze(update, context, person, delivery)
    else:
        await _ride(update, context, person, delivery)


async def _answer(update: Update, context: BotContext, key: str, **values: object) -> None:
    query = update.callback_query
    assert query is not None
    text = context.services.catalog.render_reply(locale_for(update, context), key, **values)
    await query.answer(text)


async def _got_it(update: Update, context: BotContext, person: Person, delivery: Delivery) -> None:
    services = context.services
    if not services.companion.deliveries.acknowledge(person.id, delivery.id, services.clock.now()):
        await stale(update, context)
        return
    await _answer(update, context, "reminders_noted")
    await remove_keyboard(update)


async def _snooze(update: Update, context: BotContext, person: Person, delivery: Delivery) -> None:
    services = context.services
    now = services.clock.now()
    due = services.companion.deliveries.snooze(person.id, delivery.id, SNOOZE_DELAY, now)
    if due is None:
        # Ownership was checked above: None now means 30 minutes would pass its relevance.
        await _answer(update, context, "reminders_snooze_too_late")
        return
    services.rearm()
    await _answer(
        update, context, "reminders_snoozed", local_time=due.astimezone(zone_info(person.zone))
    )
    await remove_keyboard(update)


async def _ride(update: Update, context: BotContext, person: Person, delivery: Delivery) -> None:
    services = context.services
    companion = services.companion
    if delivery.session_id is None:
        await stale(update, context)
        return
    # The primary key on rides lets exactly one of two simultaneous presses win.
    result = companion.claim_ride(person.id, delivery.session_id, services.clock.now())
    if result is ClaimResult.ALREADY_YOURS:
        await _answer(update, context, "ride_already_yours")
        return
    if result is ClaimResult.TAKEN:
        await _answer(update, context, "ride_taken")
        return
    if result is not ClaimResult.CLAIMED:
        await stale(update, context)
        return
    # Messages not yet sent now name the driver; nothing is re-timed, but re-arming is cheap.
    services.rearm()
    query = update.callback_query
    assert query is not None
    await query.answer()
    await remove_keyboard(update)
    await tell(context, person, "ride_thanks")
    patient = companion.person(delivery.patient_id)
    session = companion.session(delivery.patient_id, delivery.session_id)
    if patient is None or session is None or patient.stopped:
        return
    start = session_start(session).astimezone(zone_info(session.zone))
    await tell(
        context,
        patient,
        "ride_patient_told",
        name=person.display_name,
        session_date=start,
        session_time=start,
    )


def register(application: CompanionApp) -> None:
    application.add_handler(CallbackQueryHandler(delivery_button, pattern=PATTERN))
