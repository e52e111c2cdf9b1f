"""Family opt-in: ``/invite``, the ``/start <token>`` deep link, approval, ``/family``, ``/leave``.

A family member gets messages only through a link the patient made AND the patient's approval.
Every invalid invite (unknown, expired, used, revoked, the patient's own) gets one identical
reply, so a token reveals nothing. What family members read never names the drug, the condition
or the clinic, and shows the patient's chosen name only on the screen where they decide to join;
everything sent to them is protected (no forwarding or saving). A family member who helps
several people sees whose note is whose, and chooses whom ``/leave`` is for (``bot.ui.rides``);
the patient left is told, with any ride home that left with them.
"""

from __future__ import annotations

import re

from bot.ui.keyboards import (
    APPROVE,
    DECLINE,
    JOIN,
    JOIN_NO,
    LEAVE_NO,
    LEAVE_ONE,
    LEAVE_YES,
    REMOVE,
    REMOVE_NO,
    REMOVE_YES,
    REVOKE,
    confirm_keyboard,
    match_id,
    stacked,
)
from bot.ui.rides import helping_lines, reachable, tell_lost, whose_heading
from bot.ui.turn import Keyboard, Turn
from bot.ui.words import clean_name
from scheduler.companion import MAX_PENDING_INVITES, JoinOutcome, NotAllowed
from scheduler.model import Person, Role
from scheduler.store.family import ACTIVE, PENDING, LinkView


def invite(turn: Turn) -> None:
    patient = turn.patient
    if patient is None:
        turn.reply("family_not_patient")
        return
    try:
        issued = turn.companion.issue_invite(patient.id, turn.now)
    except NotAllowed as exc:
        if exc.code != "invite_cap":
            raise
        turn.reply("family_invite_cap", count=MAX_PENDING_INVITES)
        return
    username = turn.context.bot.username
    # The patient's own copy: forwarding and copying the link is the point.
    turn.reply(
        "family_invite",
        link=f"https://t.me/{username}?start={issued.token}",
        days=issued.days,
        keyboard=stacked(turn, ("family_revoke", f"fi_rv:{issued.invite_id}")),
    )


def revoke_button(turn: Turn) -> None:
    patient = turn.patient
    invite_id = match_id(REVOKE, turn.data)
    if (
        patient is None
        or invite_id is None
        or not turn.companion.revoke_invite(patient.id, invite_id, turn.now)
    ):
        turn.stale()
        return
    turn.settle("family_invite_revoked")


def invite_start(turn: Turn) -> None:
    """``/start <token>``: who invited them and what they'd get; nothing is stored yet."""
    token = turn.args[0] if len(turn.args) == 1 else ""
    patient = turn.companion.preview_invite(token, turn.chat_id, turn.now)
    if patient is None:
        turn.reply("family_invite_invalid")
        return
    turn.reply(
        "family_invite_confirm",
        name=patient.display_name,
        keyboard=stacked(turn, ("family_join", f"fj:{token}"), ("family_no_thanks", JOIN_NO)),
    )


def join_button(turn: Turn) -> None:
    match = JOIN.match(turn.data)
    if match is None:
        turn.stale()
        return
    name = clean_name(turn.first_name) or turn.render("family_unnamed")
    new_here = turn.person is None
    joined = turn.companion.join(match["token"], turn.chat_id, name, turn.now)
    turn.refresh()
    if new_here and joined.outcome is JoinOutcome.ASKED:
        turn.adopt_app_locale()
    if joined.outcome is JoinOutcome.INVALID:
        turn.settle("family_invite_invalid")
    elif joined.outcome is JoinOutcome.REPLAYED:
        turn.settle("family_join_asked")
    elif joined.outcome is JoinOutcome.ALREADY_IN:
        turn.settle("family_join_already")
    else:
        assert joined.patient is not None and joined.link is not None
        turn.settle("family_join_waiting")
        link = joined.link
        turn.tell(
            joined.patient,
            "family_approve_ask",
            name=link.name,
            keyboard=_decide_keyboard(turn, joined.patient, link),
            own=True,
        )


def _decide_keyboard(turn: Turn, patient: Person, link: LinkView) -> Keyboard:
    """Approve / Decline, labelled in the patient's language."""
    catalog = turn.catalog
    return [
        [
            (catalog.button_label(patient.locale, "family_approve"), f"fa:{link.id}"),
            (catalog.button_label(patient.locale, "family_decline"), f"fd:{link.id}"),
        ]
    ]


def join_no_button(turn: Turn) -> None:
    turn.settle("family_join_no_thanks")


def _pending(turn: Turn, pattern: re.Pattern[str]) -> tuple[Person, LinkView] | None:
    """The pressing patient and their link waiting for a decision that the button names."""
    patient = turn.patient
    link_id = match_id(pattern, turn.data)
    link = turn.companion.pending_link(patient.id, link_id) if patient and link_id else None
    if patient is None or link is None:
        turn.stale()
        return None
    return patient, link


def approve_button(turn: Turn) -> None:
    found = _pending(turn, APPROVE)
    if found is None:
        return
    patient, link = found
    approved = turn.companion.approve_link(patient.id, link.id, turn.now)
    turn.settle("family_approved", name=link.name)
    member = approved.person
    turn.tell(member, "family_welcome_in", heading=whose_heading(turn, member, patient))


def decline_button(turn: Turn) -> None:
    found = _pending(turn, DECLINE)
    if found is None:
        return
    patient, link = found
    member = turn.companion.decline(patient.id, link.id, turn.now)
    turn.settle("family_declined", name=link.name)
    if member is not None:
        turn.tell(member, "family_join_declined")


def family(turn: Turn) -> None:
    person = turn.person
    if person is None:
        turn.reply("family_not_registered")
        return
    companion = turn.companion
    if person.role is not Role.PATIENT:
        _helping(turn, person)
        return
    links = companion.family(person.id)
    invites = companion.pending_invites(person.id, turn.now)
    # A patient may also help someone else: that part follows their own family, never hidden.
    helping = helping_lines(turn, person)
    if not links and not invites:
        turn.reply_text("\n\n".join([turn.render("family_list_none"), *helping]))
        return
    lines = [turn.render("family_list_head")]
    rows: list[list[tuple[str, str]]] = []
    for link in links:
        if link.status == ACTIVE:
            lines.append(turn.render("family_list_active", name=link.name))
            rows.append([(f"{turn.label('family_remove')} {link.name}", f"fr:{link.id}")])
        else:
            lines.append(turn.render("family_list_pending", name=link.name))
            rows.append(
                [
                    (f"{turn.label('family_approve')} {link.name}", f"fa:{link.id}"),
                    (turn.label("family_decline"), f"fd:{link.id}"),
                ]
            )
    if invites:
        lines.append(turn.render("family_list_invites", count=len(invites)))
        cancel = turn.label("family_revoke_n")
        rows += [[(f"{cancel} {n}", f"fi_rv:{inv.id}")] for n, inv in enumerate(invites, 1)]
    text = "\n".join(lines)
    turn.reply_text("\n\n".join([text, *helping]), keyboard=rows)


def _helping(turn: Turn, person: Person) -> None:
    """``/family`` for a family member: one person helped stays "the person who invited you";
    several are listed by the names their patients chose, so they can tell them apart."""
    helping = helping_lines(turn, person)
    turn.reply_text(helping[0] if helping else turn.render("family_leave_none"))


def _own_link(turn: Turn, link_id: int | None) -> LinkView | None:
    patient = turn.patient
    if patient is None or link_id is None:
        return None
    link = turn.companion.link_of(patient.id, link_id)
    return link if link is not None and link.status in (ACTIVE, PENDING) else None


def remove_button(turn: Turn) -> None:
    link = _own_link(turn, match_id(REMOVE, turn.data))
    if link is None:
        turn.stale()
        return
    turn.answer()
    turn.reply(
        "family_remove_ask",
        name=link.name,
        keyboard=confirm_keyboard(
            turn, ("family_remove_yes", f"fr_y:{link.id}"), ("family_remove_no", f"fr_n:{link.id}")
        ),
    )


def remove_yes_button(turn: Turn) -> None:
    link = _own_link(turn, match_id(REMOVE_YES, turn.data))
    patient = turn.patient
    if link is None or patient is None:
        turn.stale()
        return
    before = turn.companion.person(link.family_id)
    # Read while they still help this patient: "about whom" for someone who helps several.
    heading = whose_heading(turn, before, patient) if before is not None else None
    # One transaction: the link, their queued messages about this patient, their rides.
    unlinked = turn.companion.unlink_family(patient.id, link.id, turn.now)
    family_id = unlinked.family_id
    turn.settle("family_removed", name=link.name)
    tell_lost(turn, unlinked.lost, "ride_lost_removed")
    member = turn.companion.person(family_id)
    if member is not None:
        # Someone still waiting for approval hears the same as after a decline.
        notice = "family_removed_notice" if link.status == ACTIVE else "family_join_declined"
        turn.tell(member, notice, heading=heading)


def remove_no_button(turn: Turn) -> None:
    if _own_link(turn, match_id(REMOVE_NO, turn.data)) is None:
        turn.stale()
        return
    turn.settle("family_remove_kept")


def leave(turn: Turn) -> None:
    """One person helped: Yes / No. Several: whom, by name, or all of them."""
    person = turn.person
    links = turn.companion.linked_patients(person.id) if person is not None else []
    if not links:
        turn.reply("family_leave_none")
        return
    assert person is not None
    # Said before they decide: leaving gives back a ride they promised.
    warning = turn.companion.promised_rides(person.id, turn.now)
    if len(links) == 1:
        ask = turn.render("family_leave_ask")
        keyboard = confirm_keyboard(
            turn, ("family_leave_yes", LEAVE_YES), ("family_leave_no", LEAVE_NO)
        )
    else:
        ask = turn.render("family_leave_which")
        keyboard = [[(link.name, f"fl:{link.id}")] for link in links]
        keyboard.append([(turn.label("family_leave_all"), LEAVE_YES)])
        keyboard.append([(turn.label("family_leave_no"), LEAVE_NO)])
    if warning:
        ask = f"{ask}\n{turn.render('ride_give_back_warning')}"
    turn.reply_text(ask, keyboard=keyboard)


def leave_yes_button(turn: Turn) -> None:
    """Leave everyone they help; each patient is told, with any ride that went."""
    person = turn.person
    links = turn.companion.linked_patients(person.id) if person is not None else []
    if person is None or not links:
        turn.stale()
        return
    passed_on = False
    for link in links:
        passed_on |= _leave_one(turn, person, link)
    left = turn.render("family_left")
    turn.settle_text(f"{left}\n{turn.render('ride_left_told')}" if passed_on else left)


def leave_one_button(turn: Turn) -> None:
    """Leave one of the people they help (the link is theirs, else the button is stale)."""
    person = turn.person
    link_id = match_id(LEAVE_ONE, turn.data)
    links = turn.companion.linked_patients(person.id) if person is not None else []
    link = next((item for item in links if item.id == link_id), None)
    if person is None or link is None:
        turn.stale()
        return
    passed_on = _leave_one(turn, person, link)
    left = turn.render("family_left_one", name=link.name)
    turn.settle_text(f"{left}\n{turn.render('ride_left_told')}" if passed_on else left)


def _leave_one(turn: Turn, person: Person, link: LinkView) -> bool:
    """Unlink from one patient and tell them (who left, and any ride that went, in the same
    step); True when a lost ride was passed on to them."""
    left = turn.companion.leave_patient(person.id, link.id, turn.now)
    patient = left.patient
    if link.status == ACTIVE and reachable(turn, patient):
        turn.tell(patient, "family_member_left", name=person.display_name, own=True)
    return tell_lost(turn, left.lost)


def leave_no_button(turn: Turn) -> None:
    turn.settle("family_leave_kept")
