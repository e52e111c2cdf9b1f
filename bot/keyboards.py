"""Inline keyboards for onboarding and sessions, and the callback data their buttons carry.

Callback data is short ASCII (Telegram allows 64 bytes) and says what to do, never who may do it:
every handler re-checks that the thing named belongs to whoever pressed, so forged or stale data
changes nothing.

    ob:name                 use the Telegram first name (onboarding step "name")
    ob:z:<IANA zone>        this time zone (onboarding step "zone")
    ob:k:<iv|nasal|other>   this session kind (onboarding step "kind")
    ob:s:<weekdays>:<n>     repeat on these weekdays (0 = Monday), n sessions in all ("more")
    ob:done                 no more sessions: show the summary ("more")
    mv:<session id>         move this session: ask for the new time
    cx:<session id>         cancel this session: ask to confirm
    cxy:<session id>        yes, cancel it
    cxn:<session id>        no, keep it
    f1:<session id>         an ambiguous fall-back time meant its second occurrence
    tz:<IANA zone>          /timezone: this suggested zone
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.parsing import Series
from messages import Catalog
from scheduler.model import Kind

# Offered as buttons while choosing a zone; anything else can be typed.
COMMON_ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Australia/Sydney",
)
# Repeat patterns offered as buttons after the first session: (button id, pattern).
SERIES_BUTTONS = (
    ("onboarding_series_mwf", Series(weekdays=(0, 2, 4), count=6)),
    ("onboarding_series_tuth", Series(weekdays=(1, 3), count=6)),
)
_MAX_LABEL = 64

OB_NAME = "ob:name"
OB_DONE = "ob:done"
OB_ZONE = re.compile(r"^ob:z:(?P<zone>[A-Za-z0-9_+/-]{1,58})$")
OB_KIND = re.compile(r"^ob:k:(?P<kind>[a-z]{1,10})$")
OB_SERIES = re.compile(r"^ob:s:(?P<days>[0-6]{1,7}):(?P<count>\d{1,2})$")
OB_ANY = r"^ob:"
MOVE = re.compile(r"^mv:(?P<id>\d{1,18})$")
CANCEL = re.compile(r"^cx:(?P<id>\d{1,18})$")
CANCEL_YES = re.compile(r"^cxy:(?P<id>\d{1,18})$")
CANCEL_NO = re.compile(r"^cxn:(?P<id>\d{1,18})$")
SECOND_TIME = re.compile(r"^f1:(?P<id>\d{1,18})$")
TIMEZONE = re.compile(r"^tz:(?P<zone>[A-Za-z0-9_+/-]{1,58})$")


def series_data(series: Series) -> str:
    return f"ob:s:{''.join(str(day) for day in series.weekdays)}:{series.count}"


def zone_label(zone: str) -> str:
    """``America/New_York`` -> ``New York``: the place, as people say it."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def _rows(buttons: Sequence[InlineKeyboardButton], width: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]
    )


def name_keyboard(first_name: str) -> InlineKeyboardMarkup | None:
    name = first_name.strip()[:_MAX_LABEL]
    if not name:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(name, callback_data=OB_NAME)]])


def zone_keyboard(zones: Sequence[str], prefix: str) -> InlineKeyboardMarkup:
    """One button per zone; ``prefix`` is ``ob:z:`` in onboarding and ``tz:`` for /timezone."""
    buttons = [InlineKeyboardButton(zone_label(z), callback_data=prefix + z) for z in zones]
    return _rows(buttons, 2)


def kind_keyboard(catalog: Catalog, locale: str | None) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            catalog.button_label(locale, f"onboarding_kind_{kind.value}"),
            callback_data=f"ob:k:{kind.value}",
        )
        for kind in Kind
    ]
    return _rows(buttons, 1)


def more_keyboard(catalog: Catalog, locale: str | None) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(catalog.button_label(locale, button), callback_data=series_data(s))
        for button, s in SERIES_BUTTONS
    ]
    buttons.append(
        InlineKeyboardButton(catalog.button_label(locale, "onboarding_done"), callback_data=OB_DONE)
    )
    return _rows(buttons, 1)


def sessions_keyboard(
    catalog: Catalog, locale: str | None, items: Sequence[tuple[int, int]]
) -> InlineKeyboardMarkup:
    """A row per session: Move n, Cancel n; ``items`` are (session id, session number)."""
    move = catalog.button_label(locale, "sessions_move")
    cancel = catalog.button_label(locale, "sessions_cancel")
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(f"{move} {number}", callback_data=f"mv:{session_id}"),
                InlineKeyboardButton(f"{cancel} {number}", callback_data=f"cx:{session_id}"),
            ]
            for session_id, number in items
        ]
    )


def cancel_keyboard(catalog: Catalog, locale: str | None, session_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    catalog.button_label(locale, "sessions_cancel_yes"),
                    callback_data=f"cxy:{session_id}",
                ),
                InlineKeyboardButton(
                    catalog.button_label(locale, "sessions_cancel_no"),
                    callback_data=f"cxn:{session_id}",
                ),
            ]
        ]
    )


def second_time_keyboard(
    catalog: Catalog, locale: str | None, session_id: int
) -> InlineKeyboardMarkup:
    label = catalog.button_label(locale, "sessions_second_time")
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=f"f1:{session_id}")]])
