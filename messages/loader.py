"""Load the catalog from TOML and validate it, so a bad edit fails at start-up, not at 3 a.m."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

from messages.catalog import (
    Anchor,
    Audience,
    Catalog,
    CatalogError,
    EntryText,
    LocaleTexts,
    Offset,
    TimelineEntry,
)
from messages.render import (
    PATIENT_ONLY_PLACEHOLDERS,
    PLACEHOLDERS,
    SESSION_PLACEHOLDERS,
    TIMELINE_PLACEHOLDERS,
    placeholders_in,
)
from messages.validate import check_text, sensitive_hits

PACKAGE_DIR = Path(__file__).parent
KINDS = frozenset({"iv", "nasal", "other"})
_TIMELINE_KEYS = {
    "audience",
    "anchor",
    "offset",
    "expires",
    "urgent",
    "kinds",
    "sessions",
    "buttons",
    "enabled",
    "ride",
}
RIDE_STATES = frozenset({"claimed", "unclaimed"})


def load_timeline(path: Path = PACKAGE_DIR / "timeline.toml") -> tuple[TimelineEntry, ...]:
    """Read and check ``timeline.toml``; every error names the file, the entry and the field."""
    return _build_timeline(_read_timeline_layers([path]))


def _read_timeline_layers(paths: list[Path]) -> dict[str, tuple[dict[str, Any], Path]]:
    """Merge timeline files field by field, later files winning; remember who touched each entry.

    Entries keep their first position, so an override changes timing without reordering ties.
    """
    merged: dict[str, tuple[dict[str, Any], Path]] = {}
    for path in paths:
        for entry_id, raw in _read_toml(path).items():
            if not isinstance(raw, dict):
                raise CatalogError(f"{path} [{entry_id}]: expected a table of fields")
            fields = dict(merged[entry_id][0]) if entry_id in merged else {}
            fields.update(raw)
            merged[entry_id] = (fields, path)
    return merged


def _build_timeline(
    merged: dict[str, tuple[dict[str, Any], Path]],
) -> tuple[TimelineEntry, ...]:
    """The entries that are on; ``enabled = false`` (a clinic's override) switches one off."""
    off = _switched_off(merged)
    return tuple(
        _timeline_entry(path, entry_id, raw, order)
        for order, (entry_id, (raw, path)) in enumerate(merged.items())
        if entry_id not in off
    )


def _switched_off(merged: dict[str, tuple[dict[str, Any], Path]]) -> set[str]:
    """Ids whose merged ``enabled`` is false: they are neither planned nor need wording."""
    off = set()
    for entry_id, (raw, path) in merged.items():
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise CatalogError(f"{path} [{entry_id}]: enabled must be true or false")
        if not enabled:
            off.add(entry_id)
    return off


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: {exc}") from exc


def _timeline_entry(path: Path, entry_id: str, raw: Any, order: int) -> TimelineEntry:
    where = f"{path} [{entry_id}]"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: expected a table of fields")
    unknown = set(raw) - _TIMELINE_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {sorted(unknown)}")
    for name in ("offset", "expires"):
        if name in raw and not isinstance(raw[name], str):
            raise CatalogError(f'{where}: {name} must be text like "-30m" or "-1d 20:00"')
    if not isinstance(raw.get("urgent", False), bool):
        raise CatalogError(f"{where}: urgent must be true or false")
    buttons = raw.get("buttons", [])
    if not isinstance(buttons, list) or not all(isinstance(b, str) for b in buttons):
        raise CatalogError(f'{where}: buttons must be a list of button ids like ["got_it"]')
    try:
        audience = Audience(raw["audience"])
        anchor = Anchor(raw["anchor"])
        offset = Offset.parse(raw["offset"])
        expires = Offset.parse(raw["expires"])
    except KeyError as exc:
        raise CatalogError(f"{where}: missing field {exc}") from exc
    except ValueError as exc:
        raise CatalogError(f"{where}: {exc}") from exc
    kinds = frozenset(raw.get("kinds", sorted(KINDS)))
    if not kinds or not kinds <= KINDS:
        raise CatalogError(f"{where}: kinds must be a non-empty subset of {sorted(KINDS)}")
    sessions_raw = raw.get("sessions")
    sessions = None
    if sessions_raw is not None:
        if not sessions_raw or not all(isinstance(n, int) and n >= 1 for n in sessions_raw):
            raise CatalogError(f"{where}: sessions must be a list of session numbers from 1")
        sessions = frozenset(sessions_raw)
    if anchor is Anchor.JOINED and audience is not Audience.FAMILY:
        raise CatalogError(f"{where}: the 'joined' anchor is for family entries only")
    ride = raw.get("ride")
    if ride is not None and ride not in RIDE_STATES:
        raise CatalogError(f'{where}: ride must be "claimed" or "unclaimed"')
    if ride is not None and anchor not in (Anchor.SESSION_START, Anchor.SESSION_END):
        raise CatalogError(f"{where}: ride is for entries anchored to a session")
    if _sort_key(expires) <= _sort_key(offset):
        raise CatalogError(f"{where}: expires ({expires}) must come after offset ({offset})")
    return TimelineEntry(
        id=entry_id,
        audience=audience,
        anchor=anchor,
        offset=offset,
        expires=expires,
        urgent=raw.get("urgent", False),
        kinds=kinds,
        sessions=sessions,
        buttons=tuple(buttons),
        order=order,
        ride=ride,
    )


def _sort_key(offset: Offset) -> float:
    """Approximate minutes from the anchor, good enough to catch an expiry before its offset."""
    if offset.clock is not None and offset.days is not None:
        return offset.days * 1440 + offset.clock.hour * 60 + offset.clock.minute - 12 * 60
    return offset.delta.total_seconds() / 60


_SECTIONS = ("meta", "messages", "buttons", "replies")
_META_FIELDS = ("code", "name", "date_format", "time_format", "sensitive_words")
_ENTRY_FIELDS = ("topic", "plain", "discreet", "plain_with_driver", "discreet_with_driver")
_DRIVER_FIELDS = ("plain_with_driver", "discreet_with_driver")
_SESSION_ANCHORS = frozenset({Anchor.SESSION_START, Anchor.SESSION_END})
# Lenient stand-ins while a locale's own formats are broken, so its texts still get checked.
_FALLBACK_FORMATS = {"date_format": "yyyy-MM-dd", "time_format": "HH:mm"}
_MAX_TOPIC = 40
_MAX_BUTTON = 64

Leaf = tuple[Any, Path]  # a value and the file that set it (the last one, after overrides)


@dataclass
class _RawLocale:
    """One locale merged from the package file and any override files, before checking."""

    files: list[Path] = field(default_factory=list)
    meta: dict[str, Leaf] = field(default_factory=dict)
    messages: dict[str, dict[str, Leaf]] = field(default_factory=dict)
    buttons: dict[str, Leaf] = field(default_factory=dict)
    replies: dict[str, Leaf] = field(default_factory=dict)


def load_catalog(
    *extra_dirs: Path, base: Path = PACKAGE_DIR, default_locale: str = "en"
) -> Catalog:
    """Load ``timeline.toml`` and every ``locales/*.toml`` under ``base``, then each override.

    ``extra_dirs`` are operator folders laid out like ``base`` (``timeline.toml`` and/or
    ``locales/<code>.toml``, each optional). Their entries are merged field by field over what
    came before: a clinic can change one entry's ``offset`` or one ``plain`` text, add an entry,
    add a locale, or add ``sensitive_words`` (added to the list, never replacing it).

    Raises ``CatalogError`` listing every problem, each naming the file, the entry and the field.
    """
    dirs = (base, *extra_dirs)
    timeline_files = [d / "timeline.toml" for d in dirs if (d / "timeline.toml").is_file()]
    if not (base / "timeline.toml").is_file():
        raise CatalogError(f"{base / 'timeline.toml'}: missing")
    layers = _read_timeline_layers(timeline_files)
    timeline = _build_timeline(layers)
    switched_off = _switched_off(layers)

    errors: list[str] = []
    raw_locales: dict[str, _RawLocale] = {}
    for folder in dirs:
        for path in sorted((folder / "locales").glob("*.toml")):
            raw = raw_locales.setdefault(path.stem, _RawLocale())
            _merge_locale(raw, path, _read_toml(path), errors)
    for raw in raw_locales.values():  # wording of a switched-off message is not checked
        for entry_id in switched_off:
            raw.messages.pop(entry_id, None)
    if default_locale not in raw_locales:
        raise CatalogError(
            f"{base / 'locales' / (default_locale + '.toml')}: default locale missing"
        )

    default_stems = _stems(raw_locales[default_locale], errors=[])
    locales = {}
    for code, raw in raw_locales.items():
        texts = _check_locale(code, raw, timeline, default_stems, errors)
        if texts is not None:
            locales[code] = texts
    _check_same_keys(raw_locales, default_locale, errors, placeholders=default_locale in locales)
    if errors:
        raise CatalogError(f"{len(errors)} problem(s) in the catalog:\n" + "\n".join(errors))
    return Catalog(timeline=timeline, locales=locales, default_locale=default_locale)


def _merge_locale(raw: _RawLocale, path: Path, data: dict[str, Any], errors: list[str]) -> None:
    raw.files.append(path)
    for section, body in data.items():
        if section not in _SECTIONS:
            errors.append(f"{path} [{section}]: unknown section; use {_sections()}")
            continue
        if not isinstance(body, dict):
            errors.append(f"{path} {section}: expected a [{section}] table")
            continue
        if section == "messages":
            for entry_id, fields in body.items():
                if not isinstance(fields, dict):
                    errors.append(f"{path} [messages.{entry_id}]: expected a table of fields")
                    continue
                target = raw.messages.setdefault(entry_id, {})
                target.update({name: (value, path) for name, value in fields.items()})
        elif section == "meta":
            for name, value in body.items():
                old = raw.meta.get(name)
                if name == "sensitive_words" and old and isinstance(old[0], list):
                    value = [*old[0], *value] if isinstance(value, list) else value
                raw.meta[name] = (value, path)
        elif section == "buttons":
            raw.buttons.update({key: (value, path) for key, value in body.items()})
        else:
            raw.replies.update({key: (value, path) for key, value in _flatten(body)})


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``[replies.sessions] none = "..."`` becomes the reply id ``sessions.none``."""
    items = []
    for key, value in table.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((prefix + key, value))
    return items


def _sections() -> str:
    return "[meta], [messages.<id>], [buttons], [replies]"


def _stems(raw: _RawLocale, errors: list[str]) -> tuple[str, ...]:
    value, path = raw.meta.get("sensitive_words", (None, raw.files[0]))
    where = f"{path} [meta] sensitive_words"
    if not isinstance(value, list) or not value:
        errors.append(f"{where}: must be a non-empty list of lowercase word stems")
        return ()
    stems = []
    for stem in value:
        if not isinstance(stem, str) or not stem.strip() or stem != stem.lower():
            errors.append(f"{where}: {stem!r} must be a non-empty lowercase stem")
        else:
            stems.append(stem)
    return tuple(dict.fromkeys(stems))


def _check_locale(
    code: str,
    raw: _RawLocale,
    timeline: tuple[TimelineEntry, ...],
    default_stems: tuple[str, ...],
    errors: list[str],
) -> LocaleTexts | None:
    start = len(errors)
    meta = _check_meta(code, raw, errors)
    stems = tuple(dict.fromkeys((*_stems(raw, errors), *default_stems)))
    name, date_format, time_format = meta
    babel_code = code.replace("-", "_")

    def text_problems(where: str, value: object, words: tuple[str, ...]) -> set[str]:
        names, problems = check_text(
            value, stems=words, locale=babel_code, date_format=date_format, time_format=time_format
        )
        errors.extend(f"{where}: {problem}" for problem in problems)
        return names

    entries = {}
    known = {item.id: item for item in timeline}
    for entry_id, fields in raw.messages.items():
        item = known.get(entry_id)
        if item is None:
            path = next(iter(fields.values()))[1] if fields else raw.files[0]
            errors.append(f"{path} [messages.{entry_id}]: no entry {entry_id!r} in timeline.toml")
            continue
        entry_text = _check_entry(item, fields, raw.files[0], stems, text_problems, errors)
        if entry_text is not None:
            entries[entry_id] = entry_text
    for item in timeline:
        if item.id not in raw.messages:
            errors.append(
                f"{raw.files[0]} [messages.{item.id}]: missing; every timeline entry needs "
                "topic, plain and discreet texts in every locale"
            )

    buttons = {}
    for button_id, (label, path) in raw.buttons.items():
        where = f"{path} [buttons] {button_id}"
        if not isinstance(label, str) or not label.strip() or len(label) > _MAX_BUTTON:
            errors.append(f"{where}: must be text of 1 to {_MAX_BUTTON} characters")
            continue
        hits = sensitive_hits(label, stems)
        errors.extend(f"{where}: mentions sensitive word {stem!r}" for stem in hits)
        buttons[button_id] = label
    for item in timeline:
        for button_id in item.buttons:
            if button_id not in raw.buttons:
                errors.append(
                    f"{raw.files[0]} [buttons] {button_id}: missing; timeline entry "
                    f"[{item.id}] uses this button"
                )

    replies = {}
    for reply_id, (text, path) in raw.replies.items():
        text_problems(f"{path} [replies] {reply_id}", text, ())
        replies[reply_id] = str(text).strip()

    if len(errors) > start:
        return None
    return LocaleTexts(
        code=code,
        name=name,
        date_format=date_format,
        time_format=time_format,
        sensitive_words=stems,
        entries=entries,
        buttons=buttons,
        replies=replies,
    )


def _check_meta(code: str, raw: _RawLocale, errors: list[str]) -> tuple[str, str, str]:
    """The locale's name, date and time formats (stand-ins for broken ones, with an error)."""
    meta = raw.meta
    where = f"{raw.files[0]} [meta]"
    for name in sorted(meta.keys() - set(_META_FIELDS)):
        errors.append(f"{meta[name][1]} [meta] {name}: unknown field; use {list(_META_FIELDS)}")
    for name in _META_FIELDS:
        if name not in meta:
            errors.append(f"{where} {name}: missing")
    if code != code.lower():
        errors.append(f"{raw.files[0]}: locale file names are lowercase, like pt-br.toml")
    if meta.get("code", (code,))[0] != code:
        errors.append(
            f"{meta['code'][1]} [meta] code: {meta['code'][0]!r} must match the file name {code!r}"
        )
    babel_code = code.replace("-", "_")
    try:
        Locale.parse(babel_code)
    except (ValueError, UnknownLocaleError) as exc:
        errors.append(f"{raw.files[0]}: locale {code!r} is unknown to Babel ({exc})")
        babel_code = "en"
    display = meta.get("name", ("", raw.files[0]))[0]
    if "name" in meta and (not isinstance(display, str) or not display.strip()):
        errors.append(f"{meta['name'][1]} [meta] name: must be non-empty text")
    sample = datetime(2026, 9, 30, 23, 59, tzinfo=UTC)
    date_format = _check_pattern(meta, "date_format", raw.files[0], errors, babel_code, sample)
    time_format = _check_pattern(meta, "time_format", raw.files[0], errors, babel_code, sample)
    return str(display), date_format, time_format


def _check_pattern(
    meta: dict[str, Leaf],
    name: str,
    default_path: Path,
    errors: list[str],
    babel_code: str,
    sample: datetime,
) -> str:
    fallback = _FALLBACK_FORMATS[name]
    pattern, path = meta.get(name, (fallback, default_path))
    try:
        if not isinstance(pattern, str) or not pattern.strip():
            raise ValueError("must be a Babel pattern like 'EEEE d MMMM' or 'HH:mm'")
        if name == "date_format":
            format_date(sample, pattern, locale=babel_code)
        else:
            format_time(sample, pattern, locale=babel_code)
    except (ValueError, KeyError, TypeError) as exc:
        errors.append(f"{path} [meta] {name}: {exc}")
        return fallback
    return pattern


TextCheck = Callable[[str, object, tuple[str, ...]], set[str]]


def _check_entry(
    item: TimelineEntry,
    fields: dict[str, Leaf],
    locale_file: Path,
    stems: tuple[str, ...],
    text_problems: TextCheck,
    errors: list[str],
) -> EntryText | None:
    start = len(errors)
    first_path = next(iter(fields.values()))[1] if fields else locale_file
    head = f"[messages.{item.id}]"
    for name in sorted(fields.keys() - set(_ENTRY_FIELDS)):
        errors.append(f"{fields[name][1]} {head} {name}: unknown field; use {list(_ENTRY_FIELDS)}")
    for name in ("topic", "plain", "discreet"):
        if name not in fields:
            errors.append(f"{first_path} {head} {name}: missing")
    present = [name for name in _DRIVER_FIELDS if name in fields]
    if len(present) == 1:
        (other,) = set(_DRIVER_FIELDS) - set(present)
        errors.append(
            f"{first_path} {head} {other}: missing; plain_with_driver and discreet_with_driver "
            "come as a pair"
        )
    family = item.audience is Audience.FAMILY
    texts: dict[str, str] = {}
    for name, (value, path) in fields.items():
        if name not in _ENTRY_FIELDS:
            continue
        where = f"{path} {head} {name}"
        if name == "topic":
            errors.extend(f"{where}: {problem}" for problem in _topic_problems(value, stems))
        else:
            words = stems if family or name.startswith("discreet") else ()
            for placeholder in sorted(text_problems(where, value, words) & PLACEHOLDERS.keys()):
                reason = _placeholder_problem(placeholder, item, name)
                if reason:
                    errors.append(f"{where}: {reason}")
        texts[name] = str(value).strip()
    if len(errors) > start:
        return None
    return EntryText(
        topic=texts["topic"],
        plain=texts["plain"],
        discreet=texts["discreet"],
        plain_with_driver=texts.get("plain_with_driver"),
        discreet_with_driver=texts.get("discreet_with_driver"),
    )


def _topic_problems(value: object, stems: tuple[str, ...]) -> list[str]:
    """Topics show in lists and previews whatever the wording: short, plain text, discreet."""
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TOPIC:
        return [f"must be text of 1 to {_MAX_TOPIC} characters"]
    problems = []
    if any(char in value for char in "<>&{}"):
        problems.append("plain text only: no tags, &, or {placeholders}")
    problems += [f"mentions sensitive word {stem!r}" for stem in sensitive_hits(value, stems)]
    return problems


def _placeholder_problem(name: str, item: TimelineEntry, field_name: str) -> str | None:
    """Why ``{name}`` cannot appear in this field of this entry, or None if it can."""
    if name not in TIMELINE_PLACEHOLDERS:
        return f"{{{name}}} is for replies; timeline texts use {sorted(TIMELINE_PLACEHOLDERS)}"
    if name == "patient_name" and item.audience is Audience.FAMILY:
        return "{patient_name} is not allowed in family texts: they never name the patient"
    if name == "clinic_contact" and item.audience is Audience.FAMILY:
        return "{clinic_contact} is not allowed in family texts: they never name the clinic"
    if name in PATIENT_ONLY_PLACEHOLDERS and item.audience is Audience.FAMILY:
        return f"{{{name}}} is not allowed in family texts: it is the patient's alone"
    if name == "driver_name" and field_name not in _DRIVER_FIELDS:
        return "{driver_name} belongs only in plain_with_driver and discreet_with_driver"
    if name in SESSION_PLACEHOLDERS and item.anchor not in _SESSION_ANCHORS:
        return f"{{{name}}} is not available for anchor {item.anchor.value!r} (no single session)"
    return None


def _check_same_keys(
    raw_locales: dict[str, _RawLocale],
    default: str,
    errors: list[str],
    *,
    placeholders: bool = True,
) -> None:
    """Every locale offers the same buttons, replies and driver variants as the default one,
    and each text uses the same ``{placeholders}`` as the default's: the bot passes the values
    the default text needs, and a translation that drops ``{crisis_line}`` drops the crisis line.

    Driven by the default locale's files, so a key added there is at once required everywhere.
    Placeholders are compared only between texts from the same folder (the package's, or one
    override's): a clinic that rewords only its English text did not write the Spanish one
    against it. And only once the default texts are themselves sound (``placeholders``), so one
    mistake in English is not reported again for every language.
    """
    reference = raw_locales[default]
    for code, raw in raw_locales.items():
        if code == default:
            continue
        for section in ("buttons", "replies"):
            mine: dict[str, Leaf] = getattr(raw, section)
            theirs: dict[str, Leaf] = getattr(reference, section)
            for key in sorted(theirs.keys() - mine.keys()):
                errors.append(f"{raw.files[0]} [{section}] {key}: missing; {default} has it")
            for key in sorted(mine.keys() - theirs.keys()):
                errors.append(f"{mine[key][1]} [{section}] {key}: {default} has no such key")
            for key in sorted(mine.keys() & theirs.keys()) if placeholders else ():
                where = f"{mine[key][1]} [{section}] {key}"
                errors.extend(_placeholder_drift(where, mine[key], theirs[key], default))
        for entry_id, fields in raw.messages.items():
            expected = reference.messages.get(entry_id, {})
            for name in _DRIVER_FIELDS:
                where = f"[messages.{entry_id}] {name}"
                if name in expected and name not in fields:
                    errors.append(f"{raw.files[0]} {where}: missing; {default} has it")
                elif name in fields and name not in expected:
                    errors.append(f"{fields[name][1]} {where}: {default} has no such text")
            for name in sorted(fields.keys() & expected.keys()) if placeholders else ():
                where = f"{fields[name][1]} [messages.{entry_id}] {name}"
                errors.extend(_placeholder_drift(where, fields[name], expected[name], default))


def _placeholder_drift(where: str, mine: Leaf, theirs: Leaf, default: str) -> list[str]:
    """How a translation's ``{placeholders}`` differ from the default text's (none: ``[]``).

    Texts that cannot be read (bad braces, not text) are reported by the text checks already.
    """
    (text, path), (default_text, default_path) = mine, theirs
    if path.parent.parent != default_path.parent.parent:
        return []  # from different folders: see _check_same_keys
    if not isinstance(text, str) or not isinstance(default_text, str):
        return []
    try:
        have, want = placeholders_in(text), placeholders_in(default_text)
    except ValueError:
        return []
    problems = [
        f"{where}: missing {{{name}}}; the {default} text uses it" for name in sorted(want - have)
    ]
    problems += [
        f"{where}: {{{name}}} is not in the {default} text, so no value is given for it"
        for name in sorted(have - want)
    ]
    return problems
