"""Every keyboard the handlers show, and the callback data their buttons carry.

Callback data is short ASCII (Telegram allows 64 bytes) and says what to do, never who may do it:
each use case re-checks that the thing named belongs to whoever pressed, so forged or stale data
changes nothing. Ids are never reused (the schema's AUTOINCREMENT), so an old button cannot act
on a new row.

    ob:name                 use the Telegram first name (set-up step "name")
    ob:z:<IANA zone>        this time zone (set-up step "zone")
    ob:k:<iv|nasal|other>   this session kind (set-up step "kind")
    ob:n:<count>            the series has this many sessions (set-up step "count")
    ob:s:<weekdays>:<n>     repeat on these weekdays (0 = Monday), n sessions in all ("more")
    ob:done                 no more sessions: show the summary ("more")
    mv:<session id>         move this session: ask for the new time
    cx:<session id>         cancel this session: ask to confirm
    cxy:<session id>        yes, cancel it
    cxn:<session id>        no, keep it
    f1:<session id>         an ambiguous fall-back time meant its second occurrence
    tz:<IANA zone>          /timezone: this suggested zone
    fi_rv:<invite id>       cancel this unused invite link (patient)
    fj:<token>              join with this invite (whoever opened the link)
    fj_no                   no thanks: nothing is stored
    fa:<link id> fd:<link id>            approve / decline this family member (patient)
    fr:<link id> fr_y:<link id> fr_n:<link id>   remove them: ask, yes, no (patient)
    fl_y / fl_n             /leave confirmed / not (family member; fl_y: every patient they help)
    fl:<link id>            /leave for this one patient (family member who helps several)
    rc_y:<session id>:<stamp>  rc_n:<session id>:<stamp>   the driver of a moved session: the
                            new time suits me / not (stamp: ``scheduler.companion.ride_stamp``)
    stop_y / stop_n         /stop confirmed / not
    forget_y / forget_n     /forget confirmed / not
    set:q:<2130|2200|2300|off>  quiet-hours preset
    set:w:<plain|discreet>  wording
    set:l:<locale code>     language
    got_it:<delivery id>  snooze_30:<delivery id>  ride:<delivery id>   on timed messages
                            (encoded and read by bot.sender: callback_data, parse_callback_data)
    issue 10 (notes, check-in, checklist), also ``<action>:<delivery id>`` on timed messages:
    win_<what>:<id>         a common small win, noted at once (function_first)
    win_own:<id>            write my own: the next text is the note
    checkin_<answer>:<id>   tonight's check-in answered: fine | side_effects | not_ok
    checklist_<q>_<yes|no>:<id>  a checklist answer: ride | meds | elevated
    noticed:<id>            a family member's "I noticed something" (family_next_day)
    and on replies:
    wk / wd                 keep / discard the note just written (its text is in the step)
    nk:<noticed id>         keep a family member's line as a win (patient)
    set:n:<on|off>          /settings: receive "I noticed" lines from family
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

from babel.dates import get_timezone_location

from bot.parsing import Series
from bot.ui.turn import Keyboard, Turn
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
SERIES_COUNTS = (3, 4, 6, 8)  # offered at the "how many sessions" step
_MAX_LABEL = 64

OB_NAME = "ob:name"
OB_DONE = "ob:done"
OB_OWN = "ob:own"  # a family member asks to set up their own sessions
OB_ZONE = re.compile(r"^ob:z:(?P<zone>[A-Za-z0-9_+/-]{1,58})$")
OB_KIND = re.compile(r"^ob:k:(?P<kind>[a-z]{1,10})$")
OB_COUNT = re.compile(r"^ob:n:(?P<count>\d{1,2})$")
OB_SERIES = re.compile(r"^ob:s:(?P<days>[0-6]{1,7}):(?P<count>\d{1,2})$")
_ID = r"(?P<id>\d{1,18})"
MOVE = re.compile(rf"^mv:{_ID}$")
CANCEL = re.compile(rf"^cx:{_ID}$")
CANCEL_YES = re.compile(rf"^cxy:{_ID}$")
CANCEL_NO = re.compile(rf"^cxn:{_ID}$")
SECOND_TIME = re.compile(rf"^f1:{_ID}$")
TIMEZONE = re.compile(r"^tz:(?P<zone>[A-Za-z0-9_+/-]{1,58})$")
JOIN = re.compile(r"^fj:(?P<token>[A-Za-z0-9_-]{1,64})$")
JOIN_NO = "fj_no"
REVOKE = re.compile(rf"^fi_rv:{_ID}$")
APPROVE = re.compile(rf"^fa:{_ID}$")
DECLINE = re.compile(rf"^fd:{_ID}$")
REMOVE = re.compile(rf"^fr:{_ID}$")
REMOVE_YES = re.compile(rf"^fr_y:{_ID}$")
REMOVE_NO = re.compile(rf"^fr_n:{_ID}$")
LEAVE_YES, LEAVE_NO = "fl_y", "fl_n"
LEAVE_ONE = re.compile(rf"^fl:{_ID}$")
RIDE_YES_PREFIX, RIDE_NO_PREFIX = "rc_y", "rc_n"
RIDE_ANSWER = re.compile(rf"^(?P<answer>rc_[yn]):{_ID}:(?P<stamp>\d{{12}}f?)$")
STOP_YES, STOP_NO = "stop_y", "stop_n"
FORGET_YES, FORGET_NO = "forget_y", "forget_n"
SETTING = re.compile(r"^set:(?P<what>[qwln]):(?P<value>[A-Za-z0-9_-]{1,16})$")
# The buttons the sender puts on timed messages (``bot.sender.callback_data`` encodes them).
DELIVERY_ACTIONS = ("got_it", "snooze_30", "ride")
DELIVERY_PATTERN = rf"^(?:{'|'.join(DELIVERY_ACTIONS)}):"


def match_id(pattern: re.Pattern[str], data: str) -> int | None:
    """The id a button names, or None when its data is not of that pattern."""
    found = pattern.match(data)
    return int(found["id"]) if found is not None else None


def zone_label(zone: str, locale: str | None = None) -> str:
    """``America/New_York`` -> ``New York``: the place, as people say it, in the reader's
    language where Babel knows it (``Nueva York``, ``Londres``)."""
    if locale:
        with contextlib.suppress(ValueError, LookupError):
            return str(
                get_timezone_location(zone, locale=locale.replace("-", "_"), return_city=True)
            )
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def _rows(buttons: Sequence[tuple[str, str]], width: int) -> Keyboard:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


def name_keyboard(first_name: str) -> Keyboard | None:
    name = first_name.strip()[:_MAX_LABEL]
    return [[(name, OB_NAME)]] if name else None


def zone_keyboard(zones: Sequence[str], prefix: str, locale: str | None = None) -> Keyboard:
    """One button per zone; ``prefix`` is ``ob:z:`` in set-up and ``tz:`` for /timezone."""
    return _rows([(zone_label(z, locale), prefix + z) for z in zones], 2)


def kind_keyboard(turn: Turn) -> Keyboard:
    return _rows([(turn.label(f"onboarding_kind_{k.value}"), f"ob:k:{k.value}") for k in Kind], 1)


def count_keyboard() -> Keyboard:
    return _rows([(str(n), f"ob:n:{n}") for n in SERIES_COUNTS], 4)


def series_data(series: Series) -> str:
    return f"ob:s:{''.join(str(day) for day in series.weekdays)}:{series.count}"


def more_keyboard(turn: Turn) -> Keyboard:
    buttons = [(turn.label(button), series_data(s)) for button, s in SERIES_BUTTONS]
    buttons.append((turn.label("onboarding_done"), OB_DONE))
    return _rows(buttons, 1)


def sessions_keyboard(turn: Turn, items: Sequence[tuple[int, int]]) -> Keyboard:
    """A row per session: Move n, Cancel n; ``items`` are (session id, session number)."""
    move, cancel = turn.label("sessions_move"), turn.label("sessions_cancel")
    return [[(f"{move} {n}", f"mv:{sid}"), (f"{cancel} {n}", f"cx:{sid}")] for sid, n in items]


def confirm_keyboard(turn: Turn, yes: tuple[str, str], no: tuple[str, str]) -> Keyboard:
    """Yes and No side by side: (label key, callback data) each."""
    return [[(turn.label(yes[0]), yes[1]), (turn.label(no[0]), no[1])]]


def stacked(turn: Turn, *buttons: tuple[str, str]) -> Keyboard:
    """One button a row: (label key, callback data) each."""
    return [[(turn.label(key), data)] for key, data in buttons]


# -- issue 10: notes, check-in, checklist ---------------------------------------------------------

# The common small wins on the next-morning message; the button id is the action, its label the
# win as noted.
WIN_BUTTONS = ("win_dressed", "win_outside", "win_called", "win_cooked", "win_chore")
WIN_OWN = "win_own"
CHECKIN_ANSWERS = ("fine", "side_effects", "not_ok")
# The checklist's questions in the order asked; the answer that only ever leads to "tell your
# clinic before the session starts".
CHECKLIST_QUESTIONS = ("ride", "meds", "elevated")
CHECKLIST_WORRYING = {"ride": "no", "meds": "no", "elevated": "yes"}
NOTICED = "noticed"
NOTES_ACTIONS = (
    *WIN_BUTTONS,
    WIN_OWN,
    *(f"checkin_{answer}" for answer in CHECKIN_ANSWERS),
    *(f"checklist_{q}_{a}" for q in CHECKLIST_QUESTIONS for a in ("yes", "no")),
    NOTICED,
)
NOTES_PATTERN = rf"^(?:{'|'.join(NOTES_ACTIONS)}):"
WIN_KEEP, WIN_DISCARD = "wk", "wd"
NOTICED_KEEP = re.compile(rf"^nk:{_ID}$")


def checklist_keyboard(turn: Turn, question: str, delivery_id: int) -> Keyboard:
    """Yes and No for one checklist question, on the message it was asked in."""
    return stacked(
        turn,
        (f"checklist_{question}_yes", f"checklist_{question}_yes:{delivery_id}"),
        (f"checklist_{question}_no", f"checklist_{question}_no:{delivery_id}"),
    )


def win_keyboard(turn: Turn) -> Keyboard:
    return confirm_keyboard(turn, ("win_keep", WIN_KEEP), ("win_discard", WIN_DISCARD))


def noticed_keyboard(label: str, noticed_id: int) -> Keyboard:
    """For the patient, in their language (``label`` is theirs, not the sender's)."""
    return [[(label, f"nk:{noticed_id}")]]
