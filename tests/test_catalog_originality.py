"""The catalog carries the seed pages' facts in its own words: no sentence is lifted from them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from messages import load_catalog

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
RUN = 7  # words in a row; common phrases ("tell your provider") are shorter than this


def _runs(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z']+", text.lower())
    return {tuple(words[i : i + RUN]) for i in range(len(words) - RUN + 1)}


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared/seeds is not beside this checkout")
def test_no_seven_word_run_of_any_seed_page_appears_in_any_message() -> None:
    """Every timeline text, in both wordings, shares no run of seven words with a seed page."""
    seed_runs: set[tuple[str, ...]] = set()
    for page in sorted(SEEDS.glob("*.txt")):
        seed_runs |= _runs(page.read_text(encoding="utf-8"))
    assert seed_runs, "no seed text found"
    catalog = load_catalog()
    copied = []
    for locale in catalog.locales.values():
        texts = [*locale.replies.values(), *locale.buttons.values()]
        for entry in locale.entries.values():
            texts += [entry.plain, entry.discreet]
            texts += [t for t in (entry.plain_with_driver, entry.discreet_with_driver) if t]
        for text in texts:
            copied += [" ".join(run) for run in _runs(text) & seed_runs]
    assert copied == []
