"""``python -m bot preview``: the JSON contract, the table, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main

BERLIN_TWO = [
    "preview",
    "--zone",
    "Europe/Berlin",
    "--kind",
    "iv",
    "--session",
    "2026-12-01 10:00",
    "--session",
    "2026-12-03 10:00",
]


def preview_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main([*args, "--json"]) == 0
    captured = capsys.readouterr()
    items = json.loads(captured.out)
    assert isinstance(items, list)
    return items


def test_json_has_the_contract_fields_with_local_offsets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each object carries local and UTC time, recipient, message, session number and text."""
    items = preview_json(capsys, *BERLIN_TWO)
    assert items, "a two-session series sends something"
    for item in items:
        assert {
            "local_time",
            "utc_time",
            "recipient",
            "message_id",
            "session_number",
            "text",
            "topic",
            "deadline_utc",
            "urgent",
        } <= item.keys()
        assert item["local_time"].endswith("+01:00")
        assert item["utc_time"].endswith("+00:00")
        local = datetime.fromisoformat(item["local_time"])
        assert local == datetime.fromisoformat(item["utc_time"])
        assert datetime.fromisoformat(item["deadline_utc"]) > local
        assert item["recipient"] == "patient"
        assert item["text"] and "<b>" not in item["text"]
    last_steps = [item for item in items if item["message_id"] == "last_steps"]
    assert [item["local_time"] for item in last_steps] == [
        "2026-12-01T09:30:00+01:00",
        "2026-12-03T09:30:00+01:00",
    ]
    assert [item["session_number"] for item in last_steps] == [1, 2]
    assert all(item["urgent"] for item in last_steps)
    keep = next(item for item in items if item["message_id"] == "keep_building")
    assert keep["session_number"] == 2  # series-wide: the anchor session (the last)
    assert [item["utc_time"] for item in items] == sorted(item["utc_time"] for item in items)


def test_the_default_now_shows_the_whole_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    """Planned from 14 days before, nothing is skipped: the provider note is in the output."""
    items = preview_json(capsys, *BERLIN_TWO)
    assert items[0]["message_id"] == "provider_first"
    assert items[0]["local_time"] == "2026-11-29T10:00:00+01:00"


def test_family_messages_only_with_family_and_in_their_zone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --family, none; with --family-zone, at the relative's local times."""
    alone = preview_json(capsys, *BERLIN_TWO)
    assert {item["recipient"] for item in alone} == {"patient"}
    together = preview_json(capsys, *BERLIN_TWO, "--family", "--family-zone", "America/New_York")
    family = [item for item in together if item["recipient"] == "family"]
    assert {item["message_id"] for item in family} == {
        "family_welcome",
        "family_ride",
        "family_today",
        "family_next_day",
        "ride_pickup",
    }
    rides = [item["local_time"] for item in family if item["message_id"] == "family_ride"]
    assert rides == ["2026-11-30T18:00:00-05:00", "2026-12-02T18:00:00-05:00"]
    welcome = next(item for item in family if item["message_id"] == "family_welcome")
    assert welcome["session_number"] is None
    assert "Alex" not in " ".join(item["text"] for item in family)


def test_discreet_texts_differ_from_plain_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """Same messages at the same times, different wording; discreet never names the drug."""
    plain = preview_json(capsys, *BERLIN_TWO)
    discreet = preview_json(capsys, *BERLIN_TWO, "--discreet")
    assert [(i["message_id"], i["utc_time"]) for i in plain] == [
        (i["message_id"], i["utc_time"]) for i in discreet
    ]
    assert [i["text"] for i in plain] != [i["text"] for i in discreet]
    assert any("ketamine" in i["text"].lower() for i in plain)
    assert not any("ketamine" in i["text"].lower() for i in discreet)


def test_series_shorthand_equals_the_sessions_spelt_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """'Tue,Thu x2' from 1 December is the same as the two --session options."""
    shorthand = preview_json(
        capsys, "preview", "--zone", "Europe/Berlin", "--series", "2026-12-01 10:00 Tue,Thu x2"
    )
    assert shorthand == preview_json(capsys, *BERLIN_TWO)


def test_json_leaves_out_what_would_not_be_sent(capsys: pytest.CaptureFixture[str]) -> None:
    """With --now on the morning of session 1, expired messages are not in the JSON."""
    items = preview_json(capsys, *BERLIN_TWO, "--now", "2026-12-01 09:00")
    ids = [item["message_id"] for item in items]
    assert "provider_first" not in ids
    assert ids[0] == "calm_start"  # caught up: sent at once
    assert items[0]["local_time"] == "2026-12-01T09:00:00+01:00"


def test_dst_offsets_follow_the_date(capsys: pytest.CaptureFixture[str]) -> None:
    """Sessions either side of Berlin's spring change show +01:00 and +02:00, both at 09:30."""
    items = preview_json(
        capsys,
        "preview",
        "--zone",
        "Europe/Berlin",
        "--session",
        "2026-03-27 10:00",
        "--session",
        "2026-03-30 10:00",
    )
    last_steps = [i["local_time"] for i in items if i["message_id"] == "last_steps"]
    assert last_steps == ["2026-03-27T09:30:00+01:00", "2026-03-30T09:30:00+02:00"]


def test_table_shows_local_time_recipient_session_topic_and_skips(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The readable table marks skipped messages with their reason."""
    assert main([*BERLIN_TWO, "--family", "--now", "2026-12-01 09:00"]) == 0
    out = capsys.readouterr().out
    assert "2 iv sessions in Europe/Berlin" in out
    assert "Tue  1 Dec 2026 09:30 UTC+01:00" in out
    assert "[SKIPPED: expired]" in out
    row = next(line for line in out.splitlines() if "Last steps" in line)
    assert row.split()[6:8] == ["patient", "1/2"]
    assert "skipped (expired: " in out.splitlines()[-1]


def test_full_prints_every_message_whole(capsys: pytest.CaptureFixture[str]) -> None:
    """--full adds each message's full text and its buttons."""
    assert main([*BERLIN_TWO, "--full"]) == 0
    out = capsys.readouterr().out
    assert "[Got it]" in out
    assert "relevant until" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--zone", "Europe/Berlin", "--session", "2026-03-29 02:30"],
            "02:30 does not exist on Sunday 29 March 2026 in Europe/Berlin: "
            "clocks jump from 02:00 to 03:00",
        ),
        (["--zone", "Europe/Berln", "--session", "2026-12-01 10:00"], "did you mean Europe/Berlin"),
        (["--zone", "Europe/Berlin"], "no sessions"),
        (["--zone", "Europe/Berlin", "--session", "2026-02-30 10:00"], "no such date"),
        (["--zone", "Europe/Berlin", "--session", "tomorrow"], "expected a date and time"),
        (["--zone", "Europe/Berlin", "--series", "2026-12-01 10:00 Funday x3"], "--series"),
        (
            ["--zone", "Europe/Berlin", "--session", "2026-12-01 10:00", "--family-zone", "Mars"],
            "--family-zone",
        ),
        (["--session", "2026-12-01 10:00"], "--zone"),
        (["--zone", "UTC", "--session", "2026-12-01 10:00", "--kind", "pill"], "--kind"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    """No traceback, nothing on stdout, one line saying what is wrong."""
    assert main(["preview", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert expected in captured.err


def test_an_ambiguous_session_time_takes_the_first_occurrence_with_a_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """02:30 on Berlin's fall-back night is read as 02:30 CEST, and the operator is told."""
    items = preview_json(
        capsys, "preview", "--zone", "Europe/Berlin", "--session", "2026-10-25 02:30"
    )
    assert main(["preview", "--zone", "Europe/Berlin", "--session", "2026-10-25 02:30"]) == 0
    out = capsys.readouterr().out
    assert "happens twice in Europe/Berlin; using the first (UTC+02:00)" in out
    last = next(item for item in items if item["message_id"] == "last_steps")
    assert last["local_time"] == "2026-10-25T02:00:00+02:00"


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """--help documents the default --now."""
    assert main(["preview", "--help"]) == 0
    assert "14 days before the first session" in capsys.readouterr().out


def test_without_a_subcommand_main_runs_the_bot(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m bot`` is the bot itself: without a token it exits 2 with the bot's hint."""
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main([]) == 2
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err


def test_preview_does_not_load_telegram() -> None:
    """The operator tool stays light: planning and rendering only."""
    code = (
        "import sys; from bot.__main__ import main; "
        "main(['preview', '--zone', 'UTC', '--session', '2026-12-01 10:00', '--json']); "
        "sys.exit('telegram' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=False, cwd=root
    )
    assert result.returncode == 0, result.stderr


def test_family_zone_implies_family(capsys: pytest.CaptureFixture[str]) -> None:
    """Naming the relative's zone is enough to add the relative."""
    items = preview_json(capsys, *BERLIN_TWO, "--family-zone", "Asia/Tokyo")
    rides = [item["local_time"] for item in items if item["message_id"] == "family_ride"]
    assert rides == ["2026-11-30T18:00:00+09:00", "2026-12-02T18:00:00+09:00"]


def test_demo_subcommand_runs_the_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``demo`` calls ``bot.offline.demo.main`` (a stand-in module: only the wiring)."""
    calls: list[str] = []

    def demo_main(config_path: str | None = None, lang: str = "en") -> int:
        calls.append(f"{config_path} {lang}")
        return 0

    stand_in = types.ModuleType("bot.offline.demo")
    stand_in.main = demo_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bot.offline.demo", stand_in)
    assert main(["demo"]) == 0
    assert main(["demo", "--config", "clinic.toml"]) == 0
    assert main(["demo", "--lang", "es"]) == 0
    assert calls == ["None en", "clinic.toml en", "None es"]


def test_a_booster_is_its_own_series_and_planned_holds_back_the_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A session two months later is a new series (its own provider note, numbered 1 again);
    --planned 6 previews a patient who has entered two of six: 'of 6' and no end message yet."""
    items = preview_json(capsys, *BERLIN_TWO, "--session", "2027-02-01 10:00")
    providers = [item for item in items if item["message_id"] == "provider_first"]
    assert [(p["local_time"], p["key"]) for p in providers] == [
        ("2026-11-29T10:00:00+01:00", "series1:provider_first:p1"),
        ("2027-01-30T10:00:00+01:00", "series2:provider_first:p1"),
    ]
    last_steps = [item for item in items if item["message_id"] == "last_steps"]
    assert [(i["session_number"], i["series_length"]) for i in last_steps] == [
        (1, 2),
        (2, 2),
        (1, 1),
    ]
    planned = preview_json(capsys, *BERLIN_TWO, "--planned", "6")
    assert "keep_building" not in {item["message_id"] for item in planned}
    rest = [item for item in planned if item["message_id"] == "rest_up"]
    assert [(i["session_number"], i["series_length"]) for i in rest] == [(1, 6), (2, 6)]
    assert "session 2 of 6" in rest[1]["text"]
    assert main(["preview", *BERLIN_TWO[1:], "--planned", "25"]) == 2
    assert "--planned 25" in capsys.readouterr().err
