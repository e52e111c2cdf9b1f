"""Plain ``/start``: the person is registered at once, then set-up asks one thing at a time.

    name  -> zone  -> kind  -> count  -> first  -> more  -> summary

``/start`` registers a patient straight away (their Telegram first name until they choose one,
the operator's default zone until they choose theirs), so every other command works from the
first moment and the contract's non-interactive path (``/start``, ``/timezone``, ``/add``) needs
no questions answered. Each step takes typed text or its buttons; anything else gets the step's
question again, with the crisis line, and changes nothing. Any command ends the step; ``/start``
again resumes it. A stopped person's ``/start`` (or someone who had blocked the bot) brings the
messages back instead. A family member's ``/start`` says whom they help; a button sets up their
own sessions if they want them (keeping their family links).
"""

from __future__ import annotations

import re
from typing import Any

from bot.parsing import (
    MAX_SERIES,
    KindError,
    NameInputError,
    Series,
    WhenError,
    ZoneGuessError,
    is_done,
    parse_kind,
    parse_name,
    parse_series,
    parse_when,
    parse_zone,
    zone_ok,
)
from bot.ui.keyboards import (
    COMMON_ZONES,
    OB_COUNT,
    OB_DONE,
    OB_KIND,
    OB_NAME,
    OB_OWN,
    OB_SERIES,
    OB_ZONE,
    count_keyboard,
    kind_keyboard,
    more_keyboard,
    name_keyboard,
    stacked,
    zone_keyboard,
)
from bot.ui.rides import helping_lines, offer_open_rides
from bot.ui.turn import Turn
from bot.ui.words import (
    clean_name,
    overlap_note,
    saved_text,
    series_text,
    session_lines,
    when_error_text,
    zone_error,
)
from scheduler.companion import SessionRejected, ZoneRejected
from scheduler.localtime import session_start, zone_info
from scheduler.model import Kind, Person, Role

NAME, ZONE, KIND, COUNT = "ob_name", "ob_zone", "ob_kind", "ob_count"
FIRST, MORE = "ob_first", "ob_more"
STEPS = (NAME, ZONE, KIND, COUNT, FIRST, MORE)
_COUNT_TEXT = re.compile(r"^\s*(?P<n>\d{1,2})\s*(?:sessions?)?\s*\.?\s*$", re.IGNORECASE)
_ZONE_PREFIX = "ob:z:"


# -- /start ---------------------------------------------------------------------------------------


def start(turn: Turn) -> None:
    """Plain /start: come back, resume set-up, or register and begin it."""
    companion = turn.companion
    person = turn.person
    if person is not None and (person.stopped or companion.is_gone(person.id)):
        companion.restart(person.id, turn.now)
        turn.reply("control_restarted")
        offer_open_rides(turn, person)
        return
    step = companion.step(turn.chat_id)
    if person is not None and step is not None and step[0] in STEPS:
        turn.reply("onboarding_resume")
        _ask(turn, step[0])
        return
    if person is not None and person.role is Role.FAMILY:
        # A relative tapping /start again is here as family: they become a patient only when
        # they ask for their own sessions (``OB_OWN``).
        _family_start(turn, person)
        return
    _become_patient(turn)


def _family_start(turn: Turn, person: Person) -> None:
    """Whom they help and what they get (as ``/family`` says it), /help, and a button for
    anyone who also wants notes around their own sessions."""
    helping = helping_lines(turn, person) or [turn.render("family_start_nobody")]
    turn.reply_text(
        "\n\n".join([*helping, turn.render("family_start_more")]),
        keyboard=stacked(turn, ("family_start_own", OB_OWN)),
    )


def _become_patient(turn: Turn) -> None:
    """Register (or turn a family member into) a patient, keeping any family links, and begin
    set-up."""
    companion = turn.companion
    person = turn.person
    had_sessions = person is not None and bool(companion.sessions(person.id))
    if person is None or person.role is not Role.PATIENT:
        name = person.display_name if person is not None else clean_name(turn.first_name)
        zone = person.zone if person is not None else turn.services.settings.default_zone
        companion.register_patient(turn.chat_id, name, zone, turn.now)
        turn.refresh()
        if person is None:
            turn.adopt_app_locale()
    welcome = turn.render("onboarding_welcome")
    if had_sessions:
        welcome += "\n\n" + turn.render("onboarding_restart")
    turn.reply_text(welcome)
    _go(turn, NAME, {})


def _go(turn: Turn, step: str, data: dict[str, Any]) -> None:
    turn.set_step(step, data)
    _ask(turn, step)


def _ask(turn: Turn, step: str) -> None:
    person = turn.person
    if step == NAME:
        turn.reply("onboarding_ask_name", keyboard=name_keyboard(turn.first_name))
    elif step == ZONE:
        name = person.display_name if person is not None else ""
        turn.reply(
            "onboarding_ask_zone",
            name=name,
            keyboard=zone_keyboard(COMMON_ZONES, _ZONE_PREFIX, turn.locale),
        )
    elif step == KIND:
        turn.reply("onboarding_ask_kind", keyboard=kind_keyboard(turn))
    elif step == COUNT:
        turn.reply("onboarding_ask_count", keyboard=count_keyboard())
    elif step == FIRST:
        turn.reply("onboarding_ask_first")
    else:
        turn.reply("onboarding_ask_more", keyboard=more_keyboard(turn))


# -- typed answers --------------------------------------------------------------------------------


def answer(turn: Turn) -> None:
    """Whatever the person sent while a step waits: text is the answer, anything else is not."""
    state = turn.companion.step(turn.chat_id)
    person = turn.patient
    if state is None or person is None:
        turn.companion.end_step(turn.chat_id)
        turn.reply("onboarding_lost")
        return
    step, data = state
    text = turn.text.strip()
    if step == NAME:
        _name_answer(turn, person, text)
    elif step == ZONE:
        _zone_answer(turn, person, text)
    elif step == KIND:
        _kind_answer(turn, text)
    elif step == COUNT:
        match = _COUNT_TEXT.match(text)
        _count_chosen(turn, person, int(match["n"]) if match else 0, data)
    else:
        _when_answer(turn, person, text, data, first=step == FIRST)


def _name_answer(turn: Turn, person: Person, text: str) -> None:
    try:
        name = parse_name(text)
    except NameInputError:
        # It says itself that nobody reads the chat, and gives the crisis line: a sentence
        # typed here may be the one that matters.
        turn.reply("onboarding_name_reprompt", keyboard=name_keyboard(turn.first_name))
        return
    _name_chosen(turn, person, name)


def _name_chosen(turn: Turn, person: Person, name: str) -> None:
    turn.companion.set_display_name(person.id, name, turn.now)
    turn.refresh()
    _go(turn, ZONE, {})


def _zone_answer(turn: Turn, person: Person, text: str) -> None:
    try:
        zone = parse_zone(text, turn.now)
    except ZoneGuessError as exc:
        reprompt, keyboard = zone_error(turn, exc, _ZONE_PREFIX)
        turn.reply_text(
            f"{reprompt}\n\n{turn.render('step_help')}",
            keyboard=keyboard or zone_keyboard(COMMON_ZONES, _ZONE_PREFIX, turn.locale),
        )
        return
    _zone_chosen(turn, person, zone)


def _zone_chosen(turn: Turn, person: Person, zone: str) -> None:
    try:
        turn.companion.set_zone(person.id, zone, turn.now)
    except ZoneRejected:
        turn.reprompt(
            "sessions_zone_unknown", keyboard=zone_keyboard(COMMON_ZONES, _ZONE_PREFIX, turn.locale)
        )
        return
    turn.refresh()
    zone_set = turn.render(
        "onboarding_zone_set", zone=zone, local_time=turn.now.astimezone(zone_info(zone))
    )
    turn.set_step(KIND, {})
    ask = turn.render("onboarding_ask_kind")
    turn.reply_text(f"{zone_set}\n\n{ask}", keyboard=kind_keyboard(turn))


def _kind_answer(turn: Turn, text: str) -> None:
    try:
        kind = parse_kind(text) if text else None
    except KindError:
        kind = None
    if kind is None:
        turn.reprompt("onboarding_bad_kind", keyboard=kind_keyboard(turn))
        return
    _go(turn, COUNT, {"kind": kind.value})


def _count_chosen(turn: Turn, person: Person, count: int, data: dict[str, Any]) -> None:
    """How many sessions the series has: "session 2 of 6", and the end-of-series note waits
    for the last one. A count below what is already entered keeps the series as it is."""
    try:
        turn.companion.set_series_length(person.id, count, turn.now)
    except SessionRejected as exc:
        if exc.code != "fewer_than_entered":
            turn.reprompt("onboarding_bad_count", keyboard=count_keyboard())
            return
    _go(turn, FIRST, {"kind": _kind(data).value})


def _when_answer(
    turn: Turn, person: Person, text: str, data: dict[str, Any], *, first: bool
) -> None:
    """Step "first" takes one date; step "more" also takes a repeat pattern or "done"."""
    bad_key = "sessions_when_bad" if first else "onboarding_bad_more"
    keyboard = None if first else more_keyboard(turn)
    if not text:
        turn.reprompt(bad_key, keyboard=keyboard)
        return
    if not first and is_done(text):
        _summary(turn, person)
        return
    try:
        local = parse_when(text, person.zone, turn.now)
    except WhenError as when_error:
        if first or when_error.code != "bad_format" or when_error.hint:
            turn.reply_text(
                f"{when_error_text(turn, when_error)}\n\n{turn.render('step_help')}",
                keyboard=keyboard,
            )
            return
        try:
            series = parse_series(text)
        except WhenError as series_error:
            key = "sessions_series_too_many" if series_error.code == "too_many" else bad_key
            turn.reprompt(key, keyboard=keyboard)
            return
        _add_series(turn, person, series, data)
        return
    kind = _kind(data)
    try:
        session = turn.companion.add_session(person.id, local, kind, turn.now)
    except SessionRejected as exc:
        turn.reply_text(
            f"{when_error_text(turn, exc, local, person.zone)}\n\n{turn.render('step_help')}",
            keyboard=keyboard,
        )
        return
    turn.set_step(MORE, {"kind": kind.value, "last": session.id})
    saved, fold_keyboard = saved_text(turn, session, "sessions_added")
    overlap = overlap_note(turn, session)
    if overlap is not None:
        saved = f"{saved}\n{overlap}"
    if fold_keyboard is not None:
        turn.reply_text(saved, keyboard=fold_keyboard)
        saved = ""
    ask = turn.render("onboarding_ask_more")
    turn.reply_text(f"{saved}\n\n{ask}".strip(), keyboard=more_keyboard(turn))


def _add_series(turn: Turn, person: Person, series: Series, data: dict[str, Any]) -> None:
    """Repeat the last session entered on the pattern's weekdays, then finish with the summary."""
    companion = turn.companion
    last_id = data.get("last")
    last = companion.session(person.id, last_id) if isinstance(last_id, int) else None
    if last is None:
        turn.reprompt("onboarding_bad_more", keyboard=more_keyboard(turn))
        return
    result = companion.repeat(person.id, last.id, series.weekdays, series.count, turn.now)
    turn.reply_text(series_text(turn, result))
    _summary(turn, person)


def _summary(turn: Turn, person: Person) -> None:
    companion = turn.companion
    companion.end_step(turn.chat_id)
    sessions = companion.sessions(person.id)
    coming = [s for s in sessions if session_start(s) > turn.now]
    name = person.display_name
    if coming:
        numbering = companion.session_numbering(person.id)
        head = turn.render("onboarding_summary_head", name=name)
        head += "\n" + session_lines(turn, person, coming, numbering)
    else:
        head = turn.render("onboarding_summary_none", name=name)
    turn.reply_text(f"{head}\n\n{turn.render('onboarding_summary_tail')}")


# -- buttons --------------------------------------------------------------------------------------


def button(turn: Turn) -> None:
    """Every ``ob:`` button. A button from a step the chat is no longer in changes nothing."""
    data = turn.data
    state = turn.companion.step(turn.chat_id)
    step, dialog = state if state is not None else ("", {})
    person = turn.patient
    zone = OB_ZONE.match(data)
    kind = OB_KIND.match(data)
    series = OB_SERIES.match(data)
    if data == OB_OWN and turn.person is not None and turn.person.role is Role.FAMILY:
        turn.drop_buttons()
        turn.answer()
        _become_patient(turn)
    elif person is None:
        turn.stale()
    elif step == NAME and data == OB_NAME and (name := _telegram_name(turn)):
        turn.drop_buttons()
        turn.answer()
        _name_chosen(turn, person, name)
    elif step == ZONE and zone is not None and zone_ok(zone["zone"]):
        turn.drop_buttons()
        turn.answer()
        _zone_chosen(turn, person, zone["zone"])
    elif step == KIND and kind is not None and kind["kind"] in {k.value for k in Kind}:
        turn.drop_buttons()
        turn.answer()
        _go(turn, COUNT, {"kind": kind["kind"]})
    elif step == COUNT and (count := OB_COUNT.match(data)) is not None:
        turn.drop_buttons()
        turn.answer()
        _count_chosen(turn, person, int(count["count"]), dialog)
    elif step == MORE and series is not None and _series_ok(series["days"], series["count"]):
        turn.drop_buttons()
        turn.answer()
        pattern = Series(
            weekdays=tuple(sorted({int(d) for d in series["days"]})), count=int(series["count"])
        )
        _add_series(turn, person, pattern, dialog)
    elif step == MORE and data == OB_DONE:
        turn.drop_buttons()
        turn.answer()
        _summary(turn, person)
    else:
        turn.stale()


def _telegram_name(turn: Turn) -> str | None:
    try:
        return parse_name(clean_name(turn.first_name))
    except NameInputError:
        return None


def _series_ok(days: str, count: str) -> bool:
    return 2 <= int(count) <= MAX_SERIES and len(set(days)) == len(days)


def _kind(data: dict[str, Any]) -> Kind:
    value = data.get("kind")
    return Kind(value) if value in {k.value for k in Kind} else Kind.IV
