"""``python -m messages [override_dir ...]``: check the catalog files after an edit.

Prints every problem (file, entry, field) and exits 1, or a one-line summary and exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

from messages.catalog import CatalogError
from messages.loader import load_catalog


def main(argv: list[str]) -> int:
    try:
        catalog = load_catalog(*(Path(arg) for arg in argv))
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    locales = ", ".join(sorted(catalog.locales))
    print(f"catalog ok: {len(catalog.timeline)} timeline entries; locales: {locales}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
