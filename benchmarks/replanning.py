"""Scenario 6 (child process): re-planning through the domain calls on a populated database.

``python -m benchmarks.replanning DB COUNT {settings,add}``

``DB`` is a database scenario 1 built (``plan_store_bulk``: N stored deliveries, 58 per patient).
``COUNT`` patients spread evenly over it each get one domain call, each its own transaction and
fsync'd commit, exactly as the bot's handlers make them:

``settings``  ``Companion.set_quiet_hours`` (22:00-07:00 instead of 21:30-08:00): the patient's
              whole plan is computed again and reconciled with the stored rows; a few differ.
``add``       ``Companion.add_session``, one more session three days after the last: the plan
              grows by that session's rows and the series-end rows move to it.

Both are ``plan_deliveries`` + ``Deliveries.replace_plan`` inside ``Companion._replan``, plus the
reads and the write each call makes. ``per_s`` is planned deliveries (the rows each
``replace_plan`` received, summed) per second of wall time over all the calls.
"""

from __future__ import annotations

import argparse
import time as clock
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from pathlib import Path

from benchmarks.common import cpu_seconds, emit
from benchmarks.population import SESSION_EVERY, planning_now
from messages import load_timeline
from scheduler.companion import Companion
from scheduler.model import Kind, PlannedDelivery, QuietHours
from scheduler.store import Database

QUIET = QuietHours(time(22, 0), time(7, 0))


def spread(ids: Sequence[int], count: int) -> list[int]:
    """``count`` ids evenly spaced over ``ids`` (all of them if there are fewer)."""
    if count >= len(ids):
        return list(ids)
    step = len(ids) / count
    return [ids[int(i * step)] for i in range(count)]


def run(path: Path, count: int, how: str) -> dict[str, float]:
    db = Database(path)
    companion = Companion(db, load_timeline())
    now = planning_now()
    stored = db.conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    patients = spread(
        [row[0] for row in db.conn.execute("SELECT id FROM people WHERE role = 'patient'")],
        count,
    )
    last: dict[int, datetime] = {}
    if how == "add":
        for pid in patients:
            sessions = companion.sessions(pid)
            last[pid] = max(s.local_start for s in sessions) + SESSION_EVERY
    planned = 0
    writer = companion.deliveries.replace_plan

    def counted(patient_id: int, plan: Sequence[PlannedDelivery]) -> None:
        nonlocal planned
        planned += len(plan)
        writer(patient_id, plan)

    companion.deliveries.replace_plan = counted  # type: ignore[method-assign,assignment]
    changes0 = db.conn.total_changes
    wall0, cpu0 = clock.perf_counter(), cpu_seconds()
    for pid in patients:
        if how == "settings":
            companion.set_quiet_hours(pid, QUIET, now)
        else:
            companion.add_session(pid, last[pid], Kind.IV, now, duration=timedelta(hours=2))
    wall, cpu = clock.perf_counter() - wall0, cpu_seconds() - cpu0
    changes = db.conn.total_changes - changes0
    db.close()
    return {
        "stored": stored,
        "calls": len(patients),
        "planned": planned,
        "row_changes": changes,
        "total_s": wall,
        "cpu_s": cpu,
        "per_s": planned / wall if wall else 0.0,
        "ms_per_call": wall / len(patients) * 1000 if patients else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Scenario 6 child: re-plan through Companion")
    parser.add_argument("db", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("how", choices=("settings", "add"))
    args = parser.parse_args()
    emit(run(args.db, args.count, args.how))


if __name__ == "__main__":
    main()
