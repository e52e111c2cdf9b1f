"""The message catalog: what the companion says, to whom and when, as data.

This package imports nothing of ours: ``scheduler`` reads the timing from it and ``bot`` reads
replies and button labels, never the other way round.

Typical use::

    catalog = load_catalog(*operator_dirs)          # validated; raises CatalogError
    catalog.render_entry(locale, "rest_up", Wording.PLAIN, values, with_driver=True)
    catalog.render_reply(locale, "help", crisis_line="988")
    catalog.button_label(locale, "got_it"); catalog.topic(locale, "rest_up")

``PLACEHOLDERS`` lists every ``{name}`` a text may use; add new reply names there.
``python -m messages [override_dir ...]`` checks the files and says what is wrong.
"""

from messages.catalog import (
    Anchor,
    Audience,
    Catalog,
    CatalogError,
    EntryText,
    LocaleTexts,
    Offset,
    Rendered,
    TimelineEntry,
    Wording,
)
from messages.loader import load_catalog, load_timeline
from messages.render import PLACEHOLDERS

__all__ = [
    "PLACEHOLDERS",
    "Anchor",
    "Audience",
    "Catalog",
    "CatalogError",
    "EntryText",
    "LocaleTexts",
    "Offset",
    "Rendered",
    "TimelineEntry",
    "Wording",
    "load_catalog",
    "load_timeline",
]
