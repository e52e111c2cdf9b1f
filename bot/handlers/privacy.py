"""``/export`` (a JSON file of everything stored, plus an .ics of a patient's sessions) and
``/forget`` (after a confirm button, every row about the person is erased). Both work for
patients and family members.

Callback data: ``forget_y`` / ``forget_n``.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.calendar import CalendarEvent, build_calendar, session_uid
from bot.context import BotContext, CompanionApp
from bot.handlers.basics import locale_for
from bot.handlers.family import chat_person, keyboard, label, protect, reply, settle, stale
from messages import Catalog, Wording
from scheduler.companion import Companion
from scheduler.localtime import session_start
from scheduler.model import Person

EXPORT_FILENAME = "companion-export.json"
CALENDAR_FILENAME = "sessions.ics"
FORGET_YES = "forget_y"
FORGET_NO = "forget_n"
_TAG = re.compile(r"<[^>]+>")


def export_document(companion: Companion, person: Person) -> bytes:
    """Everything stored about the person, as pretty UTF-8 JSON."""
    data = companion.export(person.id)
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def calendar_document(
    companion: Companion, catalog: Catalog, person: Person, now: datetime
) -> bytes | None:
    """The patient's active sessions as iCalendar, or None when there are none."""
    sessions = companion.sessions(person.id)
    if not sessions:
        return None
    numbering = companion.session_numbering(person.id)
    key = (
        "privacy_calendar_plain" if person.wording is Wording.PLAIN else "privacy_calendar_discreet"
    )
    events = []
    for session in sessions:
        number, total = numbering.get(session.id, (1, len(sessions)))
        summary = catalog.render_reply(
            person.locale, key, session_number=number, series_length=total
        )
        events.append(
            CalendarEvent(
                uid=session_uid(session.id),
                start=session_start(session),
                duration=session.expected_duration,
                # The catalog speaks Telegram HTML; a calendar wants plain text.
                summary=html.unescape(_TAG.sub("", summary)),
            )
        )
    return build_calendar(events, now=now)


async def export_command(update: Update, context: BotContext) -> None:
    person = chat_person(update, context)
    chat = update.effective_chat
    if person is None or chat is None:
        await reply(update, context, "privacy_nothing")
        return
    services = context.services
    locale = locale_for(update, context)
    catalog = services.catalog
    await chat.send_document(
        export_document(services.companion, person),
        filename=EXPORT_FILENAME,
        caption=catalog.render_reply(locale, "privacy_export_caption"),
        protect_content=protect(person),
    )
    calendar = calendar_document(services.companion, catalog, person, services.clock.now())
    if calendar is not None:
        await chat.send_document(
            calendar,
            filename=CALENDAR_FILENAME,
            caption=catalog.render_reply(locale, "privacy_calendar_caption"),
            protect_content=protect(person),
        )


async def forget_command(update: Update, context: BotContext) -> None:
    if chat_person(update, context) is None:
        await reply(update, context, "privacy_nothing")
        return
    locale = locale_for(update, context)
    await reply(
        update,
        context,
        "privacy_forget_ask",
        markup=keyboard(
            [(label(context, locale, "privacy_forget_yes"), FORGET_YES)],
            [(label(context, locale, "privacy_forget_no"), FORGET_NO)],
        ),
    )


async def forget_yes_button(update: Update, context: BotContext) -> None:
    person = chat_person(update, context)
    chat = update.effective_chat
    if person is None or chat is None:
        await stale(update, context)
        return
    services = context.services
    locale = locale_for(update, context)  # read before the row that holds it is gone
    services.companion.forget(person.id, services.clock.now())
    services.rearm()
    application = context.application
    application.drop_chat_data(chat.id)
    if update.effective_user is not None:
        application.drop_user_data(update.effective_user.id)
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(services.catalog.render_reply(locale, "privacy_forgotten"))


async def forget_no_button(update: Update, context: BotContext) -> None:
    await settle(update, context, "privacy_forget_kept")


def register(application: CompanionApp) -> None:
    application.add_handler(CommandHandler("export", export_command))
    application.add_handler(CommandHandler("forget", forget_command))
    application.add_handler(CallbackQueryHandler(forget_yes_button, pattern=rf"^{FORGET_YES}$"))
    application.add_handler(CallbackQueryHandler(forget_no_button, pattern=rf"^{FORGET_NO}$"))
