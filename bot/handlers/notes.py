"""Between sessions (issue 10): what got easier, tonight's check-in, the evening-before
checklist, and "I noticed" from family; ``/wins`` lists the patient's notes.

A sentence is taken as a note only inside the step a "Write my own" or "I noticed something"
press opened; anything typed at another time gets the usual answer with the crisis line, so a
sentence that matters is never silently filed as a win. Everything here is the patient's own:
nothing of it is ever told to a family member, and no note's words are logged.
"""

from __future__ import annotations

from itertools import groupby

from bot.sender import parse_callback_data
from bot.ui.keyboards import (
    CHECKIN_ANSWERS,
    CHECKLIST_QUESTIONS,
    CHECKLIST_WORRYING,
    NOTICED,
    NOTICED_KEEP,
    WIN_BUTTONS,
    WIN_OWN,
    checklist_keyboard,
    match_id,
    noticed_keyboard,
    win_keyboard,
)
from bot.ui.rides import whose_heading
from bot.ui.turn import Turn
from scheduler.companion import NoteRejected, NoticeOutcome, SessionRejected, clean_note
from scheduler.localtime import zone_info
from scheduler.model import Person, Role

WIN_STEP = "win_text"  # the next text is the patient's note
WIN_CONFIRM = "win_confirm"  # the note is shown back with Keep / Discard
NOTICED_STEP = "noticed_text"  # the next text is a family member's "I noticed" line
# A text while the note waits for Keep / Discard is a corrected note, shown back anew: never
# the "I can't answer messages" reply to someone who is fixing a typo.
STEPS = frozenset({WIN_STEP, WIN_CONFIRM, NOTICED_STEP})
# Telegram allows 4096 characters; /wins is split into messages below this.
_CHUNK = 3500


# -- buttons on timed messages ---------------------------------------------------------------------


def delivery_button(turn: Turn) -> None:
    """A win, "write my own", a check-in answer, a checklist answer or "I noticed something",
    pressed on a timed message; counts only on the presser's own message."""
    parsed = parse_callback_data(turn.data)
    if parsed is None or turn.person is None:
        turn.stale()
        return
    action, delivery_id = parsed
    if action in WIN_BUTTONS:
        _tap_win(turn, action, delivery_id)
    elif action == WIN_OWN:
        _write_own(turn, delivery_id)
    elif action.startswith("checkin_"):
        _checkin(turn, action.removeprefix("checkin_"), delivery_id)
    elif action.startswith("checklist_"):
        _checklist(turn, action.removeprefix("checklist_"), delivery_id)
    elif action == NOTICED:
        _noticed(turn, delivery_id)
    else:
        turn.stale()


def _tap_win(turn: Turn, action: str, delivery_id: int) -> None:
    patient = turn.patient
    tapped = None
    if patient is not None:
        tapped = turn.companion.tap_win(patient.id, delivery_id, turn.label(action), turn.now)
    if tapped is None or patient is None:
        turn.stale()
        return
    win, new = tapped
    # An old message's tap is noted for its own day, and the reply names that day.
    today = win.day == turn.now.astimezone(zone_info(patient.zone)).date()
    if not new:  # the same win tapped again on that day's message
        turn.answer("win_already" if today else "win_already_on", day=win.day)
        return
    turn.answer()
    if today:
        turn.reply("win_noted", text=win.text)
    else:
        turn.reply("win_noted_on", text=win.text, day=win.day)


def _write_own(turn: Turn, delivery_id: int) -> None:
    patient = turn.patient
    if patient is None or turn.companion.own_delivery(patient.id, delivery_id) is None:
        turn.stale()
        return
    turn.set_step(WIN_STEP, {})
    turn.answer()
    turn.reply("win_ask")


def _checkin(turn: Turn, answer: str, delivery_id: int) -> None:
    patient = turn.patient
    if (
        patient is None
        or answer not in CHECKIN_ANSWERS
        or not turn.companion.answer_checkin(patient.id, delivery_id, answer, turn.now)
    ):
        turn.stale()
        return
    turn.answer()
    turn.drop_buttons()
    # A message of its own, not an edit: "Not OK" must reach them even if the edit fails.
    turn.reply(f"checkin_{answer}_reply")


def _checklist(turn: Turn, rest: str, delivery_id: int) -> None:
    question, _, answer = rest.rpartition("_")
    patient = turn.patient
    try:
        answered = (
            patient is not None
            and question in CHECKLIST_QUESTIONS
            and answer in ("yes", "no")
            and turn.companion.answer_checklist(patient.id, delivery_id, question, answer, turn.now)
        )
    except SessionRejected:  # the session moved or was cancelled since: nothing is stored
        turn.settle("checklist_outdated")
        return
    if patient is None or not answered:
        turn.stale()
        return
    position = CHECKLIST_QUESTIONS.index(question)
    if position + 1 < len(CHECKLIST_QUESTIONS):
        following = CHECKLIST_QUESTIONS[position + 1]
        turn.settle(
            f"checklist_{following}", keyboard=checklist_keyboard(turn, following, delivery_id)
        )
        return
    answers = turn.companion.checklist_answers(patient.id, delivery_id)
    worrying = any(answers.get(q) == a for q, a in CHECKLIST_WORRYING.items())
    # Nothing is blocked and nothing is said about doses: one thing to do, or nothing.
    turn.settle("checklist_tell_clinic" if worrying else "checklist_done")


def _noticed(turn: Turn, delivery_id: int) -> None:
    person = turn.person
    patient = None
    if person is not None:
        patient = turn.companion.notice_target(person.id, delivery_id)
    if person is None or patient is None:
        turn.stale()
        return
    turn.set_step(NOTICED_STEP, {"patient_id": patient.id})
    turn.answer()
    _reply_about(turn, person, patient, "noticed_ask")


# -- guided steps --------------------------------------------------------------------------------


def answer(turn: Turn) -> None:
    """The text of an open notes step: a patient's own note, or a family member's line."""
    state = turn.companion.step(turn.chat_id)
    if state is None:
        return
    step, data = state
    if step in (WIN_STEP, WIN_CONFIRM):
        _win_text(turn)
    elif step == NOTICED_STEP:
        _noticed_text(turn, data.get("patient_id"))


def _win_text(turn: Turn) -> None:
    if turn.patient is None:
        turn.companion.end_step(turn.chat_id)
        return
    try:
        line = clean_note(turn.text)
    except NoteRejected:
        turn.reprompt("win_reprompt")
        return
    turn.set_step(WIN_CONFIRM, {"text": line})
    turn.reply("win_show", text=line, keyboard=win_keyboard(turn))


def _noticed_text(turn: Turn, patient_id: object) -> None:
    person = turn.person
    if person is None or not isinstance(patient_id, int):
        turn.companion.end_step(turn.chat_id)
        return
    try:
        noticing = turn.companion.notice(person.id, patient_id, turn.text, turn.now)
    except NoteRejected:
        turn.reprompt("noticed_reprompt")
        return
    turn.companion.end_step(turn.chat_id)
    patient, noticed = noticing.patient, noticing.noticed
    about = patient or turn.companion.person(patient_id)
    if noticing.outcome is NoticeOutcome.PASSED_ON and patient and noticed:
        label = turn.catalog.button_label(patient.locale, "noticed_keep")
        turn.tell(
            patient,
            "noticed_received",
            name=noticed.from_name,
            text=noticed.text,
            keyboard=noticed_keyboard(label, noticed.id),
            own=True,
        )
        _reply_about(turn, person, about, "noticed_passed_on")
    elif noticing.outcome is NoticeOutcome.KEPT_PRIVATE:
        _reply_about(turn, person, about, "noticed_kept_private")
    else:
        turn.reply("noticed_not_linked")


def _reply_about(turn: Turn, person: Person, patient: Person | None, key: str) -> None:
    """A reply about one patient; a family member who helps several reads whom it is about
    first, so a line typed after two "I noticed" presses is never sent to the wrong person
    unknowingly."""
    heading = whose_heading(turn, person, patient) if patient is not None else None
    text = turn.render(key)
    turn.reply_text(f"{heading}\n{text}" if heading else text)


# -- buttons on replies --------------------------------------------------------------------------


def keep_button(turn: Turn) -> None:
    """Keep the note just written: its words are in the step, never in the button."""
    patient = turn.patient
    state = turn.companion.step(turn.chat_id)
    if patient is None or state is None or state[0] != WIN_CONFIRM:
        turn.stale()
        return
    text = state[1].get("text")
    turn.companion.end_step(turn.chat_id)
    if not isinstance(text, str):
        turn.stale()
        return
    turn.companion.note_win(patient.id, text, turn.now)
    turn.settle("win_kept")


def discard_button(turn: Turn) -> None:
    state = turn.companion.step(turn.chat_id)
    if turn.patient is None or state is None or state[0] != WIN_CONFIRM:
        turn.stale()
        return
    turn.companion.end_step(turn.chat_id)
    turn.settle("win_discarded")


def noticed_keep_button(turn: Turn) -> None:
    """Keep a family member's line as a win, with one tap."""
    patient = turn.patient
    noticed_id = match_id(NOTICED_KEEP, turn.data)
    win = None
    if patient is not None and noticed_id is not None:
        win = turn.companion.keep_noticed(patient.id, noticed_id, turn.now)
    kept_before = (
        win is None
        and patient is not None
        and noticed_id is not None
        and turn.companion.noticed_kept(patient.id, noticed_id)
    )
    if kept_before:  # a second tap: kind, not "no longer valid"
        turn.answer("noticed_already_kept")
        return
    if win is None:
        turn.stale()
        return
    turn.answer()
    turn.drop_buttons()
    turn.reply("noticed_kept")


# -- /wins ---------------------------------------------------------------------------------------


def wins(turn: Turn) -> None:
    """The patient's notes of what got easier, by their local day, oldest first."""
    person = turn.person
    if person is None or person.role is not Role.PATIENT:
        turn.reply("wins_not_patient")
        return
    noted = turn.companion.wins(person.id)
    if not noted:
        turn.reply("wins_none")
        return
    lines = [turn.render("wins_head")]
    for day, items in groupby(noted, key=lambda win: win.day):
        lines.append("\n" + turn.render("wins_day", day=day))
        for win in items:
            if win.from_name:
                lines.append(turn.render("wins_line_from", text=win.text, name=win.from_name))
            else:
                lines.append(turn.render("wins_line", text=win.text))
    chunk = ""
    for line in lines:
        if chunk and len(chunk) + len(line) + 1 > _CHUNK:
            turn.reply_text(chunk)
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    turn.reply_text(chunk)
