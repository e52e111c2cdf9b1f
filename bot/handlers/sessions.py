"""``/add``, ``/sessions`` (move and cancel buttons), ``/timezone``; and the session wording that
onboarding shares (a session as understood, a date the person must fix).

Every change re-plans in the domain and re-arms the dispatcher at once. Family members learn of a
move or a cancel in one neutral line (``protect_content``): the new date, never what it is for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import AnyApplication, BotContext, CompanionApp, services_of
from bot.handlers.basics import locale_for, stale_button
from bot.keyboards import (
    CANCEL,
    CANCEL_NO,
    CANCEL_YES,
    COMMON_ZONES,
    MOVE,
    SECOND_TIME,
    TIMEZONE,
    cancel_keyboard,
    second_time_keyboard,
    sessions_keyboard,
    zone_keyboard,
)
from bot.parsing import (
    KindError,
    WhenError,
    ZoneGuessError,
    parse_kind,
    parse_when,
    parse_zone,
    zone_ok,
)
from messages import Catalog
from scheduler.companion import SessionChange, SessionRejected
from scheduler.localtime import NonexistentLocalTime, is_ambiguous, session_start, to_utc, zone_info
from scheduler.model import Kind, Person, Role, Session

_LOGGER = logging.getLogger(__name__)

MOVE_STEP = "mv"  # dialog step: waiting for a moved session's new date and time
_WHEN_HINTS = {
    "numeric_date": "sessions_when_numeric",
    "no_such_date": "sessions_when_no_such_date",
    "weekday_mismatch": "sessions_when_weekday",
}
_WHEN_CODES = {
    "missing_time": "sessions_when_missing_time",
    "past": "sessions_when_past",
    "too_far": "sessions_when_too_far",
    "duplicate": "sessions_when_duplicate",
    "too_many": "sessions_series_too_many",
    "not_found": "button_stale",
}

Callback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


# -- the dialog plumbing both modules use ---------------------------------------------------------


class DialogMessageHandler(MessageHandler[BotContext, None]):
    """Takes a private, non-command message only while the chat's dialog is at one of ``steps``.

    Outside those steps it declines, so the update goes on to other handlers (and finally to the
    "I only understand commands" fallback). Any message type matches, so a sticker or a voice
    note in the middle of a step gets the step's kind re-prompt instead of silence.
    """

    def __init__(self, application: AnyApplication, steps: Collection[str], callback: Callback):
        super().__init__(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.COMMAND, callback
        )
        self._application = application
        self._steps = frozenset(steps)

    def check_update(self, update: object) -> bool | dict[str, list[Any]] | None:
        matched = super().check_update(update)
        if not matched or not isinstance(update, Update) or update.effective_chat is None:
            return False
        state = services_of(self._application).companion.dialogs.get(update.effective_chat.id)
        return matched if state is not None and state[0] in self._steps else False


def dialog_step(update: Update, context: BotContext) -> tuple[str, dict[str, Any]] | None:
    chat = update.effective_chat
    return None if chat is None else context.services.companion.dialogs.get(chat.id)


def patient_of(update: Update, context: BotContext) -> Person | None:
    chat = update.effective_chat
    if chat is None:
        return None
    person = context.services.companion.person_by_chat(chat.id)
    return person if person is not None and person.role is Role.PATIENT else None


async def registered_patient(update: Update, context: BotContext) -> tuple[Message, Person] | None:
    """The command's message and its sender as a patient; anyone else is pointed to /start."""
    message = update.effective_message
    if message is None:
        return None
    person = patient_of(update, context)
    if person is None:
        locale = locale_for(update, context)
        await message.reply_text(
            context.services.catalog.render_reply(locale, "sessions_not_registered")
        )
        return None
    return message, person


# -- session wording ------------------------------------------------------------------------------


def session_values(session: Session, number: tuple[int, int] | None) -> dict[str, object]:
    """Placeholders for one session, shown in its own zone (where the patient entered it)."""
    start = session_start(session).astimezone(zone_info(session.zone))
    n, total = number if number is not None else (1, 1)
    return {
        "session_date": start,
        "session_time": start,
        "zone": session.zone,
        "session_number": n,
        "series_length": total,
    }


def session_lines(
    catalog: Catalog,
    locale: str | None,
    person: Person,
    sessions: list[Session],
    numbering: Mapping[int, tuple[int, int]],
) -> str:
    """One line per session; the zone is named only where it differs from the person's own."""
    lines = []
    for session in sessions:
        key = "sessions_line" if session.zone == person.zone else "sessions_line_zone"
        lines.append(
            catalog.render_reply(locale, key, **session_values(session, numbering.get(session.id)))
        )
    return "\n".join(lines)


def saved_text(
    catalog: Catalog, locale: str | None, context: BotContext, session: Session, key: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A saved session as understood, plus the fall-back note when its time happens twice."""
    numbering = context.services.companion.session_numbering(session.patient_id)
    text = catalog.render_reply(locale, key, **session_values(session, numbering.get(session.id)))
    local = session.local_start
    if session.local_start.fold == 0 and is_ambiguous(local.replace(fold=0), session.zone):
        start = session_start(session)
        note = catalog.render_reply(
            locale,
            "sessions_ambiguous",
            session_time=start.astimezone(zone_info(session.zone)),
            local_time=start.astimezone(UTC),
        )
        return f"{text}\n{note}", second_time_keyboard(catalog, locale, session.id)
    return text, None


def when_error_text(
    catalog: Catalog,
    locale: str | None,
    error: WhenError | SessionRejected,
    local: datetime | None = None,
    zone: str = "",
) -> str:
    """The kind re-prompt for a date and time we could not use; ``local``/``zone`` explain a gap."""
    if error.code == "nonexistent":
        gap = error.gap if isinstance(error, WhenError) else _gap(local, zone)
        if gap is not None:
            # The wall-clock times as the person's clock shows them: the gap has no offset of its
            # own, so they are shown "as is" by labelling them UTC.
            return catalog.render_reply(
                locale,
                "sessions_when_nonexistent",
                session_date=gap.local.replace(tzinfo=UTC),
                session_time=gap.local.replace(tzinfo=UTC),
                local_time=gap.gap_start.replace(tzinfo=UTC),
                zone=gap.zone,
            )
    if isinstance(error, WhenError) and error.hint in _WHEN_HINTS:
        return catalog.render_reply(locale, _WHEN_HINTS[error.hint])
    return catalog.render_reply(locale, _WHEN_CODES.get(error.code, "sessions_when_bad"))


def _gap(local: datetime | None, zone: str) -> NonexistentLocalTime | None:
    if local is None or not zone_ok(zone):
        return None
    try:
        to_utc(local.replace(fold=0), zone)
    except NonexistentLocalTime as exc:
        return exc
    return None


def upcoming(context: BotContext, person: Person) -> list[Session]:
    now = context.services.clock.now()
    return [s for s in context.services.companion.sessions(person.id) if session_start(s) > now]


# -- /add -----------------------------------------------------------------------------------------


async def add_command(update: Update, context: BotContext) -> None:
    found = await registered_patient(update, context)
    if found is None:
        return
    message, person = found
    services = context.services
    locale = locale_for(update, context)
    args = list(context.args or [])
    if not args:
        await message.reply_text(services.catalog.render_reply(locale, "sessions_add_usage"))
        return
    kind = _default_kind(context, person)
    if len(args) > 1:
        try:
            kind = parse_kind(args[-1])
            args = args[:-1]
        except KindError:
            pass
    now = services.clock.now()
    local: datetime | None = None
    try:
        local = parse_when(" ".join(args), person.zone, now)
        session = services.companion.add_session(person.id, local, kind, now)
    except (WhenError, SessionRejected) as exc:
        text = when_error_text(services.catalog, locale, exc, local, person.zone)
        await message.reply_text(text)
        return
    services.rearm()
    text, markup = saved_text(services.catalog, locale, context, session, "sessions_added")
    await message.reply_text(text, reply_markup=markup)


def _default_kind(context: BotContext, person: Person) -> Kind:
    """The kind of the session added last: a series is nearly always one kind."""
    sessions = context.services.companion.sessions(person.id)
    return max(sessions, key=lambda s: s.id).kind if sessions else Kind.IV


# -- /sessions, move, cancel ----------------------------------------------------------------------


async def sessions_command(update: Update, context: BotContext) -> None:
    found = await registered_patient(update, context)
    if found is None:
        return
    message, person = found
    services = context.services
    locale = locale_for(update, context)
    coming = upcoming(context, person)
    if not coming:
        await message.reply_text(services.catalog.render_reply(locale, "sessions_list_none"))
        return
    numbering = services.companion.session_numbering(person.id)
    head = services.catalog.render_reply(locale, "sessions_list_head")
    lines = session_lines(services.catalog, locale, person, coming, numbering)
    keyboard = sessions_keyboard(
        services.catalog, locale, [(s.id, numbering.get(s.id, (0, 0))[0]) for s in coming]
    )
    await message.reply_text(f"{head}\n{lines}", reply_markup=keyboard)


async def _own_upcoming(
    update: Update, context: BotContext, pattern: re.Pattern[str]
) -> tuple[Person, Session] | None:
    """The pressing patient's upcoming session the button names; otherwise answer "no longer
    valid" and return None. Forged ids, other people's sessions and past ones all end here."""
    query = update.callback_query
    assert query is not None
    match = pattern.match(query.data or "")
    person = patient_of(update, context)
    session = None
    if match is not None and person is not None:
        session = context.services.companion.session(person.id, int(match["id"]))
        if session is not None and session_start(session) <= context.services.clock.now():
            session = None
    if person is None or session is None:
        await stale_button(update, context)
        return None
    return person, session


async def move_button(update: Update, context: BotContext) -> None:
    found = await _own_upcoming(update, context, MOVE)
    if found is None:
        return
    person, session = found
    services = context.services
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    await query.answer()
    services.companion.dialogs.set(
        update.effective_chat.id, MOVE_STEP, {"session_id": session.id}, services.clock.now()
    )
    numbering = services.companion.session_numbering(person.id)
    text = services.catalog.render_reply(
        locale_for(update, context),
        "sessions_move_ask",
        **session_values(session, numbering.get(session.id)),
    )
    await _send(update, text)


async def move_text(update: Update, context: BotContext) -> None:
    """The new date and time for the session being moved (dialog step ``mv``)."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    services = context.services
    locale = locale_for(update, context)
    state = dialog_step(update, context)
    person = patient_of(update, context)
    session_id = state[1].get("session_id") if state is not None else None
    if person is None or not isinstance(session_id, int):
        services.companion.dialogs.clear(chat.id)
        await message.reply_text(services.catalog.render_reply(locale, "button_stale"))
        return
    if not message.text:
        await message.reply_text(services.catalog.render_reply(locale, "sessions_when_bad"))
        return
    now = services.clock.now()
    local: datetime | None = None
    try:
        local = parse_when(message.text, person.zone, now)
        change = services.companion.move_session(person.id, session_id, local, now)
    except (WhenError, SessionRejected) as exc:
        if exc.code == "not_found":
            services.companion.dialogs.clear(chat.id)
        await message.reply_text(when_error_text(services.catalog, locale, exc, local, person.zone))
        return
    services.companion.dialogs.clear(chat.id)
    services.rearm()
    text, markup = saved_text(services.catalog, locale, context, change.session, "sessions_moved")
    await message.reply_text(text, reply_markup=markup)
    await tell_family(context, change, "sessions_family_moved")


async def cancel_button(update: Update, context: BotContext) -> None:
    found = await _own_upcoming(update, context, CANCEL)
    if found is None:
        return
    person, session = found
    services = context.services
    query = update.callback_query
    assert query is not None
    await query.answer()
    locale = locale_for(update, context)
    numbering = services.companion.session_numbering(person.id)
    text = services.catalog.render_reply(
        locale, "sessions_cancel_ask", **session_values(session, numbering.get(session.id))
    )
    await _send(update, text, cancel_keyboard(services.catalog, locale, session.id))


async def cancel_yes_button(update: Update, context: BotContext) -> None:
    found = await _own_upcoming(update, context, CANCEL_YES)
    if found is None:
        return
    person, session = found
    services = context.services
    query = update.callback_query
    assert query is not None
    values = session_values(session, None)
    try:
        change = services.companion.cancel_session(person.id, session.id, services.clock.now())
    except SessionRejected:
        await stale_button(update, context)
        return
    services.rearm()
    await query.answer()
    text = services.catalog.render_reply(
        locale_for(update, context), "sessions_cancelled", **values
    )
    await query.edit_message_text(text)
    await tell_family(context, change, "sessions_family_cancelled")


async def cancel_no_button(update: Update, context: BotContext) -> None:
    found = await _own_upcoming(update, context, CANCEL_NO)
    if found is None:
        return
    query = update.callback_query
    assert query is not None
    await query.answer()
    text = context.services.catalog.render_reply(locale_for(update, context), "sessions_kept")
    await query.edit_message_text(text)


async def second_time_button(update: Update, context: BotContext) -> None:
    """An ambiguous fall-back time meant its second occurrence: re-time the session (fold 1)."""
    found = await _own_upcoming(update, context, SECOND_TIME)
    if found is None:
        return
    person, session = found
    services = context.services
    query = update.callback_query
    assert query is not None
    local = session.local_start.replace(fold=0)
    if session.local_start.fold == 1 or not is_ambiguous(local, session.zone):
        await stale_button(update, context)
        return
    try:
        change = services.companion.move_session(
            person.id, session.id, local, services.clock.now(), fold=1
        )
    except SessionRejected:
        await stale_button(update, context)
        return
    services.rearm()
    await query.answer()
    start = session_start(change.session)
    text = services.catalog.render_reply(
        locale_for(update, context),
        "sessions_second_time_set",
        session_date=start.astimezone(zone_info(change.session.zone)),
        session_time=start.astimezone(zone_info(change.session.zone)),
        local_time=start.astimezone(UTC),
    )
    await query.edit_message_reply_markup(None)
    await _send(update, text)
    await tell_family(context, change, "sessions_family_moved")


async def tell_family(context: BotContext, change: SessionChange, key: str) -> None:
    """One neutral line to each family member who gets messages, in their zone and language."""
    services = context.services
    start = session_start(change.session)
    for person_id in change.family_ids:
        member = services.companion.person(person_id)
        if member is None:
            continue
        local = start.astimezone(zone_info(member.zone))
        text = services.catalog.render_reply(
            member.locale, key, session_date=local, session_time=local
        )
        try:
            await context.bot.send_message(member.chat_id, text, protect_content=True)
        except TelegramError as exc:
            # The change is made and planned either way; a blocked chat must not undo it.
            _LOGGER.info("could not tell a family member about a change (%s)", type(exc).__name__)


async def _send(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(text, reply_markup=markup)


# -- /timezone ------------------------------------------------------------------------------------


async def timezone_command(update: Update, context: BotContext) -> None:
    found = await registered_patient(update, context)
    if found is None:
        return
    message, person = found
    services = context.services
    locale = locale_for(update, context)
    text = " ".join(context.args or [])
    if not text:
        await message.reply_text(
            services.catalog.render_reply(locale, "sessions_timezone_usage", zone=person.zone),
            reply_markup=zone_keyboard(COMMON_ZONES, "tz:"),
        )
        return
    try:
        zone = parse_zone(text)
    except ZoneGuessError as exc:
        reprompt, markup = zone_error(services.catalog, locale, exc, "tz:")
        await message.reply_text(reprompt, reply_markup=markup)
        return
    await _set_zone(update, context, person, zone)


async def timezone_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    match = TIMEZONE.match(query.data or "")
    person = patient_of(update, context)
    if match is None or person is None or not zone_ok(match["zone"]):
        await stale_button(update, context)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    await _set_zone(update, context, person, match["zone"])


async def _set_zone(update: Update, context: BotContext, person: Person, zone: str) -> None:
    services = context.services
    now = services.clock.now()
    services.companion.set_zone(person.id, zone, now)
    services.rearm()
    text = services.catalog.render_reply(
        locale_for(update, context),
        "sessions_timezone_set",
        zone=zone,
        local_time=now.astimezone(zone_info(zone)),
    )
    await _send(update, text)


def zone_error(
    catalog: Catalog, locale: str | None, error: ZoneGuessError, prefix: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The re-prompt for an unknown zone, with buttons for close matches if there are any."""
    if error.suggestions:
        return (
            catalog.render_reply(locale, "sessions_zone_suggest"),
            zone_keyboard(error.suggestions, prefix),
        )
    return catalog.render_reply(locale, "sessions_zone_unknown"), None


def register(application: CompanionApp) -> None:
    application.add_handler(CommandHandler("add", add_command))
    application.add_handler(CommandHandler("sessions", sessions_command))
    application.add_handler(CommandHandler("timezone", timezone_command))
    application.add_handler(CallbackQueryHandler(move_button, pattern=r"^mv:"))
    application.add_handler(CallbackQueryHandler(cancel_button, pattern=r"^cx:"))
    application.add_handler(CallbackQueryHandler(cancel_yes_button, pattern=r"^cxy:"))
    application.add_handler(CallbackQueryHandler(cancel_no_button, pattern=r"^cxn:"))
    application.add_handler(CallbackQueryHandler(second_time_button, pattern=r"^f1:"))
    application.add_handler(CallbackQueryHandler(timezone_button, pattern=r"^tz:"))
    application.add_handler(DialogMessageHandler(application, {MOVE_STEP}, move_text))
