"""The catalog's types: timeline entries (when and to whom) and per-locale wording (what).

Timing lives once, in ``timeline.toml``, because a reminder's timing is a clinical decision that
must not drift between languages; wording lives per locale in ``locales/<code>.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from enum import StrEnum

from messages.render import fill


class CatalogError(ValueError):
    """The catalog files are wrong; the message says which file, entry and field."""


class Audience(StrEnum):
    PATIENT = "patient"
    FAMILY = "family"


class Wording(StrEnum):
    """Plain names things; discreet never names the drug or the condition (lock screens)."""

    PLAIN = "plain"
    DISCREET = "discreet"


class Anchor(StrEnum):
    """The moment an entry's offset counts from."""

    SESSION_START = "session_start"
    SESSION_END = "session_end"  # start + expected duration (observation included)
    SERIES_START = "series_start"  # start of the first session of the series
    SERIES_END = "series_end"  # end of the last session of the series
    JOINED = "joined"  # the moment a family member's link was approved


_ELAPSED = re.compile(r"^(?P<sign>[+-]?)(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?$")
_WALL = re.compile(r"^(?P<sign>[+-]?)(?P<d>\d+)d (?P<hh>[01]\d|2[0-3]):(?P<mm>[0-5]\d)$")


@dataclass(frozen=True)
class Offset:
    """A point relative to an anchor.

    Two shapes, because people think of them differently:

    * wall-clock, ``"-1d 20:00"``: the calendar day ``days`` away from the anchor's local date, at
      ``clock`` in the recipient's zone ("the evening before at 20:00"); DST never moves it.
    * elapsed, ``"+2h"``, ``"-30m"``, ``"1h30m"``, ``"0m"``: exact elapsed time from the anchor.
    """

    days: int | None = None
    clock: time | None = None
    delta: timedelta = field(default_factory=timedelta)

    @property
    def is_wall_clock(self) -> bool:
        return self.clock is not None

    @classmethod
    def parse(cls, text: str) -> Offset:
        """Parse the catalog notation; raise ``ValueError`` with the accepted forms."""
        raw = text.strip()
        wall = _WALL.match(raw)
        if wall:
            days = int(wall["d"]) * (-1 if wall["sign"] == "-" else 1)
            return cls(days=days, clock=time(int(wall["hh"]), int(wall["mm"])))
        elapsed = _ELAPSED.match(raw)
        if elapsed and (elapsed["h"] is not None or elapsed["m"] is not None):
            minutes = int(elapsed["h"] or 0) * 60 + int(elapsed["m"] or 0)
            sign = -1 if elapsed["sign"] == "-" else 1
            return cls(delta=timedelta(minutes=sign * minutes))
        raise ValueError(
            f"bad offset {text!r}: use elapsed time like '-30m', '+2h', '1h30m', '0m', "
            "or a day and a local time like '-1d 20:00' or '+1d 09:30'"
        )

    def __str__(self) -> str:
        if self.clock is not None:
            return f"{self.days:+d}d {self.clock:%H:%M}"
        minutes = int(self.delta.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        hours, mins = divmod(abs(minutes), 60)
        return f"{sign}{hours}h{mins:02d}m"


@dataclass(frozen=True)
class TimelineEntry:
    """One timed message: the locale-independent half of a catalog entry."""

    id: str
    audience: Audience
    anchor: Anchor
    offset: Offset
    expires: Offset  # same anchor; after this point sending would be wrong or useless
    urgent: bool  # urgent messages ignore quiet hours (never their relevance)
    kinds: frozenset[str]  # session kinds it applies to: iv, nasal, other
    sessions: frozenset[int] | None  # only these session numbers (1-based); None = every session
    buttons: tuple[str, ...]  # button ids; labels are per locale
    order: int  # position in timeline.toml; breaks ties between equal instants
    # Only for sessions whose ride home is "claimed" (a family entry then goes to the driver
    # alone) or "unclaimed" (a patient entry then only when they have family who could drive);
    # None: whatever the ride.
    ride: str | None = None


@dataclass(frozen=True)
class EntryText:
    """The wording of one timeline entry in one locale."""

    topic: str
    plain: str
    discreet: str
    plain_with_driver: str | None = None  # used instead when a family member claimed the ride
    discreet_with_driver: str | None = None


@dataclass(frozen=True)
class LocaleTexts:
    code: str  # "en"
    name: str  # "English", shown in /settings
    date_format: str  # Babel pattern for a session's date, e.g. "EEEE d MMMM"
    time_format: str  # Babel pattern for a time, e.g. "HH:mm"
    sensitive_words: tuple[str, ...]  # must never appear in discreet or family wording
    entries: dict[str, EntryText]
    buttons: dict[str, str]
    replies: dict[str, str]


@dataclass(frozen=True)
class Rendered:
    """A message ready to send: HTML text plus button (id, label) pairs."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Catalog:
    """Everything the companion can say. Built only by ``load_catalog``, which validates it.

    Rendering lives here so callers need only the catalog: ``render_entry`` for timeline messages,
    ``render_reply`` for command replies, ``button_label`` and ``topic`` for the small pieces.
    Every ``locale`` argument falls back: ``"pt-BR"`` -> ``"pt"`` -> ``default_locale``.
    Values are HTML-escaped; aware datetimes show in their own zone with the locale's patterns.
    """

    timeline: tuple[TimelineEntry, ...]
    locales: dict[str, LocaleTexts]
    default_locale: str = "en"

    def entry(self, message_id: str) -> TimelineEntry:
        for item in self.timeline:
            if item.id == message_id:
                return item
        raise KeyError(message_id)

    def texts(self, locale: str | None) -> LocaleTexts:
        """The wording for ``locale``, or the nearest one the catalog has."""
        if locale:
            code = locale.replace("_", "-").lower()
            for candidate in (code, code.split("-")[0]):
                if candidate in self.locales:
                    return self.locales[candidate]
        return self.locales[self.default_locale]

    def render_entry(
        self,
        locale: str | None,
        message_id: str,
        wording: Wording,
        values: Mapping[str, object],
        *,
        with_driver: bool = False,
    ) -> Rendered:
        """A timeline message as HTML, with its buttons as (button id, label) in timeline order.

        ``with_driver`` picks the ``*_with_driver`` text where the entry has one (a family member
        claimed the ride home; pass ``driver_name``); other entries ignore it. ``values`` may hold
        more names than the text uses; a missing one raises ``KeyError``.
        """
        texts = self.texts(locale)
        item = self.entry(message_id)
        wording = Wording(wording)
        entry_text = texts.entries[message_id]
        template = entry_text.discreet if wording is Wording.DISCREET else entry_text.plain
        if with_driver:
            driver = (
                entry_text.discreet_with_driver
                if wording is Wording.DISCREET
                else entry_text.plain_with_driver
            )
            template = driver or template
        try:
            text = self._fill(texts, template, values)
        except KeyError as exc:
            raise KeyError(f"{message_id} ({texts.code}, {wording}): {exc.args[0]}") from exc
        buttons = tuple((button, texts.buttons[button]) for button in item.buttons)
        return Rendered(text=text, buttons=buttons)

    def render_reply(self, locale: str | None, reply_id: str, /, **values: object) -> str:
        """A command reply as HTML, e.g. ``render_reply("en", "help", crisis_line="988")``."""
        texts = self.texts(locale)
        try:
            return self._fill(texts, texts.replies[reply_id], values)
        except KeyError as exc:
            raise KeyError(f"reply {reply_id} ({texts.code}): {exc.args[0]}") from exc

    def button_label(self, locale: str | None, button_id: str) -> str:
        """A button's label (plain text, not HTML)."""
        return self.texts(locale).buttons[button_id]

    def topic(self, locale: str | None, message_id: str) -> str:
        """A timeline entry's short topic, for lists and previews; never names the drug."""
        return self.texts(locale).entries[message_id].topic

    @staticmethod
    def _fill(texts: LocaleTexts, template: str, values: Mapping[str, object]) -> str:
        return fill(
            template,
            values,
            locale=texts.code.replace("-", "_"),  # Babel spells "pt-br" as "pt_BR"
            date_format=texts.date_format,
            time_format=texts.time_format,
        )
