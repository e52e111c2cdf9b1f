"""``/pause [days]``, ``/resume``, ``/stop``, ``/settings``: for patients and family members alike.

Every change goes through the domain, which re-plans in the same transaction; the dispatcher is
re-armed right after. Callback data:

    stop_y / stop_n           /stop confirmed / not
    set:q:<2130|2200|2300|off>  quiet-hours preset
    set:w:<plain|discreet>    wording
    set:l:<locale code>       language (one of the catalog's locales)

A stopped person's plain ``/start``, or that of someone who had blocked the bot (marked gone),
brings the messages back (``RESTART_GROUP``) instead of walking them through setup again.
"""

from __future__ import annotations

import re
from datetime import time, timedelta

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, CommandHandler

from bot.context import BotContext, CompanionApp
from bot.handlers.basics import locale_for
from bot.handlers.family import chat_person, keyboard, label, reply, settle, stale
from messages import Wording
from scheduler.model import Person, QuietHours

DEFAULT_PAUSE_DAYS = 3
MAX_PAUSE_DAYS = 30
# After onboarding's dialog-ending group (-2), before group 0 where onboarding's /start lives.
RESTART_GROUP = -1
QUIET_PRESETS: dict[str, QuietHours | None] = {
    "2130": QuietHours(time(21, 30), time(8, 0)),
    "2200": QuietHours(time(22, 0), time(7, 0)),
    "2300": QuietHours(time(23, 0), time(9, 0)),
    "off": None,
}
STOP_YES = "stop_y"
STOP_NO = "stop_n"
SETTING = re.compile(r"^set:(?P<what>[qwl]):(?P<value>[A-Za-z0-9_-]{1,16})$")
_PAUSE_ARG = re.compile(r"^(?P<days>\d{1,3})\s*(?:d|days?)?$")
_CHECK = "✓ "


async def _known(update: Update, context: BotContext) -> Person | None:
    person = chat_person(update, context)
    if person is None:
        await reply(update, context, "control_not_registered")
    return person


# -- /pause /resume -------------------------------------------------------------------------------


def parse_pause_days(args: list[str]) -> int | None:
    """Days to pause from ``/pause`` arguments: none -> 3; ``5``, ``5d``, ``5 days``; else None."""
    if not args:
        return DEFAULT_PAUSE_DAYS
    match = _PAUSE_ARG.match(" ".join(args).strip().lower())
    if match is None:
        return None
    days = int(match["days"])
    return days if 1 <= days <= MAX_PAUSE_DAYS else None


async def pause_command(update: Update, context: BotContext) -> None:
    person = await _known(update, context)
    if person is None:
        return
    if person.stopped:
        await reply(update, context, "control_already_stopped")
        return
    days = parse_pause_days(list(context.args or []))
    if days is None:
        await reply(update, context, "control_pause_usage")
        return
    services = context.services
    now = services.clock.now()
    services.companion.pause(person.id, now + timedelta(days=days), now)
    services.rearm()
    if days == 1:
        await reply(update, context, "control_paused_one")
    else:
        await reply(update, context, "control_paused", days=days)


async def resume_command(update: Update, context: BotContext) -> None:
    person = await _known(update, context)
    if person is None:
        return
    services = context.services
    now = services.clock.now()
    paused = person.paused_until is not None and person.paused_until > now
    if not paused and not person.stopped:
        await reply(update, context, "control_not_paused")
        return
    if person.paused_until is not None:
        services.companion.resume(person.id, now)
    if person.stopped:
        services.companion.restart(person.id, now)
    services.rearm()
    await reply(update, context, "control_resumed")


# -- /stop and the way back -----------------------------------------------------------------------


async def stop_command(update: Update, context: BotContext) -> None:
    person = await _known(update, context)
    if person is None:
        return
    if person.stopped:
        await reply(update, context, "control_already_stopped")
        return
    locale = locale_for(update, context)
    await reply(
        update,
        context,
        "control_stop_ask",
        markup=keyboard(
            [(label(context, locale, "control_stop_yes"), STOP_YES)],
            [(label(context, locale, "control_stop_no"), STOP_NO)],
        ),
    )


async def stop_yes_button(update: Update, context: BotContext) -> None:
    person = chat_person(update, context)
    if person is None:
        await stale(update, context)
        return
    services = context.services
    if not person.stopped:
        services.companion.stop(person.id, services.clock.now())
        services.rearm()
    await settle(update, context, "control_stopped")


async def stop_no_button(update: Update, context: BotContext) -> None:
    await settle(update, context, "control_stop_kept")


async def restart_on_start(update: Update, context: BotContext) -> None:
    """Plain /start from someone who stopped, or who blocked the bot (marked gone) and is back:
    messages back on, data as it was, no new setup."""
    person = chat_person(update, context)
    if person is None:
        return  # onboarding's /start runs as usual
    services = context.services
    state = services.companion.people.state(person.id)
    if not person.stopped and (state is None or not state.gone):
        return
    services.companion.restart(person.id, services.clock.now())
    services.rearm()
    await reply(update, context, "control_restarted")
    raise ApplicationHandlerStop


# -- /settings ------------------------------------------------------------------------------------


def _quiet_key(quiet: QuietHours | None) -> str | None:
    for key, preset in QUIET_PRESETS.items():
        if preset == quiet:
            return key
    return None  # set some other way: no preset is ticked


def settings_keyboard(context: BotContext, person: Person) -> InlineKeyboardMarkup:
    catalog = context.services.catalog
    locale = person.locale

    def option(key: str, data: str, chosen: bool) -> tuple[str, str]:
        text = label(context, locale, key)
        return (_CHECK + text if chosen else text, data)

    current = _quiet_key(person.quiet)
    quiet = [option(f"settings_quiet_{k}", f"set:q:{k}", k == current) for k in QUIET_PRESETS]
    wording = [
        option(f"settings_wording_{w.value}", f"set:w:{w.value}", person.wording is w)
        for w in Wording
    ]
    languages = [
        ((_CHECK if code == locale else "") + texts.name, f"set:l:{code}")
        for code, texts in sorted(catalog.locales.items())
    ]
    return keyboard(quiet[:2], quiet[2:], wording, languages)


async def settings_command(update: Update, context: BotContext) -> None:
    person = await _known(update, context)
    if person is None:
        return
    await reply(update, context, "settings_menu", markup=settings_keyboard(context, person))


async def setting_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    match = SETTING.match(query.data or "")
    person = chat_person(update, context)
    services = context.services
    companion = services.companion
    now = services.clock.now()
    if match is None or person is None:
        await stale(update, context)
        return
    what, value = match["what"], match["value"]
    if what == "q" and value in QUIET_PRESETS:
        changed = QUIET_PRESETS[value] != person.quiet
        if changed:
            person = companion.set_quiet_hours(person.id, QUIET_PRESETS[value], now)
    elif what == "w" and value in {w.value for w in Wording}:
        changed = Wording(value) is not person.wording
        if changed:
            person = companion.set_wording(person.id, Wording(value), now)
    elif what == "l" and value in services.catalog.locales:
        changed = value != person.locale
        if changed:
            person = companion.set_locale(person.id, value, now)
    else:
        await stale(update, context)
        return
    locale = locale_for(update, context)
    await query.answer(services.catalog.render_reply(locale, "settings_saved"))
    if not changed:
        return  # editing to the same content is an error at Telegram
    services.rearm()
    await query.edit_message_text(
        services.catalog.render_reply(locale, "settings_menu"),
        reply_markup=settings_keyboard(context, person),
    )


def register(application: CompanionApp) -> None:
    application.add_handler(
        CommandHandler("start", restart_on_start, has_args=False), group=RESTART_GROUP
    )
    application.add_handler(CommandHandler("pause", pause_command))
    application.add_handler(CommandHandler("resume", resume_command))
    application.add_handler(CommandHandler("stop", stop_command))
    application.add_handler(CommandHandler("settings", settings_command))
    application.add_handler(CallbackQueryHandler(stop_yes_button, pattern=rf"^{STOP_YES}$"))
    application.add_handler(CallbackQueryHandler(stop_no_button, pattern=rf"^{STOP_NO}$"))
    application.add_handler(CallbackQueryHandler(setting_button, pattern=r"^set:"))
