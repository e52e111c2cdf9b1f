"""Where the CPU went: a cProfile dump's own time summed by area (our packages, PTB, httpx ...).

``python -m benchmarks.profiles STATS_FILE [--top 25]``; dumps come from
``python -m benchmarks.dispatching MODE N --profile FILE`` or ``python -m cProfile -o FILE ...``.
Profiling slows pure-Python code more than C code, so shares are indicative, not exact.
"""

from __future__ import annotations

import argparse
import pstats
from collections import defaultdict

AREAS = (
    ("scheduler/", "ours: scheduler"),
    ("messages/", "ours: messages"),
    ("/bot/", "ours: bot"),
    ("/benchmarks/", "benchmark harness"),
    ("telegram/", "python-telegram-bot"),
    ("httpx/", "httpx/httpcore/h11/anyio"),
    ("httpcore/", "httpx/httpcore/h11/anyio"),
    ("h11/", "httpx/httpcore/h11/anyio"),
    ("anyio/", "httpx/httpcore/h11/anyio"),
    ("apscheduler/", "apscheduler"),
    ("aiolimiter/", "apscheduler"),
    ("babel/", "babel"),
    ("importlib", "import machinery"),
    ("<frozen", "import machinery"),
    ("logging/", "logging"),
    ("asyncio/", "asyncio"),
    ("selectors", "asyncio"),
)


def area(filename: str, function: str) -> str:
    if filename == "~":
        if "sqlite3" in function:
            return "sqlite3 (C)"
        if "epoll" in function or "select" in function:
            return "asyncio"
        return "builtins (C)"
    for marker, name in AREAS:
        if marker in filename:
            return name
    return "other stdlib"


def summarize(path: str) -> list[tuple[str, float]]:
    stats = pstats.Stats(path)
    totals: defaultdict[str, float] = defaultdict(float)
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        totals[area(filename, function)] += row[2]  # tottime
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="cProfile own time by area")
    parser.add_argument("stats")
    parser.add_argument("--top", type=int, default=0, help="also print the top functions")
    args = parser.parse_args()
    rows = summarize(args.stats)
    total = sum(seconds for _, seconds in rows) or 1.0
    for name, seconds in rows:
        print(f"{name:32} {seconds:8.2f} s {100 * seconds / total:5.1f} %")
    if args.top:
        pstats.Stats(args.stats).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
