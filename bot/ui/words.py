"""How sessions and mistakes are put into words, for every handler that shows one.

A session is shown in its own zone (where the patient entered it), and the zone is named where it
differs from the reader's own: a time without its zone is a time someone gets wrong.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime

from bot.parsing import LEGACY, WhenError, ZoneGuessError
from bot.ui.keyboards import zone_keyboard
from bot.ui.turn import Keyboard, Turn
from scheduler.companion import MAX_UPCOMING_SESSIONS, SessionRejected
from scheduler.localtime import NonexistentLocalTime, is_ambiguous, session_start, to_utc, zone_info
from scheduler.model import Person, Session
from scheduler.series import SeriesAdded

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


def session_values(session: Session, number: tuple[int, int] | None) -> dict[str, object]:
    """Placeholders for one session, shown in its own zone."""
    start = session_start(session).astimezone(zone_info(session.zone))
    n, total = number if number is not None else (1, 1)
    return {
        "session_date": start,
        "session_time": start,
        "zone": session.zone,
        "session_number": n,
        "series_length": total,
    }


def reader_values(session: Session, reader: Person) -> dict[str, object]:
    """A session's date and time in the reader's own zone (for family notes), with that zone."""
    local = session_start(session).astimezone(zone_info(reader.zone))
    return {"session_date": local, "session_time": local, "zone": reader.zone}


def session_lines(
    turn: Turn, person: Person, sessions: list[Session], numbering: Mapping[int, tuple[int, int]]
) -> str:
    """One line per session; the zone is named only where it differs from the person's own."""
    lines = []
    for session in sessions:
        key = "sessions_line" if session.zone == person.zone else "sessions_line_zone"
        lines.append(turn.render(key, **session_values(session, numbering.get(session.id))))
    return "\n".join(lines)


def saved_text(turn: Turn, session: Session, key: str) -> tuple[str, Keyboard | None]:
    """A saved session as understood, plus the fall-back note when its time happens twice."""
    numbering = turn.companion.session_numbering(session.patient_id)
    text = turn.render(key, **session_values(session, numbering.get(session.id)))
    local = session.local_start
    if local.fold == 0 and is_ambiguous(local.replace(fold=0), session.zone):
        start = session_start(session)
        note = turn.render(
            "sessions_ambiguous",
            session_time=start.astimezone(zone_info(session.zone)),
            local_time=start.astimezone(UTC),
        )
        return f"{text}\n{note}", [[(turn.label("sessions_second_time"), f"f1:{session.id}")]]
    return text, None


def when_error_text(
    turn: Turn,
    error: WhenError | SessionRejected,
    local: datetime | None = None,
    zone: str = "",
) -> str:
    """The kind re-prompt for a date and time we could not use; ``local``/``zone`` explain a gap."""
    if error.code == "upcoming_cap":
        return turn.render("sessions_upcoming_cap", count=MAX_UPCOMING_SESSIONS)
    if error.code == "nonexistent":
        gap = error.gap if isinstance(error, WhenError) else _gap(local, zone)
        if gap is not None:
            # The wall-clock times as the person's clock shows them: the gap has no offset of its
            # own, so they are shown "as is" by labelling them UTC.
            return turn.render(
                "sessions_when_nonexistent",
                session_date=gap.local.replace(tzinfo=UTC),
                session_time=gap.local.replace(tzinfo=UTC),
                local_time=gap.gap_start.replace(tzinfo=UTC),
                zone=gap.zone,
            )
    if isinstance(error, WhenError) and error.hint in _WHEN_HINTS:
        return turn.render(_WHEN_HINTS[error.hint])
    return turn.render(_WHEN_CODES.get(error.code, "sessions_when_bad"))


def _gap(local: datetime | None, zone: str) -> NonexistentLocalTime | None:
    if local is None or not zone:
        return None
    try:
        to_utc(local.replace(fold=0), zone)
    except NonexistentLocalTime as exc:
        return exc
    except ValueError:
        return None
    return None


def zone_error(turn: Turn, error: ZoneGuessError, prefix: str) -> tuple[str, Keyboard | None]:
    """The re-prompt for a zone we could not use, with buttons for what it may have meant. An
    abbreviation or offset (EST, GMT+1) names a clock, not a place, and is an hour off half the
    year: the person is asked which city they are in."""
    keyboard = zone_keyboard(error.suggestions, prefix, turn.locale) if error.suggestions else None
    if error.ask_city:
        key = "zone_ask_city_suggest" if keyboard else "zone_ask_city"
    elif error.code == LEGACY and keyboard:
        key = "zone_old_name"
    else:
        key = "sessions_zone_suggest" if keyboard else "sessions_zone_unknown"
    return turn.render(key), keyboard


def overlap_note(turn: Turn, session: Session) -> str | None:
    """A word when the session overlaps another one: saved all the same, since two
    appointments close together can be right, but a typo usually is not."""
    others = turn.companion.overlaps(session.patient_id, session.id)
    if not others:
        return None
    return turn.render("sessions_overlap", **session_values(others[0], None))


def series_text(turn: Turn, result: SeriesAdded, *, already: int = 0) -> str:
    """How many sessions a repeat added (plus ``already`` saved in the same step), and which
    dates it skipped and why, one a line."""
    lines = [turn.render("onboarding_series_added", count=len(result.added) + already)]
    # Dates past the cap on upcoming sessions are one line, not one each.
    capped = [item for item in result.skipped if item.code == "upcoming_cap"]
    listed = [item for item in result.skipped if item.code != "upcoming_cap"]
    if result.skipped:
        lines.append(turn.render("series_skipped_head"))
        if capped:
            lines.append(turn.render("series_skipped_upcoming_cap", count=len(capped)))
        for skipped in listed:
            shown = skipped.local_start.replace(tzinfo=UTC)  # the wall clock as typed
            lines.append(
                turn.render(
                    f"series_skipped_{skipped.code}", session_date=shown, session_time=shown
                )
            )
        lines.append(turn.render("series_skipped_tail"))
    return "\n".join(lines)


MAX_SHOWN_NAME = 32  # a first name; longer ones crowd the patient's approval prompt


def clean_name(raw: str) -> str:
    """A Telegram first name made safe to show: no bidi overrides or zero-width characters
    (Unicode format characters), no control characters, spaces collapsed, length capped."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(
        " " if not char.isprintable() else char
        for char in text
        if unicodedata.category(char) != "Cf"
    )
    return " ".join(text.split())[:MAX_SHOWN_NAME].strip()
