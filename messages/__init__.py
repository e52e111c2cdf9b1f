"""The message catalog: what the companion says, to whom and when, as data.

This package imports nothing of ours: ``scheduler`` reads the timing from it and ``bot`` reads
replies and button labels, never the other way round.
"""

from messages.catalog import (
    Anchor,
    Audience,
    Catalog,
    CatalogError,
    Offset,
    Rendered,
    TimelineEntry,
    Wording,
)
from messages.loader import load_catalog

__all__ = [
    "Anchor",
    "Audience",
    "Catalog",
    "CatalogError",
    "Offset",
    "Rendered",
    "TimelineEntry",
    "Wording",
    "load_catalog",
]
