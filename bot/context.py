"""What every handler and job receives: a ``CallbackContext`` with one typed ``services`` property.

Handlers are written as ``async def name(update: Update, context: BotContext) -> None`` and reach
the domain through ``context.services`` instead of casting ``bot_data`` entries everywhere
(python-telegram-bot's ``examples/contexttypesbot.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.clock import Clock
from messages import Catalog
from scheduler.companion import Companion
from scheduler.dispatch import Dispatcher
from scheduler.model import DEFAULT_CRISIS_LINE
from scheduler.store.db import Database

# Until COMPANION_CONFIG exists: the US line, and a directory of every country's lines. Texts say
# "Call {crisis_line} now", so it must read as something to call.
SERVICES_KEY = "services"


@dataclass(frozen=True)
class Settings:
    """Operator settings: built-in defaults, replaced by what ``COMPANION_CONFIG`` says.

    Every field has a default so a deployment without a config file works as it always has.
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

    def crisis_line_for(self, language: str | None) -> str:
        """The crisis line for a person's language, else the deployment's default."""
        if language:
            wanted = language.split("-")[0].lower()
            for code, line in self.crisis_lines:
                if code == wanted:
                    return line
        return self.crisis_line


@dataclass
class Services:
    """The domain objects the bot uses, built once by ``bot.app.build_application``."""

    db: Database
    companion: Companion
    dispatcher: Dispatcher
    catalog: Catalog
    clock: Clock
    settings: Settings
    # Re-arms the dispatcher's timer at the earliest pending instant. The domain calls it after
    # every commit that changed what is due (``Companion(on_change=...)``); tools and tests that
    # write deliveries by other means call it themselves.
    rearm: Callable[[], None] = lambda: None
    dispatch_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class BotContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        return services_of(self.application)


CompanionApp = Application[
    ExtBot[Any],
    BotContext,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    JobQueue[BotContext],
]
# What ``context.application`` is typed as inside a job or handler.
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def services_of(application: AnyApplication) -> Services:
    services = application.bot_data.get(SERVICES_KEY)
    if not isinstance(services, Services):
        raise RuntimeError("no services: build the application with bot.app.build_application")
    return services
