"""The operator's configuration file (``COMPANION_CONFIG``): read, checked, turned into Settings.

A clinic runs the bot without touching the package: one TOML file names its crisis lines, its
own contact line, defaults for new people, session lengths, optional messages, retention, admins,
webhook settings and a catalog overlay (a folder of catalog files merged over the built-in ones).

The file is checked whole before anything starts, and every problem is reported at once, each
naming the file, the line it is on and what is wrong: the person editing it is an operator with
a text editor, not a developer with a traceback. TOML syntax errors carry their line from
``tomllib``; for a wrong value the key's line is found in the text (``_KeyLines``).

Without a file, ``Settings()`` and the built-in catalog: everything works as before.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.settings import Settings, known_countries
from messages import Catalog, CatalogError, load_catalog
from scheduler.localtime import ZoneError, zone_info
from scheduler.model import Kind, QuietHours

CONFIG_ENV = "COMPANION_CONFIG"
# One-line values (crisis lines, the clinic's contact, the name) show inside messages; the
# catalog checks every text's length with 130-character stand-ins, so stay under that.
MAX_LINE = 120
MIN_SESSION_MINUTES, MAX_SESSION_MINUTES = 15, 12 * 60
MAX_RETENTION_DAYS = 10 * 365
# Telegram's rule for setWebhook's secret_token.
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


class ConfigError(ValueError):
    """The file cannot be used. The message has one problem per line, each naming the file,
    the line (where one applies) and what is wrong."""


@dataclass(frozen=True)
class Config:
    """What the bot runs with: the settings, and the catalog with the clinic's overlay merged."""

    settings: Settings
    catalog: Catalog
    path: Path | None = None  # None: no file, built-in defaults


def config_from_env(environ: Mapping[str, str] = os.environ) -> Config:
    """The file ``COMPANION_CONFIG`` names, or the built-in defaults when it names none."""
    name = environ.get(CONFIG_ENV, "").strip()
    return load_config(Path(name) if name else None)


def load_config(path: Path | str | None) -> Config:
    """Read and check the file at ``path`` (None: defaults); ``ConfigError`` if it is unusable."""
    if path is None:
        return Config(settings=Settings(), catalog=load_catalog())
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read it ({reason})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_syntax_error(path, exc)) from exc
    reader = _Reader(path, _KeyLines(text))
    settings = reader.settings(data)
    catalog = reader.catalog(settings)
    if reader.errors:
        raise ConfigError("\n".join(reader.errors))
    return Config(settings=settings, catalog=catalog, path=path)


def summary(config: Config) -> list[str]:
    """What ``check-config`` prints: a few lines an operator can check at a glance. Never a
    secret: the webhook's token is only said to be set, its URL shows only its host."""
    settings = config.settings
    lines = [f"config ok: {config.path}" if config.path else "no config file: built-in defaults"]
    lines.append(f"  deployment: {settings.deployment_name}")
    by_language = "".join(f"; {code}: {line}" for code, line in settings.crisis_lines)
    by_country = "".join(f"; {code}: {line}" for code, line in settings.crisis_lines_by_country)
    lines.append(f"  crisis line: {settings.crisis_line}{by_country}{by_language}")
    lines.append(f"  clinic contact: {settings.clinic_contact or '(none)'}")
    quiet = settings.quiet_hours
    lines.append(
        f"  new people: zone {settings.default_zone}, quiet hours "
        + (f"{quiet.start:%H:%M}-{quiet.end:%H:%M}" if quiet else "off")
    )
    lengths = settings.durations
    lines.append(
        "  session lengths: "
        + ", ".join(
            f"{kind.value} {int(lengths[kind].total_seconds() // 60)} min"
            if kind in lengths
            else f"{kind.value} built-in"
            for kind in Kind
        )
    )
    lines.append(
        f"  optional messages: check-in {_on(settings.checkin_enabled)}, "
        f"checklist {_on(settings.checklist_enabled)}"
    )
    lines.append(
        f"  retention: {settings.retention_days} days; admin chats: {len(settings.admin_chat_ids)}"
    )
    if settings.webhook_url:
        host = urlsplit(settings.webhook_url).hostname or "?"
        secret = "secret token set" if settings.webhook_secret else "no secret token"
        lines.append(
            f"  webhook: https://{host}/... ({secret}); listening on "
            f"{settings.webhook_listen}:{settings.webhook_port}"
        )
    else:
        lines.append("  webhook: off (long polling)")
    catalog = config.catalog
    overlay = f"; overlay {settings.catalog_overlay}" if settings.catalog_overlay else ""
    lines.append(
        f"  catalog: {len(catalog.timeline)} timeline messages; locales "
        f"{', '.join(sorted(catalog.locales))}{overlay}"
    )
    return lines


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _syntax_error(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    """``tomllib`` says "Invalid value (at line 3, column 15)"; put the place first."""
    message = str(exc)
    where = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if where is None:
        return f"{path}: not valid TOML: {message}"
    what = message[: where.start()].strip()
    return f"{path}, line {where[1]}, column {where[2]}: not valid TOML: {what}"


class _KeyLines:
    """Where each key of a TOML text is written, to name the line of a wrong value.

    A light scan, not a parser: ``[table]`` headers and ``key = `` lines (dotted and quoted keys
    too), skipping the insides of multi-line strings. The text already parsed, so it is valid.
    """

    _HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    _PART = r"(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
    _KEY = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            header = self._HEADER.match(line)
            if header is not None:
                table = _split_key(header[1])
                self.lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key is not None:
                self.lines.setdefault(table + _split_key(key[1]), number)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_string = quote
                    break

    def line_of(self, *key: str) -> int | None:
        """The line of ``key`` (a path like ``("webhook", "port")``), or of the nearest table
        or inline table that holds it."""
        for end in range(len(key), 0, -1):
            number = self.lines.get(key[:end])
            if number is not None:
                return number
        return None


def _split_key(raw: str) -> tuple[str, ...]:
    """``crisis_lines."pt-br"`` -> ``("crisis_lines", "pt-br")`` (no dots inside quotes here)."""
    return tuple(part.strip().strip("\"'") for part in raw.split("."))


@dataclass
class _Reader:
    """Turns the parsed file into Settings, collecting every problem with its line."""

    path: Path
    keys: _KeyLines
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, message)

    @property
    def errors(self) -> list[str]:
        """Every problem, in the order of the file."""
        return [message for _, message in sorted(self.problems, key=lambda item: item[0])]

    def problem(self, key: tuple[str, ...], what: str) -> None:
        number = self.keys.line_of(*key)
        where = f"{self.path}, line {number}" if number is not None else str(self.path)
        self.problems.append((number or 0, f"{where}: {'.'.join(key)}: {what}"))

    # -- the file's layout -------------------------------------------------------------------

    def settings(self, data: dict[str, Any]) -> Settings:
        values: dict[str, Any] = {}
        readers: dict[str, Callable[[Any], None]] = {
            "deployment_name": lambda v: self._store(values, "deployment_name", v),
            "crisis_line": lambda v: self._store(values, "crisis_line", v),
            "clinic_contact": lambda v: self._store(values, "clinic_contact", v),
            "default_zone": lambda v: self._zone(values, v),
            "quiet_hours": lambda v: self._quiet(values, v),
            "catalog_overlay": lambda v: self._overlay(values, v),
            "retention_days": lambda v: self._retention(values, v),
            "admin_chat_ids": lambda v: self._admins(values, v),
            "crisis_lines": lambda v: self._crisis_lines(values, v),
            "crisis_lines_by_country": lambda v: self._country_lines(values, v),
            "session_minutes": lambda v: self._session_minutes(values, v),
            "optional_messages": lambda v: self._optional(values, v),
            "webhook": lambda v: self._webhook(values, v),
        }
        for key, value in data.items():
            reader = readers.get(key)
            if reader is None:
                self.problem((key,), f"unknown setting; the file takes {', '.join(readers)}")
            else:
                reader(value)
        return Settings(**values)

    def catalog(self, settings: Settings) -> Catalog:
        """The built-in catalog with the overlay merged, checked like the built-in one; and the
        values that show inside discreet messages checked against its sensitive words."""
        # A broken built-in catalog is the installation's problem, not the file's: its
        # CatalogError goes up as it is.
        overlay = settings.catalog_overlay
        if overlay is None:
            catalog = load_catalog()
        else:
            try:
                catalog = load_catalog(Path(overlay))
            except CatalogError as exc:
                detail = "\n".join(f"  {line}" for line in str(exc).splitlines())
                self.problem(("catalog_overlay",), f"the overlay cannot be used:\n{detail}")
                return load_catalog()
        stems = sorted(
            {stem for texts in catalog.locales.values() for stem in texts.sensitive_words}
        )
        shown: list[tuple[tuple[str, ...], str]] = [
            (("crisis_line",), settings.crisis_line),
            *((("crisis_lines", code), line) for code, line in settings.crisis_lines),
            *(
                (("crisis_lines_by_country", code), line)
                for code, line in settings.crisis_lines_by_country
            ),
        ]
        if settings.clinic_contact:
            shown.append((("clinic_contact",), settings.clinic_contact))
        for key, value in shown:
            hits = [stem for stem in stems if stem in value.lower()]
            if hits:
                self.problem(
                    key,
                    f"shows in discreet messages too (lock screens), so it must not mention "
                    f"{hits[0]!r}: a neutral name and the number are enough",
                )
        return catalog

    # -- one reader per key ----------------------------------------------------------------------

    def _store(self, values: dict[str, Any], name: str, value: Any) -> None:
        text = self._line((name,), value)
        if text is not None:
            values[name] = text

    def _line(self, key: tuple[str, ...], value: Any) -> str | None:
        """One line of text that shows inside messages."""
        if not isinstance(value, str) or not value.strip():
            self.problem(key, 'must be text in quotes, like "Samaritans, 116 123"')
            return None
        if "\n" in value or len(value) > MAX_LINE:
            self.problem(key, f"must be one line of at most {MAX_LINE} characters")
            return None
        return value.strip()

    def _zone(self, values: dict[str, Any], value: Any) -> None:
        if not isinstance(value, str):
            self.problem(("default_zone",), 'must be a time zone in quotes, like "Europe/London"')
            return
        try:
            zone_info(value)
        except ZoneError as exc:
            hint = "" if "?" in str(exc) else '; use an IANA name like "Europe/London"'
            self.problem(("default_zone",), f"{exc}{hint}")
            return
        values["default_zone"] = value

    def _quiet(self, values: dict[str, Any], value: Any) -> None:
        key = ("quiet_hours",)
        if value == "off":
            values["quiet_hours"] = None
            return
        match = _QUIET.match(value) if isinstance(value, str) else None
        if match is None:
            self.problem(key, 'must be a span like "21:30-08:00", or "off"')
            return
        try:
            start = time(int(match[1]), int(match[2]))
            end = time(int(match[3]), int(match[4]))
        except ValueError:
            self.problem(key, f"{value!r} is not a time of day: hours 0-23, minutes 0-59")
            return
        if start == end:
            self.problem(key, 'start and end are the same; write "off" for no quiet hours')
            return
        values["quiet_hours"] = QuietHours(start, end)

    def _overlay(self, values: dict[str, Any], value: Any) -> None:
        key = ("catalog_overlay",)
        if not isinstance(value, str) or not value.strip():
            self.problem(key, 'must be a folder in quotes, like "clinic-catalog"')
            return
        folder = (self.path.parent / value).resolve()  # relative to this file, not the cwd
        if not folder.is_dir():
            self.problem(key, f"{folder} is not a folder")
            return
        has_files = (folder / "timeline.toml").is_file() or any((folder / "locales").glob("*.toml"))
        if not has_files:
            self.problem(key, f"{folder} has no timeline.toml and no locales/<code>.toml")
            return
        values["catalog_overlay"] = str(folder)

    def _retention(self, values: dict[str, Any], value: Any) -> None:
        if not _is_int(value) or not 1 <= value <= MAX_RETENTION_DAYS:
            self.problem(
                ("retention_days",), f"must be a whole number of days, 1 to {MAX_RETENTION_DAYS}"
            )
            return
        values["retention_days"] = value

    def _admins(self, values: dict[str, Any], value: Any) -> None:
        if not isinstance(value, list) or not all(_is_int(item) and item != 0 for item in value):
            self.problem(("admin_chat_ids",), "must be a list of chat ids, like [123456789]")
            return
        values["admin_chat_ids"] = frozenset(value)

    def _crisis_lines(self, values: dict[str, Any], value: Any) -> None:
        if not isinstance(value, dict):
            self.problem(("crisis_lines",), 'must be a table: [crisis_lines] then es = "024"')
            return
        lines = []
        for code, line in value.items():
            key = ("crisis_lines", code)
            if not _LANGUAGE.match(code):
                self.problem(
                    key, "must be a language code in lowercase, like es or pt-br" + _moved(code)
                )
                continue
            text = self._line(key, line)
            if text is not None:
                lines.append((code, text))
        values["crisis_lines"] = tuple(lines)

    def _country_lines(self, values: dict[str, Any], value: Any) -> None:
        if not isinstance(value, dict):
            self.problem(
                ("crisis_lines_by_country",),
                'must be a table: [crisis_lines_by_country] then GB = "Samaritans, 116 123"',
            )
            return
        countries = known_countries()
        lines = []
        for code, line in value.items():
            key = ("crisis_lines_by_country", code)
            if code not in countries:
                self.problem(
                    key, "must be a country code in capitals, like GB, US or ES" + _moved(code)
                )
                continue
            text = self._line(key, line)
            if text is not None:
                lines.append((code, text))
        values["crisis_lines_by_country"] = tuple(lines)

    def _session_minutes(self, values: dict[str, Any], value: Any) -> None:
        if not isinstance(value, dict):
            self.problem(("session_minutes",), "must be a table: [session_minutes] then iv = 100")
            return
        kinds = {kind.value: kind for kind in Kind}
        minutes = []
        for name, number in value.items():
            key = ("session_minutes", name)
            if name not in kinds:
                self.problem(key, f"unknown session kind; use {', '.join(kinds)}" + _moved(name))
            elif not _is_int(number) or not MIN_SESSION_MINUTES <= number <= MAX_SESSION_MINUTES:
                self.problem(
                    key,
                    f"must be whole minutes, {MIN_SESSION_MINUTES} to {MAX_SESSION_MINUTES}, "
                    "the session and the observation after it",
                )
            else:
                minutes.append((kinds[name], number))
        values["session_minutes"] = tuple(minutes)

    def _optional(self, values: dict[str, Any], value: Any) -> None:
        if not isinstance(value, dict):
            self.problem(
                ("optional_messages",), "must be a table: [optional_messages] then checkin = true"
            )
            return
        fields = {"checkin": "checkin_enabled", "checklist": "checklist_enabled"}
        for name, flag in value.items():
            key = ("optional_messages", name)
            if name not in fields:
                self.problem(key, f"unknown message; use {', '.join(fields)}" + _moved(name))
            elif not isinstance(flag, bool):
                self.problem(key, "must be true or false")
            else:
                values[fields[name]] = flag

    def _webhook(self, values: dict[str, Any], value: Any) -> None:
        if not isinstance(value, dict):
            self.problem(("webhook",), 'must be a table: [webhook] then url = "https://..."')
            return
        for name, item in value.items():
            key = ("webhook", name)
            if name == "url":
                parts = urlsplit(item) if isinstance(item, str) else None
                if parts is None or parts.scheme != "https" or not parts.hostname:
                    self.problem(key, "must be the public https:// address Telegram posts to")
                else:
                    values["webhook_url"] = item
            elif name == "secret_token":
                if not isinstance(item, str) or not _SECRET.match(item):
                    self.problem(key, "must be 1 to 256 letters, digits, _ or - (Telegram's rule)")
                else:
                    values["webhook_secret"] = item
            elif name == "listen":
                if not isinstance(item, str) or not item.strip():
                    self.problem(key, 'must be an address in quotes, like "127.0.0.1"')
                else:
                    values["webhook_listen"] = item.strip()
            elif name == "port":
                if not _is_int(item) or not 1 <= item <= 65535:
                    self.problem(key, "must be a port number, 1 to 65535")
                else:
                    values["webhook_port"] = item
            else:
                self.problem(
                    key,
                    "unknown setting; [webhook] takes url, secret_token, listen, port"
                    + _moved(name),
                )


# Keys above the first [table]: one written below it belongs to that table instead (TOML's rule).
_TOP_LEVEL = frozenset(
    {
        "deployment_name",
        "crisis_line",
        "clinic_contact",
        "default_zone",
        "quiet_hours",
        "catalog_overlay",
        "retention_days",
        "admin_chat_ids",
    }
)


def _moved(name: str) -> str:
    """A hint for a top-level setting written under a [table], where TOML puts it in that table."""
    if name in _TOP_LEVEL:
        return f"; {name} belongs above the first [table] in the file"
    return ""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
