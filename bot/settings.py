"""The operator's settings, apart from Telegram: ``python -m bot preview`` and ``check-config``
read them without loading python-telegram-bot. ``bot.config`` builds them from the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from babel.core import get_global

from scheduler.model import (
    DEFAULT_CRISIS_LINE,
    DEFAULT_CRISIS_LINE_BY_LANGUAGE,
    DEFAULT_QUIET_HOURS,
    Kind,
    QuietHours,
)


@dataclass(frozen=True)
class Settings:
    """Operator settings: built-in defaults, replaced by what ``COMPANION_CONFIG`` says.

    Every field has a default so a deployment without a config file works as it always has.
    ``bot.config`` reads the file into one of these; README "Running it for a clinic" lists the
    keys.
    """

    deployment_name: str = "Session Companion"
    crisis_line: str = DEFAULT_CRISIS_LINE  # plain text; the catalog escapes it
    # By the person's language code ("es"); a language not listed falls back to crisis_line.
    crisis_lines: tuple[tuple[str, str], ...] = ()
    # The clinic's own line, shown in /help and wherever the bot says "tell your provider".
    clinic_contact: str | None = None
    # A new patient's zone until they choose theirs (set-up asks at once; /timezone changes it).
    default_zone: str = "America/New_York"
    # Optional messages between sessions (issue 10); an operator may switch them off.
    checkin_enabled: bool = True
    checklist_enabled: bool = True
    # Days after a series ends before its sessions and deliveries are erased.
    retention_days: int = 90
    # Chats that may use /stats (counts only).
    admin_chat_ids: frozenset[int] = frozenset()
    # A directory of catalog files that replace, add or switch off built-in messages.
    catalog_overlay: str | None = None
    # Webhook mode (python -m bot takes updates at this public URL instead of long polling).
    webhook_url: str | None = None
    # Telegram's X-Telegram-Bot-Api-Secret-Token: never logged, and left out of repr().
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_listen: str = "127.0.0.1"  # behind a reverse proxy that terminates TLS
    webhook_port: int = 8443
    # The quiet hours a new person starts with (None: none); /settings changes a person's own.
    quiet_hours: QuietHours | None = DEFAULT_QUIET_HOURS
    # Expected session length by kind, observation included, in minutes; a kind not listed
    # keeps the built-in length (scheduler.model.DEFAULT_DURATION).
    session_minutes: tuple[tuple[Kind, int], ...] = ()
    # By the country of the person's time zone ("GB"); wins over crisis_lines, since a
    # language is spoken in many countries with different lines.
    crisis_lines_by_country: tuple[tuple[str, str], ...] = ()

    @property
    def switched_off(self) -> frozenset[str]:
        """Timeline entries this deployment does not send (issue 10's optional messages): the
        planner never plans them, so nothing of them is queued or shown as pending."""
        off = set()
        if not self.checkin_enabled:
            off.add("checkin")
        if not self.checklist_enabled:
            off.add("checklist")
        return frozenset(off)

    def crisis_line_for(self, language: str | None, zone: str | None = None) -> str:
        """The crisis line for a person: by the country of their time zone (``zone``), else by
        their language ("pt-br", then "pt"), else the deployment's default."""
        if zone and self.crisis_lines_by_country:
            lines = dict(self.crisis_lines_by_country)
            country = country_of(zone)
            if country in lines:
                return lines[country]
        if language:
            code = language.replace("_", "-").lower()
            lines = dict(self.crisis_lines)
            for wanted in (code, code.split("-")[0]):
                if wanted in lines:
                    return lines[wanted]
            if self.crisis_line == DEFAULT_CRISIS_LINE:  # the built-in one, in their words
                return DEFAULT_CRISIS_LINE_BY_LANGUAGE.get(code.split("-")[0], self.crisis_line)
        return self.crisis_line

    @property
    def durations(self) -> dict[Kind, timedelta]:
        """The operator's session lengths, as the domain takes them."""
        return {kind: timedelta(minutes=minutes) for kind, minutes in self.session_minutes}


def country_of(zone: str) -> str | None:
    """The ISO country of an IANA zone ("Europe/London" -> "GB"; old names like "US/Eastern"
    too), or None for zones of no country ("UTC")."""
    canonical = get_global("zone_aliases").get(zone, zone)
    country = get_global("zone_territories").get(canonical)
    return str(country) if country else None


def known_countries() -> frozenset[str]:
    """Every country some time zone belongs to: what ``[crisis_lines_by_country]`` may name."""
    return frozenset(str(code) for code in get_global("zone_territories").values())
