"""``/pause [days]``, ``/resume``, ``/stop``, ``/settings``: for patients and family members alike.

Every change goes through the domain, which re-plans in the same transaction; the dispatcher's
timer follows by itself (``Companion(on_change=...)``).
"""

from __future__ import annotations

import re
from datetime import time, timedelta

from bot.ui.keyboards import SETTING, STOP_NO, STOP_YES, stacked
from bot.ui.rides import offer_open_rides, tell_lost
from bot.ui.turn import Keyboard, Turn
from messages import Wording
from scheduler.model import Person, QuietHours, Role

DEFAULT_PAUSE_DAYS = 3
MAX_PAUSE_DAYS = 30
QUIET_PRESETS: dict[str, QuietHours | None] = {
    "2130": QuietHours(time(21, 30), time(8, 0)),
    "2200": QuietHours(time(22, 0), time(7, 0)),
    "2300": QuietHours(time(23, 0), time(9, 0)),
    "off": None,
}
_PAUSE_ARG = re.compile(r"^(?P<days>\d{1,3})\s*(?:d|days?|d[ií]as?)?$")  # also "5 días"
_CHECK = "✓ "


def parse_pause_days(args: list[str]) -> int | None:
    """Days to pause from ``/pause`` arguments: none -> 3; ``5``, ``5d``, ``5 days``, ``5 días``;
    else None."""
    if not args:
        return DEFAULT_PAUSE_DAYS
    match = _PAUSE_ARG.match(" ".join(args).strip().lower())
    if match is None:
        return None
    days = int(match["days"])
    return days if 1 <= days <= MAX_PAUSE_DAYS else None


def pause(turn: Turn) -> None:
    person = turn.person
    if person is None:
        turn.reply("control_not_registered")
        return
    if person.stopped:
        turn.reply("control_already_stopped")
        return
    days = parse_pause_days(turn.args)
    if days is None:
        # Words after /pause may be the sentence that matters ("I can't cope"), as in a step.
        turn.reprompt("control_pause_usage")
        return
    turn.companion.pause(person.id, turn.now + timedelta(days=days), turn.now)
    if days == 1:
        turn.reply("control_paused_one")
    else:
        turn.reply("control_paused", days=days)


def resume(turn: Turn) -> None:
    person = turn.person
    if person is None:
        turn.reply("control_not_registered")
        return
    paused = person.paused_until is not None and person.paused_until > turn.now
    if not paused and not person.stopped:
        turn.reply("control_not_paused")
        return
    if person.paused_until is not None:
        turn.companion.resume(person.id, turn.now)
    if person.stopped:
        turn.companion.restart(person.id, turn.now)
    turn.reply("control_resumed")
    if person.stopped:
        offer_open_rides(turn, person)  # as /start does: their own button went when they claimed


def stop(turn: Turn) -> None:
    person = turn.person
    if person is None:
        turn.reply("control_not_registered")
        return
    if person.stopped:
        turn.reply("control_already_stopped")
        return
    ask = turn.render("control_stop_ask")
    if turn.companion.promised_rides(person.id, turn.now):
        # Said before they decide: stopping gives back the ride they promised.
        ask = f"{ask}\n{turn.render('ride_give_back_warning')}"
    turn.reply_text(
        ask,
        keyboard=stacked(turn, ("control_stop_yes", STOP_YES), ("control_stop_no", STOP_NO)),
    )


def stop_yes_button(turn: Turn) -> None:
    person = turn.person
    if person is None:
        turn.stale()
        return
    passed_on = False
    if not person.stopped:
        turn.companion.stop(person.id, turn.now)
        # A driver who stops gets no pick-up note: the ride goes now, and the patient hears it
        # (after the stop, so the driver is not among those asked again).
        passed_on = tell_lost(turn, turn.companion.release_promised(person.id, turn.now))
    stopped = turn.render("control_stopped")
    turn.settle_text(f"{stopped}\n{turn.render('ride_left_told')}" if passed_on else stopped)


def stop_no_button(turn: Turn) -> None:
    turn.settle("control_stop_kept")


def _quiet_key(quiet: QuietHours | None) -> str | None:
    for key, preset in QUIET_PRESETS.items():
        if preset == quiet:
            return key
    return None  # set some other way: no preset is ticked


def settings_keyboard(turn: Turn, person: Person) -> Keyboard:
    def option(key: str, data: str, chosen: bool) -> tuple[str, str]:
        text = turn.label(key)
        return (_CHECK + text if chosen else text, data)

    current = _quiet_key(person.quiet)
    quiet = [option(f"settings_quiet_{k}", f"set:q:{k}", k == current) for k in QUIET_PRESETS]
    wording = [
        option(f"settings_wording_{w.value}", f"set:w:{w.value}", person.wording is w)
        for w in Wording
    ]
    languages = [
        ((_CHECK if code == person.locale else "") + texts.name, f"set:l:{code}")
        for code, texts in sorted(turn.catalog.locales.items())
    ]
    rows = [quiet[:2], quiet[2:], wording, languages]
    if person.role is Role.PATIENT:  # issue 10: "I noticed" lines from family, off by default
        on = turn.companion.family_notes_on(person.id)
        rows.append(
            [
                option("settings_noticed_on", "set:n:on", on),
                option("settings_noticed_off", "set:n:off", not on),
            ]
        )
    return rows


def settings(turn: Turn) -> None:
    person = turn.person
    if person is None:
        turn.reply("control_not_registered")
        return
    turn.reply("settings_menu", keyboard=settings_keyboard(turn, person))


def setting_button(turn: Turn) -> None:
    match = SETTING.match(turn.data)
    person = turn.person
    if match is None or person is None:
        turn.stale()
        return
    companion, now = turn.companion, turn.now
    what, value = match["what"], match["value"]
    if what == "q" and value in QUIET_PRESETS:
        changed = QUIET_PRESETS[value] != person.quiet
        if changed:
            companion.set_quiet_hours(person.id, QUIET_PRESETS[value], now)
    elif what == "w" and value in {w.value for w in Wording}:
        changed = Wording(value) is not person.wording
        if changed:
            companion.set_wording(person.id, Wording(value), now)
    elif what == "l" and value in turn.catalog.locales:
        changed = value != person.locale
        if changed:
            companion.set_locale(person.id, value, now)
    elif what == "n" and value in ("on", "off") and person.role is Role.PATIENT:
        changed = (value == "on") != companion.family_notes_on(person.id)
        if changed:
            companion.set_family_notes(person.id, value == "on", now)
    else:
        turn.stale()
        return
    person = turn.refresh() or person
    turn.answer("settings_saved")
    if changed:  # editing to the same content is an error at Telegram
        turn.settle("settings_menu", keyboard=settings_keyboard(turn, person))
