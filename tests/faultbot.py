"""Helpers for the fault suite: the real ``python -m bot`` process against the fake Bot API.

``BotProcess`` starts the bot with its output in files (a chatty bot can never block on a full
pipe), kills it with SIGKILL or stops it with SIGTERM, every wait bounded. ``seed_due`` writes
deliveries due "now" on the system clock straight into the database, as the bot process uses
the system clock. ``db_snapshot`` reads the file from the test process without disturbing it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.offline.fake_api import FakeBotApi
from messages.catalog import TimelineEntry
from scheduler.companion import Companion
from scheduler.model import Kind
from scheduler.store.db import Database, to_db

ROOT = Path(__file__).resolve().parents[1]
STOP_WAIT = 10.0  # the process contract: SIGTERM -> exit within 10 s
# How long a wait in the fault suite lets nothing at all happen (no request at the fake, no log
# line from the bot) before it calls the bot stuck. Not a budget for the wait: a loaded machine
# makes a wait longer, never failed, as long as the bot is doing something.
STALL = 120.0
# Per-patient messages the fault suite seeds, in the order each chat must receive them;
# the last two are urgent in the timeline.
SEEDED_MESSAGES = ("provider_first", "rest_up", "calm_start", "last_steps", "dont_drive")


class BotProcess:
    """One ``python -m bot`` run. ``env`` adds to (or with None removes from) the defaults."""

    def __init__(
        self,
        api: FakeBotApi,
        db_path: Path,
        logs: Path,
        *,
        token: str | None = None,
        env: dict[str, str | None] | None = None,
        fast: bool = True,
    ) -> None:
        self.api = api
        self.db_path = db_path
        logs.mkdir(parents=True, exist_ok=True)
        runs = len(list(logs.glob("run*.out")))
        self.stdout_path = logs / f"run{runs}.out"
        self.stderr_path = logs / f"run{runs}.err"
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TELEGRAM_BOT_TOKEN": token if token is not None else api.token,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "COMPANION_DB": str(db_path),
            "PYTHONUNBUFFERED": "1",
        }
        if fast:
            environment["COMPANION_MIN_CHAT_INTERVAL"] = "0"
            environment["COMPANION_RATE_LIMIT"] = "off"
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot"], cwd=ROOT, env=environment, stdout=out, stderr=err
            )
        self.started = time.monotonic()
        self.polls_before = api.polls_started

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_polling(self) -> None:
        """Until this process asks for updates: it has started and handled its stored backlog.

        Counted by requests arriving at the fake since this process started, since a killed
        predecessor's long poll may still be open there. No time budget (``wait_active``).
        """
        wait_active(self.api, lambda: self.api.polls_started > self.polls_before, self)

    def kill(self) -> None:
        """SIGKILL: no handler runs, no buffer is flushed, the lock is dropped by the kernel."""
        if self.running():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_WAIT)

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = STOP_WAIT) -> tuple[int, float]:
        """Send ``sig`` and wait; returns (exit status, seconds it took)."""
        began = time.monotonic()
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - began

    def log_size(self) -> int:
        """Bytes the process has written to its logs: a sign of life that needs no request."""
        return sum(path.stat().st_size for path in (self.stdout_path, self.stderr_path))

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        if self.running():
            self.process.kill()
            self.process.wait(timeout=STOP_WAIT)


# -- seeding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    chats: tuple[int, ...]  # one patient per chat, in seeding order
    expired_keys: frozenset[str]  # rows seeded already past their deadline
    gone_chats: frozenset[int]  # chats the fake will answer 403 for


def system_now() -> datetime:
    return datetime.now(UTC)


def seed_due(
    db_path: Path,
    timeline: Sequence[TimelineEntry],
    *,
    people: int,
    first_chat: int = 10_000,
    expired_every: int = 0,
    gone: Sequence[int] = (),
    messages: Sequence[str] = SEEDED_MESSAGES,
    deadline_in: timedelta = timedelta(minutes=30),
    due_in: timedelta = timedelta(0),
) -> Seeded:
    """``people`` patients, each with a session in two days and one row per message in
    ``messages``, all due within the last two seconds on the system clock (or
    ``due_in`` later).

    Rows are interleaved (every chat's first message, then every chat's second ...), one
    millisecond apart, so due order is known. Every ``expired_every``-th patient's first row is
    already past its deadline. ``gone`` are indexes of patients who blocked the bot.
    """
    urgent = {entry.id: entry.urgent for entry in timeline}
    now = system_now()
    base = now - timedelta(seconds=2) + due_in
    db = Database(db_path)
    companion = Companion(db, timeline)
    chats = tuple(first_chat + i for i in range(people))
    expired: set[str] = set()
    try:
        patients = []
        for i, chat in enumerate(chats):
            patient = companion.register_patient(chat, f"Seed {i}", "Africa/Abidjan", now)
            # These rows fall due on the real clock, at any hour the suite runs: without quiet
            # hours the dispatcher's send-time check never holds them for the morning.
            companion.set_quiet_hours(patient.id, None, now)
            start = (now + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
            session = companion.add_session(patient.id, start.replace(tzinfo=None), Kind.IV, now)
            patients.append((patient.id, session.id))
        rows = []
        for k, message_id in enumerate(messages):
            for i, (patient_id, session_id) in enumerate(patients):
                key = f"seed{i}:{k}"
                due = base + timedelta(milliseconds=k * people + i)
                deadline = now + deadline_in
                if k == 0 and expired_every and i % expired_every == 0:
                    deadline = now - timedelta(seconds=1)
                    expired.add(key)
                rows.append(
                    (
                        key,
                        patient_id,
                        patient_id,
                        session_id,
                        message_id,
                        to_db(due),
                        to_db(deadline),
                        int(urgent[message_id]),
                    )
                )
        with db.transaction() as conn:
            conn.execute("DELETE FROM deliveries")
            conn.executemany(
                "INSERT INTO deliveries (key, patient_id, recipient_id, session_id, message_id,"
                " due_at, deadline, urgent, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                rows,
            )
    finally:
        db.close()
    return Seeded(chats, frozenset(expired), frozenset(chats[i] for i in gone))


# -- reading the file from outside ----------------------------------------------------------------


def db_rows(db_path: Path, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
    """Run one read on a fresh connection (WAL: it never blocks the bot, nor is blocked)."""
    with closing(sqlite3.connect(db_path, timeout=10.0)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, tuple(params)).fetchall()


def status_counts(db_path: Path) -> dict[str, int]:
    rows = db_rows(db_path, "SELECT status, count(*) AS n FROM deliveries GROUP BY status")
    return {row["status"]: row["n"] for row in rows}


def wait_until(predicate: object, timeout: float, interval: float = 0.05) -> None:
    """Poll ``predicate()`` (a callable) until truthy; TimeoutError after ``timeout``."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


def wait_active(
    api: FakeBotApi,
    predicate: Callable[[], object],
    *processes: BotProcess,
    stall: float = STALL,
) -> Any:
    """Until ``predicate()`` holds, woken by each request the fake records (its condition
    variable), not by a wall-clock budget: the wait has no overall limit. It fails only when a
    bot process given exits first, or when nothing happened for ``stall`` seconds (no request
    reached the fake but long polls, no process wrote a log line): a hang, never mere slowness
    under load.
    Returns the predicate's value."""

    def activity() -> tuple[int, ...]:
        # An idle bot's long polls are no progress: only other requests and log lines count.
        calls = sum(1 for call in api.calls() if call.method != "getUpdates")
        return (calls, *(process.log_size() for process in processes))

    seen = activity()
    quiet_since = time.monotonic()
    while not (value := predicate()):
        for process in processes:
            if not process.running() and not predicate():
                raise AssertionError(
                    f"bot exited ({process.process.returncode}) first: {process.stderr()[-3000:]}"
                )
        now = activity()
        if now != seen:
            seen, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= stall:
            raise TimeoutError(f"nothing happened for {stall:.0f}s; last calls: {_last(api)}")
        with contextlib.suppress(TimeoutError):
            # Returns at the next request (or when the predicate holds); polls the rest (logs,
            # the database) a few times a second.
            api.wait_for(functools.partial(_moved_on, api, api.mark(), predicate), timeout=0.25)
    return value


def _moved_on(api: FakeBotApi, mark: int, predicate: Callable[[], object]) -> bool:
    return api.mark() != mark or bool(predicate())


def _last(api: FakeBotApi) -> str:
    return ", ".join(f"{c.method}({c.chat_id})->{c.status}" for c in api.calls()[-8:])
