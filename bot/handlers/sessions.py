"""``/add``, ``/sessions`` (move and cancel buttons), ``/timezone``.

A change and the family's one neutral line about it (the new date in their own zone, never what
it is for) commit together: nobody is told of a move that did not happen, and a move is never
made without them being told. A claimed ride does not silently follow a move: the driver is
asked about the new time (``bot.ui.rides.ask_driver_again``) instead of getting the neutral line.
"""

from __future__ import annotations

from bot.parsing import (
    KindError,
    Series,
    WhenError,
    ZoneGuessError,
    parse_kind,
    parse_series,
    parse_when,
    parse_zone,
    zone_ok,
)
from bot.ui.keyboards import (
    CANCEL,
    CANCEL_NO,
    CANCEL_YES,
    COMMON_ZONES,
    MOVE,
    SECOND_TIME,
    TIMEZONE,
    confirm_keyboard,
    match_id,
    sessions_keyboard,
    zone_keyboard,
)
from bot.ui.rides import ask_driver_again, whose_heading
from bot.ui.turn import Turn
from bot.ui.words import (
    overlap_note,
    reader_values,
    saved_text,
    series_text,
    session_lines,
    session_values,
    when_error_text,
)
from bot.ui.words import zone_error as zone_error_text
from scheduler.companion import SessionChange, SessionRejected, ZoneRejected
from scheduler.localtime import is_ambiguous, session_start, zone_info
from scheduler.model import Kind, Person, Role, Session

MOVE_STEP = "mv"  # guided step: waiting for a moved session's new date and time


# -- /add -----------------------------------------------------------------------------------------


def add(turn: Turn) -> None:
    """``/add <date> <time> [kind] [weekdays xN]``: one session, or a repeat from it."""
    person = turn.patient
    if person is None:
        turn.reply("sessions_not_registered")
        return
    args = list(turn.args)
    if not args:
        turn.reply("sessions_add_usage")
        return
    series: Series | None = None
    if len(args) >= 3 and args[-1].lower().lstrip("x×").isdigit() and args[-1][:1] in "xX×":
        try:
            series = parse_series(" ".join(args[-2:]))
        except WhenError as exc:
            key = "sessions_series_too_many" if exc.code == "too_many" else "sessions_add_usage"
            turn.reply(key)
            return
        args = args[:-2]
    kind = _default_kind(turn, person)
    if len(args) > 1:
        try:
            kind = parse_kind(args[-1])
            args = args[:-1]
        except KindError:
            pass
    local = None
    try:
        local = parse_when(" ".join(args), person.zone, turn.now)
        session = turn.companion.add_session(person.id, local, kind, turn.now)
    except (WhenError, SessionRejected) as exc:
        text = when_error_text(turn, exc, local, person.zone)
        if isinstance(exc, WhenError) and exc.code == "bad_format":
            # Words that are no date at all may be the sentence that matters, as in a step.
            text = f"{text}\n\n{turn.render('step_help')}"
        turn.reply_text(text)
        return
    text, keyboard = saved_text(turn, session, "sessions_added")
    overlap = overlap_note(turn, session)
    turn.reply_text(f"{text}\n{overlap}" if overlap else text, keyboard=keyboard)
    if series is not None:
        _repeat(turn, person, session, series)


def _repeat(turn: Turn, person: Person, first: Session, series: Series) -> None:
    result = turn.companion.repeat(person.id, first.id, series.weekdays, series.count, turn.now)
    turn.reply_text(series_text(turn, result, already=1))


def _default_kind(turn: Turn, person: Person) -> Kind:
    """The kind of the session added last: a series is nearly always one kind."""
    sessions = turn.companion.sessions(person.id)
    return max(sessions, key=lambda s: s.id).kind if sessions else Kind.IV


# -- /sessions, move, cancel ----------------------------------------------------------------------


def _upcoming(turn: Turn, person: Person) -> list[Session]:
    return [s for s in turn.companion.sessions(person.id) if session_start(s) > turn.now]


def list_sessions(turn: Turn) -> None:
    person = turn.patient
    if person is None:
        turn.reply("sessions_not_registered")
        return
    coming = _upcoming(turn, person)
    if not coming:
        turn.reply("sessions_list_none")
        return
    numbering = turn.companion.session_numbering(person.id)
    head = turn.render("sessions_list_head")
    lines = session_lines(turn, person, coming, numbering)
    keyboard = sessions_keyboard(turn, [(s.id, numbering.get(s.id, (0, 0))[0]) for s in coming])
    turn.reply_text(f"{head}\n{lines}", keyboard=keyboard)


def _own_upcoming(turn: Turn, session_id: int | None) -> tuple[Person, Session] | None:
    """The pressing patient's upcoming session the button names; otherwise answer "no longer
    valid" and return None. Forged ids, other people's sessions and past ones all end here."""
    person = turn.patient
    session = None
    if session_id is not None and person is not None:
        session = turn.companion.session(person.id, session_id)
        if session is not None and session_start(session) <= turn.now:
            session = None
    if person is None or session is None:
        turn.stale()
        return None
    return person, session


def move_button(turn: Turn) -> None:
    found = _own_upcoming(turn, match_id(MOVE, turn.data))
    if found is None:
        return
    person, session = found
    turn.answer()
    turn.set_step(MOVE_STEP, {"session_id": session.id})
    numbering = turn.companion.session_numbering(person.id)
    turn.reply("sessions_move_ask", values=session_values(session, numbering.get(session.id)))


def move_answer(turn: Turn) -> None:
    """The new date and time for the session being moved (guided step ``mv``)."""
    state = turn.companion.step(turn.chat_id)
    person = turn.patient
    session_id = state[1].get("session_id") if state is not None else None
    if person is None or not isinstance(session_id, int):
        turn.companion.end_step(turn.chat_id)
        turn.reply("button_stale")
        return
    if not turn.text:
        turn.reprompt("sessions_when_bad")
        return
    local = None
    try:
        local = parse_when(turn.text, person.zone, turn.now)
        change = turn.companion.move_session(person.id, session_id, local, turn.now)
    except (WhenError, SessionRejected) as exc:
        if exc.code == "not_found":
            turn.companion.end_step(turn.chat_id)
        text = when_error_text(turn, exc, local, person.zone)
        turn.reply_text(f"{text}\n\n{turn.render('step_help')}")
        return
    turn.companion.end_step(turn.chat_id)
    text, keyboard = saved_text(turn, change.session, "sessions_moved")
    overlap = overlap_note(turn, change.session)
    turn.reply_text(f"{text}\n{overlap}" if overlap else text, keyboard=keyboard)
    _tell_family(turn, change, "sessions_family_moved")
    ask_driver_again(turn, person, change.session, change.driver_id)


def cancel_button(turn: Turn) -> None:
    found = _own_upcoming(turn, match_id(CANCEL, turn.data))
    if found is None:
        return
    person, session = found
    turn.answer()
    numbering = turn.companion.session_numbering(person.id)
    turn.reply(
        "sessions_cancel_ask",
        keyboard=confirm_keyboard(
            turn,
            ("sessions_cancel_yes", f"cxy:{session.id}"),
            ("sessions_cancel_no", f"cxn:{session.id}"),
        ),
        values=session_values(session, numbering.get(session.id)),
    )


def cancel_yes_button(turn: Turn) -> None:
    found = _own_upcoming(turn, match_id(CANCEL_YES, turn.data))
    if found is None:
        return
    person, session = found
    values = session_values(session, None)
    change = turn.companion.cancel_session(person.id, session.id, turn.now)
    turn.settle("sessions_cancelled", values=values)
    _tell_family(turn, change, "sessions_family_cancelled")


def cancel_no_button(turn: Turn) -> None:
    if _own_upcoming(turn, match_id(CANCEL_NO, turn.data)) is not None:
        turn.settle("sessions_kept")


def second_time_button(turn: Turn) -> None:
    """An ambiguous fall-back time meant its second occurrence: re-time the session (fold 1)."""
    found = _own_upcoming(turn, match_id(SECOND_TIME, turn.data))
    if found is None:
        return
    person, session = found
    local = session.local_start.replace(fold=0)
    if session.local_start.fold == 1 or not is_ambiguous(local, session.zone):
        turn.stale()
        return
    change = turn.companion.move_session(person.id, session.id, local, turn.now, fold=1)
    start = session_start(change.session)
    zone = zone_info(change.session.zone)
    turn.answer()
    turn.drop_buttons()
    turn.reply(
        "sessions_second_time_set",
        session_date=start.astimezone(zone),
        session_time=start.astimezone(zone),
        local_time=start.astimezone(zone_info("UTC")),
    )
    _tell_family(turn, change, "sessions_family_moved")
    ask_driver_again(turn, person, change.session, change.driver_id)


def _tell_family(turn: Turn, change: SessionChange, key: str) -> None:
    """One neutral line to each family member who gets messages, in their zone and language.
    After a move the driver is asked about the new time instead (``ask_driver_again``)."""
    patient = turn.patient
    for person_id in change.family_ids:
        if key == "sessions_family_moved" and person_id == change.driver_id:
            continue
        member = turn.companion.person(person_id)
        if member is not None:
            turn.tell(
                member,
                key,
                values=reader_values(change.session, member),
                heading=whose_heading(turn, member, patient) if patient is not None else None,
            )


# -- /timezone ------------------------------------------------------------------------------------


def timezone(turn: Turn) -> None:
    """Anyone registered sets their own zone: patients and family members alike."""
    person = turn.person
    if person is None:
        turn.reply("sessions_not_registered")
        return
    text = " ".join(turn.args)
    if not text:
        turn.reply(
            "sessions_timezone_usage",
            zone=person.zone,
            keyboard=zone_keyboard(COMMON_ZONES, "tz:", turn.locale),
        )
        return
    try:
        zone = parse_zone(text, turn.now)
    except ZoneGuessError as exc:
        reprompt, keyboard = zone_error_text(turn, exc, "tz:")
        turn.reply_text(reprompt, keyboard=keyboard)
        return
    _set_zone(turn, person, zone)


def timezone_button(turn: Turn) -> None:
    match = TIMEZONE.match(turn.data)
    person = turn.person
    if match is None or person is None or not zone_ok(match["zone"]):
        turn.stale()
        return
    turn.answer()
    turn.drop_buttons()
    _set_zone(turn, person, match["zone"])


def _set_zone(turn: Turn, person: Person, zone: str) -> None:
    try:
        turn.companion.set_zone(person.id, zone, turn.now)
    except ZoneRejected:
        turn.reply("sessions_zone_unknown")
        return
    key = "sessions_timezone_set" if person.role is Role.PATIENT else "sessions_timezone_set_family"
    turn.reply(key, zone=zone, local_time=turn.now.astimezone(zone_info(zone)))
