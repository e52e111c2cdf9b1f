"""The fake Bot API in its own process, optionally enforcing Telegram's broadcast limits.

In its own process so the bot's CPU figures hold the bot only, and the two use both cores.

``LimitingFakeBotApi`` answers ``sendMessage`` with 429 and ``retry_after`` beyond
    * 30 messages per second overall: a GCRA (virtual-scheduling leaky bucket) with rate 30/s and
      a burst of 30, as Telegram's "about 30 messages per second";
    * 1 message per second per chat;
each with a tolerance of ``tolerance_s`` (50 ms) for jitter between the bot's clock and the
server's, the GCRA's usual slack. Only accepted messages count against the limits.

It hooks ``FakeBotApi._take_fault`` (the fake's per-request fault point) rather than changing
``bot/offline/fake_api.py``.

``--delay S`` answers every accepted ``sendMessage`` S seconds late: a network round trip to
Telegram, which the fake on 127.0.0.1 otherwise lacks.

Protocol (``python -m benchmarks.fakeserver [--limit] [--delay S]``): the first stdout line is
JSON with ``base_url`` and ``token``; then each ``stats`` line on stdin is answered with a JSON
line of counters, and ``quit`` (or end of input) stops the server.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from types import TracebackType
from typing import IO, Any

from benchmarks.common import ROOT, child_command, child_env
from bot.offline.fake_api import FakeBotApi, Fault, _Handler


class _NoDelayHandler(_Handler):
    """The fake's request handler with Nagle's algorithm off.

    ``http.server`` writes the headers and the body of an answer in two ``send`` calls; with
    Nagle on, the body waits for the ACK of the headers, which the client delays by up to 40 ms
    (delayed ACK): every answer would take ~40 ms however fast the fake is. Telegram's servers
    do not behave like that, so the benchmark turns it off (``TCP_NODELAY``).
    """

    disable_nagle_algorithm = True


class LimitingFakeBotApi(FakeBotApi):
    def __init__(
        self,
        *,
        limit: bool = True,
        overall_per_s: float = 30.0,
        overall_burst: int = 30,
        chat_interval_s: float = 1.0,
        tolerance_s: float = 0.05,
        retry_after: int = 1,
        delay_s: float = 0.0,
    ) -> None:
        super().__init__()
        self._delay = Fault(delay=delay_s, times=None) if delay_s > 0 else None
        self.limit = limit
        self._interval = 1.0 / overall_per_s
        self._burst_slack = (overall_burst - 1) * self._interval + tolerance_s
        self._chat_interval = chat_interval_s
        self._tolerance = tolerance_s
        self._retry_after = retry_after
        self._limit_lock = threading.Lock()
        self._overall_tat = 0.0  # GCRA "theoretical arrival time", monotonic seconds
        self._chat_tat: dict[int | str | None, float] = {}
        self.accepted = 0
        self.rejected = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    def _take_fault(self, method: str, chat_id: int | str | None) -> Fault | None:
        scripted = super()._take_fault(method, chat_id)
        if scripted is not None or method != "sendMessage":
            return scripted
        now = time.monotonic()
        with self._limit_lock:
            if self.limit:
                chat_tat = self._chat_tat.get(chat_id, 0.0)
                if now < self._overall_tat - self._burst_slack or now < chat_tat - self._tolerance:
                    self.rejected += 1
                    return Fault.flood(self._retry_after, times=None)
                self._overall_tat = max(self._overall_tat, now) + self._interval
                self._chat_tat[chat_id] = max(chat_tat, now) + self._chat_interval
            self.accepted += 1
            self.first_at = now if self.first_at is None else self.first_at
            self.last_at = now
        return self._delay  # answered normally, after the simulated round trip

    def stats(self) -> dict[str, Any]:
        with self._limit_lock:
            return {
                "accepted": self.accepted,
                "rejected_429": self.rejected,
                "first_at": self.first_at,
                "last_at": self.last_at,
            }


class FakeServer:
    """A fake Bot API child process; a context manager."""

    def __init__(self, *, limit: bool, delay_s: float = 0.0) -> None:
        args = [*(["--limit"] if limit else []), f"--delay={delay_s}"]
        self._process = subprocess.Popen(
            child_command("benchmarks.fakeserver", *args),
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self._stdout.readline()
        if not first:
            self.close()
            raise RuntimeError("the fake Bot API process did not start")
        info = json.loads(first)
        self.base_url: str = info["base_url"]
        self.token: str = info["token"]

    @property
    def _stdin(self) -> IO[str]:
        assert self._process.stdin is not None
        return self._process.stdin

    @property
    def _stdout(self) -> IO[str]:
        assert self._process.stdout is not None
        return self._process.stdout

    def stats(self) -> dict[str, Any]:
        self._stdin.write("stats\n")
        self._stdin.flush()
        answer: dict[str, Any] = json.loads(self._stdout.readline())
        return answer

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._stdin.write("quit\n")
                self._stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="fake Bot API for the benchmarks")
    parser.add_argument("--limit", action="store_true", help="answer 429 beyond 30/s, 1/s/chat")
    parser.add_argument("--delay", type=float, default=0.0, help="answer sends this much later")
    args = parser.parse_args()
    api = LimitingFakeBotApi(limit=args.limit, delay_s=args.delay)
    api.start()
    assert api._server is not None
    api._server.RequestHandlerClass = _NoDelayHandler  # before anyone knows the address
    print(json.dumps({"base_url": api.base_url, "token": api.token}), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                print(json.dumps(api.stats()), flush=True)
            elif command == "quit":
                break
    finally:
        api.stop()


if __name__ == "__main__":
    main()
