"""The one place the bot reads the time; the domain gets ``now`` as a parameter.

A clock answers two questions: what instant is it (aware UTC), and how many real seconds until a
given instant, which is what the job queue needs to wake the dispatcher. The two differ only for
the demo's accelerated clock, where an hour of treatment passes in seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...

    def seconds_until(self, instant: datetime) -> float:
        """Real seconds to wait until ``instant`` on this clock; <= 0 if it has passed."""
        ...


class SystemClock:
    """Wall-clock time, for production."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def seconds_until(self, instant: datetime) -> float:
        return (instant - self.now()).total_seconds()


class AcceleratedClock:
    """Simulated time starting at ``start`` and running ``speed`` times faster than real time.

    Monotonic underneath, so a wall-clock jump on the machine does not jump the simulation.
    """

    def __init__(
        self,
        start: datetime,
        speed: float = 60.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("AcceleratedClock needs an aware start instant")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> datetime:
        elapsed = self._monotonic() - self._origin
        return self.start + timedelta(seconds=elapsed * self.speed)

    def seconds_until(self, instant: datetime) -> float:
        return (instant - self.now()).total_seconds() / self.speed

    def jump_to(self, instant: datetime) -> None:
        """Skip ahead (the demo jumps over nights); the clock keeps running from there."""
        if instant.tzinfo is None:
            raise ValueError("jump_to needs an aware instant")
        self.start = instant.astimezone(UTC)
        self._origin = self._monotonic()


class ManualClock:
    """Time that moves only when told to, for tests.

    ``seconds_until`` answers in simulated seconds, so a job armed on this clock fires only if the
    test waits that long for real; tests move the clock and run the dispatcher themselves.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start instant")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def seconds_until(self, instant: datetime) -> float:
        return (instant - self._now).total_seconds()

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("ManualClock.set needs an aware instant")
        self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now
