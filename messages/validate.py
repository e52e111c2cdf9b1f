"""Checks on one catalog text: placeholders, Telegram's HTML subset, length, sensitive words.

Each check returns a list of problems (empty when fine), so the loader can report every mistake
in a file at once instead of one per restart.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from html.parser import HTMLParser

from messages.render import (
    OPTIONAL_PLACEHOLDERS,
    PLACEHOLDERS,
    TELEGRAM_MAX_LENGTH,
    fill,
    long_sample_values,
    placeholders_in,
    telegram_length,
)

# Telegram's HTML parse mode, restricted to what the catalog needs; tag -> allowed attributes.
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "i": frozenset(),
    "u": frozenset(),
    "s": frozenset(),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
    "tg-spoiler": frozenset(),
}
# Telegram knows only these named entities; anything else is sent back as a Bad Request.
_ENTITIES = frozenset({"lt", "gt", "amp", "quot"})
_TAG = re.compile(r"<[^>]*>")
# HTMLParser reads "Q&A" as an entity, so a bare ampersand is found on the raw text instead.
_BARE_AMPERSAND = re.compile(r"&(?![A-Za-z][A-Za-z0-9]*;|#[0-9]+;|#x[0-9A-Fa-f]+;)")


class _TelegramHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}> is not allowed; use {_allowed_list()}")
            return
        names = {name for name, _value in attrs}
        extra = names - ALLOWED_TAGS[tag]
        if extra:
            self.problems.append(f"<{tag}> does not take {sorted(extra)}")
        if tag == "a" and not dict(attrs).get("href"):
            self.problems.append('<a> needs href="..."')
        if tag == "code" and not (dict(attrs).get("class") or "language-").startswith("language-"):
            self.problems.append('<code class="..."> must be "language-<name>"')
        if "code" in self.open or ("pre" in self.open and tag != "code"):
            self.problems.append(f"<{tag}> cannot go inside <pre> or <code>")
        if tag in ("a", "blockquote") and tag in self.open:
            self.problems.append(f"<{tag}> cannot go inside another <{tag}>")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"<{tag}/> is not allowed: Telegram has no self-closing tags")

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag </{tag}> is not allowed")
        elif not self.open or self.open[-1] != tag:
            expected = f"</{self.open[-1]}>" if self.open else "no closing tag"
            self.problems.append(f"</{tag}> does not match: expected {expected}")
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        for char, entity in (("<", "&lt;"), (">", "&gt;")):
            if char in data:
                self.problems.append(f"a bare {char!r} outside a tag: write {entity}")

    def handle_entityref(self, name: str) -> None:
        if name not in _ENTITIES:
            self.problems.append(f"&{name}; is not one of &lt; &gt; &amp; &quot;")

    def handle_comment(self, data: str) -> None:
        self.problems.append("HTML comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"<!{decl}> is not allowed")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"<?{data}> is not allowed")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"<![{data}]> is not allowed")


def _allowed_list() -> str:
    return " ".join(f"<{tag}>" for tag in ALLOWED_TAGS)


def html_problems(text: str) -> list[str]:
    """What Telegram would reject (or we do not allow) in ``text`` as HTML."""
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    problems = parser.problems
    if _BARE_AMPERSAND.search(text):
        problems.append("a bare '&' outside an entity: write &amp;")
    if parser.open:
        problems.append("unclosed " + " ".join(f"<{tag}>" for tag in parser.open))
    return list(dict.fromkeys(problems))


def sensitive_hits(text: str, stems: Collection[str]) -> list[str]:
    """The sensitive stems found in ``text``, ignoring case and tags (so ``ket<b>amine``)."""
    lowered = text.lower()
    untagged = _TAG.sub("", lowered)
    return sorted({stem for stem in stems if stem in lowered or stem in untagged})


def _optional_line_problems(text: str, names: set[str]) -> list[str]:
    """A line with an optional placeholder is left out when it has no value, so the text must
    still be valid HTML without it: the line opens and closes its own tags."""
    problems = []
    for name in sorted(names & OPTIONAL_PLACEHOLDERS):
        for line in text.split("\n"):
            if f"{{{name}}}" in line and html_problems(line):
                problems.append(
                    f"the line with {{{name}}} is left out when there is none, so it must "
                    "open and close its own tags"
                )
    return problems


def check_text(
    text: object,
    *,
    stems: Collection[str],
    locale: str,
    date_format: str,
    time_format: str,
) -> tuple[set[str], list[str]]:
    """Placeholders used in ``text`` and its problems; ``stems`` empty where words are allowed.

    Whether each placeholder is allowed *here* depends on the entry, so the caller decides that.
    """
    if not isinstance(text, str) or not text.strip():
        return set(), ["must be non-empty text"]
    problems = []
    try:
        names = placeholders_in(text)
    except ValueError as exc:
        return set(), [f"{exc} (write {{{{ and }}}} for a literal brace)"]
    unknown = sorted(names - PLACEHOLDERS.keys())
    problems += [f"unknown placeholder {{{name}}}" for name in unknown]
    problems += html_problems(text)
    problems += _optional_line_problems(text, names)
    if not unknown:
        sample = fill(
            text,
            long_sample_values(names),
            locale=locale,
            date_format=date_format,
            time_format=time_format,
        )
        length = telegram_length(sample)
        if length > TELEGRAM_MAX_LENGTH:
            problems.append(
                f"{length} characters with long sample values; Telegram allows "
                f"{TELEGRAM_MAX_LENGTH}"
            )
    problems += [f"mentions sensitive word {stem!r}" for stem in sensitive_hits(text, stems)]
    return names, problems
