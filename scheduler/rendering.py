"""One render path for timeline messages: what an operator previews is what is sent.

The dispatcher (``scheduler.dispatch``, from rows read fresh before sending) and the preview
(``bot.preview``, from made-up people) both describe a delivery as ``DeliveryFacts`` and call
``render_delivery``; the placeholder values come from ``delivery_values`` alone. A text a clinic
edits to use ``{patient_name}`` therefore previews and sends alike, or fails alike.

Times are the reader's: the session's start is shown in the recipient's zone, and when that
clock differs from the one where the session happens, the zone is named (``TimeInZone``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from messages import Rendered, Wording
from messages.render import Markup, TimeInZone

from scheduler.localtime import zone_info
from scheduler.model import Role, Series, Session
from scheduler.timeline import NumberedSession, number_sessions

RIDE_BUTTON = "ride"
WHOSE_REPLY = "family_whose"  # the heading that says whose message a family text is


class Renderer(Protocol):
    """What rendering needs of ``messages.Catalog``."""

    def render_entry(
        self,
        locale: str | None,
        message_id: str,
        wording: Wording,
        values: Mapping[str, object],
        *,
        with_driver: bool = False,
    ) -> Rendered: ...

    def render_reply(self, locale: str | None, reply_id: str, /, **values: object) -> str: ...


@dataclass(frozen=True)
class DeliveryFacts:
    """Everything a timeline message may show, about one delivery and its reader."""

    message_id: str
    role: Role  # the reader's
    zone: str  # the reader's: times are shown in it
    locale: str | None
    wording: Wording
    patient_name: str
    crisis_line: str
    # The delivery's session (for series-wide messages their anchor session); None for the
    # family welcome, which belongs to no session.
    session: Session | None = None
    # The active sessions of that session's series, and what the patient planned it to have
    # (None: as many as entered; see ``scheduler.timeline.number_sessions``).
    series: Sequence[Session] = ()
    planned: int | None = None
    driver_name: str | None = None  # the family member who claimed the ride home, if any
    clinic_contact: str | None = None  # the clinic's own line; None: its line is left out
    # The patient's name as the reader was shown it when they chose to join, for a family reader
    # who helps more than one person (``family_whose`` heads the text); None for everyone else,
    # so a family member of one patient still reads "the person who invited you".
    whose: str | None = None
    # The patient's notes of what got easier (issue 10), given back in patient messages only:
    # how many, and the latest one's words.
    wins: int = 0
    latest_win: str | None = None


def numbered_session(facts: DeliveryFacts) -> NumberedSession | None:
    """The delivery's session with its place in its series, or None when it has none."""
    session = facts.session
    if session is None:
        return None
    planned = (
        ()
        if facts.planned is None
        else (Series(id=session.series_ref, patient_id=session.patient_id, planned=facts.planned),)
    )
    return next(
        (slot for slot in number_sessions(facts.series, planned) if slot.session.id == session.id),
        None,
    )


def delivery_values(facts: DeliveryFacts) -> dict[str, object]:
    """The placeholder values for one delivery: the only place they are made.

    ``patient_name`` and ``clinic_contact`` go only to the patient (the catalog refuses them in
    family texts anyway);
    ``driver_name`` only when a ride is claimed. Session values are absent when the delivery has
    no session, or its session is no longer among the active ones.
    """
    values: dict[str, object] = {"crisis_line": facts.crisis_line}
    if facts.role is Role.PATIENT:
        values["patient_name"] = facts.patient_name
        if facts.clinic_contact:
            values["clinic_contact"] = facts.clinic_contact
    if facts.driver_name is not None:
        values["driver_name"] = facts.driver_name
    slot = numbered_session(facts)
    if slot is not None:
        local = slot.start.astimezone(zone_info(facts.zone))
        where = slot.start.astimezone(zone_info(slot.session.zone))
        values |= {
            "session_date": local,
            # Named when the reader's clock reads differently from the session's own.
            "session_time": local if local.utcoffset() == where.utcoffset() else TimeInZone(local),
            "session_number": slot.number,
            "series_length": slot.series_length,
        }
    return values


def render_delivery(renderer: Renderer, facts: DeliveryFacts) -> Rendered:
    """The message as its reader gets it; ``KeyError``/``ValueError`` when the text needs a
    value this delivery cannot give."""
    values = delivery_values(facts)
    if facts.role is Role.PATIENT:
        values["wins_given_back"] = given_back(renderer, facts)
    rendered = renderer.render_entry(
        facts.locale,
        facts.message_id,
        facts.wording,
        values,
        with_driver=facts.driver_name is not None,
    )
    buttons = rendered.buttons
    if facts.driver_name is not None:
        # Someone drives already: an "I can drive" button would only ever be refused.
        buttons = tuple(button for button in buttons if button[0] != RIDE_BUTTON)
    text = rendered.text
    if facts.whose is not None and facts.role is Role.FAMILY:
        heading = renderer.render_reply(facts.locale, WHOSE_REPLY, name=facts.whose)
        text = f"{heading}\n{text}"
    return Rendered(text=text, buttons=buttons)


def given_back(renderer: Renderer, facts: DeliveryFacts) -> Markup:
    """The sentence that gives the patient's wins back, on a line of its own; nothing when they
    noted none, so the message reads as if the sentence were never there."""
    if facts.wins <= 0 or facts.latest_win is None:
        return Markup("")
    key = "wins_given_back_one" if facts.wins == 1 else "wins_given_back"
    sentence = renderer.render_reply(facts.locale, key, count=facts.wins, text=facts.latest_win)
    return Markup("\n" + sentence)
