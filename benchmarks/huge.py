"""``--huge`` (child process): a 10M-pending database for the start-up scenario, made fast.

``python -m benchmarks.huge SOURCE TARGET FACTOR`` copies SOURCE (the 1M database that the bulk
path planned) and inserts every pending row ``FACTOR - 1`` more times under new keys, with the
same people and sessions. Planning 10M rows through the planner would take ~20 minutes; start-up
reads only the schema, the ``deliveries_due`` index and the ``sending`` rows, for which copies
are as good as planned rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from benchmarks.common import emit
from benchmarks.population import count_pending
from scheduler.store import Database

COPY = (
    "INSERT INTO deliveries (key, patient_id, recipient_id, session_id, message_id, due_at,"
    " deadline, urgent, status, reason, planned_skip)"
    " SELECT key || ':copy' || ?, patient_id, recipient_id, session_id, message_id, due_at,"
    " deadline, urgent, status, reason, planned_skip FROM deliveries"
    " WHERE status = 'pending' AND id <= ?"
)


def replicate(source: Path, target: Path, factor: int) -> dict[str, float]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    db = Database(target)
    last = int(db.conn.execute("SELECT max(id) FROM deliveries").fetchone()[0])
    for copy in range(1, factor):
        with db.transaction() as conn:
            conn.execute(COPY, (copy, last))
    pending = count_pending(db)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {"pending": pending, "db_mb": os.path.getsize(target) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description="--huge child: replicate pending rows")
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("factor", type=int)
    args = parser.parse_args()
    emit(replicate(args.source, args.target, args.factor))


if __name__ == "__main__":
    main()
