"""Retention: what the bot stops keeping, and when. Run daily by the bot (``bot.app``), and a
plain function of ``now`` so tests pin the clock.

Erased, with SQLite's ``secure_delete`` on and the write-ahead log truncated afterwards (so no
copy of an erased row stays in the file):

- a **series that ended** more than ``retention_days`` ago: its sessions, every message planned
  for them (sent or not, to the patient and to family), ride offers, and the series itself. A
  series ended when the last of its sessions (cancelled ones included) ended. A series is
  never erased while anything of it is still to be sent, nor the patient's latest series while
  a new session could still join it (``NEW_SERIES_GAP``) or while it has no session yet (it
  holds the length the patient chose for the sessions they have yet to add);
- **answers** to people's commands and presses, settled and due before the same cutoff (their
  text went when they were sent; the row said when and to which chat);
- **set-up dialogs** left half-way and untouched for ``STALE_DIALOG`` (the question is then
  simply asked again);
- **invite hashes** expired, used or revoked before the cutoff;
- **handled updates**, once Telegram can no longer send them again (``Inbox.prune``: a day).

The people themselves, their settings and family links stay until ``/forget``: they are who the
next series is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.localtime import session_start
from scheduler.model import NEW_SERIES_GAP, Session
from scheduler.store.db import Database
from scheduler.store.inbox import Inbox
from scheduler.store.upkeep import SeriesRef, Upkeep

DEFAULT_RETENTION_DAYS = 90
STALE_DIALOG = timedelta(days=30)


@dataclass(frozen=True)
class Erased:
    """What one run erased, as counts (for the log line)."""

    series: int = 0
    sessions: int = 0
    replies: int = 0
    dialogs: int = 0
    invites: int = 0
    updates: int = 0

    @property
    def anything(self) -> bool:
        return any(
            (self.series, self.sessions, self.replies, self.dialogs, self.invites, self.updates)
        )


def series_end(sessions: list[Session]) -> datetime:
    """When a series ended: the end of its last session (start plus expected duration)."""
    return max(session_start(s) + s.expected_duration for s in sessions)


def erase_expired(
    db: Database, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS
) -> Erased:
    """Erase what is kept no longer (see the module docstring); returns the counts."""
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, not {retention_days}")
    cutoff = now - timedelta(days=retention_days)
    upkeep = Upkeep(db)
    if not upkeep.secure_delete():
        raise RuntimeError("SQLite refused secure_delete: erased rows would stay in the file")
    series = sessions = 0
    for ref, members in upkeep.series_ended_before(cutoff):
        if not _expired(upkeep, ref, members, now, cutoff):
            continue
        sessions += upkeep.erase_series(ref, [s.id for s in members])
        series += 1
    erased = Erased(
        series=series,
        sessions=sessions,
        replies=upkeep.erase_old_replies(cutoff),
        dialogs=upkeep.erase_stale_dialogs(now - STALE_DIALOG),
        invites=upkeep.erase_old_invites(cutoff),
        updates=Inbox(db).prune(now),
    )
    if erased.anything:
        db.scrub()
    return erased


def _expired(
    upkeep: Upkeep, ref: SeriesRef, members: list[Session], now: datetime, cutoff: datetime
) -> bool:
    latest = upkeep.latest_series(ref.patient_id)
    current = latest is None or latest == ref.series_ref
    if not members:
        return not current
    end = series_end(members)
    if end >= cutoff:
        return False
    # The latest series takes a session added within NEW_SERIES_GAP of its end: keep it that long.
    return not current or end < now - NEW_SERIES_GAP
