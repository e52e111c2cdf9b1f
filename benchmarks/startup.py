"""Scenarios 2 and 5 (child process): start the real bot on a database of N pending deliveries.

``python -m benchmarks.startup DB BASE_URL TOKEN [--apscheduler]``

Ours: ``bot.app.build_application`` (catalog load, ``Database`` open + migrate, services),
``Application.initialize`` (getMe against the fake), the app's own ``post_init`` (command menu,
``Deliveries.recover_in_flight``, safety tick, ``arm_dispatcher``: ``Dispatcher.next_due`` and one
``JobQueue.run_once``) and ``Application.start`` (APScheduler running): then the dispatcher is
armed for the next due row. The clock stops there.

``--apscheduler``: the alternative design on the same app and database. After ``post_init`` every
pending row becomes one ``JobQueue.run_once`` job (APScheduler's memory job store), read in due
order (the cheapest order for the store) and added before the scheduler starts (the cheapest
time: no wake-up per job). Then ``Application.start``.

Imports are timed separately (``import_s``): they are the same for any N.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

_PROCESS_T0 = time.perf_counter()


async def _noop_job(context: Any) -> None:
    """What one reminder's job would do; never runs here."""


async def start(db: str, base_url: str, token: str, *, apscheduler: bool) -> dict[str, Any]:
    from benchmarks.common import cpu_seconds, peak_rss_mb, rss_mb
    from bot.app import DISPATCH_JOB, build_application
    from bot.context import services_of
    from scheduler.store.db import from_db

    imported = time.perf_counter()
    cpu0 = cpu_seconds()
    phases: dict[str, float] = {}
    mark = imported

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = now - mark
        mark = now

    app = build_application(token=token, db_path=db, base_url=base_url)
    phase("build_application_s")
    await app.initialize()
    phase("initialize_s")
    assert app.post_init is not None
    await app.post_init(app)
    phase("post_init_s")
    job_queue = app.job_queue
    assert job_queue is not None
    jobs = 0
    if apscheduler:
        services = services_of(app)
        rows = services.db.conn.execute(
            "SELECT id, due_at FROM deliveries WHERE status = 'pending' ORDER BY due_at"
        )
        for row in rows:
            job_queue.run_once(_noop_job, when=from_db(row["due_at"]), data=row["id"])
            jobs += 1
        phase("jobs_added_s")
    await app.start()
    phase("start_s")
    armed_at = time.time()
    startup = time.perf_counter() - imported
    cpu = cpu_seconds() - cpu0
    dispatch_jobs = job_queue.get_jobs_by_name(DISPATCH_JOB)
    next_t = dispatch_jobs[0].next_t if dispatch_jobs else None
    result: dict[str, Any] = {
        "startup_s": startup,
        "cpu_s": cpu,
        "import_s": imported - _PROCESS_T0,
        "armed_epoch": armed_at,
        "armed": bool(dispatch_jobs),
        "armed_in_s": None if next_t is None else (next_t - datetime.now(UTC)).total_seconds(),
        "apscheduler_jobs": len(job_queue.scheduler.get_jobs()),
        "reminder_jobs": jobs,
        "peak_rss_mb": peak_rss_mb(),
        "rss_mb": rss_mb(),
        **phases,
    }
    await app.stop()
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Scenario 2/5 child: start-up")
    parser.add_argument("db")
    parser.add_argument("base_url")
    parser.add_argument("token")
    parser.add_argument("--apscheduler", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(start(args.db, args.base_url, args.token, apscheduler=args.apscheduler))
    from benchmarks.common import emit

    emit(result)


if __name__ == "__main__":
    main()
