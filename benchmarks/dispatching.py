"""Scenarios 3 and 4 (child process): send due deliveries through the real dispatch path.

``python -m benchmarks.dispatching MODE N [--rate R] [--chats C] [--workdir DIR]``

``noop``     ``Dispatcher.dispatch_due`` over N rows all due, with a sender that does nothing:
             our CPU per message without HTTP (claim, read context, render, record).
``backlog``  the real app (``bot.app.build_application``, ``rate_limit=False``, no chat
             spacing) against the fake Bot API in another process; N rows due at one instant
             to N chats: messages/s and CPU per message, whole path.
``paced``    the app as in production (``AIORateLimiter``, 1 s per chat stored per chat)
             against a fake that answers 429 beyond 30/s and 1/s per chat; N rows due ``1/R``
             seconds apart (R below the 30/s cap) over C chats: lateness, sent minus due.
``burst``    as ``paced`` but N rows due at the same instant to N chats: makespan and 429s.
``fairness`` as ``paced``: one chat with N rows due at one instant and ``--chats`` other chats
             with one row each, due with them: how long the others wait (the run ends when they
             are all sent; the big chat drains at one a second long after).

``--rtt-ms`` makes the fake answer every accepted send that much later: a network round trip.

In the app modes the dispatcher is woken the real way: rows are written after the app started,
then ``services.rearm()`` arms the one ``dispatch`` job as the bot does after any change, and the
job queue fires it on the system clock. Logging is set up as in production (INFO, token filter),
written to /dev/null, so its cost is counted. The only change to the app: its sender is wrapped
to note the instant each send returned ``Sent``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any

from benchmarks.common import cpu_seconds, emit, peak_rss_mb, percentile
from benchmarks.fakeserver import FakeServer
from benchmarks.population import fresh_database, planned_row
from bot.app import build_application
from bot.context import Settings, services_of
from bot.errors import configure_logging
from messages import Anchor, Audience, Catalog, load_catalog
from scheduler.dispatch import Dispatcher
from scheduler.model import Kind, PlannedDelivery, Role
from scheduler.sending import OutgoingMessage, Sender, SendResult, Sent
from scheduler.store import Database, Deliveries, People, Sessions, from_db

CHAT_BASE = 900_000_000
ZONE = "Europe/Berlin"


def lead(n: int) -> timedelta:
    """From writing the rows to the first due instant: longer than writing them takes."""
    return timedelta(seconds=0.5 + n / 10_000)


class Probe:
    """CPU and wall time between ``start`` and ``stop``; with ``profile``, cProfile of that span."""

    def __init__(self, profile: Path | None) -> None:
        self.profile = profile
        self._profiler = cProfile.Profile() if profile else None
        self.cpu = self.wall = 0.0
        self._cpu0 = self._wall0 = 0.0

    def start(self) -> None:
        if self._profiler is not None:
            self._profiler.enable()
        self._cpu0, self._wall0 = cpu_seconds(), time.perf_counter()

    def stop(self) -> None:
        self.cpu = cpu_seconds() - self._cpu0
        self.wall = time.perf_counter() - self._wall0
        if self._profiler is not None and self.profile is not None:
            self._profiler.disable()
            self._profiler.dump_stats(self.profile)


class NoopSender:
    """Answers ``Sent`` at once: the dispatcher's own cost, no HTTP."""

    def __init__(self) -> None:
        self.count = 0

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.count += 1
        return Sent(message_ref=self.count)


class TimedSender:
    """Wraps the real sender; notes when each send returned and what it said."""

    def __init__(self, inner: Sender, expected: int) -> None:
        self.inner = inner
        self.expected = expected
        self.sent_at: dict[int, datetime] = {}
        self.started_at: dict[int, datetime] = {}
        self.sent_mono: list[float] = []
        self.outcomes: Counter[str] = Counter()
        self.done = asyncio.Event()
        self.watch: set[int] | None = None  # when set: done once these are sent, not ``expected``

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.started_at.setdefault(message.delivery_id, datetime.now(UTC))
        result = await self.inner.send(message)
        self.outcomes[type(result).__name__] += 1
        if isinstance(result, Sent):
            self.sent_at[message.delivery_id] = datetime.now(UTC)
            self.sent_mono.append(time.monotonic())
            if self.watch is not None:
                self.watch.discard(message.delivery_id)
                if not self.watch:
                    self.done.set()
            elif len(self.sent_at) >= self.expected:
                self.done.set()
        return result


def timed_sender(dispatcher: Dispatcher, expected: int) -> TimedSender:
    """Wrap the app's own ``TelegramSender``."""
    timed = TimedSender(dispatcher.sender, expected)
    dispatcher.sender = timed
    return timed


def message_ids(catalog: Catalog) -> list[str]:
    """Patient messages about one IV session: what most due rows are."""
    return [
        entry.id
        for entry in catalog.timeline
        if entry.audience is Audience.PATIENT
        and entry.anchor in (Anchor.SESSION_START, Anchor.SESSION_END)
        and "iv" in entry.kinds
        and (entry.sessions is None or 1 in entry.sessions)
    ]


def build_chats(db: Database, chats: int, now: datetime) -> list[tuple[int, int]]:
    """``chats`` patients with one IV session in two days: (patient id, session id) each."""
    people, sessions = People(db), Sessions(db)
    local_start = datetime.combine((now + timedelta(days=2)).date(), wall_time(10))
    made = []
    with db.transaction():
        for index in range(chats):
            patient = people.create(CHAT_BASE + index, Role.PATIENT, f"P{index}", ZONE, now)
            # Sends are measured at any hour: quiet hours would hold every row until morning.
            people.set_quiet(patient.id, None)
            session = sessions.add(patient.id, local_start, ZONE, Kind.IV, now)
            made.append((patient.id, session.id))
    return made


def add_due(
    db: Database,
    targets: Sequence[tuple[int, int]],
    dues: Sequence[datetime],
    ids: Sequence[str],
    chat_of: Sequence[int] | None = None,
) -> dict[int, datetime]:
    """Row ``i`` due at ``dues[i]`` for chat ``chat_of[i]`` (default ``i % len(targets)``);
    delivery id -> due."""
    by_patient: dict[int, list[PlannedDelivery]] = {}
    for index, due in enumerate(dues):
        chat = chat_of[index] if chat_of is not None else index % len(targets)
        patient_id, session_id = targets[chat]
        by_patient.setdefault(patient_id, []).append(
            planned_row(f"bench:{index}", patient_id, session_id, ids[index % len(ids)], due)
        )
    deliveries = Deliveries(db)
    with db.transaction():
        for patient_id, planned in by_patient.items():
            deliveries.replace_plan(patient_id, planned)
    rows = db.conn.execute(
        "SELECT id, due_at FROM deliveries WHERE status = 'pending' AND key LIKE 'bench:%'"
    )
    return {int(row["id"]): from_db(row["due_at"]) for row in rows}


def production_logging() -> None:
    """INFO logging as ``python -m bot`` sets it up, but written to /dev/null."""
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    logging.basicConfig(
        level=logging.INFO, stream=sink, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    configure_logging()


async def run_noop(workdir: Path, n: int, chats: int, probe: Probe) -> dict[str, Any]:
    catalog = load_catalog()
    db = fresh_database(workdir / "noop.db")
    now = datetime.now(UTC)
    targets = build_chats(db, chats, now)
    add_due(db, targets, [now] * n, message_ids(catalog))
    sender = NoopSender()
    dispatcher = Dispatcher(db, catalog, sender, crisis_line=Settings().crisis_line)
    probe.start()
    report = await dispatcher.dispatch_due(datetime.now(UTC))
    probe.stop()
    wall, cpu = probe.wall, probe.cpu
    db.close()
    return {
        "n": n,
        "sent": report.sent,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_ms_per_message": 1000 * cpu / max(report.sent, 1),
        "wall_ms_per_message": 1000 * wall / max(report.sent, 1),
        "peak_rss_mb": peak_rss_mb(),
    }


async def run_app(
    workdir: Path,
    mode: str,
    n: int,
    chats: int,
    rate: float,
    timeout: float,
    probe: Probe,
    rtt_ms: float = 0.0,
) -> dict[str, Any]:
    limited = mode in ("paced", "burst", "fairness")
    catalog = load_catalog()
    path = workdir / f"{mode}.db"
    db = fresh_database(path)
    # fairness: chat 0 gets the n rows, the ``chats`` others one each.
    total = n + chats if mode == "fairness" else n
    targets = build_chats(db, chats + 1 if mode == "fairness" else chats, datetime.now(UTC))
    db.close()
    with FakeServer(limit=limited, delay_s=rtt_ms / 1000) as fake:
        app = build_application(
            token=fake.token,
            db_path=path,
            base_url=fake.base_url,
            catalog=catalog,
            rate_limit=limited,
            min_chat_interval=1.0 if limited else 0.0,
        )
        services = services_of(app)
        sender = timed_sender(services.dispatcher, total)
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)
        await app.start()
        try:
            first = datetime.now(UTC) + lead(n)
            step = timedelta(seconds=1 / rate) if mode == "paced" else timedelta(0)
            dues = [first + index * step for index in range(total)]
            chat_of = [0] * n + list(range(1, chats + 1)) if mode == "fairness" else None
            due_by_id = add_due(services.db, targets, dues, message_ids(catalog), chat_of)
            if mode == "fairness":
                big = set(sorted(due_by_id)[:n])  # written first: chat 0's rows
                sender.watch = set(due_by_id) - big
                others = set(sender.watch)
            services.rearm()
            probe.start()
            try:
                await asyncio.wait_for(sender.done.wait(), timeout)
            finally:
                probe.stop()
            cpu = probe.cpu
        finally:
            await app.stop()
            await app.shutdown()
            assert app.post_shutdown is not None
            await app.post_shutdown(app)
        stats = fake.stats()
    late_ms = [
        (sent - due_by_id[delivery_id]).total_seconds() * 1000
        for delivery_id, sent in sender.sent_at.items()
    ]
    start_ms = [
        (sender.started_at[delivery_id] - due_by_id[delivery_id]).total_seconds() * 1000
        for delivery_id in sender.sent_at
    ]
    worst = sorted(
        (
            (
                round((sent - due_by_id[i]).total_seconds() * 1000, 1),
                round((due_by_id[i] - first).total_seconds(), 2),
            )
            for i, sent in sender.sent_at.items()
        ),
        reverse=True,
    )[:8]
    last_sent = max(sender.sent_at.values())
    makespan = (last_sent - first).total_seconds()
    fairness: dict[str, Any] = {}
    if mode == "fairness":
        waits = [(sender.sent_at[i] - due_by_id[i]).total_seconds() for i in others]
        fairness = {
            "fairness_max_wait_s": max(waits),
            "fairness_p50_wait_s": percentile(waits, 50),
            "big_chat_sent": len(sender.sent_at) - len(others),
        }
    return {
        **fairness,
        "mode": mode,
        "n": n,
        "chats": chats,
        "rate_per_s": rate if mode == "paced" else None,
        "rtt_ms": rtt_ms,
        "sent": len(sender.sent_at),
        "outcomes": dict(sender.outcomes),
        "cpu_s": cpu,
        "cpu_ms_per_message": 1000 * cpu / max(len(sender.sent_at), 1),
        "makespan_s": makespan,
        "messages_per_s": len(sender.sent_at) / makespan,
        "lateness_p50_ms": percentile(late_ms, 50),
        "lateness_p99_ms": percentile(late_ms, 99),
        "lateness_max_ms": max(late_ms),
        "send_start_p50_ms": percentile(start_ms, 50),
        "send_start_p99_ms": percentile(start_ms, 99),
        "worst_late_ms_at_s": worst,
        "fake_accepted": stats["accepted"],
        "fake_429s": stats["rejected_429"],
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Scenario 3/4 child: dispatch")
    parser.add_argument("mode", choices=("noop", "backlog", "paced", "burst", "fairness"))
    parser.add_argument("n", type=int)
    parser.add_argument(
        "--chats", type=int, default=0, help="default: one chat per message (fairness: 100)"
    )
    parser.add_argument("--rate", type=float, default=25.0, help="paced: messages per second")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats here")
    parser.add_argument("--no-log", action="store_true", help="skip production logging")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="fake answers this much later")
    args = parser.parse_args()
    if not args.no_log:
        production_logging()
    chats = args.chats or (100 if args.mode == "fairness" else args.n)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workdir = Path(tmp)
        probe = Probe(args.profile)
        if args.mode == "noop":
            result = asyncio.run(run_noop(workdir, args.n, chats, probe))
        else:
            result = asyncio.run(
                run_app(
                    workdir,
                    args.mode,
                    args.n,
                    chats,
                    args.rate,
                    args.timeout,
                    probe,
                    args.rtt_ms,
                )
            )
    emit(result)


if __name__ == "__main__":
    main()
