"""Rendering: every entry in every wording, escaping, Babel dates, fallbacks, replies."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages import Audience, Catalog, Wording, load_catalog
from messages.render import PLACEHOLDERS, TELEGRAM_MAX_LENGTH, telegram_length
from messages.validate import html_problems

# Hard-coded on purpose: the meta list could be edited down, this one cannot.
NEVER_IN_DISCREET = ("ketamine", "esketamine", "spravato", "depression")

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 12, 1, 10, 30, tzinfo=BERLIN)
VALUES: dict[str, object] = {
    "session_date": START,
    "session_time": START,
    "session_number": 3,
    "series_length": 6,
    "crisis_line": "988",
    "patient_name": "Alex",
    "driver_name": "Sam",
    "wins_given_back": "",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def all_renderings(catalog: Catalog) -> list[tuple[str, Wording, bool, str]]:
    """(message id, wording, with driver, text) for every variant the catalog defines."""
    out = []
    for item, wording in itertools.product(catalog.timeline, Wording):
        texts = catalog.locales["en"].entries[item.id]
        for with_driver in (False, True) if texts.plain_with_driver else (False,):
            rendered = catalog.render_entry("en", item.id, wording, VALUES, with_driver=with_driver)
            out.append((item.id, wording, with_driver, rendered.text))
    return out


def test_every_entry_renders_in_every_variant(catalog: Catalog) -> None:
    """Each entry renders in both wordings (and with a driver where defined), valid and short."""
    renderings = all_renderings(catalog)
    assert len(renderings) == 2 * len(catalog.timeline) + 2 * 5
    for message_id, wording, with_driver, text in renderings:
        label = f"{message_id}/{wording}/driver={with_driver}"
        assert "{" not in text, label
        assert html_problems(text) == [], label
        assert telegram_length(text) <= TELEGRAM_MAX_LENGTH, label
        assert len(text) < 600, f"{label} is {len(text)} characters; keep it to a phone screen"


def test_discreet_and_family_texts_never_name_the_drug_or_condition(catalog: Catalog) -> None:
    """Checked against the meta list and a fixed list, on rendered text and topics."""
    words = set(catalog.locales["en"].sensitive_words) | set(NEVER_IN_DISCREET)
    checked = 0
    for message_id, wording, _driver, text in all_renderings(catalog):
        family = catalog.entry(message_id).audience is Audience.FAMILY
        if wording is Wording.DISCREET or family:
            checked += 1
            for word in words:
                assert word not in text.lower(), f"{message_id}/{wording} mentions {word}"
    assert checked > len(catalog.timeline)
    for item in catalog.timeline:
        assert not any(word in catalog.topic("en", item.id).lower() for word in words)
    for label in catalog.locales["en"].buttons.values():
        assert not any(word in label.lower() for word in words)


def test_family_texts_never_name_the_patient(catalog: Catalog) -> None:
    """Even when the dispatcher passes patient_name, family texts do not show it."""
    for message_id, _wording, _driver, text in all_renderings(catalog):
        if catalog.entry(message_id).audience is Audience.FAMILY:
            assert "Alex" not in text, message_id


def test_plain_patient_texts_may_name_the_drug(catalog: Catalog) -> None:
    """The plain wording is allowed to be explicit, and the nasal variants name the spray."""
    plain = catalog.render_entry("en", "dont_drive_nasal", Wording.PLAIN, VALUES).text
    assert "esketamine" in plain
    assert "until the next day" in plain


def test_rest_up_asks_for_a_ride_unless_someone_drives(catalog: Catalog) -> None:
    """Without a driver the patient is asked to line one up; with one, the driver is named."""
    alone = catalog.render_entry("en", "rest_up", Wording.PLAIN, VALUES).text
    driven = catalog.render_entry("en", "rest_up", Wording.PLAIN, VALUES, with_driver=True).text
    assert "Line up a ride home" in alone
    assert "Sam" not in alone
    assert "<b>Sam</b> will drive you" in driven
    assert "Line up" not in driven
    assert alone.startswith("<b>Tomorrow: session 3 of 6</b>, Tuesday 1 December at 10:30.")


def test_with_driver_is_ignored_where_the_entry_has_no_variant(catalog: Catalog) -> None:
    """dont_drive has one text whoever drives."""
    plain = catalog.render_entry("en", "dont_drive", Wording.PLAIN, VALUES)
    assert (
        catalog.render_entry("en", "dont_drive", Wording.PLAIN, VALUES, with_driver=True) == plain
    )


@pytest.mark.parametrize(
    ("message_id", "facts"),
    [
        ("provider_first", ["cough syrup", "lamotrigine", "memantine", "tell your provider"]),
        ("rest_up", ["sleep aid", "ride home"]),
        ("calm_start", ["caffeine", "benzodiazepine", "unless your provider", "may postpone"]),
        ("calm_start_nasal", ["2 hours", "30 minutes", "clinic"]),
        ("last_steps", ["bladder"]),
        ("dont_drive", ["don't drive", "even when you feel fine", "light meal", "social media"]),
        ("use_the_window", ["evidence is still early", "do it now"]),
        ("function_first", ["routine", "brushing your teeth"]),
        ("if_worse", ["Tell your provider", "rather than stopping on your own", "call 988"]),
        ("keep_building", ["not a cure", "therapist", "follow-up"]),
        ("family_welcome", ["hold your questions", "/leave"]),
        ("family_ride", ["must not drive", "Tuesday 1 December at 10:30"]),
        ("family_today", ["light meal", "quiet evening"]),
        ("family_next_day", ["a walk"]),
    ],
)
def test_messages_carry_the_brief_facts(
    catalog: Catalog, message_id: str, facts: list[str]
) -> None:
    """Both wordings carry the content brief's key points."""
    for wording in Wording:
        text = catalog.render_entry("en", message_id, wording, VALUES).text
        for fact in facts:
            assert fact.lower() in text.lower(), f"{message_id}/{wording} lacks {fact!r}"


def test_no_text_tells_anyone_to_stop_a_medicine(catalog: Catalog) -> None:
    """Medicines are for the provider to change: no 'stop taking' anywhere."""
    for _message_id, _wording, _driver, text in all_renderings(catalog):
        assert "stop taking" not in text.lower()


def test_values_are_html_escaped(catalog: Catalog) -> None:
    """A name full of HTML specials arrives as text, not markup."""
    values = {**VALUES, "driver_name": '<b>&"'}
    text = catalog.render_entry("en", "rest_up", Wording.PLAIN, values, with_driver=True).text
    assert "<b>&lt;b&gt;&amp;&quot;</b> will drive you" in text
    assert '<b>&"' not in text
    assert html_problems(text) == []


@given(name=st.text(max_size=80))
def test_any_value_keeps_the_html_valid(catalog: Catalog, name: str) -> None:
    """Whatever a person calls themselves, the rendered message stays valid Telegram HTML."""
    values = {**VALUES, "driver_name": name}
    text = catalog.render_entry("en", "family_ride", Wording.PLAIN, values, with_driver=True).text
    assert html_problems(text) == []


def test_dates_show_in_the_datetimes_own_zone(catalog: Catalog) -> None:
    """23:30 in New York is already Wednesday in UTC; the text keeps New York's day and hour."""
    late = datetime(2026, 12, 1, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    values = {**VALUES, "session_date": late, "session_time": late}
    text = catalog.render_entry("en", "family_ride", Wording.PLAIN, values).text
    assert "Tuesday 1 December at 23:30" in text
    assert "Wednesday" not in text


def test_naive_datetimes_are_refused(catalog: Catalog) -> None:
    """A naive datetime is a bug upstream; it is not guessed at."""
    naive = datetime(2026, 12, 1, 10, 30)  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware datetime"):
        catalog.render_entry("en", "rest_up", Wording.PLAIN, {**VALUES, "session_date": naive})


def test_missing_value_names_the_placeholder(catalog: Catalog) -> None:
    """Forgetting a value fails with the entry and the placeholder in the message."""
    values = {key: value for key, value in VALUES.items() if key != "session_time"}
    with pytest.raises(KeyError, match=r"rest_up \(en, plain\): no value for placeholder"):
        catalog.render_entry("en", "rest_up", Wording.PLAIN, values)


def test_unknown_locale_falls_back_to_the_default(catalog: Catalog) -> None:
    """A locale the catalog lacks, or none, gets English; 'en-GB' finds 'en'."""
    english = catalog.render_entry("en", "last_steps", Wording.DISCREET, VALUES)
    for locale in ("xx", "en-GB", "EN_us", None, ""):
        assert catalog.render_entry(locale, "last_steps", Wording.DISCREET, VALUES) == english


def test_buttons_come_in_timeline_order_with_labels(catalog: Catalog) -> None:
    """family_ride offers the ride first, then the acknowledgement."""
    rendered = catalog.render_entry("en", "family_ride", Wording.DISCREET, VALUES)
    assert rendered.buttons == (("ride", "I can drive"), ("got_it", "Got it"))
    assert catalog.button_label("xx", "snooze_30") == "Remind me in 30 min"


def test_topics_are_short(catalog: Catalog) -> None:
    """Topics are two to four words, for previews."""
    assert catalog.topic("en", "dont_drive") == "No driving today"
    for item in catalog.timeline:
        assert 2 <= len(catalog.topic("en", item.id).split()) <= 4, item.id


def test_help_reply_explains_automation_commands_and_crisis_line(catalog: Catalog) -> None:
    """/help says nobody reads the chat, lists the commands and shows the crisis line."""
    text = catalog.render_reply("en", "help", crisis_line="116 123")
    assert "nobody reads this chat" in text
    for command in ("/add", "/sessions", "/invite", "/settings", "/stop", "/forget", "/leave"):
        assert command in text
    assert "Call 116 123 now" in text
    assert html_problems(text) == []
    assert not any(word in text.lower() for word in NEVER_IN_DISCREET)


def test_short_replies(catalog: Catalog) -> None:
    """private_only and unknown_text render; unknown_text points to /help and the crisis line."""
    assert "private chats" in catalog.render_reply("fr", "private_only")
    unknown = catalog.render_reply("en", "unknown_text", crisis_line="<988>")
    assert "/help" in unknown
    assert "Call &lt;988&gt; now" in unknown
    with pytest.raises(KeyError, match="reply help"):
        catalog.render_reply("en", "help")


def test_registry_lists_timeline_and_starter_reply_names() -> None:
    """Bot code can see every name it may pass, each with a description."""
    timeline = {"session_date", "session_time", "session_number", "series_length"}
    timeline |= {"driver_name", "crisis_line", "patient_name"}
    replies = {"name", "zone", "local_time", "link", "count", "sessions", "days"}
    assert timeline | replies <= PLACEHOLDERS.keys()
    assert all(description for description in PLACEHOLDERS.values())


def test_numbers_and_times_use_the_locale(catalog: Catalog) -> None:
    """Numbers get grouping and a UTC time shows as UTC."""
    values = {
        **VALUES,
        "session_number": 1200,
        "session_time": datetime(2026, 1, 1, 7, 5, tzinfo=UTC),
    }
    text = catalog.render_entry("en", "calm_start", Wording.PLAIN, values).text
    assert text.startswith("<b>Session 1,200 at 07:05: a calm start</b>")
