"""``python -m bot demo``: the story plays out against the real bot, and reads as promised."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from bot.offline import demo
from bot.offline.fake_api import FakeBotApi
from messages import load_catalog

ROOT = Path(__file__).resolve().parents[1]
# "Tue  1 Dec 20:00  bot -> Maya   text": where each entry of the transcript starts.
_ENTRY = re.compile(
    r"^(?P<stamp>\w{3} [ \d]\d \w{3} \d\d:\d\d)  (?P<who>\w+ -> \w+)\s+(?P<text>.*)$"
)
FAMILY_NEVER = ("ketamine", "esketamine", "depression")


def blocks(transcript: str) -> list[tuple[str, str, str]]:
    """(stamp, who, text) per entry; its continuation lines (indented to the text column, or
    blank inside a message) are joined to it with single spaces."""
    found: list[list[str]] = []
    indent = " " * demo.TEXT_COLUMN
    open_entry = False
    for line in transcript.splitlines():
        match = _ENTRY.match(line)
        if match is not None:
            found.append([match["stamp"], match["who"], match["text"]])
            open_entry = True
        elif open_entry and (line.startswith(indent) or not line.strip()):
            found[-1][2] += " " + line.strip()
        else:
            open_entry = False
    return [(stamp, who, " ".join(text.split())) for stamp, who, text in found]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str]:
    """The demo once, in this process, as ``python -m bot demo`` runs it."""
    capture = tmp_path_factory.mktemp("demo") / "out.txt"
    err_capture = capture.with_suffix(".err")
    saved = sys.stdout, sys.stderr
    with capture.open("w", encoding="utf-8") as out, err_capture.open("w", encoding="utf-8") as err:
        sys.stdout, sys.stderr = out, err
        try:
            code = demo.main()
        finally:
            sys.stdout, sys.stderr = saved
    return code, capture.read_text(encoding="utf-8"), err_capture.read_text(encoding="utf-8")


def texts(entries: list[tuple[str, str, str]], who: str) -> list[str]:
    return [text for _, w, text in entries if w == who]


def test_demo_exits_0_and_explains_itself(run: tuple[int, str, str]) -> None:
    code, out, err = run
    assert code == 0, err
    head = " ".join(out[:1500].lower().split())
    assert "no bot token" in head and "no network" in head and "simulated" in head
    assert "Summary" in out
    assert re.search(r"Maya\s+received\s+\d+ messages", out)
    assert re.search(r"Sam\s+received\s+\d+ messages", out)
    assert "Not sent" in out  # skipped messages, or that there were none


def test_demo_prints_no_token(run: tuple[int, str, str]) -> None:
    _, out, err = run
    fake_token = FakeBotApi().token
    for stream in (out, err):
        assert fake_token not in stream
        assert fake_token.split(":")[1] not in stream


def test_patient_onboards_and_gets_the_series(run: tuple[int, str, str]) -> None:
    _, out, _ = run
    entries = blocks(out)
    said = texts(entries, "Maya -> bot")
    assert said[:6] == [
        "/start",
        "taps [Maya]",
        "taps [London]",
        "taps [IV (into a vein)]",
        "taps [3]",
        demo.FIRST_SESSION,
    ]
    assert "/invite" in said
    to_maya = " | ".join(texts(entries, "bot -> Maya")).lower()
    assert "all set, maya" in to_maya
    assert "session 1 of 3" in to_maya
    assert "session 3 of 3" in to_maya
    assert "don't drive" in to_maya  # the after-session message
    assert "do it now rather than noting" in to_maya  # put improved function to use
    assert "talk to your provider" in to_maya


def test_buttons_show_and_work(run: tuple[int, str, str]) -> None:
    _, out, _ = run
    assert "[Got it] [Remind me in 30 min]" in out
    entries = blocks(out)
    said = texts(entries, "Maya -> bot")
    assert "taps [Got it]" in said
    assert "taps [Remind me in 30 min]" in said
    assert any(t.startswith("(pop-up)") for t in texts(entries, "bot -> Maya"))


def test_family_member_joins_is_welcomed_and_drives(run: tuple[int, str, str]) -> None:
    _, out, _ = run
    entries = blocks(out)
    to_sam = texts(entries, "bot -> Sam")
    assert any("hold your questions" in t.lower() for t in to_sam)  # the family welcome
    assert any("[Join]" in t or "Would you like to join" in t for t in to_sam)
    sequence = [(who, text) for _, who, text in entries]
    ride = sequence.index(("Sam -> bot", "taps [I can drive]"))
    told = [
        i
        for i, (who, text) in enumerate(sequence)
        if who == "bot -> Maya" and "Sam will drive you" in text
    ]
    assert told and told[0] > ride
    # Approval comes from the patient, before the welcome.
    approve = sequence.index(("Maya -> bot", "taps [Approve]"))
    welcome = next(i for i, (w, t) in enumerate(sequence) if w == "bot -> Sam" and "Welcome" in t)
    assert approve < welcome


def test_family_messages_never_name_the_drug_or_condition(run: tuple[int, str, str]) -> None:
    _, out, _ = run
    to_sam = texts(blocks(out), "bot -> Sam")
    assert len(to_sam) >= 8
    words = set(FAMILY_NEVER) | set(load_catalog().texts("en").sensitive_words)
    for text in to_sam:
        assert not [w for w in words if w in text.lower()], text


def test_transcript_is_in_time_order(run: tuple[int, str, str]) -> None:
    _, out, _ = run
    stamps = [
        datetime.strptime(f"2026 {stamp}", "%Y %a %d %b %H:%M")  # noqa: DTZ007 - local times
        for stamp, _, _ in blocks(out)
    ]
    assert len(stamps) > 40
    assert stamps == sorted(stamps)
    assert stamps[0] == datetime(2026, 11, 30, 9, 0)  # noqa: DTZ001


@pytest.mark.slow
def test_python_m_bot_demo_runs_without_a_token_in_time() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["TELEGRAM_API_BASE_URL"] = "http://192.0.2.1:9/bot"  # ignored: the demo has its own
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert time.monotonic() - started < 60
    assert "Sam will drive you" in done.stdout


def test_a_claimed_ride_shows_as_covered_to_the_second_family_member(
    run: tuple[int, str, str],
) -> None:
    """Issue 10: Sam's claim turns Priya's request into "covered"; the driver gets a pick-up
    note; a ride nobody offered is said plainly to Maya the evening before."""
    _, out, _ = run
    entries = blocks(out)
    to_priya = texts(entries, "bot -> Priya")
    assert any(t.startswith("(the message changes to:) The ride home is covered") for t in to_priya)
    assert any("Time to set off for the pick-up." in t for t in texts(entries, "bot -> Sam"))
    assert any(
        "Nobody has offered to drive you home yet" in t for t in texts(entries, "bot -> Maya")
    )
    for text in to_priya:
        assert "Maya" not in text or "invited you" in text
        assert not [word for word in FAMILY_NEVER if word in text.lower()], text


def test_between_sessions_a_win_is_given_back_a_check_in_answered_and_one_i_noticed(
    run: tuple[int, str, str],
) -> None:
    """Issue 10 on stage: Maya writes a win and keeps it, it comes back in a later message; she
    answers a check-in "Some side effects"; Sam's one "I noticed" reaches her and she keeps it."""
    _, out, _ = run
    entries = blocks(out)
    said = texts(entries, "Maya -> bot")
    to_maya = " | ".join(texts(entries, "bot -> Maya"))
    assert "Made breakfast and ate it at the table" in said
    assert "(the message changes to:) Kept." in to_maya
    assert "You noted 3 things that got easier, the latest:" in to_maya
    assert "taps [Some side effects]" in said
    assert "usually fade within hours" in to_maya
    assert "Sam noticed something that looked easier for you" in to_maya
    assert "taps [Keep as a win]" in said
    to_sam = " | ".join(texts(entries, "bot -> Sam"))
    assert "passed it on" in to_sam
    assert "Made breakfast" not in to_sam and "You noted" not in to_sam
