"""The operator's configuration file (``COMPANION_CONFIG``) and the clinic's catalog overlay.

A UK clinic's file (Samaritans as the crisis line, a Spanish line for Spanish speakers, its own
phone, two-hour sessions) with the example overlay (a 6-hour fasting rule and an arrival time):
the running bot, its timed messages and ``preview`` all show them; a file that cannot be used
stops ``python -m bot`` and ``check-config`` with exit 2, naming the file and the line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.app import run
from bot.clock import ManualClock
from bot.config import CONFIG_ENV, ConfigError, config_from_env, load_config
from bot.offline.fake_api import Call, FakeBotApi
from bot.settings import Settings
from messages import load_catalog
from scheduler.companion import Companion
from scheduler.dispatch import SWITCHED_OFF, Dispatcher
from scheduler.model import DEFAULT_CRISIS_LINE, Kind, QuietHours
from scheduler.store.db import Database
from tests.botharness import PATIENT, START, BotHarness, link_family, start_harness, stop_harness
from tests.fakes import FakeSender

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "clinic"
UK_LINE = "Samaritans, 116 123"
SPANISH_LINE = "024 (Línea 024)"
CLINIC = "Riverside Clinic, 020 7946 0000"
SPEAKER = 3003  # a second patient, whose language is Spanish
# Local wall-clock times in London (UTC in December), a Tuesday and a Thursday.
SESSIONS = (
    datetime(2026, 12, 1, 10, 0),  # noqa: DTZ001 - a session is local wall-clock time
    datetime(2026, 12, 3, 10, 0),  # noqa: DTZ001
)

UK_CONFIG = f"""\
# A UK clinic
deployment_name = "Riverside"
crisis_line = "{UK_LINE}"
clinic_contact = "{CLINIC}"
default_zone = "Europe/London"
quiet_hours = "22:00-07:00"
catalog_overlay = "{(EXAMPLE / "clinic-catalog").as_posix()}"
retention_days = 30
admin_chat_ids = [42]

[crisis_lines]
es = "{SPANISH_LINE}"

[crisis_lines_by_country]
US = "988"

[session_minutes]
iv = 120

[optional_messages]
checklist = false

[webhook]
url = "https://companion.example.org/hook"
secret_token = "never-printed-0123"
port = 8443
"""


@pytest.fixture
def uk_config(tmp_path: Path) -> Path:
    path = tmp_path / "companion.toml"
    path.write_text(UK_CONFIG, encoding="utf-8")
    return path


def write(tmp_path: Path, text: str, name: str = "companion.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- reading the file -------------------------------------------------------------------------


def test_without_a_file_everything_is_as_before() -> None:
    """No COMPANION_CONFIG: the built-in defaults (988 with the directory) and catalog."""
    config = config_from_env({})
    assert config.path is None
    assert config.settings == Settings()
    assert config.settings.crisis_line == DEFAULT_CRISIS_LINE
    assert "findahelpline.com" in config.settings.crisis_line
    assert config.catalog == load_catalog()


def test_the_file_becomes_settings(uk_config: Path) -> None:
    """Every key lands in its Settings field; the overlay folder is resolved."""
    settings = load_config(uk_config).settings
    assert settings.deployment_name == "Riverside"
    assert settings.crisis_line == UK_LINE
    assert settings.crisis_lines == (("es", SPANISH_LINE),)
    assert settings.crisis_lines_by_country == (("US", "988"),)
    assert settings.clinic_contact == CLINIC
    assert settings.default_zone == "Europe/London"
    assert settings.quiet_hours == QuietHours(time(22, 0), time(7, 0))
    assert settings.catalog_overlay == str((EXAMPLE / "clinic-catalog").resolve())
    assert settings.retention_days == 30
    assert settings.admin_chat_ids == frozenset({42})
    assert settings.durations == {Kind.IV: timedelta(minutes=120)}
    assert (settings.checkin_enabled, settings.checklist_enabled) == (True, False)
    assert settings.webhook_url == "https://companion.example.org/hook"
    assert settings.webhook_secret == "never-printed-0123"
    assert (settings.webhook_listen, settings.webhook_port) == ("127.0.0.1", 8443)


def test_crisis_line_by_language_falls_back_to_the_default(uk_config: Path) -> None:
    """es and es-MX get the Spanish line; any other language the deployment's."""
    settings = load_config(uk_config).settings
    assert settings.crisis_line_for("es") == SPANISH_LINE
    assert settings.crisis_line_for("es-MX") == SPANISH_LINE
    assert settings.crisis_line_for("en") == UK_LINE
    assert settings.crisis_line_for(None) == UK_LINE
    regional = Settings(crisis_lines=(("pt", "pt line"), ("pt-br", "188")))
    assert regional.crisis_line_for("pt-BR") == "188"
    assert regional.crisis_line_for("pt-PT") == "pt line"


def test_a_countrys_line_wins_over_the_language(uk_config: Path) -> None:
    """The country of the person's zone first (old zone names too), then the language."""
    settings = load_config(uk_config).settings
    assert settings.crisis_line_for("es", "America/Chicago") == "988"
    assert settings.crisis_line_for("en", "US/Eastern") == "988"
    assert settings.crisis_line_for("es", "Europe/London") == SPANISH_LINE
    assert settings.crisis_line_for("en", "Europe/London") == UK_LINE
    assert settings.crisis_line_for("en", "UTC") == UK_LINE


def test_overlay_path_is_relative_to_the_file(tmp_path: Path) -> None:
    """``catalog_overlay = "clinic"`` is the folder next to the file, wherever the bot runs."""
    write(tmp_path, '[messages.last_steps]\ntopic = "Nearly time"\n', "clinic/locales/en.toml")
    path = write(tmp_path, 'catalog_overlay = "clinic"\n')
    config = load_config(path)
    assert config.settings.catalog_overlay == str((tmp_path / "clinic").resolve())
    assert config.catalog.topic("en", "last_steps") == "Nearly time"


# -- a file that cannot be used ---------------------------------------------------------------

BAD = [
    # (file text, line, words the message must hold)
    ('crisis_line = "116 123"\nclinic_contact = "Desk\n', 2, "not valid TOML"),
    ('crisis_line = "116 123"\n\n[crisis_lines\nes = "024"\n', 3, "not valid TOML"),
    ('# zone\n\ndefault_zone = "Europe/Londn"\n', 3, "default_zone"),
    ('crisis_line = "x"\nquiet_hours = "25:00-07:00"\n', 2, "not a time of day"),
    ('quiet_hours = "22:00-22:00"\n', 1, '"off"'),
    ('crisis_line = "x"\ncrisis_lne = "y"\n', 2, "unknown setting"),
    ('retention_days = "ninety"\n', 1, "whole number of days"),
    ("admin_chat_ids = 42\n", 1, "list of chat ids"),
    ("crisis_line = 988\n", 1, "text in quotes"),
    ('crisis_line = "x"\n\n[session_minutes]\niv = 100\nim = 60\n', 5, "unknown session kind"),
    ("[session_minutes]\nnasal = 5\n", 2, "whole minutes"),
    ('[crisis_lines]\nes = "024"\nSpanish = "024"\n', 3, "language code"),
    ('[crisis_lines_by_country]\nGB = "116 123"\nuk = "116 123"\n', 3, "country code"),
    ('[optional_messages]\ncheckin = "yes"\n', 2, "true or false"),
    ('[webhook]\nurl = "http://plain.example.org"\n', 2, "https://"),
    ('[webhook]\nport = 8443\nsecret_token = "has spaces"\n', 3, "Telegram's rule"),
    ('catalog_overlay = "nowhere"\n', 1, "is not a folder"),
    ('[webhook]\nport = 8443\ncatalog_overlay = "x"\n', 3, "belongs above the first [table]"),
    ('clinic_contact = "Ketamine Care Centre, 020 7946 0000"\n', 1, "'ketamine'"),
    ('crisis_line = "Suicide line, 988"\n', 1, "'suicid'"),
]


@pytest.mark.parametrize(("text", "line", "what"), BAD)
def test_check_config_names_the_file_and_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, what: str
) -> None:
    """``check-config`` exits 2; stderr names the file, the line and what is wrong."""
    path = write(tmp_path, text)
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, line {line}" in err
    assert what in err


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Two wrong values: both named, each with its line, so one edit fixes them."""
    path = write(tmp_path, 'default_zone = "Mars/Olympus"\nretention_days = 0\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}, line 1: default_zone" in message
    assert f"{path}, line 2: retention_days" in message


def test_an_unreadable_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["check-config", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_the_bot_will_not_start_with_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m bot`` checks the file before anything else: exit 2, the line named, and no
    database created."""
    path = write(tmp_path, 'crisis_line = "116 123"\ndefault_zone = "Nowhere/City"\n')
    monkeypatch.setenv(CONFIG_ENV, str(path))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("COMPANION_DB", str(tmp_path / "companion.db"))
    assert run() == 2
    assert f"{path}, line 2: default_zone" in capsys.readouterr().err
    assert not (tmp_path / "companion.db").exists()


def test_python_m_bot_exits_2_on_a_toml_syntax_error(tmp_path: Path) -> None:
    """The real process, as an operator runs it."""
    path = write(tmp_path, 'crisis_line = "116 123"\nclinic_contact = Desk\n')
    env = {
        **os.environ,
        CONFIG_ENV: str(path),
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "COMPANION_DB": str(tmp_path / "companion.db"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert result.returncode == 2
    assert f"{path}, line 2, column 18: not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_ok_prints_a_summary_without_secrets(
    uk_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(uk_config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"config ok: {uk_config}")
    assert UK_LINE in out and SPANISH_LINE in out and CLINIC in out
    assert "iv 120 min" in out and "checklist off" in out
    assert "never-printed-0123" not in out and "/hook" not in out
    assert "secret token set" in out


def test_check_config_reads_companion_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a path it checks $COMPANION_CONFIG: here the example in examples/clinic."""
    monkeypatch.setenv(CONFIG_ENV, str(EXAMPLE / "companion.toml"))
    assert main(["check-config"]) == 0
    assert "Samaritans, 116 123" in capsys.readouterr().out


# -- the overlay ------------------------------------------------------------------------------


def test_overlay_problems_name_the_overlay_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The overlay is checked like the built-in catalog, and its own file is named."""
    overlay = write(
        tmp_path,
        '[messages.calm_start]\nplain = "No food for {fasting_hours} hours."\n',
        "clinic/locales/en.toml",
    )
    path = write(tmp_path, 'crisis_line = "116 123"\ncatalog_overlay = "clinic"\n')
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, line 2: catalog_overlay" in err
    assert f"{overlay} [messages.calm_start] plain: unknown placeholder {{fasting_hours}}" in err


def test_overlay_switches_a_message_off(tmp_path: Path) -> None:
    """``enabled = false`` takes an entry off the timeline; its wording is no longer needed."""
    write(tmp_path, "[function_first]\nenabled = false\n", "clinic/timeline.toml")
    catalog = load_config(write(tmp_path, 'catalog_overlay = "clinic"\n')).catalog
    assert "function_first" not in {entry.id for entry in catalog.timeline}
    assert "function_first" not in catalog.texts("en").entries
    assert len(catalog.timeline) == len(load_catalog().timeline) - 1


def test_overlay_enabled_must_be_true_or_false(tmp_path: Path) -> None:
    timeline = write(tmp_path, '[function_first]\nenabled = "no"\n', "clinic/timeline.toml")
    with pytest.raises(ConfigError, match=f"{timeline} \\[function_first\\]: enabled"):
        load_config(write(tmp_path, 'catalog_overlay = "clinic"\n'))


def test_a_clinic_contact_line_must_close_its_own_tags(tmp_path: Path) -> None:
    """The line with {clinic_contact} is left out when there is none: it cannot carry half a
    tag that the rest of the text closes."""
    write(
        tmp_path,
        '[messages.last_steps]\nplain = """\n<b>Questions?\nCall {clinic_contact}</b>\n"""\n',
        "clinic/locales/en.toml",
    )
    with pytest.raises(ConfigError, match="open and close its own tags"):
        load_config(write(tmp_path, 'catalog_overlay = "clinic"\n'))


def test_the_clinic_contact_line_is_left_out_when_unset() -> None:
    """Without a clinic contact /help has no empty "Your clinic:" line."""
    catalog = load_catalog()
    bare = catalog.render_reply("en", "help", crisis_line="988")
    assert "Your clinic" not in bare and "{" not in bare
    shown = catalog.render_reply("en", "help", crisis_line="988", clinic_contact="Desk & Co")
    assert "Your clinic: Desk &amp; Co" in shown
    assert shown.replace("\nYour clinic: Desk &amp; Co", "") == bare


async def test_a_planned_message_switched_off_later_is_skipped(tmp_path: Path) -> None:
    """Rows planned before the clinic switched a message off are never sent."""
    full = load_catalog()
    db = Database(tmp_path / "companion.db")
    companion = Companion(db, full.timeline)
    patient = companion.register_patient(PATIENT, "Ann", "Europe/London", START)
    companion.add_session(patient.id, SESSIONS[0], Kind.IV, START)
    write(tmp_path, "[rest_up]\nenabled = false\n", "clinic/timeline.toml")
    reduced = load_catalog(tmp_path / "clinic")

    sender = FakeSender()
    evening = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    # No spacing between the two messages to the one chat: both are judged in this run.
    dispatcher = Dispatcher(db, reduced, sender, crisis_line="988", chat_interval=timedelta(0))
    await dispatcher.dispatch_due(evening)
    assert sender.sent  # the talk-to-your-provider note, due before, still goes
    assert not any("Tomorrow: session" in message.text for message in sender.sent)
    reasons = db.conn.execute(
        "SELECT status, reason FROM deliveries WHERE message_id = 'rest_up'"
    ).fetchall()
    assert [tuple(row) for row in reasons] == [("skipped", SWITCHED_OFF)]
    db.close()


# -- the running bot --------------------------------------------------------------------------


@pytest.fixture
async def clinic(
    uk_config: Path, fake_api: FakeBotApi, tmp_path: Path, bot_clock: ManualClock
) -> AsyncIterator[BotHarness]:
    """The bot as ``python -m bot`` runs it with the UK clinic's file."""
    config = load_config(uk_config)
    running = await start_harness(
        fake_api, tmp_path, bot_clock, catalog=config.catalog, settings=config.settings
    )
    try:
        yield running
    finally:
        await stop_harness(running)
    assert not running.errors


async def run_until(harness: BotHarness, end: datetime) -> None:
    """Jump from one due delivery to the next, sending each as the timer would."""
    while (due := harness.services.dispatcher.next_due()) is not None and due <= end:
        await harness.advance_to(max(due, harness.clock.now()))


def two_sessions(harness: BotHarness, chat_id: int, locale: str | None = None) -> int:
    companion = harness.services.companion
    now = harness.clock.now()
    patient = companion.register_patient(chat_id, "Ann", "Europe/London", now)
    if locale is not None:
        companion.set_locale(patient.id, locale, now)
    for start in SESSIONS:
        companion.add_session(patient.id, start, Kind.IV, now)
    return patient.id


def message(calls: list[Call], heading: str) -> str:
    found = [c.plain_text or "" for c in calls if heading in (c.plain_text or "")]
    assert len(found) == 1, (heading, [c.plain_text for c in calls])
    return found[0]


async def test_help_shows_the_uk_line_and_the_clinic(clinic: BotHarness) -> None:
    replies = await clinic.say(PATIENT, "/help")
    text = replies[0].plain_text or ""
    assert f"Call {UK_LINE} now" in text
    assert f"Your clinic: {CLINIC}" in text
    assert "988" not in text


async def test_the_deployment_name_greets_the_patient_but_never_family(
    clinic: BotHarness,
) -> None:
    """The name the clinic chose heads the welcome and /help; a family member's /help never
    shows it, since a clinic's name may say what the treatment is."""
    (welcome, *_) = await clinic.say(PATIENT, "/start")
    assert (welcome.plain_text or "").startswith("Hello, I'm Riverside.\n")
    (help_text,) = await clinic.say(PATIENT, "/help")
    assert (help_text.plain_text or "").startswith("What Riverside does\n")
    companion = clinic.services.companion
    now = clinic.clock.now()
    patient = companion.register_patient(SPEAKER, "Ann", "Europe/London", now)
    link_family(companion, patient, 4004, "Bo", now)
    family_said = await clinic.say(4004, "/help")  # with the family welcome, now due
    assert any("What this bot does" in (c.plain_text or "") for c in family_said)
    assert all("Riverside" not in (c.plain_text or "") for c in family_said)


async def test_timed_messages_carry_the_clinics_line_rule_and_lengths(clinic: BotHarness) -> None:
    """The calm start has the clinic's fasting rule and arrival time; the feel-worse message
    the UK line and the clinic; the no-driving note counts from the clinic's 2-hour session."""
    two_sessions(clinic, PATIENT)
    mark = clinic.api.mark()
    await run_until(clinic, datetime(2026, 12, 6, tzinfo=UTC))
    sent = clinic.api.sent_to(PATIENT, since=mark)
    calm = message(sent, "Session 1 at 10:00: a calm start")
    assert "6 hours before your start time" in calm
    assert "clear drinks until 2 hours before" in calm
    assert "30 minutes early" in calm
    assert f"Call us: {CLINIC}" in calm
    worse = message(sent, "How are you, a day after session 2?")
    assert f"call {UK_LINE} now" in worse
    assert f"Your clinic: {CLINIC}" in worse
    assert all("988" not in (c.plain_text or "") for c in sent)
    rows = clinic.services.db.conn.execute(
        "SELECT sent_at FROM deliveries d JOIN sessions s ON s.id = d.session_id"
        " WHERE d.message_id = 'dont_drive' ORDER BY d.due_at"
    ).fetchall()
    # 10:00 London (UTC in December) plus the configured 120 minutes.
    assert [row[0][:16] for row in rows] == ["2026-12-01T12:00", "2026-12-03T12:00"]


async def test_a_spanish_speaker_gets_the_spanish_line(clinic: BotHarness) -> None:
    """A person whose language is es: the [crisis_lines] es entry, in replies and timed
    messages alike."""
    two_sessions(clinic, SPEAKER, locale="es")
    replies = await clinic.say(SPEAKER, "/help")
    assert SPANISH_LINE in (replies[0].plain_text or "")
    assert UK_LINE not in (replies[0].plain_text or "")
    mark = clinic.api.mark()
    await run_until(clinic, datetime(2026, 12, 6, tzinfo=UTC))
    timed = [c.plain_text or "" for c in clinic.api.sent_to(SPEAKER, since=mark)]
    assert any(SPANISH_LINE in text for text in timed), timed  # the feel-worse message
    assert not any(UK_LINE in text for text in timed)


async def test_a_patient_in_the_us_gets_the_us_line(clinic: BotHarness) -> None:
    """Same language as the UK patients, another country: the [crisis_lines_by_country] line,
    in replies and in the feel-worse message."""
    companion = clinic.services.companion
    now = clinic.clock.now()
    patient = companion.register_patient(SPEAKER, "Ann", "America/Chicago", now)
    for start in SESSIONS:
        companion.add_session(patient.id, start, Kind.IV, now)
    replies = await clinic.say(SPEAKER, "/help")
    assert "Call 988 now" in (replies[0].plain_text or "")
    mark = clinic.api.mark()
    await run_until(clinic, datetime(2026, 12, 6, 12, tzinfo=UTC))
    worse = message(clinic.api.sent_to(SPEAKER, since=mark), "How are you, a day after session 2?")
    assert "call 988 now" in worse and UK_LINE not in worse


async def test_new_people_get_the_configured_quiet_hours(clinic: BotHarness) -> None:
    patient_id = two_sessions(clinic, PATIENT)
    person = clinic.services.companion.person(patient_id)
    assert person is not None
    assert person.quiet == clinic.services.settings.quiet_hours
    assert [s.duration for s in clinic.services.companion.sessions(patient_id)] == [
        timedelta(minutes=120)
    ] * 2


# -- preview ----------------------------------------------------------------------------------

PREVIEW = ["preview", "--zone", "Europe/London", "--kind", "iv", "--json"]
PREVIEW += [arg for start in SESSIONS for arg in ("--session", f"{start:%Y-%m-%d %H:%M}")]


def previewed(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, list[str]]:
    assert main([*PREVIEW, *extra]) == 0
    by_id: dict[str, list[str]] = {}
    for item in json.loads(capsys.readouterr().out):
        by_id.setdefault(item["message_id"], []).append(item["text"])
    return by_id


def test_preview_shows_the_overlay_and_the_line(
    uk_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``preview --config``: the clinic's calm start and the UK line, as the bot sends them."""
    items = previewed(capsys, "--config", str(uk_config))
    assert all("6 hours before your start time" in text for text in items["calm_start"])
    assert f"call {UK_LINE} now" in items["if_worse"][0]
    assert f"Your clinic: {CLINIC}" in items["if_worse"][0]


def test_preview_reads_companion_config(
    uk_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(uk_config))
    items = previewed(capsys)
    assert "6 hours" in items["calm_start"][0]
    assert UK_LINE in items["if_worse"][0]
    monkeypatch.delenv(CONFIG_ENV)
    plain = previewed(capsys)
    assert "6 hours" not in plain["calm_start"][0]
    assert DEFAULT_CRISIS_LINE in plain["if_worse"][0]
    assert "Your clinic" not in plain["if_worse"][0]


def test_preview_with_a_bad_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, 'default_zone = "Atlantis/Capital"\n')
    assert main([*PREVIEW, "--config", str(path)]) == 2
    assert f"{path}, line 1: default_zone" in capsys.readouterr().err


def test_the_demo_runs_with_the_example_clinic(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m bot demo --config examples/clinic/companion.toml``: the same story, in the
    clinic's words and with its crisis line."""
    assert main(["demo", "--config", str(EXAMPLE / "companion.toml")]) == 0
    transcript = " ".join(capsys.readouterr().out.split())
    assert "Call Samaritans, 116 123" in transcript
    assert "no solid food in the 6 hours before your start time" in transcript
    assert "Please come 30 minutes early" in transcript
    assert "988" not in transcript


def test_check_config_without_a_file_reports_the_defaults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing to check is not an error: the bot runs with the built-in defaults, and says so."""
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no config file: built-in defaults")
    assert DEFAULT_CRISIS_LINE in out


SEEDS = ROOT.parent / "shared" / "seeds"


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared/seeds is not beside this checkout")
def test_the_example_overlay_is_in_its_own_words() -> None:
    """The example clinic's texts share no run of seven words with a seed page, like the
    built-in catalog (``test_catalog_originality``)."""

    def runs(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z']+", text.lower())
        return {tuple(words[i : i + 7]) for i in range(len(words) - 6)}

    seeds: set[tuple[str, ...]] = set()
    for page in sorted(SEEDS.glob("*.txt")):
        seeds |= runs(page.read_text(encoding="utf-8"))
    overlay = load_catalog(EXAMPLE / "clinic-catalog").texts("en").entries
    texts = [
        text
        for entry in (overlay["calm_start"], overlay["rest_up"])
        for text in (
            entry.plain,
            entry.discreet,
            entry.plain_with_driver,
            entry.discreet_with_driver,
        )
        if text
    ]
    assert "6 hours" in texts[0]
    assert [" ".join(run) for text in texts for run in runs(text) & seeds] == []
