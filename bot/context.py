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
from bot.settings import Settings as Settings  # where handlers have always found it
from messages import Catalog
from scheduler.companion import Companion
from scheduler.dispatch import Dispatcher
from scheduler.store.db import Database

SERVICES_KEY = "services"


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
