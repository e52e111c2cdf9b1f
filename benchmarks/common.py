"""Shared pieces: result records, CPU and memory readings, child processes, the results table.

Every scenario that measures time, CPU or memory runs in a fresh child process
(``python -m benchmarks.<module> ...``), so one scenario's heap, imports and logging never leak
into another's figures. A child prints exactly one line starting with ``RESULT_MARK`` followed by
JSON; :func:`run_child` returns that JSON.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULT_MARK = "BENCH-RESULT "

# The figures the issue asks for, with their units. Scenarios may add figures of their own
# (documented in docs/benchmarks.md); these names are always present in a run.
METRICS: dict[str, str] = {
    "plan_deliveries_per_s": "deliveries/s",
    "startup_s": "s",
    "peak_rss_mb": "MB",
    "dispatch_cpu_ms_per_message": "ms",
    "cpu_ms_per_message": "ms",
    "messages_per_s": "msg/s",
    "lateness_p50_ms": "ms",
    "lateness_p99_ms": "ms",
    "lateness_max_ms": "ms",
    "burst_makespan_s": "s",
    "burst_429s": "count",
    "fairness_max_wait_s": "s",
    "apscheduler_startup_s": "s",
    "apscheduler_peak_rss_mb": "MB",
}


@dataclass(frozen=True)
class Result:
    """One figure. ``n`` is the scenario's size: pending deliveries (nominal) or messages sent."""

    scenario: str
    n: int
    metric: str
    value: float
    unit: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """A goal from the issue: ``metric`` compared with ``limit``, for results of ``scenario``
    (None: any) at size ``n`` (None: any)."""

    metric: str
    op: str  # "<", ">" or "=="
    limit: float
    n: int | None = None
    scenario: str | None = None

    def applies(self, result: Result) -> bool:
        return (
            result.metric == self.metric
            and (self.n is None or result.n == self.n)
            and (self.scenario is None or result.scenario == self.scenario)
        )

    def met(self, value: float) -> bool:
        if self.op == "<":
            return value < self.limit
        if self.op == ">":
            return value > self.limit
        return value == self.limit

    def label(self) -> str:
        return f"{self.op} {_number(self.limit)}"


TARGETS: tuple[Target, ...] = (
    Target("startup_s", "<", 1.0, 1_000_000, "startup"),
    Target("peak_rss_mb", "<", 120.0, 1_000_000, "startup"),
    Target("startup_s", "<", 1.0, scenario="startup_huge"),  # "flat in N"
    Target("peak_rss_mb", "<", 120.0, scenario="startup_huge"),
    Target("plan_deliveries_per_s", ">", 20_000.0),
    Target("dispatch_cpu_ms_per_message", "<", 1.0, scenario="dispatch_noop"),
    Target("cpu_ms_per_message", "<", 2.0, scenario="dispatch_backlog"),
    Target("messages_per_s", ">", 600.0, scenario="dispatch_backlog"),
    Target("lateness_p99_ms", "<", 50.0, scenario="dispatch_paced"),
    *(
        target
        for rtt in ("0", "50", "150")
        for target in (
            Target("burst_429s", "==", 0.0, scenario=f"burst_rtt{rtt}ms"),
            Target("burst_makespan_s", "<", 105.0, 3_000, f"burst_rtt{rtt}ms"),
        )
    ),
    Target("burst_429s", "==", 0.0, scenario="fairness"),
    Target("fairness_max_wait_s", "<", 5.0, scenario="fairness"),
)


# -- readings ----------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's resident set now, in MiB (``VmRSS`` from /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def cpu_seconds() -> float:
    """CPU time of this process, user plus system, all threads."""
    return time.process_time()


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sequence."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# -- child processes ---------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def child_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def run_child(module: str, *args: str, timeout: float) -> Any:
    """Run ``python -m module args`` from the repository root; its result JSON."""
    done = subprocess.run(
        child_command(module, *args),
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return parse_child_output(module, done.returncode, done.stdout, done.stderr)


def parse_child_output(module: str, returncode: int, stdout: str, stderr: str) -> Any:
    found = [line for line in stdout.splitlines() if line.startswith(RESULT_MARK)]
    if returncode != 0 or not found:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"benchmark child {module} failed (exit {returncode}):\n{tail}")
    return json.loads(found[-1][len(RESULT_MARK) :])


def emit(payload: Any) -> None:
    """A child's answer: one marked JSON line on stdout."""
    print(RESULT_MARK + json.dumps(payload), flush=True)


# -- the table ---------------------------------------------------------------------------------


def _number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:#.3g}" if abs(value) < 1 else f"{value:.2f}"


def target_for(result: Result) -> Target | None:
    for target in TARGETS:
        if target.applies(result):
            return target
    return None


def format_table(results: Sequence[Result]) -> str:
    """A Markdown table: scenario, n, metric, value, unit, target, met."""
    header = ("scenario", "n", "metric", "value", "unit", "target", "met")
    rows = [header]
    for result in results:
        target = target_for(result)
        verdict = "" if target is None else ("yes" if target.met(result.value) else "NO")
        rows.append(
            (
                result.scenario,
                f"{result.n:,}",
                result.metric,
                _number(result.value),
                result.unit,
                "" if target is None else target.label(),
                verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)
