"""``python -m benchmarks``: build the data, run the scenarios, print the table.

    python -m benchmarks                  # 10k, 100k, 1M pending deliveries; ~15 min on 2 cores
    python -m benchmarks --quick          # 10k only, shorter dispatch runs; < 1 min
    python -m benchmarks --json out.json  # also write the figures as JSON
    python -m benchmarks --apscheduler-1m # also measure the one-job-per-reminder design at 1M
    python -m benchmarks --huge           # also start-up and RSS at 10x the largest size (10M)

Scenarios (docs/benchmarks.md explains each figure and which code path it used):

1. plan and store   ``plan_store_companion`` (the bot's domain calls) and ``plan_store_bulk``
                    (planner + ``Deliveries.replace_plan`` in bulk); the bulk databases feed 2.
2. start-up         ``startup``: a fresh process opens the database until the dispatch job is
                    armed; median of several runs, peak RSS the largest.
3. dispatch         ``dispatch_noop`` (our CPU, no HTTP), ``dispatch_backlog`` (whole path,
                    limiter off), ``dispatch_paced`` (lateness below the cap, limiter on).
4. morning burst    ``burst_rtt{0,50,150}ms``: N chats due at one instant, against a fake enforcing
                    30/s and 1/s/chat and answering after that round trip (real time: ~100 s
                    each at 3,000 chats); ``fairness``: one chat with 500 due and 100 chats
                    with one each, how long the 100 wait.
5. side by side     ``side_by_side``: the same start-up with one APScheduler job per reminder;
                    ``side_by_side_extrapolated`` where a size is not measured.
6. re-planning      ``replan_companion_settings`` / ``_add``: on the databases of 1, patients
                    spread over them each get one domain call that re-plans them (a quiet-hours
                    change; one more session), each its own transaction, as the bot makes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.common import (
    METRICS,
    ROOT,
    Result,
    child_command,
    child_env,
    format_table,
    parse_child_output,
    run_child,
)
from benchmarks.fakeserver import FakeServer

K, M = 1_000, 1_000_000
HUGE_FACTOR = 10  # --huge: 10M pending in the full run


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...]  # pending deliveries for scenarios 1, 2 (bulk path) and 5
    companion_sizes: tuple[int, ...]  # sizes the domain path (Companion) is measured at
    apscheduler_sizes: tuple[int, ...]  # sizes the one-job-per-reminder start-up is measured at
    startup_runs: int
    noop_n: int
    backlog_n: int
    paced_rate: float  # messages per second, below the 30/s cap
    paced_seconds: float
    paced_chats: int
    burst_chats: int
    replan_sizes: tuple[int, ...] = ()  # sizes scenario 6 re-plans patients at
    replan_calls: int = 0  # domain calls per kind of change in scenario 6
    burst_rtts_ms: tuple[float, ...] = (0.0,)  # a burst against a fake answering this late
    fairness_big: int = 0  # fairness: rows due to one chat ...
    fairness_others: int = 0  # ... and this many other chats with one row each (0: off)
    huge: bool = False  # also start-up at HUGE_FACTOR times the largest size


FULL = Config(
    sizes=(10 * K, 100 * K, 1 * M),
    companion_sizes=(10 * K, 100 * K),
    apscheduler_sizes=(10 * K, 100 * K),
    startup_runs=3,
    noop_n=10 * K,
    backlog_n=10 * K,
    paced_rate=25.0,
    paced_seconds=60.0,
    paced_chats=500,
    burst_chats=3_000,
    replan_sizes=(100 * K, 1 * M),
    replan_calls=2_000,
    burst_rtts_ms=(0.0, 50.0, 150.0),
    fairness_big=500,
    fairness_others=100,
)
QUICK = Config(
    sizes=(10 * K,),
    companion_sizes=(10 * K,),
    apscheduler_sizes=(10 * K,),
    startup_runs=2,
    noop_n=3_000,
    backlog_n=1_500,
    paced_rate=25.0,
    paced_seconds=8.0,
    paced_chats=100,
    burst_chats=300,
    replan_sizes=(10 * K,),
    replan_calls=172,
    burst_rtts_ms=(0.0, 150.0),
    fairness_big=100,
    fairness_others=100,
)
# For the smoke test: every scenario and metric, as small as they go.
SMOKE = Config(
    sizes=(300,),
    companion_sizes=(300,),
    apscheduler_sizes=(300,),
    startup_runs=1,
    noop_n=100,
    backlog_n=100,
    paced_rate=25.0,
    paced_seconds=1.0,
    paced_chats=25,
    burst_chats=40,
    replan_sizes=(300,),
    replan_calls=5,
    burst_rtts_ms=(0.0, 50.0),
    fairness_big=20,
    fairness_others=10,
)


class Run:
    """Collects results, prints progress to stderr, keeps the scratch directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.results: list[Result] = []
        self.notes: list[str] = []
        self.started = time.perf_counter()

    def add(self, scenario: str, n: int, metric: str, value: float, unit: str = "") -> None:
        self.results.append(Result(scenario, n, metric, float(value), unit or METRICS[metric]))

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.log(f"note: {text}")

    def log(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f} s] {text}", file=sys.stderr, flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.log(f"{name} ...")
        begun = time.perf_counter()
        yield
        self.log(f"{name}: {time.perf_counter() - begun:.1f} s")


def size_label(n: int) -> str:
    if n >= M and n % M == 0:
        return f"{n // M}M"
    if n >= K and n % K == 0:
        return f"{n // K}k"
    return str(n)


# -- scenario 1 --------------------------------------------------------------------------------


def plan_and_store(run: Run, config: Config) -> dict[int, Path]:
    databases: dict[int, Path] = {}
    for n in config.sizes:
        paths = ["bulk", *(["companion"] if n in config.companion_sizes else [])]
        for how in paths:
            path = run.workdir / f"plan-{how}-{size_label(n)}.db"
            with run.step(f"plan and store, {how} path, {size_label(n)}"):
                got = run_child("benchmarks.population", str(path), str(n), how, timeout=1800)
            scenario = f"plan_store_{how}"
            run.add(scenario, n, "plan_deliveries_per_s", got["per_s"])
            run.add(scenario, n, "plan_total_s", got["total_s"], "s")
            run.add(scenario, n, "pending_deliveries", got["pending"], "count")
            run.add(scenario, n, "patients", got["patients"], "count")
            if how == "bulk":
                databases[n] = path
            else:
                path.unlink(missing_ok=True)
    slowest = max(config.companion_sizes, default=0)
    for n in config.sizes:
        if n > slowest and slowest:
            rate = next(
                r.value
                for r in run.results
                if r.scenario == "plan_store_companion"
                and r.n == slowest
                and r.metric == "plan_deliveries_per_s"
            )
            run.add("plan_store_companion_extrapolated", n, "plan_total_s", n / rate, "s")
            run.note(
                f"domain path (Companion) not run at {size_label(n)}: at the {size_label(slowest)}"
                f" rate it would take ~{n / rate:.0f} s; that size used the bulk path only"
            )
    return databases


# -- scenarios 2 and 5 -------------------------------------------------------------------------


def start_once(db: Path, fake: FakeServer, *, apscheduler: bool) -> dict[str, Any]:
    """One start-up child; adds the wall time from spawning the process to the armed job."""
    args = [str(db), fake.base_url, fake.token, *(["--apscheduler"] if apscheduler else [])]
    spawned = time.time()
    done = subprocess.run(
        child_command("benchmarks.startup", *args),
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    got: dict[str, Any] = parse_child_output(
        "benchmarks.startup", done.returncode, done.stdout, done.stderr
    )
    got["process_s"] = got["armed_epoch"] - spawned
    if not got["armed"]:
        raise RuntimeError(f"start-up on {db.name}: the dispatch job was not armed")
    return got


def startup(run: Run, config: Config, databases: dict[int, Path], fake: FakeServer) -> None:
    for n, db in databases.items():
        with run.step(f"start-up, {size_label(n)} pending, {config.startup_runs} runs"):
            runs = [start_once(db, fake, apscheduler=False) for _ in range(config.startup_runs)]
        run.add("startup", n, "startup_s", statistics.median(r["startup_s"] for r in runs))
        run.add("startup", n, "peak_rss_mb", max(r["peak_rss_mb"] for r in runs))
        run.add("startup", n, "startup_cpu_s", statistics.median(r["cpu_s"] for r in runs), "s")
        run.add("startup", n, "post_init_s", statistics.median(r["post_init_s"] for r in runs), "s")
        run.add("startup", n, "process_s", statistics.median(r["process_s"] for r in runs), "s")


def side_by_side(
    run: Run, config: Config, databases: dict[int, Path], fake: FakeServer, *, at_1m: bool
) -> None:
    sizes = [n for n in databases if n in config.apscheduler_sizes or (at_1m and n == M)]
    measured: dict[int, tuple[float, float]] = {}
    for n in sizes:
        with run.step(f"side by side: one APScheduler job per reminder, {size_label(n)}"):
            got = start_once(databases[n], fake, apscheduler=True)
        measured[n] = (got["startup_s"], got["peak_rss_mb"])
        add_side(run, "side_by_side", n, measured[n])
        run.add("side_by_side", n, "apscheduler_jobs_added_s", got["jobs_added_s"], "s")
    missing = [n for n in databases if n not in measured]
    if len(measured) >= 2 and missing:
        (n1, (s1, r1)), (n2, (s2, r2)) = sorted(measured.items())[-2:]
        for n in missing:
            scale = (n - n2) / (n2 - n1)
            estimate = (s2 + (s2 - s1) * scale, r2 + (r2 - r1) * scale)
            add_side(run, "side_by_side_extrapolated", n, estimate)
            run.note(
                f"one-job-per-reminder start-up at {size_label(n)} extrapolated linearly from "
                f"{size_label(n1)} and {size_label(n2)}: ~{estimate[0]:.0f} s, "
                f"~{estimate[1]:.0f} MB (measure with --apscheduler-1m)"
            )


def add_side(run: Run, scenario: str, n: int, figures: tuple[float, float]) -> None:
    seconds, rss = figures
    run.add(scenario, n, "apscheduler_startup_s", seconds)
    run.add(scenario, n, "apscheduler_peak_rss_mb", rss)
    ours = {
        r.metric: r.value
        for r in run.results
        if r.scenario == "startup" and r.n == n and r.metric in ("startup_s", "peak_rss_mb")
    }
    if ours:
        run.add(scenario, n, "startup_ratio_vs_ours", seconds / ours["startup_s"], "x")
        run.add(scenario, n, "rss_ratio_vs_ours", rss / ours["peak_rss_mb"], "x")


# -- scenarios 3 and 4 -------------------------------------------------------------------------


def dispatch(run: Run, config: Config) -> None:
    workdir = str(run.workdir)
    with run.step(f"dispatch, no-op sender, {config.noop_n:,} due"):
        got = run_child(
            "benchmarks.dispatching", "noop", str(config.noop_n), "--workdir", workdir, timeout=900
        )
    run.add(
        "dispatch_noop", config.noop_n, "dispatch_cpu_ms_per_message", got["cpu_ms_per_message"]
    )
    run.add("dispatch_noop", config.noop_n, "wall_ms_per_message", got["wall_ms_per_message"], "ms")

    n = config.backlog_n
    with run.step(f"dispatch, whole path, limiter off, {n:,} due at once"):
        got = run_child(
            "benchmarks.dispatching", "backlog", str(n), "--workdir", workdir, timeout=900
        )
    run.add("dispatch_backlog", n, "messages_per_s", got["messages_per_s"])
    run.add("dispatch_backlog", n, "cpu_ms_per_message", got["cpu_ms_per_message"])
    run.add("dispatch_backlog", n, "makespan_s", got["makespan_s"], "s")

    n = round(config.paced_rate * config.paced_seconds)
    with run.step(f"dispatch, limiter on, {n:,} due {config.paced_rate:g}/s"):
        got = run_child(
            "benchmarks.dispatching",
            "paced",
            str(n),
            f"--rate={config.paced_rate}",
            f"--chats={config.paced_chats}",
            "--workdir",
            workdir,
            timeout=config.paced_seconds + 300,
        )
    for metric in ("lateness_p50_ms", "lateness_p99_ms", "lateness_max_ms"):
        run.add("dispatch_paced", n, metric, got[metric])
    run.add("dispatch_paced", n, "cpu_ms_per_message", got["cpu_ms_per_message"])
    run.add("dispatch_paced", n, "paced_429s", got["fake_429s"], "count")


def burst(run: Run, config: Config) -> None:
    """Scenario 4: N chats due at one instant, at Telegram's caps, at each round trip."""
    n = config.burst_chats
    for rtt in config.burst_rtts_ms:
        with run.step(f"morning burst, {n:,} chats due at one instant, round trip {rtt:g} ms"):
            got = run_child(
                "benchmarks.dispatching",
                "burst",
                str(n),
                f"--rtt-ms={rtt}",
                "--workdir",
                str(run.workdir),
                timeout=n / 30 * 3 + 300,
            )
        scenario = f"burst_rtt{rtt:g}ms"
        run.add(scenario, n, "burst_makespan_s", got["makespan_s"])
        run.add(scenario, n, "burst_ideal_s", n / 30, "s")
        run.add(scenario, n, "burst_429s", got["fake_429s"])
        run.add(scenario, n, "sent_per_s", got["messages_per_s"], "msg/s")
        run.add(scenario, n, "cpu_ms_per_message", got["cpu_ms_per_message"])
    if not config.fairness_others:
        return
    big, others = config.fairness_big, config.fairness_others
    with run.step(f"fairness: one chat with {big} due, {others} chats with one each"):
        got = run_child(
            "benchmarks.dispatching",
            "fairness",
            str(big),
            f"--chats={others}",
            "--workdir",
            str(run.workdir),
            timeout=others / 30 * 3 + 300,
        )
    run.add("fairness", big + others, "fairness_max_wait_s", got["fairness_max_wait_s"])
    run.add("fairness", big + others, "fairness_p50_wait_s", got["fairness_p50_wait_s"], "s")
    run.add("fairness", big + others, "burst_429s", got["fake_429s"])


# -- scenario 6 --------------------------------------------------------------------------------


def replanning(run: Run, config: Config, databases: dict[int, Path]) -> None:
    """Re-plans through the domain calls; changes the databases, so it runs after 2 and 5."""
    for n, db in databases.items():
        if n not in config.replan_sizes:
            continue
        for how in ("settings", "add"):
            with run.step(f"re-plan, {how}, {config.replan_calls:,} calls, {size_label(n)} stored"):
                got = run_child(
                    "benchmarks.replanning", str(db), str(config.replan_calls), how, timeout=1800
                )
            scenario = f"replan_companion_{how}"
            run.add(scenario, n, "plan_deliveries_per_s", got["per_s"])
            run.add(scenario, n, "ms_per_call", got["ms_per_call"], "ms")
            run.add(scenario, n, "cpu_ms_per_call", got["cpu_s"] / got["calls"] * 1000, "ms")
            run.add(scenario, n, "planned_deliveries", got["planned"], "count")
            run.add(scenario, n, "row_changes", got["row_changes"], "count")
            run.add(scenario, n, "calls", got["calls"], "count")


# -- --huge ------------------------------------------------------------------------------------


def huge(run: Run, config: Config, databases: dict[int, Path], fake: FakeServer) -> None:
    """Start-up at ``HUGE_FACTOR`` times the largest size, from a copy of its database."""
    if not databases:
        run.note("--huge needs the plan scenario's databases; skipped")
        return
    largest = max(databases)
    n = largest * HUGE_FACTOR
    target = run.workdir / f"plan-copied-{size_label(n)}.db"
    with run.step(f"--huge: {size_label(n)} database from the {size_label(largest)} one"):
        got = run_child(
            "benchmarks.huge", str(databases[largest]), str(target), str(HUGE_FACTOR), timeout=3600
        )
    run.note(
        f"--huge database: the {size_label(largest)} bulk database with every pending row copied"
        f" under new keys ({got['pending']:,} pending, {got['db_mb']:.0f} MB)"
    )
    with run.step(f"start-up, {size_label(n)} pending"):
        runs = [start_once(target, fake, apscheduler=False) for _ in range(config.startup_runs)]
    run.add("startup_huge", n, "startup_s", statistics.median(r["startup_s"] for r in runs))
    run.add("startup_huge", n, "peak_rss_mb", max(r["peak_rss_mb"] for r in runs))
    run.add(
        "startup_huge", n, "post_init_s", statistics.median(r["post_init_s"] for r in runs), "s"
    )
    target.unlink(missing_ok=True)


# -- main --------------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average {load}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="10k only, shorter runs (< 1 min)")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the figures here (JSON array)")
    parser.add_argument("--apscheduler-1m", action="store_true", help="measure scenario 5 at 1M")
    parser.add_argument("--huge", action="store_true", help="also start-up and RSS at 10M (10x)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("plan", "startup", "side", "dispatch", "burst", "replan"),
        help="run only these scenarios (plan is needed by startup, side and replan)",
    )
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args(argv)
    config = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.huge:
        config = replace(config, huge=True)
    only = set(args.only or ("plan", "startup", "side", "dispatch", "burst", "replan"))
    if only & {"startup", "side", "replan"}:
        only.add("plan")
    workdir = Path(tempfile.mkdtemp(prefix="companion-bench-", dir=args.workdir))
    run = Run(workdir)
    header = f"machine: {machine()}"
    run.log(header)
    try:
        databases: dict[int, Path] = {}
        if "plan" in only:
            databases = plan_and_store(run, config)
        with FakeServer(limit=False) as fake:
            if "startup" in only:
                startup(run, config, databases, fake)
            if "side" in only:
                side_by_side(run, config, databases, fake, at_1m=args.apscheduler_1m)
            if config.huge:
                huge(run, config, databases, fake)
        if "replan" in only:
            replanning(run, config, databases)
        if "dispatch" in only:
            dispatch(run, config)
        if "burst" in only:
            burst(run, config)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - run.started
    print(f"Session Companion benchmarks: {header}")
    print(f"command: python -m benchmarks {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"total time: {elapsed:.0f} s\n")
    print(format_table(run.results))
    for note in run.notes:
        print(f"\n- {note}", end="")
    print()
    if args.json:
        args.json.write_text(json.dumps([r.as_json() for r in run.results], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
