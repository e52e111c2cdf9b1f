"""Loading and validating the catalog: the real files, broken copies of them, and overrides."""

from __future__ import annotations

import itertools
import re
import shutil
import tomllib
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from messages import Anchor, Audience, CatalogError, Offset, Wording, load_catalog
from messages.__main__ import main as check_main
from messages.loader import PACKAGE_DIR, load_timeline
from messages.render import long_sample_values
from messages.validate import html_problems, sensitive_hits


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A copy of the packaged catalog that a test may break."""
    folder = tmp_path / "base"
    (folder / "locales").mkdir(parents=True)
    shutil.copy(PACKAGE_DIR / "timeline.toml", folder / "timeline.toml")
    for path in (PACKAGE_DIR / "locales").glob("*.toml"):
        shutil.copy(path, folder / "locales" / path.name)
    return folder


@pytest.fixture
def override(tmp_path: Path) -> Path:
    """An empty operator override folder."""
    folder = tmp_path / "clinic"
    (folder / "locales").mkdir(parents=True)
    return folder


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of a file, failing loudly if the piece is not there."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def rejected(*extra: Path, base: Path) -> str:
    with pytest.raises(CatalogError) as info:
        load_catalog(*extra, base=base)
    return str(info.value)


EXTRA_ENTRY = """
[clinic_fasting]
audience = "patient"
anchor = "session_start"
offset = "-1d 18:00"
expires = "-2h"
buttons = ["got_it"]
"""


# ---------------------------------------------------------------- the real catalog


def test_packaged_catalog_loads_with_every_timeline_entry_in_english() -> None:
    """The shipped files pass every check, and English covers the whole timeline."""
    catalog = load_catalog()
    ids = [item.id for item in catalog.timeline]
    assert ids[0] == "provider_first"
    assert set(catalog.locales["en"].entries) == set(ids)
    assert catalog.default_locale == "en"
    timeline_buttons = {b for item in catalog.timeline for b in item.buttons}
    assert {b: catalog.locales["en"].buttons[b] for b in timeline_buttons} == {
        "got_it": "Got it",
        "snooze_30": "Remind me in 30 min",
        "ride": "I can drive",
        # issue 10: notes, check-in, checklist
        "win_dressed": "Got dressed",
        "win_outside": "Went outside",
        "win_called": "Called someone",
        "win_cooked": "Cooked something",
        "win_chore": "Did a chore",
        "win_own": "Write my own",
        "checkin_fine": "Fine",
        "checkin_side_effects": "Some side effects",
        "checkin_not_ok": "Not OK",
        "checklist_ride_yes": "Yes, it's arranged",
        "checklist_ride_no": "Not yet",
        "noticed": "I noticed something",
    }
    assert {"help", "private_only", "unknown_text"} <= catalog.locales["en"].replies.keys()


def test_packaged_sensitive_words_cover_the_required_stems() -> None:
    """The meta list names the drug, its brands and the condition, all lowercase."""
    words = load_catalog().locales["en"].sensitive_words
    for stem in ("ketamine", "esketamine", "spravato", "depress", "psychedel", "infusion"):
        assert stem in words
    for stem in ("anesthe", "dissociat", "psychiatr", "antidepress", "treatment-resistant"):
        assert stem in words
    assert all(stem == stem.lower() for stem in words)


def test_driver_variants_exist_exactly_where_the_ride_matters() -> None:
    """Entries that talk about the ride home have a with-driver pair; others do not."""
    entries = load_catalog().locales["en"].entries
    with_driver = {key for key, text in entries.items() if text.plain_with_driver is not None}
    assert with_driver == {
        "rest_up",
        "rest_up_nasal",
        "calm_start",
        "calm_start_nasal",
        "family_ride",
    }
    assert all(entries[key].discreet_with_driver is not None for key in with_driver)


def test_timeline_keeps_its_audiences_and_anchors() -> None:
    """Family entries are the four family_* ones and the driver's pick-up note; the welcome
    counts from joining."""
    timeline = load_timeline()
    family = [item.id for item in timeline if item.audience is Audience.FAMILY]
    assert family[:4] == ["family_welcome", "family_ride", "family_today", "family_next_day"]
    assert "ride_pickup" in family
    by_id = {item.id: item for item in timeline}
    assert by_id["family_welcome"].anchor is Anchor.JOINED
    assert by_id["family_ride"].buttons == ("ride", "got_it")
    assert by_id["dont_drive"].urgent


# ---------------------------------------------------------------- Offset notation


@pytest.mark.parametrize(
    ("text", "days", "clock", "delta"),
    [
        ("-30m", None, None, timedelta(minutes=-30)),
        ("+2h", None, None, timedelta(hours=2)),
        ("1h30m", None, None, timedelta(minutes=90)),
        ("0m", None, None, timedelta()),
        (" -45m ", None, None, timedelta(minutes=-45)),
        ("-1d 20:00", -1, time(20, 0), timedelta()),
        ("+1d 09:30", 1, time(9, 30), timedelta()),
        ("0d 23:59", 0, time(23, 59), timedelta()),
    ],
)
def test_offset_parse_accepts(
    text: str, days: int | None, clock: time | None, delta: timedelta
) -> None:
    """Elapsed and wall-clock forms parse to the right fields and print back the same value."""
    offset = Offset.parse(text)
    assert (offset.days, offset.clock, offset.delta) == (days, clock, delta)
    assert Offset.parse(str(offset)) == offset


@pytest.mark.parametrize(
    "text",
    [
        "",
        "30",
        "h",
        "m",
        "1.5h",
        "+-1h",
        "1d",
        "-1d 24:00",
        "-1d 9:00",
        "1d20:00",
        "2h 30m",
        "-1d 20:60",
    ],
)
def test_offset_parse_rejects(text: str) -> None:
    """Anything else is refused with the accepted forms in the message."""
    with pytest.raises(ValueError, match="-1d 20:00"):
        Offset.parse(text)


# ---------------------------------------------------------------- timeline.toml rules


def test_bad_offset_in_timeline_names_entry_and_field(base: Path) -> None:
    """A typo in an offset names the file, the entry and the notation."""
    edit(base / "timeline.toml", 'offset = "-30m"', 'offset = "-30 min"')
    message = rejected(base=base)
    assert "timeline.toml [last_steps]" in message
    assert "bad offset '-30 min'" in message


def test_timeline_expiry_before_offset_is_rejected(base: Path) -> None:
    """An entry that would expire before it is due is refused."""
    edit(
        base / "timeline.toml",
        'offset = "+2h"\nexpires = "+10h"',
        'offset = "+2h"\nexpires = "+1h"',
    )
    assert "[use_the_window]: expires (+1h00m) must come after offset" in rejected(base=base)


def test_timeline_unknown_field_and_bad_buttons_are_rejected(base: Path, override: Path) -> None:
    """A misspelt field and a button written as text instead of a list are named."""
    write(override / "timeline.toml", "[last_steps]\nurgnet = true\n")
    assert "[last_steps]: unknown field(s) ['urgnet']" in rejected(override, base=base)
    write(override / "timeline.toml", '[last_steps]\nbuttons = "got_it"\n')
    assert "[last_steps]: buttons must be a list" in rejected(override, base=base)


# ---------------------------------------------------------------- locale rules


def test_timeline_entry_without_texts_is_rejected(base: Path) -> None:
    """Every timeline id needs wording in every locale."""
    (base / "timeline.toml").write_text(
        (base / "timeline.toml").read_text(encoding="utf-8") + EXTRA_ENTRY, encoding="utf-8"
    )
    message = rejected(base=base)
    assert re.search(r"en\.toml \[messages\.clinic_fasting\]: missing", message)


def test_texts_for_an_unknown_id_are_rejected(base: Path, override: Path) -> None:
    """Wording for an id the timeline lacks is a typo or a leftover: refused."""
    write(
        override / "locales" / "en.toml",
        '[messages.last_step]\ntopic = "x"\nplain = "x"\ndiscreet = "x"\n',
    )
    message = rejected(override, base=base)
    assert f"{override / 'locales' / 'en.toml'} [messages.last_step]" in message
    assert "no entry 'last_step' in timeline.toml" in message


def test_both_wordings_are_required(base: Path, override: Path) -> None:
    """An entry with plain but no discreet text is refused, naming the missing field."""
    write(override / "timeline.toml", EXTRA_ENTRY)
    write(
        override / "locales" / "en.toml",
        '[messages.clinic_fasting]\ntopic = "Fasting"\nplain = "Fast from midnight."\n',
    )
    assert "[messages.clinic_fasting] discreet: missing" in rejected(override, base=base)


def test_with_driver_fields_come_as_a_pair(base: Path, override: Path) -> None:
    """A plain_with_driver without its discreet twin is refused."""
    write(
        override / "locales" / "en.toml",
        '[messages.last_steps]\nplain_with_driver = "{driver_name} is waiting."\n',
    )
    message = rejected(override, base=base)
    assert "[messages.last_steps] discreet_with_driver: missing" in message
    assert "come as a pair" in message


def test_unknown_field_in_an_entry_is_rejected(base: Path, override: Path) -> None:
    """A misspelt field name (plian) is named rather than silently ignored."""
    write(override / "locales" / "en.toml", '[messages.last_steps]\nplian = "Hello"\n')
    assert "[messages.last_steps] plian: unknown field" in rejected(override, base=base)


@pytest.mark.parametrize(
    ("entry", "field", "text", "problem"),
    [
        ("last_steps", "plain", "Hi {patient_nam}", "unknown placeholder {patient_nam}"),
        ("last_steps", "plain", "At {session_time:%H}", "has a format part"),
        ("last_steps", "plain", "A { brace", "literal brace"),
        ("family_today", "plain", "{patient_name} is done", "not allowed in family texts"),
        ("family_today", "discreet", "Hi {patient_name}", "not allowed in family texts"),
        ("last_steps", "plain", "{driver_name} waits", "only in plain_with_driver"),
        ("provider_first", "plain", "Before {session_date}", "not available for anchor"),
        ("family_welcome", "plain", "Session {session_number}", "not available for anchor"),
        ("last_steps", "plain", "See {link}", "is for replies"),
    ],
)
def test_placeholder_rules(
    base: Path, override: Path, entry: str, field: str, text: str, problem: str
) -> None:
    """Unknown names, format specs, patient names for family and out-of-place names fail."""
    write(override / "locales" / "en.toml", f'[messages.{entry}]\n{field} = "{text}"\n')
    message = rejected(override, base=base)
    assert f"[messages.{entry}] {field}: " in message
    assert problem in message


def test_timeline_button_missing_from_a_locale_is_rejected(base: Path, override: Path) -> None:
    """A button id the timeline uses needs a label in every locale."""
    write(override / "timeline.toml", '[last_steps]\nbuttons = ["got_it", "call_clinic"]\n')
    message = rejected(override, base=base)
    assert "[buttons] call_clinic: missing; timeline entry [last_steps] uses this button" in message


def second_locale(base: Path) -> Path:
    """A German file that is a faithful copy of the English one (wording aside)."""
    path = base / "locales" / "de.toml"
    shutil.copy(base / "locales" / "en.toml", path)
    edit(path, 'code = "en"', 'code = "de"')
    edit(path, 'name = "English"', 'name = "Deutsch"')
    return path


def test_a_complete_second_locale_loads_and_falls_back_by_language(base: Path) -> None:
    """A second locale with the same keys loads; 'de-AT' finds it, 'fr' falls back to English."""
    second_locale(base)
    catalog = load_catalog(base=base)
    assert catalog.texts("de-AT").name == "Deutsch"
    assert catalog.texts("fr").code == "en"


def test_locales_must_share_reply_and_button_keys(base: Path) -> None:
    """A missing reply and an extra button in a second locale are both named."""
    path = second_locale(base)
    edit(path, "private_only = ", "only_private = ")
    edit(path, 'ride = "I can drive"', 'ride = "I can drive"\nwave = "Wave"')
    message = rejected(base=base)
    assert "de.toml [replies] private_only: missing; en has it" in message
    assert "de.toml [replies] only_private: en has no such key" in message
    assert "de.toml [buttons] wave: en has no such key" in message


def test_locales_must_share_driver_variants(base: Path, override: Path) -> None:
    """A with-driver pair that only the second locale has is named."""
    second_locale(base)
    write(
        override / "locales" / "de.toml",
        "[messages.last_steps]\n"
        'plain_with_driver = "{driver_name} wartet."\n'
        'discreet_with_driver = "{driver_name} wartet."\n',
    )
    message = rejected(override, base=base)
    assert "de.toml [messages.last_steps] plain_with_driver: en has no such text" in message


def test_locale_code_must_match_file_name(base: Path) -> None:
    """A file copied without changing its code is caught."""
    shutil.copy(base / "locales" / "en.toml", base / "locales" / "de.toml")
    assert "de.toml [meta] code: 'en' must match the file name 'de'" in rejected(base=base)


def test_bad_meta_is_rejected(base: Path, override: Path) -> None:
    """Bad Babel patterns, non-lowercase stems and unknown sections are named."""
    write(
        override / "locales" / "en.toml",
        '[meta]\ndate_format = "qqqqqqq"\nsensitive_words = ["Ketamine"]\n[button]\nx = "y"\n',
    )
    message = rejected(override, base=base)
    assert "[meta] date_format: Invalid length" in message
    assert "[meta] sensitive_words: 'Ketamine' must be a non-empty lowercase stem" in message
    assert "[button]: unknown section" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<div>x</div>", "tag <div> is not allowed"),
        ("<b>x", "unclosed <b>"),
        ("<b><i>x</b></i>", "</b> does not match"),
        ("1 < 2", "bare '<'"),
        ("Q&A", "bare '&'"),
        ("a &nbsp; b", "&nbsp; is not one of"),
        ("<a>x</a>", "<a> needs href"),
        ('<b class="x">x</b>', "<b> does not take ['class']"),
        ("line<br/>break", "no self-closing tags"),
        ("<code><b>x</b></code>", "cannot go inside <pre> or <code>"),
        ("<!-- note -->", "comments are not allowed"),
    ],
)
def test_html_rules(base: Path, override: Path, text: str, problem: str) -> None:
    """Tags outside Telegram's set, malformed nesting and bare specials are refused on load."""
    assert any(problem in found for found in html_problems(text))
    write(override / "locales" / "en.toml", f"[messages.last_steps]\nplain = '{text}'\n")
    message = rejected(override, base=base)
    assert "[messages.last_steps] plain: " in message
    assert problem in message


def test_allowed_html_passes() -> None:
    """Every allowed tag, entities and a placeholder inside href are fine."""
    text = (
        '<b>b</b> <i>i</i> <u>u</u> <s>s</s> <a href="{link}">a</a> <code>c</code> '
        '<pre><code class="language-text">p</code></pre> <blockquote expandable>q</blockquote> '
        "<tg-spoiler>t</tg-spoiler> &lt; &gt; &amp; &quot; &#39;"
    )
    assert html_problems(text) == []


def test_text_too_long_is_rejected(base: Path, override: Path) -> None:
    """A text over Telegram's limit once long sample values are in is refused."""
    text = "x" * 4000 + " {driver_name}"  # 4015 as written; over 4096 with a long name
    write(override / "locales" / "en.toml", f'[messages.rest_up]\nplain_with_driver = "{text}"\n')
    message = rejected(override, base=base)
    assert (
        "[messages.rest_up] plain_with_driver: 4131 characters with long sample values" in message
    )


@pytest.mark.parametrize(
    ("section", "text", "where"),
    [
        ("messages.last_steps", 'discreet = "Your KETAMINE session."', "discreet"),
        ("messages.rest_up", 'discreet_with_driver = "{driver_name}: Spravato."', "discreet_with"),
        ("messages.family_today", 'plain = "The infusion is over."', "plain"),
        ("messages.family_next_day", 'discreet = "Less depressed?"', "discreet"),
        ("messages.last_steps", 'topic = "Ketamine soon"', "topic"),
        ("buttons", 'got_it = "Ketamine: got it"', "got_it"),
    ],
)
def test_sensitive_words_are_rejected_where_they_must_not_appear(
    base: Path, override: Path, section: str, text: str, where: str
) -> None:
    """Discreet texts, family texts, topics and button labels never name the drug or condition."""
    write(override / "locales" / "en.toml", f"[{section}]\n{text}\n")
    message = rejected(override, base=base)
    assert f"[{section.split('.')[0]}" in message
    assert where in message
    assert "mentions sensitive word" in message


def test_sensitive_words_are_fine_in_plain_patient_texts(base: Path, override: Path) -> None:
    """Plain patient wording may name the drug: the patient chose it."""
    write(
        override / "locales" / "en.toml",
        '[messages.last_steps]\nplain = "Your ketamine session starts soon."\n',
    )
    catalog = load_catalog(override, base=base)
    assert catalog.locales["en"].entries["last_steps"].plain == "Your ketamine session starts soon."


def test_sensitive_hits_ignores_case_and_tags() -> None:
    """The check is case-insensitive and sees through markup."""
    assert sensitive_hits("Ket<b>amine</b> and DEPRESSION", ("ketamine", "depress")) == [
        "depress",
        "ketamine",
    ]
    assert sensitive_hits("a calm session", ("ketamine",)) == []


def test_override_meta_adds_sensitive_words(base: Path, override: Path) -> None:
    """An operator's sensitive_words add to the list instead of replacing it."""
    write(override / "locales" / "en.toml", '[meta]\nsensitive_words = ["axis"]\n')
    words = load_catalog(override, base=base).locales["en"].sensitive_words
    assert "axis" in words
    assert "ketamine" in words
    write(
        override / "locales" / "en.toml",
        '[meta]\nsensitive_words = ["axis"]\n[messages.last_steps]\ndiscreet = "Axis awaits."\n',
    )
    assert "discreet: mentions sensitive word 'axis'" in rejected(override, base=base)


def test_errors_are_all_reported_at_once(base: Path, override: Path) -> None:
    """Two mistakes in two entries both show up in one error."""
    write(
        override / "locales" / "en.toml",
        '[messages.last_steps]\nplain = "<b>x"\n'
        '[messages.family_today]\nplain = "{patient_name}"\n',
    )
    message = rejected(override, base=base)
    assert message.startswith("2 problem(s) in the catalog:")


# ---------------------------------------------------------------- overrides


def test_override_replaces_one_entry_text_and_keeps_the_rest(override: Path) -> None:
    """A clinic folder changes one text; its other wording and other entries stay packaged."""
    write(
        override / "locales" / "en.toml",
        '[messages.last_steps]\nplain = "<b>Clinic rule:</b> arrive 15 minutes early."\n',
    )
    packaged = load_catalog()
    catalog = load_catalog(override)
    rendered = catalog.render_entry("en", "last_steps", Wording.PLAIN, {})
    assert rendered.text == "<b>Clinic rule:</b> arrive 15 minutes early."
    assert rendered.buttons == (("got_it", "Got it"),)
    assert catalog.locales["en"].entries["last_steps"].discreet == (
        packaged.locales["en"].entries["last_steps"].discreet
    )
    assert catalog.locales["en"].entries["rest_up"] == packaged.locales["en"].entries["rest_up"]


def test_override_changes_timing_and_adds_an_entry(override: Path) -> None:
    """A clinic can move one reminder and add its own, with wording for it."""
    write(override / "timeline.toml", '[calm_start]\noffset = "-4h"\n' + EXTRA_ENTRY)
    write(
        override / "locales" / "en.toml",
        "[messages.clinic_fasting]\n"
        'topic = "Fasting"\n'
        'plain = "No food after midnight before session {session_number}."\n'
        'discreet = "No food after midnight."\n',
    )
    write(  # every language needs wording for an added entry
        override / "locales" / "es.toml",
        "[messages.clinic_fasting]\n"
        'topic = "Ayuno"\n'
        'plain = "Nada de comer desde medianoche antes de la sesión {session_number}."\n'
        'discreet = "Nada de comer desde medianoche."\n',
    )
    catalog = load_catalog(override)
    calm = catalog.entry("calm_start")
    assert calm.offset == Offset.parse("-4h")
    assert calm.expires == Offset.parse("-45m")
    assert calm.order == load_catalog().entry("calm_start").order
    assert catalog.timeline[-1].id == "clinic_fasting"
    text = catalog.render_entry("en", "clinic_fasting", Wording.PLAIN, {"session_number": 2}).text
    assert text == "No food after midnight before session 2."


def test_override_error_names_the_override_file(override: Path) -> None:
    """When an override is wrong, the message points at the clinic's file, not the package."""
    write(override / "locales" / "en.toml", '[messages.last_steps]\nplain = "<u>x"\n')
    with pytest.raises(CatalogError) as info:
        load_catalog(override)
    assert f"{override / 'locales' / 'en.toml'} [messages.last_steps] plain: unclosed <u>" in str(
        info.value
    )


def test_check_command_reports_ok_and_problems(
    override: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m messages`` prints a summary, or every problem with exit status 1."""
    assert check_main([]) == 0
    assert "catalog ok: 20 timeline entries; locales: en" in capsys.readouterr().out
    write(override / "locales" / "en.toml", '[messages.last_steps]\nplain = "<b>x"\n')
    assert check_main([str(override)]) == 1
    assert "[messages.last_steps] plain: unclosed <b>" in capsys.readouterr().err


# ---------------------------------------------------------------- every locale (issue 11)

LOCALES = sorted(path.stem for path in (PACKAGE_DIR / "locales").glob("*.toml"))
TRANSLATIONS = [code for code in LOCALES if code != "en"]
# Long values of the right types, so dates and numbers go through Babel in each locale.
_WHEN = datetime(2026, 12, 1, 10, 30, tzinfo=ZoneInfo("Europe/Madrid"))


def _sample_values() -> dict[str, object]:
    values = long_sample_values()
    values |= {"session_date": _WHEN, "session_time": _WHEN, "local_time": _WHEN}
    return values


def _keys(path: Path) -> dict[str, set[str]]:
    """Every key a locale file defines, by section, read straight from the TOML (so this test
    does not trust the loader it checks): replies flattened, entries as ``id.field``."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))

    def flat(table: dict[str, object], prefix: str = "") -> set[str]:
        out: set[str] = set()
        for key, value in table.items():
            out |= flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
        return out

    return {
        "meta": set(data.get("meta", {})),
        "buttons": set(data.get("buttons", {})),
        "replies": flat(data.get("replies", {})),
        "messages": flat(data.get("messages", {})),
    }


def test_spanish_is_shipped() -> None:
    """Issue 11 ships Spanish beside English; the parametrized checks below cover both."""
    assert {"en", "es"} <= set(LOCALES)


@pytest.mark.parametrize("code", TRANSLATIONS)
def test_every_locale_has_every_key_of_english_and_no_other(code: str) -> None:
    """Meta, buttons, replies, and every entry's texts (both wordings, driver pairs): the same
    keys as en.toml, whatever keys English gains."""
    english = _keys(PACKAGE_DIR / "locales" / "en.toml")
    mine = _keys(PACKAGE_DIR / "locales" / f"{code}.toml")
    for section, keys in english.items():
        assert sorted(keys - mine[section]) == [], f"{code}.toml lacks these {section}"
        assert sorted(mine[section] - keys) == [], f"{code}.toml has {section} en.toml lacks"


@pytest.mark.parametrize("code", LOCALES)
def test_every_entry_reply_and_button_renders_in_every_locale(code: str) -> None:
    """Every text of the locale fills with long values, is valid HTML, and is its own words:
    a translation that left an English text in place is caught."""
    catalog = load_catalog()
    assert catalog.texts(code).code == code
    values = _sample_values()
    english = catalog.locales["en"]
    texts = catalog.locales[code]
    rendered: list[tuple[str, str, str]] = []  # (label, this locale's text, English text)
    for item, wording in itertools.product(catalog.timeline, Wording):
        drivers = (False, True) if texts.entries[item.id].plain_with_driver else (False,)
        for with_driver in drivers:
            args = (item.id, wording, values)
            mine = catalog.render_entry(code, *args, with_driver=with_driver)
            theirs = catalog.render_entry("en", *args, with_driver=with_driver)
            assert [b for b, _ in mine.buttons] == [b for b, _ in theirs.buttons]
            label = f"{item.id}/{wording}/driver={with_driver}"
            rendered.append((label, mine.text, theirs.text))
    for reply_id in english.replies:
        mine_reply = catalog.render_reply(code, reply_id, **values)
        rendered.append((reply_id, mine_reply, catalog.render_reply("en", reply_id, **values)))
    for label, text, english_text in rendered:
        assert text.strip(), label
        assert "{" not in text and "}" not in text, label
        assert html_problems(text) == [], label
        if code != "en" and _has_words(english_text):
            assert text != english_text, f"{label} is still the English text"
    for button_id, label in english.buttons.items():
        assert texts.buttons[button_id].strip(), button_id
        if code != "en" and _has_words(label) and label.lower() != "nasal spray":
            assert texts.buttons[button_id] != label, f"{button_id} is still the English label"


def _has_words(text: str) -> bool:
    """Whether a text says something in a language (not only values, tags and times)."""
    return re.search(r"[A-Za-z]{4,}", re.sub(r"<[^>]+>|W{4,}|https?://\S+", "", text)) is not None


def test_spanish_dates_and_times_are_spanish() -> None:
    """Babel formats a session's date with the locale's pattern and month and weekday names."""
    catalog = load_catalog()
    values = {**_sample_values(), "session_number": 2, "series_length": 6}
    text = catalog.render_entry("es", "rest_up", Wording.PLAIN, values).text
    assert "el martes 1 de diciembre a las 10:30" in text
    english = catalog.render_entry("en", "rest_up", Wording.PLAIN, values).text
    assert "Tuesday 1 December at 10:30" in english


def test_a_translation_must_keep_the_english_placeholders(base: Path) -> None:
    """A translation that drops {crisis_line}, or uses a value English never gets, is named."""
    edit(base / "locales" / "es.toml", 'Llama ya al {crisis_line}."', 'Llama ya."')
    edit(
        base / "locales" / "es.toml",
        'settings_saved = "Guardado."',
        'settings_saved = "Guardado, {name}."',
    )
    message = rejected(base=base)
    assert "es.toml [replies] step_help: missing {crisis_line}; the en text uses it" in message
    assert "es.toml [replies] settings_saved: {name} is not in the en text" in message


def test_a_key_english_gains_is_required_in_every_locale(base: Path) -> None:
    """The every-key check is driven by en.toml: a new English reply is missing in Spanish."""
    edit(
        base / "locales" / "en.toml",
        'settings_saved = "Saved."',
        'settings_saved = "Saved."\nbrand_new_reply = "New."',
    )
    assert "es.toml [replies] brand_new_reply: missing; en has it" in rejected(base=base)


def test_the_example_clinic_overlay_speaks_spanish_too() -> None:
    """The example overlay's fasting rule and arrival time reach Spanish readers as well, and its
    Spanish texts keep its English texts' placeholders (same folder, so they are compared)."""
    overlay = Path(__file__).resolve().parents[1] / "examples" / "clinic" / "clinic-catalog"
    catalog = load_catalog(overlay)
    values = {**_sample_values(), "clinic_contact": "Riverside Clinic, 020 7946 0000"}
    values |= {"session_number": 1, "series_length": 6, "driver_name": "Raúl"}
    for wording in Wording:
        for with_driver in (False, True):
            calm = catalog.render_entry(
                "es", "calm_start", wording, values, with_driver=with_driver
            )
            assert "nada sólido en las 6 horas antes" in calm.text
            assert "Llámanos: Riverside Clinic, 020 7946 0000" in calm.text
            rest = catalog.render_entry("es", "rest_up", wording, values, with_driver=with_driver)
            assert "no tomar alimentos sólidos en las 6 horas" in rest.text
