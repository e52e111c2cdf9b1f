"""``/export`` (a JSON file of everything stored, plus an .ics of a patient's sessions) and
``/forget`` (after a confirm button, every row about the person is erased). Both work for
patients and family members.
"""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import datetime

from telegram.error import TelegramError

from bot.calendar import CalendarEvent, build_calendar, session_uid
from bot.ui.keyboards import FORGET_NO, FORGET_YES, stacked
from bot.ui.rides import tell_lost
from bot.ui.turn import Turn
from messages import Catalog, Wording
from scheduler.companion import Companion
from scheduler.localtime import session_start
from scheduler.model import Person, Role

_LOGGER = logging.getLogger(__name__)

EXPORT_FILENAME = "companion-export.json"
CALENDAR_FILENAME = "sessions.ics"
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


def export(turn: Turn) -> None:
    """The files are made from what is stored now and sent after the commit: documents do not
    go through the message queue, so a failed upload is answered with a note to try again."""
    person = turn.person
    if person is None:
        turn.reply("privacy_nothing")
        return
    documents = [
        (export_document(turn.companion, person), EXPORT_FILENAME, "privacy_export_caption")
    ]
    calendar = calendar_document(turn.companion, turn.catalog, person, turn.now)
    if calendar is not None:
        documents.append((calendar, CALENDAR_FILENAME, "privacy_calendar_caption"))
    protect = person.role is not Role.PATIENT
    chat_id = turn.chat_id

    async def send() -> None:
        for content, filename, caption in documents:
            try:
                await turn.context.bot.send_document(
                    chat_id,
                    content,
                    filename=filename,
                    caption=turn.render(caption),
                    protect_content=protect,
                )
            except TelegramError as exc:
                _LOGGER.info("export not sent (%s)", type(exc).__name__)
                turn.queue_now(turn.render("privacy_export_failed"))
                return

    turn.later(send)


def forget(turn: Turn) -> None:
    if turn.person is None:
        turn.reply("privacy_nothing")
        return
    ask = turn.render("privacy_forget_ask")
    if turn.companion.promised_rides(turn.person.id, turn.now):
        ask = f"{ask}\n{turn.render('ride_give_back_warning')}"
    turn.reply_text(
        ask,
        keyboard=stacked(
            turn, ("privacy_forget_yes", FORGET_YES), ("privacy_forget_no", FORGET_NO)
        ),
    )


def forget_yes_button(turn: Turn) -> None:
    person = turn.person
    if person is None:
        turn.stale()
        return
    locale = turn.locale  # read before the row that holds it is gone
    # Rides they promised go with their data: each patient hears it in this same step.
    lost = turn.companion.promised_rides(person.id, turn.now)
    turn.companion.forget(person.id, turn.now)
    tell_lost(turn, lost)
    turn.refresh()
    turn.language = locale
    turn.settle("privacy_forgotten")


def forget_no_button(turn: Turn) -> None:
    turn.settle("privacy_forget_kept")
