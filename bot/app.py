"""The composition root: the one place that builds the PTB ``Application`` and wires everything.

``run()`` is ``python -m bot``: environment in, long polling until SIGINT/SIGTERM, exit code out.
``build_application`` is what the tests and the offline demo use, against the fake Bot API.

The dispatcher is woken by exactly one job, named ``dispatch``, set for the earliest pending
delivery and re-armed after every dispatch and after every commit that changed what is due (the
``Companion(on_change=...)`` hook; no handler re-arms by hand); a 60-second
safety tick covers anything the timer could miss (a clock jump, a failed dispatch). The deliveries
table stays the one record of what is due: the jobs only say "look now".

``run()`` owns the process: it makes the database private, takes the one-instance lock, and
``serve()`` polls through the inbox (``bot.polling``) instead of PTB's ``Updater``, so a SIGKILL
loses no update; in webhook mode PTB's webhook server feeds the same inbox (``bot.webhook``).
A daily ``retention`` job erases what is kept no longer (``scheduler.retention``). Start-up
order matters: interrupted deliveries are judged (``recover_in_flight``) before the job queue
can dispatch, and stored updates are handled before new ones are fetched. SIGINT/SIGTERM stop
within ``STOP_BUDGET`` seconds: no new claims or updates, the handler and the send in progress
get a few seconds to finish, then everything stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import random
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.clock import Clock, SystemClock
from bot.config import ConfigError, config_from_env
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
from bot.handlers import (
    admin,
    basics,
    control,
    family,
    notes,
    onboarding,
    privacy,
    reminders,
    sessions,
)
from bot.lock import AlreadyRunning, DatabaseLock, make_private
from bot.polling import POLL_TIMEOUT, Poller
from bot.sender import TelegramSender
from bot.ui.keyboards import (
    DELIVERY_PATTERN,
    FORGET_NO,
    FORGET_YES,
    JOIN_NO,
    LEAVE_NO,
    LEAVE_YES,
    NOTES_PATTERN,
    STOP_NO,
    STOP_YES,
    WIN_DISCARD,
    WIN_KEEP,
)
from bot.ui.steps import StepHandler
from bot.ui.turn import Turn, handler
from bot.webhook import (
    WebhookConfigError,
    WebhookFlags,
    WebhookOptions,
    WebhookPoller,
    webhook_options,
)
from messages import Catalog, load_catalog
from scheduler.companion import Companion
from scheduler.dispatch import Dispatcher, DispatchReport
from scheduler.retention import Erased, erase_expired
from scheduler.store.db import Database
from scheduler.store.deliveries import ClaimedDelivery, Deliveries

_LOGGER = logging.getLogger(__name__)

DISPATCH_JOB = "dispatch"
SAFETY_TICK_JOB = "dispatch-safety-tick"
SAFETY_TICK_SECONDS = 60.0
RETENTION_JOB = "retention"
RETENTION_INTERVAL = timedelta(days=1)
RETENTION_FIRST = timedelta(minutes=5)  # after start-up's own work, and again daily
# APScheduler drops a job that starts more than 1 s late unless told otherwise: never drop, and
# run a backlog of missed runs once.
JOB_KWARGS: dict[str, Any] = {"misfire_grace_time": None, "coalesce": True}
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
]
# The patient's command menu, in the order Telegram shows it.
PATIENT_COMMANDS = (
    "start",
    "sessions",
    "add",
    "invite",
    "family",
    "wins",
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
REFUSED_HINT = "Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather"
EXIT_REFUSED = 1
EXIT_NO_TOKEN = 2
EXIT_BAD_CONFIG = 2
EXIT_LOCKED = 3
RUNTIME_KEY = "runtime"
STOP_BUDGET = 10.0  # seconds from SIGTERM to exit (systemd's default is 90; ours is a promise)
DRAIN_SECONDS = 5.0  # of which the handler and the send in progress may use this much
START_BACKOFF_MAX = 30.0
# Test knobs, not for operators: the fault suite sends 1000 messages in seconds.
MIN_CHAT_INTERVAL_ENV = "COMPANION_MIN_CHAT_INTERVAL"  # seconds between sends to one chat
RATE_LIMIT_ENV = "COMPANION_RATE_LIMIT"  # "off": no global 30 messages/s limiter
SENDS_PER_SECOND = 30  # Telegram's broadcast limit, as PTB's AIORateLimiter keeps it


class GatedDeliveries(Deliveries):
    """The dispatcher's view of the deliveries table, with a gate a clean stop closes: once
    closed, no row is claimed, so a dispatch in progress ends after the row it is sending and
    no row is left ``sending`` by a SIGTERM."""

    closed = False

    def claim_due(self, now: datetime, limit: int = 50) -> list[ClaimedDelivery]:
        return [] if self.closed else super().claim_due(now, limit)

    def claim_next(
        self, now: datetime, limit: int, busy: Collection[int] = ()
    ) -> list[ClaimedDelivery]:
        return [] if self.closed else super().claim_next(now, limit, busy)


class Runtime:
    """What ``serve`` shares with the jobs: the stop request and the exit status."""

    def __init__(self, gate: GatedDeliveries) -> None:
        self.gate = gate
        self.exit_code = 0
        self.serving = False  # True while serve() runs the application
        self._stop: asyncio.Event | None = None

    @property
    def stop(self) -> asyncio.Event:
        if self._stop is None:  # created on the running loop
            self._stop = asyncio.Event()
        return self._stop

    def request_stop(self, exit_code: int = 0) -> None:
        self.exit_code = max(self.exit_code, exit_code)
        self.stop.set()


def build_application(
    *,
    token: str,
    db_path: str | Path,
    base_url: str | None = None,
    clock: Clock | None = None,
    catalog: Catalog | None = None,
    rate_limit: bool = True,
    settings: Settings | None = None,
    min_chat_interval: float = 1.0,
) -> CompanionApp:
    """The whole bot, not yet started: handlers, error handler, services, start-up hooks."""
    settings = settings if settings is not None else Settings()
    if catalog is None:
        overlay = settings.catalog_overlay
        catalog = load_catalog(Path(overlay)) if overlay else load_catalog()
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
    admit = None
    if rate_limit:
        # The global 30 messages/s (and per-group limits) for every request; per-chat spacing
        # of private chats is the dispatcher's, stored per chat. The dispatcher also takes a
        # slot at the same rate before it claims a row, so rows waiting for their turn stay
        # pending: a kill finds only requests that were really going out.
        builder = builder.rate_limiter(AIORateLimiter())
        admit = AsyncLimiter(SENDS_PER_SECOND, 1).acquire
    application: CompanionApp = builder.build()
    db = Database(db_path)
    clock = clock if clock is not None else SystemClock()
    dispatcher = Dispatcher(
        db,
        catalog,
        TelegramSender(application.bot),
        crisis_line=settings.crisis_line_for,  # by each reader's country or language
        clinic_contact=settings.clinic_contact,
        # A retry's wait counts from when its answer came, not from the run's start.
        now_fn=clock.now,
        switched_off=settings.switched_off,
        chat_interval=timedelta(seconds=min_chat_interval),
        admit=admit,
    )
    gate = GatedDeliveries(db)
    dispatcher.deliveries = gate
    application.bot_data[RUNTIME_KEY] = Runtime(gate)
    application.bot_data[SERVICES_KEY] = Services(
        db=db,
        companion=Companion(
            db,
            [entry for entry in catalog.timeline if entry.id not in settings.switched_off],
            on_change=lambda: arm_dispatcher(application),
            durations=settings.durations,
            quiet=settings.quiet_hours,
        ),
        dispatcher=dispatcher,
        catalog=catalog,
        clock=clock,
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
    """Every handler, in one ordered list: ``HANDLERS``. Order matters: within a group the
    first match wins, and every group runs, lowest first, until a handler raises
    ``ApplicationHandlerStop``."""
    for group, each in handlers(application):
        application.add_handler(each, group=group)
    application.add_error_handler(on_error)


# Groups: the guard first, so a group or channel chat reaches nothing else and nothing is stored;
# a blocked bot (my_chat_member) next, since the guard's catch-all never lets a second handler of
# its own group run; then everything else in group 0, where the first match wins.
GUARD_GROUP = -100
MEMBERSHIP_GROUP = -99
# Commands are not re-run when a person edits the message that held them: the edit is answered
# by the fallback, which says edits are not read.
_NEW = ~filters.UpdateType.EDITED_MESSAGE


def handlers(application: CompanionApp) -> list[tuple[int, BaseHandler[Any, Any, Any]]]:
    """The one ordered list of what answers which update."""

    def command(name: str, fn: Callable[[Turn], None], **kwargs: Any) -> CommandHandler[Any, Any]:
        return CommandHandler(name, handler(fn, ends_step=name != "start"), filters=_NEW, **kwargs)

    def button(pattern: str, fn: Callable[[Turn], None]) -> CallbackQueryHandler[Any, Any]:
        return CallbackQueryHandler(handler(fn), pattern=pattern)

    return [
        (GUARD_GROUP, TypeHandler(Update, basics.PrivateChatGuard())),
        (
            MEMBERSHIP_GROUP,
            ChatMemberHandler(handler(basics.private_membership), ChatMemberHandler.MY_CHAT_MEMBER),
        ),
        # "/start <invite token>" before plain /start: an invite payload must never start a
        # patient's set-up (PTB's deeplinking example does the same).
        (0, command("start", family.invite_start, has_args=True)),
        (0, command("start", onboarding.start, has_args=False)),
        (0, command("add", sessions.add)),
        (0, command("sessions", sessions.list_sessions)),
        (0, command("timezone", sessions.timezone)),
        (0, command("invite", family.invite)),
        (0, command("family", family.family)),
        (0, command("leave", family.leave)),
        (0, command("pause", control.pause)),
        (0, command("resume", control.resume)),
        (0, command("stop", control.stop)),
        (0, command("settings", control.settings)),
        (0, command("wins", notes.wins)),
        (0, command("export", privacy.export)),
        (0, command("forget", privacy.forget)),
        (0, command("help", basics.help_)),
        *_admin_commands(application),
        (0, button(r"^ob:", onboarding.button)),
        (0, button(r"^mv:", sessions.move_button)),
        (0, button(r"^cx:", sessions.cancel_button)),
        (0, button(r"^cxy:", sessions.cancel_yes_button)),
        (0, button(r"^cxn:", sessions.cancel_no_button)),
        (0, button(r"^f1:", sessions.second_time_button)),
        (0, button(r"^tz:", sessions.timezone_button)),
        (0, button(r"^fi_rv:", family.revoke_button)),
        (0, button(r"^fj:", family.join_button)),
        (0, button(rf"^{JOIN_NO}$", family.join_no_button)),
        (0, button(r"^fa:", family.approve_button)),
        (0, button(r"^fd:", family.decline_button)),
        (0, button(r"^fr:", family.remove_button)),
        (0, button(r"^fr_y:", family.remove_yes_button)),
        (0, button(r"^fr_n:", family.remove_no_button)),
        (0, button(rf"^{LEAVE_YES}$", family.leave_yes_button)),
        (0, button(rf"^{LEAVE_NO}$", family.leave_no_button)),
        (0, button(r"^fl:", family.leave_one_button)),
        (0, button(r"^rc_[yn]:", reminders.ride_answer_button)),
        (0, button(rf"^{STOP_YES}$", control.stop_yes_button)),
        (0, button(rf"^{STOP_NO}$", control.stop_no_button)),
        (0, button(r"^set:", control.setting_button)),
        (0, button(rf"^{FORGET_YES}$", privacy.forget_yes_button)),
        (0, button(rf"^{FORGET_NO}$", privacy.forget_no_button)),
        (0, button(DELIVERY_PATTERN, reminders.delivery_button)),
        # issue 10: wins, check-in, checklist, "I noticed" (their own actions on timed messages).
        (0, button(NOTES_PATTERN, notes.delivery_button)),
        (0, button(rf"^{WIN_KEEP}$", notes.keep_button)),
        (0, button(rf"^{WIN_DISCARD}$", notes.discard_button)),
        (0, button(r"^nk:", notes.noticed_keep_button)),
        # Guided steps: a message (new or edited) while the chat's step is open.
        (0, StepHandler(application, onboarding.STEPS, handler(onboarding.answer))),
        (0, StepHandler(application, {sessions.MOVE_STEP}, handler(sessions.move_answer))),
        (0, StepHandler(application, notes.STEPS, handler(notes.answer))),
        # Last: whatever nobody took. Every private message gets an answer, never silence.
        (
            0,
            MessageHandler(
                filters.ChatType.PRIVATE & filters.UpdateType.MESSAGES, handler(basics.unusable)
            ),
        ),
        (0, CallbackQueryHandler(handler(basics.stale_button))),
    ]


def _admin_commands(application: CompanionApp) -> list[tuple[int, BaseHandler[Any, Any, Any]]]:
    """``/stats``, only for the admin chats: to anyone else it is an unknown command."""
    admins = services_of(application).settings.admin_chat_ids
    if not admins:
        return []
    only_admins = _NEW & filters.ChatType.PRIVATE & filters.Chat(chat_id=sorted(admins))
    return [(0, CommandHandler("stats", handler(admin.stats), filters=only_admins))]


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
        runtime = context.application.bot_data.get(RUNTIME_KEY)
        if isinstance(runtime, Runtime) and runtime.serving:
            runtime.request_stop(EXIT_REFUSED)
        else:  # run by PTB's own run_polling
            context.application.stop_running()


async def _post_init(application: CompanionApp) -> None:
    services = services_of(application)
    # Before anything can dispatch: rows a crash left "sending" get the in-flight policy.
    recovery = Deliveries(services.db).recover_in_flight(services.clock.now())
    if recovery.requeued or recovery.unknown:
        _LOGGER.warning(
            "start-up: %d interrupted urgent deliveries re-queued, %d marked unknown",
            recovery.requeued,
            recovery.unknown,
        )
    try:
        await application.bot.set_my_commands(patient_commands(services.catalog))
        # issue 11: language. Telegram shows each app the menu in its own language, if set.
        for code in sorted(services.catalog.locales.keys() - {services.catalog.default_locale}):
            menu = patient_commands(services.catalog, code)
            await application.bot.set_my_commands(menu, language_code=code)
    except InvalidToken:
        raise
    except TelegramError as exc:  # the menu is a convenience; reminders must not wait for it
        _LOGGER.warning("start-up: command menu not set (%s)", type(exc).__name__)
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
    job_queue.run_repeating(
        _retention_job,
        interval=RETENTION_INTERVAL,
        first=RETENTION_FIRST,
        name=RETENTION_JOB,
        job_kwargs=JOB_KWARGS,
    )
    arm_dispatcher(application)


def erase_expired_now(application: AnyApplication) -> Erased:
    """Retention on the services' clock (``scheduler.retention``); the daily job and tests."""
    services = services_of(application)
    erased = erase_expired(services.db, services.clock.now(), services.settings.retention_days)
    if erased.anything:
        _LOGGER.info(
            "retention: erased %d series (%d sessions), %d replies, %d dialogs, %d invites,"
            " %d handled updates",
            erased.series,
            erased.sessions,
            erased.replies,
            erased.dialogs,
            erased.invites,
            erased.updates,
        )
    return erased


async def _retention_job(context: BotContext) -> None:
    erase_expired_now(context.application)


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


def run(webhook_flags: WebhookFlags | None = None) -> int:
    """``python -m bot``: 0 after a clean stop, 2 without a token, with a configuration file
    that cannot be used or with unusable webhook settings, 1 if Telegram refuses the token, 3 if
    another process already runs on this database. ``webhook_flags``: the command line's webhook
    options, over the config file's."""
    try:
        config = config_from_env()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_CONFIG
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        print(BOTFATHER_HINT, file=sys.stderr)
        return EXIT_NO_TOKEN
    settings = config.settings
    try:
        webhook = webhook_options(settings, webhook_flags or WebhookFlags())
    except WebhookConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_NO_TOKEN
    configure_logging()
    db_path = os.environ.get("COMPANION_DB", "companion.db")
    make_private(db_path)
    lock = DatabaseLock(db_path)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(exc, file=sys.stderr)
        return EXIT_LOCKED
    try:
        application = build_application(
            token=token,
            db_path=db_path,
            base_url=os.environ.get("TELEGRAM_API_BASE_URL") or None,
            catalog=config.catalog,
            rate_limit=os.environ.get(RATE_LIMIT_ENV, "").lower() != "off",
            min_chat_interval=float(os.environ.get(MIN_CHAT_INTERVAL_ENV) or 1.0),
            settings=settings,
        )
        code = asyncio.run(_serve_with_signals(application, webhook))
    finally:
        lock.release()
    if code == EXIT_REFUSED:
        print(REFUSED_HINT, file=sys.stderr)
    return code


async def _serve_with_signals(
    application: CompanionApp, webhook: WebhookOptions | None = None
) -> int:
    runtime = runtime_of(application)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.request_stop)
    try:
        return await serve(application, webhook=webhook)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def runtime_of(application: AnyApplication) -> Runtime:
    runtime = application.bot_data.get(RUNTIME_KEY)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("no runtime: build the application with bot.app.build_application")
    return runtime


async def serve(
    application: CompanionApp,
    *,
    poll_timeout: int = POLL_TIMEOUT,
    webhook: WebhookOptions | None = None,
) -> int:
    """Start, poll through the inbox until ``runtime_of(application).request_stop()``, stop.
    With ``webhook``, updates come by webhook instead (``bot.webhook``), through the same inbox.

    Returns the exit status: 0, or ``EXIT_REFUSED`` when Telegram refuses the token (at start
    or later). Telegram being unreachable at start is waited out with back-off, not fatal.
    """
    runtime = runtime_of(application)
    runtime.serving = True
    stop = runtime.stop
    services = services_of(application)
    polling: asyncio.Future[None] | None = None
    try:
        if not await _initialize(application, stop):
            return runtime.exit_code
        await _post_init(application)
        await application.start()
        poller: Poller
        if webhook is not None:
            poller = WebhookPoller(
                application,
                services.db,
                now=services.clock.now,
                allowed_updates=ALLOWED_UPDATES,
                options=webhook,
            )
        else:
            await _leave_webhook(application)
            poller = Poller(
                application,
                services.db,
                now=services.clock.now,
                allowed_updates=ALLOWED_UPDATES,
                poll_timeout=poll_timeout,
            )
        polling = asyncio.ensure_future(poller.run(stop))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if polling.done():
            polling.result()  # InvalidToken, or a bug, surfaces here
        _LOGGER.info("stopping: %d updates handled", poller.handled)
    except InvalidToken:
        _LOGGER.error("Telegram refused the bot token; stopping")
        runtime.exit_code = EXIT_REFUSED
    finally:
        await _stop(application, polling)
    return runtime.exit_code


async def _leave_webhook(application: CompanionApp) -> None:
    """Long polling after webhook mode: Telegram refuses ``getUpdates`` while a webhook is set.
    Its updates waiting meanwhile stay queued for ``getUpdates``. Best effort: if Telegram is
    unreachable now, the poller's back-off takes over."""
    try:
        if (await application.bot.get_webhook_info()).url:
            await application.bot.delete_webhook(drop_pending_updates=False)
            _LOGGER.info("start-up: webhook removed; long polling")
    except InvalidToken:
        raise
    except TelegramError as exc:
        _LOGGER.warning("start-up: webhook state unknown (%s)", type(exc).__name__)


async def _initialize(application: CompanionApp, stop: asyncio.Event) -> bool:
    """``Application.initialize`` (it asks Telegram who we are), retried with back-off while
    Telegram is unreachable; False if a stop came first. ``InvalidToken`` is raised at once."""
    failures = 0
    rng = random.Random()
    while not stop.is_set():
        try:
            # Raced against the stop: a hanging getMe must not hold a SIGTERM past its budget.
            return await _unless_stopped(application.initialize(), stop)
        except InvalidToken:
            raise
        except TelegramError as exc:
            failures += 1
            delay = rng.uniform(0.5, 1.0) * min(START_BACKOFF_MAX, 2.0 ** min(failures, 8))
            _LOGGER.warning(
                "start-up: Telegram unreachable (%s); retrying in %.1f s", type(exc).__name__, delay
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
    return False


async def _stop(application: CompanionApp, polling: asyncio.Future[None] | None) -> None:
    """Close the dispatch gate, give the update and the send in progress ``DRAIN_SECONDS``,
    then stop the job queue and the application and close the database."""
    runtime = runtime_of(application)
    runtime.stop.set()
    runtime.gate.closed = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    if polling is not None and not polling.done():
        # Cancelled past the deadline, the update is not marked done and is replayed next start.
        await _wait_until(polling, deadline)
    services = services_of(application)
    if application.running:
        dispatch_idle = _acquire(services.dispatch_lock)
        if not await _wait_until(dispatch_idle, deadline):
            # A send hangs: cut it. Its row stays "sending" and gets the in-flight policy at
            # the next start, exactly as after a crash.
            _LOGGER.warning("stopping: a send in progress was cut short")
            job_queue = application.job_queue
            if job_queue is not None:
                await job_queue.stop(wait=False)
        elif services.dispatch_lock.locked():
            services.dispatch_lock.release()
        await application.stop()
    await application.shutdown()  # a no-op if initialize never succeeded
    await _post_shutdown(application)


async def _unless_stopped(awaitable: Awaitable[Any], stop: asyncio.Event) -> bool:
    """Await ``awaitable`` unless ``stop`` is set first (then cancel it): True if it ran."""
    work = asyncio.ensure_future(awaitable)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if not work.done():
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        return False
    work.result()
    return True


async def _acquire(lock: asyncio.Lock) -> None:
    await lock.acquire()


async def _wait_until(awaitable: Awaitable[Any], deadline: float) -> bool:
    """Wait for ``awaitable`` until the loop time ``deadline``; cancel it then. True if done."""
    future = asyncio.ensure_future(awaitable)
    remaining = deadline - asyncio.get_running_loop().time()
    try:
        await asyncio.wait_for(asyncio.shield(future), timeout=max(remaining, 0.0))
    except TimeoutError:
        future.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await future
        return False
    except Exception:  # noqa: S110 - the outcome is logged where it happened
        pass
    return True
