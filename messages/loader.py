"""Load the catalog from TOML and validate it, so a bad edit fails at start-up, not at 3 a.m."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from messages.catalog import Anchor, Audience, Catalog, CatalogError, Offset, TimelineEntry

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
}


def load_timeline(path: Path = PACKAGE_DIR / "timeline.toml") -> tuple[TimelineEntry, ...]:
    """Read and check ``timeline.toml``; every error names the file, the entry and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: {exc}") from exc
    entries = []
    for order, (entry_id, raw) in enumerate(data.items()):
        entries.append(_timeline_entry(path, entry_id, raw, order))
    return tuple(entries)


def _timeline_entry(path: Path, entry_id: str, raw: Any, order: int) -> TimelineEntry:
    where = f"{path.name} [{entry_id}]"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: expected a table of fields")
    unknown = set(raw) - _TIMELINE_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {sorted(unknown)}")
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
    if _sort_key(expires) <= _sort_key(offset):
        raise CatalogError(f"{where}: expires ({expires}) must come after offset ({offset})")
    return TimelineEntry(
        id=entry_id,
        audience=audience,
        anchor=anchor,
        offset=offset,
        expires=expires,
        urgent=bool(raw.get("urgent", False)),
        kinds=kinds,
        sessions=sessions,
        buttons=tuple(raw.get("buttons", ())),
        order=order,
    )


def _sort_key(offset: Offset) -> float:
    """Approximate minutes from the anchor, good enough to catch an expiry before its offset."""
    if offset.clock is not None and offset.days is not None:
        return offset.days * 1440 + offset.clock.hour * 60 + offset.clock.minute - 12 * 60
    return offset.delta.total_seconds() / 60


def load_catalog(*extra_dirs: Path) -> Catalog:
    """Load the timeline and every locale, validated. (Filled in by the catalog work.)"""
    raise NotImplementedError
