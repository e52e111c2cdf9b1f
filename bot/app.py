"""The composition root: the one place that builds the PTB ``Application`` and wires everything.

``run()`` is ``python -m bot``: environment in, long polling until SIGINT/SIGTERM, exit code out.
``build_application`` is what the tests and the offline demo use, against the fake Bot API.

The dispatcher is woken by exactly one job, named ``dispatch``, set for the earliest pending
delivery and re-armed after every dispatch and every change (``services.rearm()``); a 60-second
safety tick covers anything the timer could miss (a clock jump, a failed dispatch). The deliveries
table stays the one record of what is due: the jobs only say "look now".
"""

from __future__ import annotations

import html
import importlib
import logging
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken
from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes, Defaults, JobQueue

from bot.clock import Clock, SystemClock
from bot.context import (
    SERVICES_KEY,
    AnyApplication,
    BotContext,
    CompanionApp,
    Services,
    Settings,
    services_of,
)
from bot.errors import configure_logging, on_error
from bot.handlers import basics
from bot.sender import TelegramSender
from messages import Catalog, load_catalog
from scheduler.companion import Companion
from scheduler.dispatch import Dispatcher, DispatchReport
from scheduler.store.db import Database
from scheduler.store.deliveries import Deliveries

_LOGGER = logging.getLogger(__name__)

DISPATCH_JOB = "dispatch"
SAFETY_TICK_JOB = "dispatch-safety-tick"
SAFETY_TICK_SECONDS = 60.0
# APScheduler drops a job that starts more than 1 s late unless told otherwise: never drop, and
# run a backlog of missed runs once.
JOB_KWARGS: dict[str, Any] = {"misfire_grace_time": None, "coalesce": True}
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
]
# Feature modules under bot/handlers, registered in this order (each has ``register(app)``).
# Order matters: family registers the deep-link ``/start <token>`` handler, which must come
# before onboarding's plain ``/start`` (PTB's deeplinking example does the same).
FEATURE_MODULES = ("family", "onboarding", "sessions", "reminders", "control", "privacy")
# The patient's command menu, in the order Telegram shows it.
PATIENT_COMMANDS = (
    "start",
    "sessions",
    "add",
    "invite",
    "family",
    "settings",
    "pause",
    "resume",
    "stop",
    "export",
    "forget",
    "help",
)
_COMMAND_NAME = re.compile(r"/([a-z_]+)")
_TAG = re.compile(r"<[^>]+>")
BOTFATHER_HINT = (
    "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather in Telegram, then run "
    "TELEGRAM_BOT_TOKEN=<token> python -m bot"
)


def build_application(
    *,
    token: str,
    db_path: str | Path,
    base_url: str | None = None,
    clock: Clock | None = None,
    catalog: Catalog | None = None,
    rate_limit: bool = True,
    settings: Settings | None = None,
) -> CompanionApp:
    """The whole bot, not yet started: handlers, error handler, services, start-up hooks."""
    catalog = catalog if catalog is not None else load_catalog()
    settings = settings if settings is not None else Settings()
    # Typed loosely: the rate limiter changes the bot's type parameter, and the result is pinned
    # to CompanionApp below.
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(token)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .context_types(ContextTypes(context=BotContext))
        .job_queue(JobQueue())
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if base_url:
        builder = builder.base_url(base_url).base_file_url(file_url_for(base_url))
    if rate_limit:
        # Global and per-group limits; per-chat spacing of private chats is TelegramSender's.
        builder = builder.rate_limiter(AIORateLimiter())
    application: CompanionApp = builder.build()
    db = Database(db_path)
    application.bot_data[SERVICES_KEY] = Services(
        db=db,
        companion=Companion(db, catalog.timeline),
        dispatcher=Dispatcher(
            db, catalog, TelegramSender(application.bot), crisis_line=settings.crisis_line
        ),
        catalog=catalog,
        clock=clock if clock is not None else SystemClock(),
        settings=settings,
        rearm=lambda: arm_dispatcher(application),
    )
    register_handlers(application)
    return application


def file_url_for(base_url: str) -> str:
    """``http://host:8081/bot`` -> ``http://host:8081/file/bot``, as a local Bot API serves."""
    stripped = base_url.rstrip("/")
    if stripped.endswith("/bot"):
        return stripped[: -len("/bot")] + "/file/bot"
    return stripped + "/file/bot"


def register_handlers(application: CompanionApp) -> None:
    """Every handler, in one place. Order matters: within a group the first match wins, and
    every group runs, lowest first, until a handler raises ``ApplicationHandlerStop``."""
    # 1. The lowest group (GUARD_GROUP): groups and channels get one "private chats only" note
    #    and are left; nothing after it runs for them, so no feature handler stores anything.
    basics.register_guard(application)
    # 2. Group 0, features. Inside onboarding the deep-link "/start <token>" handler comes before
    #    plain /start; a command always wins over a guided step's free-text handler.
    for name in FEATURE_MODULES:
        try:
            module = importlib.import_module(f"bot.handlers.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bot.handlers.{name}":
                raise  # a broken import inside the module must not pass for a missing module
            _LOGGER.warning("handler module bot.handlers.%s is missing", name)
            continue
        module.register(application)
    # 3. /help after the features, so a feature module may answer it differently (family).
    basics.register_help(application)
    # 4. Last in group 0: text nobody above took gets the "I did not understand" reply.
    basics.register_fallback(application)
    application.add_error_handler(on_error)


def arm_dispatcher(application: AnyApplication) -> None:
    """Set the one ``dispatch`` job at the earliest pending delivery (or none if nothing is)."""
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("the job queue is missing: install python-telegram-bot[job-queue]")
    # A run_once job leaves the queue before its callback runs, so this never removes the
    # dispatch in progress, only a timer set for a later instant.
    for job in job_queue.get_jobs_by_name(DISPATCH_JOB):
        job.schedule_removal()
    services = services_of(application)
    due = services.dispatcher.next_due()
    if due is None:
        return
    job_queue.run_once(
        _dispatch_job,
        when=max(0.0, services.clock.seconds_until(due)),
        name=DISPATCH_JOB,
        job_kwargs=JOB_KWARGS,
    )


async def dispatch_now(application: AnyApplication) -> DispatchReport:
    """Send whatever is due on the services' clock, then re-arm. Used by the jobs and tests."""
    services = services_of(application)
    # The timer and the safety tick may meet; one dispatch at a time keeps rows in order.
    async with services.dispatch_lock:
        report = await services.dispatcher.dispatch_due(services.clock.now())
    # Not re-armed when dispatch_due raised: the safety tick retries in a minute instead of a
    # timer firing again at once for the row that made it fail.
    arm_dispatcher(application)
    return report


async def _dispatch_job(context: BotContext) -> None:
    try:
        await dispatch_now(context.application)
    except InvalidToken:
        _LOGGER.error("Telegram rejected the bot token; stopping")
        context.application.stop_running()


async def _post_init(application: CompanionApp) -> None:
    services = services_of(application)
    await application.bot.set_my_commands(patient_commands(services.catalog))
    recovery = Deliveries(services.db).recover_in_flight(services.clock.now())
    if recovery.requeued or recovery.unknown:
        _LOGGER.warning(
            "start-up: %d interrupted urgent deliveries re-queued, %d marked unknown",
            recovery.requeued,
            recovery.unknown,
        )
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("the job queue is missing: install python-telegram-bot[job-queue]")
    job_queue.run_repeating(
        _dispatch_job,
        interval=SAFETY_TICK_SECONDS,
        first=SAFETY_TICK_SECONDS,
        name=SAFETY_TICK_JOB,
        job_kwargs=JOB_KWARGS,
    )
    arm_dispatcher(application)


async def _post_shutdown(application: CompanionApp) -> None:
    services_of(application).db.close()


def patient_commands(catalog: Catalog, locale: str | None = None) -> list[BotCommand]:
    """The command menu: a ``command_<name>`` reply if the catalog has one, else the
    description of that command's line in the ``help`` reply (``/add ... – add a session``)."""
    texts = catalog.texts(locale)
    from_help: dict[str, str] = {}
    for line in texts.replies.get("help", "").splitlines():
        commands, dash, description = line.partition(" – ")
        names = _COMMAND_NAME.findall(commands) if dash and commands.startswith("/") else []
        if len(names) == 1:  # "/pause · /resume · /stop – ..." describes none of them alone
            from_help.setdefault(names[0], description.strip())
    menu = []
    for name in PATIENT_COMMANDS:
        description = texts.replies.get(f"command_{name}") or from_help.get(name) or name
        menu.append(BotCommand(name, html.unescape(_TAG.sub("", description))[:256]))
    return menu


def run() -> int:
    """``python -m bot``: 0 after a clean stop, 2 without a token, 1 if Telegram refuses it."""
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        print(BOTFATHER_HINT, file=sys.stderr)
        return 2
    configure_logging()
    application = build_application(
        token=token,
        db_path=os.environ.get("COMPANION_DB", "companion.db"),
        base_url=os.environ.get("TELEGRAM_API_BASE_URL") or None,
    )
    try:
        application.run_polling(
            allowed_updates=ALLOWED_UPDATES,
            stop_signals=(signal.SIGINT, signal.SIGTERM),
        )
    except InvalidToken:
        print("Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather", file=sys.stderr)
        return 1
    return 0
