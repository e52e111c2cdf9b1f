"""The catalog carries the seed pages' facts in its own words: no sentence is lifted from them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from messages import load_catalog
from messages.loader import PACKAGE_DIR

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
RUN = 7  # words in a row; common phrases ("tell your provider") are shorter than this


LOCALES = sorted(path.stem for path in (PACKAGE_DIR / "locales").glob("*.toml"))


def _runs(text: str) -> set[tuple[str, ...]]:
    # Letters of any script, so a Spanish "sesión" is one word, not "sesi" and "n".
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)*", text.lower())
    return {tuple(words[i : i + RUN]) for i in range(len(words) - RUN + 1)}


def test_every_locale_file_is_checked() -> None:
    """The check below runs once per file in locales/, and the catalog loads each of them."""
    assert "en" in LOCALES and "es" in LOCALES
    assert sorted(load_catalog().locales) == LOCALES


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared/seeds is not beside this checkout")
@pytest.mark.parametrize("code", LOCALES)
def test_no_seven_word_run_of_any_seed_page_appears_in_any_message(code: str) -> None:
    """Every text of the locale (timeline texts in both wordings and with a driver, topics,
    replies, buttons) shares no run of seven words with a seed page."""
    seed_runs: set[tuple[str, ...]] = set()
    for page in sorted(SEEDS.glob("*.txt")):
        seed_runs |= _runs(page.read_text(encoding="utf-8"))
    assert seed_runs, "no seed text found"
    locale = load_catalog().locales[code]
    texts = [*locale.replies.values(), *locale.buttons.values()]
    for entry in locale.entries.values():
        texts += [entry.topic, entry.plain, entry.discreet]
        texts += [t for t in (entry.plain_with_driver, entry.discreet_with_driver) if t]
    assert len(texts) > 100, "too few texts: is the locale loaded?"
    copied = [" ".join(run) for text in texts for run in _runs(text) & seed_runs]
    assert copied == []


def test_runs_are_found_in_any_script() -> None:
    """The comparison sees accented words whole, so it can catch a copied Spanish sentence."""
    sentence = "la sesión de hoy terminó y ahora toca descansar bien"
    assert _runs(sentence) & _runs(f"Texto: {sentence.upper()}.")
    assert ("la", "sesión", "de", "hoy", "terminó", "y", "ahora") in _runs(sentence)
