"""``python -m bot demo``: the whole bot, offline, with a patient and a family member on stage.

The real application (handlers, scheduler, SQLite store, catalog, dispatcher, sender) runs against
the in-process fake Bot API on 127.0.0.1 (:mod:`bot.offline.fake_api`), with a database in a
temporary directory and a :class:`~bot.clock.ManualClock` set to a fixed Monday morning. Two
simulated people talk to it through realistic ``Update`` JSON, exactly as Telegram would deliver it:

* **Maya**, a patient in London, sets up a series of three IV sessions with ``/start`` and
  invites her partner with ``/invite``;
* **Sam** opens the invite link (the token is read from the message the bot sent Maya), joins,
  is approved by Maya, and later offers a ride home from the day-before message.
* **Priya**, Maya's sister, joins the same way. When Sam claims the first ride, her request for
  it turns into "covered"; she drives for the second session, and nobody offers for the third,
  so Maya hears that plainly the evening before.

Then the clock jumps from one due delivery to the next (``dispatch_now``, the dispatcher's own
path), and the two react to some messages: Maya taps "Got it" on one reminder and "Remind me in
30 min" on another, Sam taps "I can drive". Everything the bot sent is read back from the fake's
record of calls and printed as each person would see it, in their own time zone.

No token is needed or printed, nothing leaves 127.0.0.1, and it finishes in seconds.
``--lang es`` plays the same story with Spanish-speaking people (Inés and Raúl): the bot writes
to them in Spanish, and the transcript's own words are Spanish too (``bot.offline.demo_words``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from telegram import Update

from bot.app import build_application, dispatch_now
from bot.clock import ManualClock
from bot.config import Config, ConfigError, load_config
from bot.context import BotContext, CompanionApp, Services, services_of
from bot.offline.demo_words import ENGLISH, LANGUAGES, DemoWords
from bot.offline.fake_api import JSON, Call, FakeBotApi
from scheduler.model import DeliveryStatus

ZONE = "Europe/London"
START = datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo(ZONE))  # a Monday morning
START_UTC = START.astimezone(UTC)
MAYA_ID = 1001  # private chat ids equal the user's id, as in Telegram
SAM_ID = 2002
PRIYA_ID = 2003  # issue 10: a second family member, to show a claimed ride as covered


def cast(words: DemoWords) -> dict[int, JSON]:
    """The three people as Telegram describes them, speaking ``words.code``."""
    people = ((MAYA_ID, words.patient), (SAM_ID, words.family), (PRIYA_ID, words.second_family))
    return {
        chat_id: {"id": chat_id, "is_bot": False, "first_name": name, "language_code": words.code}
        for chat_id, name in people
    }


USERS: dict[int, JSON] = cast(ENGLISH)
NAMES = {chat_id: str(user["first_name"]) for chat_id, user in USERS.items()}
FIRST_SESSION = ENGLISH.first_session
SERIES = ENGLISH.series
HORIZON = timedelta(days=21)  # a guard: the series is over long before this
MAX_STEPS = 500  # another guard, against a dispatcher that keeps finding work
LINK = re.compile(r"\?start=(?P<token>[A-Za-z0-9_-]{1,64})")

STAMP_WIDTH = 16  # "Tue  1 Dec 20:00"
WHO_WIDTH = 11  # "bot -> Maya"
TEXT_COLUMN = STAMP_WIDTH + 2 + WHO_WIDTH + 3  # where message text starts on every line
_BULLET = re.compile(r"^(\s*(?:[•\-–*]|\d+[.)])\s+)")


class DemoError(Exception):
    """The scripted story could not go on (a reply it waits for never came)."""


@dataclass(frozen=True)
class Entry:
    """One line of the conversation: someone said, tapped or read something."""

    at: datetime  # aware, UTC
    chat_id: int  # whose phone this happens on
    zone: str  # that person's zone: the time shows as their phone would show it
    who: str  # "bot -> Maya", "Maya -> bot"
    text: str
    buttons: tuple[str, ...] = ()
    narration: bool = False  # a stage direction, not something anyone reads in the chat


@dataclass(order=True)
class _Action:
    at: datetime
    order: int
    run: Callable[[], Awaitable[None]] = field(compare=False)


@dataclass
class DemoResult:
    """What happened, for the footer and for tests."""

    entries: list[Entry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # handler errors, refused API calls
    received: dict[int, int] = field(default_factory=dict)  # chat -> messages sent to it
    timed: dict[int, int] = field(default_factory=dict)  # chat -> of which were timed deliveries
    skipped: list[tuple[datetime, int, str, str]] = field(default_factory=list)
    taps: list[str] = field(default_factory=list)
    first: datetime = START_UTC
    last: datetime = START_UTC


# -- formatting -----------------------------------------------------------------------------------


def stamp(instant: datetime, zone: str, words: DemoWords = ENGLISH) -> str:
    """``Tue  1 Dec 20:00`` in ``zone`` (``mar  1 dic 20:00`` in Spanish)."""
    return words.stamp(instant.astimezone(ZoneInfo(zone)))


def day_heading(instant: datetime, zone: str, width: int, words: DemoWords = ENGLISH) -> str:
    title = f"── {words.long_date(instant.astimezone(ZoneInfo(zone)))} "
    return title + "─" * max(3, width - len(title))


def wrap_text(text: str, width: int) -> list[str]:
    """A message's lines wrapped to ``width``; blank lines kept, bullets get a hanging indent."""
    lines: list[str] = []
    for raw in text.strip("\n").split("\n"):
        line = raw.rstrip()
        if not line:
            lines.append("")
            continue
        bullet = _BULLET.match(line)
        hang = " " * len(bullet.group(1)) if bullet else ""
        lines += textwrap.wrap(
            line,
            width=max(20, width),
            subsequent_indent=hang,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [""]
    return lines


def format_entry(entry: Entry, width: int, words: DemoWords = ENGLISH) -> list[str]:
    """The printed lines of one entry; every line after the first starts at ``TEXT_COLUMN``."""
    indent = " " * TEXT_COLUMN
    if entry.narration:
        margin = STAMP_WIDTH + 2
        return [" " * margin + line for line in wrap_text(entry.text, width - margin)]
    body = wrap_text(entry.text, width - TEXT_COLUMN)
    head = f"{stamp(entry.at, entry.zone, words):<{STAMP_WIDTH}}  {entry.who:<{WHO_WIDTH}}   "
    out = [(head + body[0]).rstrip()]
    out += [(indent + line).rstrip() for line in body[1:]]
    if entry.buttons:
        labels = " ".join(f"[{label}]" for label in entry.buttons)
        out += [
            indent + line
            for line in textwrap.wrap(
                labels, width=max(20, width - TEXT_COLUMN), break_on_hyphens=False
            )
        ]
    return out


def output_width(stream: TextIO) -> int:
    """The terminal's width within 72..110 columns; 100 when the output is not a terminal."""
    columns = shutil.get_terminal_size((100, 24)).columns if stream.isatty() else 100
    return max(72, min(columns, 110))


# -- the stage ------------------------------------------------------------------------------------


class Demo:
    """The running bot, the fake Telegram, the clock, and the story's bookkeeping."""

    def __init__(
        self,
        app: CompanionApp,
        api: FakeBotApi,
        clock: ManualClock,
        emit: Callable[[Entry], None],
        words: DemoWords = ENGLISH,
    ) -> None:
        self.words = words
        self.users = cast(words)
        self.names = {chat_id: str(user["first_name"]) for chat_id, user in self.users.items()}
        self.app = app
        self.api = api
        self.clock = clock
        self.emit = emit
        self.result = DemoResult()
        self._seen = 0  # calls already read from the fake
        self._actions: list[_Action] = []
        self._order = 0
        self._reacted: set[str] = set()  # which scripted reactions already happened

    @property
    def services(self) -> Services:
        return services_of(self.app)

    # -- people ---------------------------------------------------------------------------------

    async def say(self, chat_id: int, text: str, *, shown: str | None = None) -> None:
        self._person(chat_id, shown if shown is not None else text)
        await self._feed(self.api.make_text(chat_id, text, user=self.users[chat_id]), chat_id)

    async def tap(self, chat_id: int, data: str, label: str) -> None:
        self._person(chat_id, self.words.taps.format(label=label))
        if not data.startswith(
            ("ob:", "fj:", "fa:", "set:", "wk", "nk:")
        ):  # the footer lists the reminders' buttons
            self.result.taps.append(self.words.tapped.format(name=self.names[chat_id], label=label))
        await self._feed(self.api.make_callback(chat_id, data, user=self.users[chat_id]), chat_id)

    async def tap_button(self, chat_id: int, data_prefix: str) -> None:
        """Tap the button whose data starts with ``data_prefix`` on the latest message with one."""
        label, data = self.button(chat_id, data_prefix)
        await self.tap(chat_id, data, label)

    def narrate(self, text: str) -> None:
        self._add(Entry(self.clock.now(), MAYA_ID, self.zone(MAYA_ID), "", text, narration=True))

    def zone(self, chat_id: int) -> str:
        """Where the person's phone is: both live in London, whatever zone the bot holds for
        them before they have told it theirs."""
        return ZONE

    def button(self, chat_id: int, data_prefix: str) -> tuple[str, str]:
        for call in reversed(self.api.sent_to(chat_id)):
            for label, data in call.buttons:
                if data.startswith(data_prefix):
                    return label, data
        raise DemoError(f"no button {data_prefix!r} was sent to {self.names[chat_id]}")

    def _person(self, chat_id: int, text: str) -> None:
        who = f"{self.names[chat_id]} -> bot"
        self._add(Entry(self.clock.now(), chat_id, self.zone(chat_id), who, text))

    async def _feed(self, update: JSON, actor: int) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))
        # What the action made due at once (the family welcome, a catch-up message) goes out
        # now, as the re-armed dispatch job would send it.
        await dispatch_now(self.app)
        await self.collect(actor)

    # -- time -----------------------------------------------------------------------------------

    def at(self, instant: datetime) -> None:
        self.clock.set(max(instant, self.clock.now()))

    def later(self, delay: timedelta, run: Callable[[], Awaitable[None]]) -> None:
        """Do ``run`` ``delay`` after now on the simulated clock (a person reacting)."""
        self._order += 1
        self._actions.append(_Action(self.clock.now() + delay, self._order, run))
        self._actions.sort()

    async def run_series(self) -> None:
        """Jump from one due delivery (or scripted reaction) to the next until none is left."""
        dispatcher = self.services.dispatcher
        horizon = START + HORIZON
        for _ in range(MAX_STEPS):
            due = dispatcher.next_due()
            if self._actions and (due is None or self._actions[0].at <= due):
                action = self._actions.pop(0)
                self.at(action.at)
                await action.run()
            elif due is not None and due <= horizon:
                self.at(due)
                await dispatch_now(self.app)
                await self.collect(None)
            else:
                return
        raise DemoError(f"still busy after {MAX_STEPS} steps")

    # -- reading what the bot did ---------------------------------------------------------------

    async def collect(self, actor: int | None) -> None:
        """Turn the calls since the last look into entries, stamped with the current time."""
        async with self.services.dispatch_lock:
            pass  # a dispatch the timer started finishes first: its sends belong to now
        end = self.api.mark()
        calls = self.api.calls(since=self._seen)[: end - self._seen]
        self._seen = end
        for call in calls:
            self._read(call, actor)

    def _read(self, call: Call, actor: int | None) -> None:
        now = self.clock.now()
        if not call.ok:
            if call.method != "getUpdates":
                self.result.problems.append(f"{call.method} refused: {call.description}")
            return
        chat_id = call.chat_id if isinstance(call.chat_id, int) else None
        if chat_id in self.names and call.method in ("sendMessage", "editMessageText"):
            text = call.plain_text or ""
            if call.method == "editMessageText":
                text = self.words.changes.format(text=text)
            else:
                self.result.received[chat_id] = self.result.received.get(chat_id, 0) + 1
                self._react(chat_id, call)
            buttons = tuple(label for label, _ in call.buttons)
            who = f"bot -> {self.names[chat_id]}"
            self._add(Entry(now, chat_id, self.zone(chat_id), who, text, buttons))
        elif (
            call.method == "answerCallbackQuery" and actor in self.names and call.params.get("text")
        ):
            popup = self.words.popup.format(text=call.params["text"])
            self._add(Entry(now, actor, self.zone(actor), f"bot -> {self.names[actor]}", popup))

    def _add(self, entry: Entry) -> None:
        self.result.entries.append(entry)
        self.result.last = max(self.result.last, entry.at)
        self.emit(entry)

    # -- how the people react to what they read -------------------------------------------------

    def _react(self, chat_id: int, call: Call) -> None:
        data = [d for _, d in call.buttons]
        if chat_id == SAM_ID and any(d.startswith("ride:") for d in data):
            self._once("ride", timedelta(minutes=6), lambda: self.tap_button(SAM_ID, "ride:"))
        if chat_id == PRIYA_ID and any(d.startswith("ride:") for d in data):
            # Issue 10: Sam covers the first ride (Priya's request changes to "covered"); Priya
            # drives for the second; nobody offers for the third.
            if "priya_saw_ride" in self._reacted:
                self._once(
                    "priya_ride", timedelta(minutes=10), lambda: self.tap_button(PRIYA_ID, "ride:")
                )
            self._reacted.add("priya_saw_ride")
        if chat_id == MAYA_ID and any(d.startswith("snooze_30:") for d in data):
            got_it = next(d for d in data if d.startswith("got_it:"))
            snooze = next(d for d in data if d.startswith("snooze_30:"))
            if "got_it" not in self._reacted:
                self._once("got_it", timedelta(minutes=4), lambda: self.tap_exact(MAYA_ID, got_it))
            else:
                self._once("snooze", timedelta(minutes=2), lambda: self.tap_exact(MAYA_ID, snooze))
        self._react_between_sessions(chat_id, data)

    def _react_between_sessions(self, chat_id: int, data: list[str]) -> None:
        """Issue 10: Maya notes what got easier (her own words once, a button the next time),
        answers the first check-in and checklist; Sam sends one "I noticed", which Maya keeps."""
        if chat_id == MAYA_ID and any(d.startswith("win_own:") for d in data):
            if "win_own" not in self._reacted:
                self._once("win_own", timedelta(minutes=40), self._write_a_win)
            else:
                self._once(
                    "win_tap",
                    timedelta(minutes=25),
                    lambda: self.tap_button(MAYA_ID, "win_called:"),
                )
        if chat_id == MAYA_ID and any(d.startswith("checkin_side_effects:") for d in data):
            self._once(
                "checkin",
                timedelta(minutes=12),
                lambda: self.tap_button(MAYA_ID, "checkin_side_effects:"),
            )
        if chat_id == MAYA_ID and any(d.startswith("checklist_ride_yes:") for d in data):
            self._once("checklist", timedelta(minutes=5), self._answer_checklist)
        if chat_id == SAM_ID and any(d.startswith("noticed:") for d in data):
            self._once("noticed", timedelta(hours=3), self._notice)
        if chat_id == MAYA_ID and any(d.startswith("nk:") for d in data):
            self._once(
                "keep_noticed", timedelta(minutes=8), lambda: self.tap_button(MAYA_ID, "nk:")
            )

    async def _write_a_win(self) -> None:
        await self.tap_button(MAYA_ID, "win_own:")
        self.at(self.clock.now() + timedelta(minutes=2))
        await self.say(MAYA_ID, self.words.win)
        self.at(self.clock.now() + timedelta(minutes=1))
        await self.tap_button(MAYA_ID, "wk")

    async def _answer_checklist(self) -> None:
        for prefix in ("checklist_ride_yes:", "checklist_meds_yes:", "checklist_elevated_no:"):
            await self.tap_button(MAYA_ID, prefix)
            self.at(self.clock.now() + timedelta(minutes=1))

    async def _notice(self) -> None:
        await self.tap_button(SAM_ID, "noticed:")
        self.at(self.clock.now() + timedelta(minutes=3))
        await self.say(SAM_ID, self.words.noticed)

    async def tap_exact(self, chat_id: int, data: str) -> None:
        label = next(
            (lbl for call in self.api.sent_to(chat_id) for lbl, d in call.buttons if d == data),
            data,
        )
        await self.tap(chat_id, data, label)

    def _once(self, name: str, delay: timedelta, run: Callable[[], Awaitable[None]]) -> None:
        if name not in self._reacted:
            self._reacted.add(name)
            self.later(delay, run)

    # -- the footer's numbers -------------------------------------------------------------------

    def tally(self) -> None:
        companion = self.services.companion
        catalog = self.services.catalog
        for chat_id in self.names:
            person = companion.person_by_chat(chat_id)
            if person is None:
                continue
            for row in companion.deliveries.for_person(person.id):
                if row.status is DeliveryStatus.SENT:
                    self.result.timed[chat_id] = self.result.timed.get(chat_id, 0) + 1
                if row.status in (DeliveryStatus.PENDING, DeliveryStatus.SENT):
                    continue
                reason = row.reason or row.status.value
                topic = catalog.topic(person.locale, row.message_id)
                self.result.skipped.append((row.due_at, chat_id, topic, reason))


# -- the story ------------------------------------------------------------------------------------


async def play(demo: Demo) -> None:
    def minute(n: float) -> datetime:
        return START + timedelta(minutes=n)

    # Maya sets up her series.
    demo.at(minute(0))
    await demo.say(MAYA_ID, "/start")
    demo.at(minute(1))
    await demo.tap_button(MAYA_ID, "ob:name")
    demo.at(minute(1.5))
    await demo.tap_button(MAYA_ID, f"ob:z:{ZONE}")
    demo.at(minute(2))
    await demo.tap_button(MAYA_ID, "ob:k:iv")
    demo.at(minute(2.5))
    await demo.tap_button(MAYA_ID, "ob:n:3")
    demo.at(minute(3))
    await demo.say(MAYA_ID, demo.words.first_session)
    demo.at(minute(4))
    await demo.say(MAYA_ID, demo.words.series)

    # Maya invites Sam; Sam opens the link, joins, and Maya approves.
    demo.at(minute(6))
    await demo.say(MAYA_ID, "/invite")
    invite = next(
        (c for c in reversed(demo.api.sent_to(MAYA_ID)) if LINK.search(c.plain_text or "")),
        None,
    )
    if invite is None:
        raise DemoError(f"the bot sent {demo.words.patient} no invite link")
    match = LINK.search(invite.plain_text or "")
    assert match is not None
    demo.narrate(demo.words.forwards)
    demo.at(minute(20))
    await demo.say(SAM_ID, f"/start {match['token']}", shown=demo.words.opened_link)
    demo.at(minute(21))
    await demo.tap_button(SAM_ID, "fj:")
    demo.at(minute(24))
    await demo.tap_button(MAYA_ID, "fa:")
    # Issue 10: Maya lets family notes reach her ("I noticed"; off unless she turns it on).
    demo.at(minute(26))
    await demo.say(MAYA_ID, "/settings")
    demo.at(minute(27))
    await demo.tap_button(MAYA_ID, "set:n:on")

    # Issue 10: Maya invites her sister Priya too, so a claimed ride can show as covered.
    demo.at(minute(30))
    await demo.say(MAYA_ID, "/invite")
    second = next(
        (c for c in reversed(demo.api.sent_to(MAYA_ID)) if LINK.search(c.plain_text or "")),
        None,
    )
    found = LINK.search(second.plain_text or "") if second is not None else None
    if found is None:
        raise DemoError(f"the bot sent {demo.words.patient} no second invite link")
    demo.narrate(demo.words.sends_second)
    demo.at(minute(45))
    await demo.say(PRIYA_ID, f"/start {found['token']}", shown=demo.words.opened_link)
    demo.at(minute(46))
    await demo.tap_button(PRIYA_ID, "fj:")
    demo.at(minute(50))
    await demo.tap_button(MAYA_ID, "fa:")

    # The series: the clock jumps from one due message to the next.
    await demo.run_series()


async def run_demo(
    emit: Callable[[Entry], None], config: Config | None = None, words: DemoWords = ENGLISH
) -> DemoResult:
    """Run the whole story against the real application; ``emit`` gets each entry in order.
    ``config``: an operator's configuration (``--config``), else the built-in defaults."""
    config = config if config is not None else load_config(None)
    clock = ManualClock(START)
    with tempfile.TemporaryDirectory(prefix="companion-demo-") as tmp:
        api = FakeBotApi(now=lambda: clock.now().timestamp()).start()
        try:
            app = build_application(
                token=api.token,
                db_path=Path(tmp) / "companion.db",
                base_url=api.base_url,
                clock=clock,
                min_chat_interval=0.0,  # simulated people read instantly
                catalog=config.catalog,
                settings=config.settings,
            )
            demo = Demo(app, api, clock, emit, words)

            async def collect_error(update: object, context: BotContext) -> None:
                error = context.error
                demo.result.problems.append(f"handler error: {type(error).__name__}: {error}")

            app.add_error_handler(collect_error)
            await app.initialize()
            try:
                assert app.post_init is not None
                await app.post_init(app)
                await app.start()
                try:
                    await play(demo)
                    demo.tally()
                finally:
                    await app.stop()
            finally:
                await app.shutdown()
                if app.post_shutdown is not None:
                    await app.post_shutdown(app)
        finally:
            api.stop()
    return demo.result


# -- printing -------------------------------------------------------------------------------------


def header(width: int, words: DemoWords = ENGLISH) -> list[str]:
    rule = "═" * min(width, 78)
    start = START
    clock = words.clock.format(date=words.long_date(start), time=f"{start:%H:%M}")
    lines = [
        rule,
        words.title,
        rule,
        "",
        *textwrap.wrap(words.intro, width=min(width, 78)),
        "",
        *textwrap.wrap(clock, width=min(width, 78)),
        "",
        f"  {words.patient:<5} {words.cast_patient}",
        f"  {words.family:<5} {words.cast_family}",
        f"  {words.second_family:<5} {words.cast_second_family}",
        "",
        *textwrap.wrap(words.legend, width=min(width, 78)),
    ]
    return lines


def footer(result: DemoResult, width: int, seconds: float, words: DemoWords = ENGLISH) -> list[str]:
    first, last = result.first, result.last
    days = (last - first) / timedelta(days=1)
    names = {MAYA_ID: words.patient, SAM_ID: words.family, PRIYA_ID: words.second_family}
    simulated = words.simulated.format(
        first=stamp(first, ZONE, words),
        last=stamp(last, ZONE, words),
        days=f"{days:.0f}",
        seconds=f"{seconds:.1f}",
    )
    lines = ["", "═" * min(width, 78), words.summary, "", simulated, ""]
    for chat_id, name in names.items():
        received = result.received.get(chat_id, 0)
        timed = result.timed.get(chat_id, 0)
        line = words.received.format(
            name=f"{name:<5}",
            received=f"{received:>2}",
            timed=f"{timed:>2}",
            answers=f"{received - timed:>2}",
            name_again=name,
        )
        lines.append(f"  {line}")
    lines.append("")
    if result.taps:
        taps = words.buttons_used.format(taps=", ".join(result.taps))
        lines += textwrap.wrap(taps, width=min(width, 78))
        lines.append("")
    if result.skipped:
        lines.append(words.not_sent_head)
        for due, chat_id, topic, reason in sorted(result.skipped):
            why = words.skip_reasons.get(reason, reason)
            shown = words.not_sent_line.format(
                stamp=stamp(due, ZONE, words), name=f"{names[chat_id]:<5}", topic=topic, why=why
            )
            lines.append(f"  {shown}")
    else:
        lines += textwrap.wrap(words.none_skipped, width=min(width, 78))
    lines += ["", *textwrap.wrap(words.run_it, width=min(width, 78), break_on_hyphens=False)]
    return lines


def main(config_path: str | None = None, lang: str = "en") -> int:
    """Run the demo, print the conversation; 0 when the story played out without a problem,
    2 when ``config_path`` names a configuration file that cannot be used.

    ``lang``: the people's language and the transcript's (``en`` or ``es``)."""
    words = LANGUAGES[lang]
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):
        with contextlib.suppress(ValueError):
            out.reconfigure(errors="replace")  # an ASCII-only terminal still gets the story
    width = output_width(out)
    for line in header(width, words):
        print(line, file=out)
    day: list[str] = []

    def emit(entry: Entry) -> None:
        heading = day_heading(entry.at, ZONE, min(width, 78), words)
        if not day or day[-1] != heading:
            day.append(heading)
            print(f"\n{heading}\n", file=out)
        for line in format_entry(entry, width, words):
            print(line, file=out)
        out.flush()

    started = time.monotonic()
    try:
        result = asyncio.run(run_demo(emit, config, words))
    except DemoError as exc:
        print(f"\ndemo: stopped early: {exc}", file=sys.stderr)
        return 1
    for line in footer(result, width, time.monotonic() - started, words):
        print(line, file=out)
    if result.problems:
        print("\ndemo: something went wrong along the way:", file=sys.stderr)
        for problem in result.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0
