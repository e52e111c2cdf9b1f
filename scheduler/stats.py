"""The operator's view of a running bot: counts only, never a name, a chat or a time of anyone's.

``collect(db, now)`` reads the store; ``Stats.lines()`` is the one rendering that both
``python -m bot stats`` and the admins' ``/stats`` show, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.localtime import session_start
from scheduler.store.db import Database
from scheduler.store.upkeep import Upkeep

WEEK = timedelta(days=7)
DAY = timedelta(days=1)
OUTCOMES = ("sent", "skipped", "failed", "unknown")
# Sessions last hours, not days: one that started more than this before now has ended.
_LONGEST_SESSION = timedelta(days=2)


@dataclass(frozen=True)
class Stats:
    patients: int
    family: int
    active_series: int  # series with a session still to come or under way
    due_next_day: int  # timed messages due in the next 24 hours
    last_week: dict[str, int]  # timed messages due in the last 7 days, by outcome
    replies_sent: int  # answers to people's commands and presses, last 7 days
    lag: timedelta  # how long the oldest message already due has waited (zero: none waits)

    def lines(self) -> list[str]:
        """The plain-text rendering, one fact a line (numbers only: nothing to escape)."""
        week = ", ".join(f"{self.last_week.get(o, 0)} {o}" for o in OUTCOMES)
        return [
            f"people: {self.patients} patients, {self.family} family",
            f"active series: {self.active_series}",
            f"due in the next 24 h: {self.due_next_day}",
            f"last 7 days: {week}",
            f"replies sent, last 7 days: {self.replies_sent}",
            f"dispatcher lag: {_duration(self.lag)}",
        ]


def collect(db: Database, now: datetime) -> Stats:
    upkeep = Upkeep(db)
    counts = upkeep.counts(now, week=WEEK, day=DAY)
    # Local start text is compared before zones apply; a day's slack either way, then exactly.
    candidates = upkeep.sessions_since((now - _LONGEST_SESSION - DAY).replace(tzinfo=None))
    active = {
        (s.patient_id, s.series_ref)
        for s in candidates
        if session_start(s) + s.expected_duration > now
    }
    waited = now - counts.oldest_due if counts.oldest_due is not None else timedelta(0)
    return Stats(
        patients=counts.patients,
        family=counts.family,
        active_series=len(active),
        due_next_day=counts.due_next_day,
        last_week=counts.outcomes,
        replies_sent=counts.replies_sent,
        lag=max(waited, timedelta(0)),
    )


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
