"""The operator's command-line tools: ``python -m bot stats`` and ``python -m bot backup PATH``.

Both are safe while the bot runs on the same database (WAL mode: readers never block the
writer). ``stats`` prints counts only, never a name, a chat id or a time of anyone's: the same
lines as an admin's ``/stats``. ``backup`` uses SQLite's online backup API (``sqlite3 .backup``
does the same), never a file copy, which could catch the database half-written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.clock import SystemClock
from scheduler.stats import collect
from scheduler.store.db import Database
from scheduler.store.upkeep import backup

DB_ENV = "COMPANION_DB"
EXIT_FAILED = 1
EXIT_USAGE = 2


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help=f"the bot's SQLite file (default: ${DB_ENV}, else ./companion.db)",
    )


def _db_path(args: argparse.Namespace) -> Path | None:
    """The database to read, or None (after saying why) when there is none: opening a missing
    file would create an empty database and report zeros."""
    path = Path(args.db or os.environ.get(DB_ENV) or "companion.db")
    if not path.is_file():
        print(f"no database at {path}: set {DB_ENV} or pass --db", file=sys.stderr)
        return None
    return path


def stats(args: argparse.Namespace) -> int:
    path = _db_path(args)
    if path is None:
        return EXIT_USAGE
    db = Database(path)
    try:
        print("\n".join(collect(db, SystemClock().now()).lines()))
    finally:
        db.close()
    return 0


def run_backup(args: argparse.Namespace) -> int:
    path = _db_path(args)
    if path is None:
        return EXIT_USAGE
    target = Path(args.path)
    if target.resolve() == path.resolve():
        print("the backup must go to another file than the database", file=sys.stderr)
        return EXIT_USAGE
    try:
        pages = backup(path, target)
    except Exception as exc:  # one line, not a traceback: the operator needs the cause
        print(f"backup failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"backed up {path} to {target} ({pages} pages)")
    return 0
