"""Rides home and helpers of more than one person, put into words for the handlers that need it.

A promised ride never goes away in silence: whoever takes it away (the driver leaving or erasing
their data, the patient removing them or moving the session), the patient hears of it in the same
transaction as the change, unless they stopped all messages. And nobody is told something was
passed on that was not: every "I've let them know" depends on the same ``reachable`` check that
decides whether the patient is told.

A family member who helps one person reads "the person who invited you", as before; one who helps
two or more reads whose note it is (``whose_heading``): the name the patient chose, which that
family member already saw when they decided to join. It is never shown to anyone else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram.error import TelegramError

from bot.ui.keyboards import RIDE_NO_PREFIX, RIDE_YES_PREFIX
from bot.ui.turn import Turn
from bot.ui.words import reader_values, session_values
from scheduler.companion import LostRide, RideOffer, ride_stamp
from scheduler.model import Person, Session
from scheduler.store.family import ACTIVE

_LOGGER = logging.getLogger(__name__)


def helps_several(turn: Turn, reader: Person) -> bool:
    links = turn.companion.linked_patients(reader.id)
    return sum(1 for link in links if link.status == ACTIVE) > 1


def helping_lines(turn: Turn, person: Person) -> list[str]:
    """Whom this person helps, as one text (empty when nobody)."""
    helped = [link for link in turn.companion.linked_patients(person.id) if link.status == ACTIVE]
    if len(helped) < 2:
        waiting = turn.companion.linked_patients(person.id)
        if not helped and waiting:  # not linked yet: saying so would promise notes not coming
            return [turn.render("family_join_asked")]
        return [turn.render("family_list_helping")] if helped else []
    lines = [turn.render("family_list_helping_head")]
    lines += [turn.render("family_list_helping_line", name=link.name) for link in helped]
    lines.append(turn.render("family_list_helping_tail"))
    return ["\n".join(lines)]


def whose_heading(turn: Turn, reader: Person, patient: Person) -> str | None:
    """The first line of a note about ``patient`` for a family member who helps several people
    ("About Alex"), in the reader's language; None for everyone else."""
    if reader.id == patient.id or not helps_several(turn, reader):
        return None
    return turn.catalog.render_reply(reader.locale, "family_whose", name=patient.display_name)


def reachable(turn: Turn, person: Person | None) -> bool:
    """Whether a note to this person goes out: they neither stopped messages nor left Telegram."""
    return person is not None and not person.stopped and not turn.companion.is_gone(person.id)


def tell_lost(turn: Turn, lost: Sequence[LostRide], key: str = "ride_lost") -> bool:
    """Tell each patient whose promised ride just went away; True if any of them was told.
    The other family members, whose request was shown as covered, are asked again."""
    told = False
    for ride in lost:
        reopen_requests(turn, ride.patient, ride.session)
        patient = turn.companion.person(ride.patient.id)
        if not reachable(turn, patient):
            continue
        assert patient is not None
        turn.tell(
            patient,
            key,
            values=session_values(ride.session, None),
            name=ride.driver_name,
            own=True,
        )
        told = True
    return told


def reopen_requests(turn: Turn, patient: Person, session: Session) -> None:
    """A ride shown as covered is open again: each family member who was sent the request hears
    so, with an "I can drive" button acting on their own request (a claim like any other)."""
    for member, request in turn.companion.open_requests(session.id, turn.now):
        if not reachable(turn, member):
            continue
        label = turn.catalog.button_label(member.locale, "ride")
        turn.tell(
            member,
            "ride_open_again",
            values=reader_values(session, member),
            keyboard=[[(label, f"ride:{request.delivery_id}")]],
            heading=whose_heading(turn, member, patient),
        )


def offer_open_rides(turn: Turn, person: Person) -> None:
    """Someone back with ``/start`` after ``/stop`` (or a block): each ride still open that they
    were asked for is shown again with an "I can drive" button on their own request, since the
    one they had went when they claimed before stopping gave the ride back."""
    for patient, session, request in turn.companion.open_rides_for(person.id, turn.now):
        turn.tell(
            person,
            "ride_still_open",
            values=reader_values(session, person),
            keyboard=[
                [(turn.catalog.button_label(person.locale, "ride"), f"ride:{request.delivery_id}")]
            ],
            heading=whose_heading(turn, person, patient),
        )


def cover_requests(turn: Turn, offer: RideOffer) -> None:
    """After a claim: the other family members' ride requests become "covered, thank you",
    their button gone. Best effort, after the commit: an edit Telegram refuses (the message too
    old, deleted) leaves the button, and the claim already answers it "covered"."""
    session = offer.session
    patient = offer.patient
    if session is None or patient is None:
        return
    edits: list[tuple[int, int, str]] = []
    for request in offer.covered:
        member = turn.companion.person(request.recipient_id)
        if member is None or request.message_ref is None:
            continue
        text = turn.catalog.render_reply(
            member.locale, "ride_covered", **reader_values(session, member)
        )
        heading = whose_heading(turn, member, patient)
        edits.append(
            (request.chat_id, request.message_ref, f"{heading}\n{text}" if heading else text)
        )
    if not edits:
        return
    bot = turn.context.bot

    async def edit() -> None:
        for chat_id, message_id, text in edits:
            try:
                await bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, reply_markup=None
                )
            except TelegramError as exc:
                _LOGGER.info("a ride request was not marked covered (%s)", type(exc).__name__)

    turn.later(edit)


def ask_driver_again(turn: Turn, patient: Person, session: Session, driver_id: int | None) -> bool:
    """A session with a claimed ride moved: ask the driver whether the new time suits them
    (Yes/No, valid only for this time), and tell the patient the ride is not settled until they
    answer. False when there was no driver to ask."""
    driver = turn.companion.person(driver_id) if driver_id is not None else None
    if driver is None:
        return False
    if reachable(turn, driver):
        stamp = ride_stamp(session)
        keyboard = [
            [
                (
                    turn.catalog.button_label(driver.locale, "ride_confirm_yes"),
                    f"{RIDE_YES_PREFIX}:{session.id}:{stamp}",
                ),
                (
                    turn.catalog.button_label(driver.locale, "ride_confirm_no"),
                    f"{RIDE_NO_PREFIX}:{session.id}:{stamp}",
                ),
            ]
        ]
        turn.tell(
            driver,
            "ride_move_ask",
            values=reader_values(session, driver),
            keyboard=keyboard,
            heading=whose_heading(turn, driver, patient),
        )
        turn.reply("ride_move_asked", name=driver.display_name)
    else:
        # Nobody can be asked: the ride is off, and the patient hears it that way.
        turn.reply("ride_lost", values=session_values(session, None), name=driver.display_name)
    return True
