"""``/start`` without a payload: a short welcome, then guided steps, one question at a time.

    name  -> zone  -> kind  -> first  -> more  -> summary
    (a)      (b)      (c)      (d)       (e)      (f)

The step lives in the ``dialogs`` table, not in memory, so a restart continues where the person
was. Each step takes typed text or its buttons; anything else (a sticker, a photo, a date in the
past) gets a kind re-prompt and stores nothing. Any command ends the step: a handler in
``COMMAND_GROUP`` clears the dialog before the command's own handler runs.

The patient is registered at step (b), the first moment there is a zone to plan in; ``/start``
again walks through the steps anew and keeps the sessions already entered.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import BotContext, CompanionApp
from bot.handlers.basics import locale_for, stale_button
from bot.handlers.sessions import (
    DialogMessageHandler,
    dialog_step,
    patient_of,
    saved_text,
    session_lines,
    when_error_text,
    zone_error,
)
from bot.keyboards import (
    COMMON_ZONES,
    OB_DONE,
    OB_KIND,
    OB_NAME,
    OB_SERIES,
    OB_ZONE,
    kind_keyboard,
    more_keyboard,
    name_keyboard,
    zone_keyboard,
)
from bot.parsing import (
    MAX_NAME,
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
    series_starts,
    zone_ok,
)
from scheduler.companion import SessionRejected
from scheduler.localtime import session_start, zone_info
from scheduler.model import Kind, Person

NAME, ZONE, KIND, FIRST, MORE = "ob_name", "ob_zone", "ob_kind", "ob_first", "ob_more"
STEPS = (NAME, ZONE, KIND, FIRST, MORE)
# Before the private-chat guard's group (-1): clearing a dialog must happen before any command
# runs, and the handler filters for private chats itself, so groups still store nothing.
COMMAND_GROUP = -2
_ZONE_PREFIX = "ob:z:"


# -- /start ---------------------------------------------------------------------------------------


async def start_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    services = context.services
    catalog = services.catalog
    locale = locale_for(update, context)
    welcome = catalog.render_reply(
        locale, "onboarding_welcome", crisis_line=services.settings.crisis_line
    )
    person = patient_of(update, context)
    if person is not None and services.companion.sessions(person.id):
        welcome += "\n\n" + catalog.render_reply(locale, "onboarding_restart")
    services.companion.dialogs.set(chat.id, NAME, {}, services.clock.now())
    await message.reply_text(welcome)
    user = update.effective_user
    await message.reply_text(
        catalog.render_reply(locale, "onboarding_ask_name"),
        reply_markup=name_keyboard(user.first_name if user is not None else ""),
        do_quote=False,
    )


async def end_dialog_on_command(update: Update, context: BotContext) -> None:
    """Any command ends the guided step the chat was in; the command itself then runs."""
    chat = update.effective_chat
    if chat is not None and context.services.companion.dialogs.get(chat.id) is not None:
        context.services.companion.dialogs.clear(chat.id)


# -- typed answers --------------------------------------------------------------------------------


async def step_message(update: Update, context: BotContext) -> None:
    """Whatever the person sent while a step waits: text is the answer, anything else is not."""
    message = update.effective_message
    state = dialog_step(update, context)
    if message is None or state is None:
        return
    step, data = state
    text = message.text or ""
    if step == NAME:
        await _name_answer(update, context, text)
    elif step == ZONE:
        await _zone_answer(update, context, text, data)
    elif step == KIND:
        await _kind_answer(update, context, text)
    elif step == FIRST:
        await _when_answer(update, context, text, data, first=True)
    elif step == MORE:
        await _when_answer(update, context, text, data, first=False)


async def _name_answer(update: Update, context: BotContext, text: str) -> None:
    try:
        name = parse_name(text)
    except NameInputError:
        user = update.effective_user
        await _reply(
            update,
            context,
            "onboarding_bad_name",
            markup=name_keyboard(user.first_name if user is not None else ""),
        )
        return
    await _name_chosen(update, context, name)


async def _name_chosen(update: Update, context: BotContext, name: str) -> None:
    _set_step(update, context, ZONE, {"name": name})
    await _reply(
        update,
        context,
        "onboarding_ask_zone",
        name=name,
        markup=zone_keyboard(COMMON_ZONES, _ZONE_PREFIX),
    )


async def _zone_answer(
    update: Update, context: BotContext, text: str, data: dict[str, Any]
) -> None:
    catalog = context.services.catalog
    locale = locale_for(update, context)
    if not text:
        await _reply(
            update,
            context,
            "sessions_zone_unknown",
            markup=zone_keyboard(COMMON_ZONES, _ZONE_PREFIX),
        )
        return
    try:
        zone = parse_zone(text)
    except ZoneGuessError as exc:
        reprompt, markup = zone_error(catalog, locale, exc, _ZONE_PREFIX)
        await _send(update, reprompt, markup or zone_keyboard(COMMON_ZONES, _ZONE_PREFIX))
        return
    await _zone_chosen(update, context, zone, data)


async def _zone_chosen(
    update: Update, context: BotContext, zone: str, data: dict[str, Any]
) -> None:
    services = context.services
    chat = update.effective_chat
    assert chat is not None
    now = services.clock.now()
    user = update.effective_user
    name = data.get("name")
    if not isinstance(name, str) or not name:
        name = (user.first_name if user is not None else "") or ""
    companion = services.companion
    person = companion.register_patient(chat.id, name, zone, now)
    if person.display_name != name:
        person = companion.set_display_name(person.id, name, now)
    if person.zone != zone:
        person = companion.set_zone(person.id, zone, now)
    services.rearm()
    _set_step(update, context, KIND, {})
    locale = locale_for(update, context)
    zone_set = services.catalog.render_reply(
        locale, "onboarding_zone_set", zone=zone, local_time=now.astimezone(zone_info(zone))
    )
    ask = services.catalog.render_reply(locale, "onboarding_ask_kind")
    await _send(update, f"{zone_set}\n\n{ask}", kind_keyboard(services.catalog, locale))


async def _kind_answer(update: Update, context: BotContext, text: str) -> None:
    try:
        kind = parse_kind(text) if text else None
    except KindError:
        kind = None
    if kind is None:
        catalog = context.services.catalog
        await _reply(
            update,
            context,
            "onboarding_bad_kind",
            markup=kind_keyboard(catalog, locale_for(update, context)),
        )
        return
    await _kind_chosen(update, context, kind)


async def _kind_chosen(update: Update, context: BotContext, kind: Kind) -> None:
    if patient_of(update, context) is None:
        await _not_registered(update, context)
        return
    _set_step(update, context, FIRST, {"kind": kind.value})
    await _reply(update, context, "onboarding_ask_first")


async def _when_answer(
    update: Update, context: BotContext, text: str, data: dict[str, Any], *, first: bool
) -> None:
    """Step (d) takes one date; step (e) also takes a repeat pattern or "done"."""
    services = context.services
    catalog = services.catalog
    locale = locale_for(update, context)
    person = patient_of(update, context)
    if person is None:
        await _not_registered(update, context)
        return
    bad_key = "sessions_when_bad" if first else "onboarding_bad_more"
    markup = None if first else more_keyboard(catalog, locale)
    if not text:
        await _reply(update, context, bad_key, markup=markup)
        return
    if not first and is_done(text):
        await _summary(update, context, person)
        return
    now = services.clock.now()
    try:
        local = parse_when(text, person.zone, now)
    except WhenError as when_error:
        if first or when_error.code != "bad_format" or when_error.hint:
            await _send(update, when_error_text(catalog, locale, when_error), markup)
            return
        try:
            series = parse_series(text)
        except WhenError as series_error:
            key = "sessions_series_too_many" if series_error.code == "too_many" else bad_key
            await _reply(update, context, key, markup=markup)
            return
        await _add_series(update, context, person, series, data)
        return
    kind = _kind(data)
    try:
        session = services.companion.add_session(person.id, local, kind, now)
    except SessionRejected as exc:
        await _send(update, when_error_text(catalog, locale, exc, local, person.zone), markup)
        return
    services.rearm()
    _set_step(update, context, MORE, {"kind": kind.value, "last": session.id})
    saved, fold_markup = saved_text(catalog, locale, context, session, "sessions_added")
    if fold_markup is not None:
        await _send(update, saved, fold_markup)
        saved = ""
    ask = catalog.render_reply(locale, "onboarding_ask_more")
    await _send(update, f"{saved}\n\n{ask}".strip(), more_keyboard(catalog, locale))


async def _add_series(
    update: Update, context: BotContext, person: Person, series: Series, data: dict[str, Any]
) -> None:
    """Repeat the last session entered on the pattern's weekdays, then finish with the summary."""
    services = context.services
    companion = services.companion
    last_id = data.get("last")
    last = companion.session(person.id, last_id) if isinstance(last_id, int) else None
    if last is None:
        await _reply(update, context, "onboarding_bad_more")
        return
    now = services.clock.now()
    added = skipped = 0
    for local in series_starts(last.local_start.replace(fold=0), series):
        try:
            companion.add_session(person.id, local, last.kind, now)
        except SessionRejected:
            skipped += 1
        else:
            added += 1
    services.rearm()
    locale = locale_for(update, context)
    text = services.catalog.render_reply(locale, "onboarding_series_added", count=added)
    if skipped:
        skipped_text = services.catalog.render_reply(
            locale, "onboarding_series_skipped", count=skipped
        )
        text = f"{text}\n{skipped_text}"
    await _send(update, text)
    await _summary(update, context, person)


async def _summary(update: Update, context: BotContext, person: Person) -> None:
    services = context.services
    catalog = services.catalog
    chat = update.effective_chat
    assert chat is not None
    services.companion.dialogs.clear(chat.id)
    locale = locale_for(update, context)
    sessions = services.companion.sessions(person.id)
    now = services.clock.now()
    coming = [s for s in sessions if session_start(s) > now]
    name = person.display_name
    if coming:
        numbering = services.companion.session_numbering(person.id)
        head = catalog.render_reply(locale, "onboarding_summary_head", name=name)
        head += "\n" + session_lines(catalog, locale, person, coming, numbering)
    else:
        head = catalog.render_reply(locale, "onboarding_summary_none", name=name)
    tail = catalog.render_reply(locale, "onboarding_summary_tail")
    await _send(update, f"{head}\n\n{tail}")


# -- buttons --------------------------------------------------------------------------------------


async def onboarding_button(update: Update, context: BotContext) -> None:
    """Every ``ob:`` button. A button from a step the chat is no longer in changes nothing."""
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    state = dialog_step(update, context)
    step, dialog = state if state is not None else ("", {})
    zone = OB_ZONE.match(data)
    kind = OB_KIND.match(data)
    series = OB_SERIES.match(data)
    if step == NAME and data == OB_NAME and (name := _telegram_name(update)):
        await _accept(update)
        await _name_chosen(update, context, name)
    elif step == ZONE and zone is not None and zone_ok(zone["zone"]):
        await _accept(update)
        await _zone_chosen(update, context, zone["zone"], dialog)
    elif step == KIND and kind is not None and kind["kind"] in {k.value for k in Kind}:
        await _accept(update)
        await _kind_chosen(update, context, Kind(kind["kind"]))
    elif step == MORE and series is not None and _series_ok(series["days"], series["count"]):
        person = patient_of(update, context)
        if person is None:
            await stale_button(update, context)
            return
        await _accept(update)
        pattern = Series(
            weekdays=tuple(sorted({int(d) for d in series["days"]})), count=int(series["count"])
        )
        await _add_series(update, context, person, pattern, dialog)
    elif step == MORE and data == OB_DONE:
        person = patient_of(update, context)
        if person is None:
            await stale_button(update, context)
            return
        await _accept(update)
        await _summary(update, context, person)
    else:
        await stale_button(update, context)


def _telegram_name(update: Update) -> str | None:
    user = update.effective_user
    try:
        return parse_name(user.first_name[:MAX_NAME]) if user is not None else None
    except NameInputError:
        return None


def _series_ok(days: str, count: str) -> bool:
    return 2 <= int(count) <= MAX_SERIES and len(set(days)) == len(days)


async def _accept(update: Update) -> None:
    """Answer the press and take the buttons off that message, so old choices can't linger."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(None)


# -- small helpers --------------------------------------------------------------------------------


def _kind(data: dict[str, Any]) -> Kind:
    value = data.get("kind")
    return Kind(value) if value in {k.value for k in Kind} else Kind.IV


async def _not_registered(update: Update, context: BotContext) -> None:
    chat = update.effective_chat
    if chat is not None:
        context.services.companion.dialogs.clear(chat.id)
    await _reply(update, context, "sessions_not_registered")


def _set_step(update: Update, context: BotContext, step: str, data: dict[str, Any]) -> None:
    chat = update.effective_chat
    assert chat is not None
    context.services.companion.dialogs.set(chat.id, step, data, context.services.clock.now())


async def _reply(
    update: Update,
    context: BotContext,
    key: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **values: object,
) -> None:
    text = context.services.catalog.render_reply(locale_for(update, context), key, **values)
    await _send(update, text, markup)


async def _send(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(text, reply_markup=markup)


def register(application: CompanionApp) -> None:
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.COMMAND,
            end_dialog_on_command,
        ),
        group=COMMAND_GROUP,
    )
    # has_args=False: "/start <invite token>" is the family module's deep link, registered later.
    application.add_handler(CommandHandler("start", start_command, has_args=False))
    application.add_handler(CallbackQueryHandler(onboarding_button, pattern=r"^ob:"))
    application.add_handler(DialogMessageHandler(application, STEPS, step_message))
