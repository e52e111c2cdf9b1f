"""The language people read, through the real PTB stack: Telegram's ``language_code`` at /start
(also for family joining by link), English for any language the catalog lacks, /settings to
switch, and timed messages with dates in the reader's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from bot.handlers.control import parse_pause_days
from bot.offline.fake_api import JSON, Call
from bot.settings import Settings
from scheduler.model import DEFAULT_CRISIS_LINE
from tests.botharness import PATIENT, texts

if TYPE_CHECKING:
    from tests.botharness import BotHarness

FAMILY = 2002
_LINK = re.compile(r"\?start=(?P<token>[A-Za-z0-9_-]+)")
# Words every English reply is full of and no Spanish one has (commands and the bot's name are
# taken out first: "/sessions" and "Session Companion" are the same in every language).
_ENGLISH = re.compile(
    r"\b(?:the|you|your|you're|please|tap|session|sessions|when|what|which|time zone|"
    r"nobody|all set|got it|remind me|reminder|tomorrow|today|done|saved|welcome|thanks)\b",
    re.IGNORECASE,
)
_SPANISH = re.compile(
    r"\b(?:de|la|el|tu|tus|te|que|en|una|por|y|sesión|sesiones|hora|nadie|aquí)\b|[¿¡ñáéíóú]",
    re.IGNORECASE,
)


def person_json(chat_id: int, language: str | None, first_name: str = "Lucía") -> JSON:
    user: JSON = {"id": chat_id, "is_bot": False, "first_name": first_name}
    if language is not None:
        user["language_code"] = language
    return user


LUCIA = person_json(PATIENT, "es")
LUCIA_MX = person_json(PATIENT, "es-MX")


def english_in(text: str) -> list[str]:
    """The English words in ``text``, leaving out commands and the bot's own name."""
    cleaned = re.sub(r"/[a-z_]+|Session Companion|Europe/\w+|America/\w+", " ", text)
    return _ENGLISH.findall(cleaned)


def assert_spanish(calls: list[Call]) -> None:
    """Every message and every button label in these calls reads as Spanish."""
    worded = [call for call in calls if call.method in ("sendMessage", "editMessageText")]
    assert worded, "the bot said nothing"
    for call in worded:
        text = call.plain_text or ""
        assert english_in(text) == [], text
        assert _SPANISH.search(text), text
        for label, _data in call.buttons:
            assert english_in(label) == [], label


def locale_of(h: BotHarness, chat_id: int) -> str | None:
    person = h.services.companion.person_by_chat(chat_id)
    return person.locale if person is not None else None


async def spanish_setup(h: BotHarness, who: JSON = LUCIA) -> list[Call]:
    """Set-up typed and tapped the way a Spanish speaker would; every reply, in order."""
    calls = await h.say(PATIENT, "/start", user=who)
    calls += await h.press(PATIENT, "ob:name", user=who)
    calls += await h.say(PATIENT, "Madrid", user=who)
    calls += await h.press(PATIENT, "ob:k:iv", user=who)
    calls += await h.press(PATIENT, "ob:n:4", user=who)
    calls += await h.say(PATIENT, "mañana 10:00", user=who)
    calls += await h.say(PATIENT, "mar,jue x4", user=who)
    return calls


async def test_a_spanish_speaker_goes_through_set_up_in_spanish(harness: BotHarness) -> None:
    """language_code "es": every reply and button is Spanish, typed Spanish dates and repeats
    are understood, and the summary lists the sessions with Spanish dates."""
    calls = await spanish_setup(harness)
    assert locale_of(harness, PATIENT) == "es"
    assert_spanish(calls)
    said = "\n".join(texts(calls))
    assert "Hola, soy Session Companion" in said
    assert "Llama ya al 988 (EE. UU.; otros países: findahelpline.com)." in said
    assert "nadie lee este chat" in said
    assert "Zona horaria: Europe/Madrid" in said
    assert "Sesiones añadidas: 3." in said
    assert "Todo listo, Lucía." in said
    # START is Monday 30 November: "mañana" is Tuesday 1 December, then Thu, Tue, Thu.
    for line in (
        "1 de 4: martes 1 de diciembre, 10:00",
        "2 de 4: jueves 3 de diciembre, 10:00",
        "3 de 4: martes 8 de diciembre, 10:00",
        "4 de 4: jueves 10 de diciembre, 10:00",
    ):
        assert line in said
    labels = [label for call in calls for label, _ in call.buttons]
    assert "IV (por la vena)" in labels
    assert {"Londres", "Berlín", "Nueva York", "Sídney"} <= set(labels)  # places, in Spanish
    assert "Eso es todo por ahora" in labels


async def test_a_regional_spanish_code_gets_spanish_and_listo_ends_the_dates(
    harness: BotHarness,
) -> None:
    """es-MX finds Spanish; "listo" at the "any more?" step ends set-up."""
    await harness.say(PATIENT, "/start", user=LUCIA_MX)
    assert locale_of(harness, PATIENT) == "es"
    await harness.say(PATIENT, "Lucía", user=LUCIA_MX)
    await harness.say(PATIENT, "Bogotá", user=LUCIA_MX)
    await harness.say(PATIENT, "intravenosa", user=LUCIA_MX)
    await harness.say(PATIENT, "2", user=LUCIA_MX)
    calls = await harness.say(PATIENT, "1 de diciembre a las 9 de la mañana", user=LUCIA_MX)
    calls += await harness.say(PATIENT, "listo", user=LUCIA_MX)
    assert_spanish(calls)
    said = "\n".join(texts(calls))
    assert "Guardada: martes 1 de diciembre, 09:00 (America/Bogota)" in said
    assert "Todo listo, Lucía." in said


async def test_spanish_timed_messages_carry_spanish_dates(harness: BotHarness) -> None:
    """The evening before, on the day and after: each timed message is in Spanish, its date in
    Spanish words, its buttons Spanish."""
    await spanish_setup(harness)
    mark = harness.api.mark()
    # Through the day after the first session (Tuesday 1 December, 10:00 in Madrid).
    moment = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    while moment < datetime(2026, 12, 2, 12, 0, tzinfo=UTC):
        moment += timedelta(minutes=30)
        await harness.advance_to(moment)
    timed = harness.api.sent_to(PATIENT, since=mark)
    assert len(timed) >= 4
    assert_spanish(timed)
    said = "\n".join(texts(timed))
    assert "Mañana: sesión 1 de 4, el martes 1 de diciembre a las 10:00." in said
    assert "Sesión 1 a las 10:00: empieza con calma" in said
    assert "Terminaste la sesión 1 de 4." in said
    labels = {label for call in timed for label, _ in call.buttons}
    assert {"Entendido", "Recuérdamelo en 30 min"} <= labels


@pytest.mark.parametrize("language", ["fr", "de-AT", None])
async def test_any_other_language_falls_back_to_english(
    harness: BotHarness, language: str | None
) -> None:
    """French, Austrian German or no language at all: the bot writes English."""
    calls = await harness.say(PATIENT, "/start", user=person_json(PATIENT, language, "Zoé"))
    assert locale_of(harness, PATIENT) == "en"
    said = "\n".join(texts(calls))
    assert "nobody reads this chat" in said
    assert "what should I call you" in said


async def test_settings_switches_the_language_both_ways(harness: BotHarness) -> None:
    """An English speaker picks Español in /settings: the menu turns Spanish at once, and so
    does everything after it; English again turns it back."""
    english = person_json(PATIENT, "en", "Alex")
    await harness.say(PATIENT, "/start", user=english)
    (menu,) = await harness.say(PATIENT, "/settings", user=english)
    assert "Settings" in (menu.plain_text or "")
    assert ("✓ English", "set:l:en") in menu.buttons
    assert ("Español", "set:l:es") in menu.buttons

    calls = await harness.press(PATIENT, "set:l:es", user=english)
    assert locale_of(harness, PATIENT) == "es"
    (edited,) = [call for call in calls if call.method == "editMessageText"]
    assert "Ajustes" in (edited.plain_text or "")
    assert ("✓ Español", "set:l:es") in edited.buttons
    assert ("Lenguaje discreto", "set:w:discreet") in edited.buttons
    answers = harness.api.calls("answerCallbackQuery")
    assert answers[-1].params.get("text") == "Guardado."
    help_calls = await harness.say(PATIENT, "/help", user=english)
    assert_spanish(help_calls)

    calls = await harness.press(PATIENT, "set:l:en", user=english)
    assert locale_of(harness, PATIENT) == "en"
    (edited,) = [call for call in calls if call.method == "editMessageText"]
    assert "Settings" in (edited.plain_text or "")
    (help_again,) = await harness.say(PATIENT, "/help", user=english)
    assert "What Session Companion does" in (help_again.plain_text or "")


async def test_a_chosen_language_outlasts_the_app_language_at_a_new_start(
    harness: BotHarness,
) -> None:
    """Someone whose app is Spanish but who chose English keeps English when they /start again."""
    await harness.say(PATIENT, "/start", user=LUCIA)
    await harness.say(PATIENT, "/settings", user=LUCIA)
    await harness.press(PATIENT, "set:l:en", user=LUCIA)
    calls = await harness.say(PATIENT, "/start", user=LUCIA)
    assert locale_of(harness, PATIENT) == "en"
    said = "\n".join(texts(calls))
    assert "Hello, I'm Session Companion." in said
    assert "what should I call you" in said


async def test_a_family_member_reads_their_own_language(harness: BotHarness) -> None:
    """An English patient invites someone whose app is Spanish: the invitation, the wait and the
    welcome are Spanish for them; the approval request is English for the patient."""
    patient = person_json(PATIENT, "en", "Alex")
    await harness.say(PATIENT, "/start", user=patient)
    await harness.say(PATIENT, "/add 2026-12-02 10:00", user=patient)
    (invite,) = await harness.say(PATIENT, "/invite", user=patient)
    match = _LINK.search(invite.plain_text or "")
    assert match is not None
    mateo = person_json(FAMILY, "es", "Mateo")
    opened = await harness.say(FAMILY, f"/start {match['token']}", user=mateo)
    assert_spanish(opened)
    assert "Alex te invitó" in "\n".join(texts(opened))
    mark = harness.api.mark()
    joined = await harness.press(FAMILY, f"fj:{match['token']}", user=mateo)
    assert_spanish(joined)
    assert locale_of(harness, FAMILY) == "es"
    asked = harness.api.sent_to(PATIENT, since=mark)
    assert "Mateo wants to join" in "\n".join(texts(asked))
    approve = next(data for call in asked for _, data in call.buttons if data.startswith("fa:"))
    mark = harness.api.mark()
    await harness.press(PATIENT, approve, user=patient)
    # The welcome waits for the morning in the default zone's quiet hours.
    await harness.advance_to(datetime(2026, 11, 30, 14, 0, tzinfo=UTC))
    welcome = harness.api.sent_to(FAMILY, since=mark)
    assert_spanish(welcome)
    said = "\n".join(texts(welcome))
    assert "Ya formas parte." in said
    assert "Te damos la bienvenida" in said


async def test_the_command_menu_is_set_in_spanish_for_spanish_apps(harness: BotHarness) -> None:
    """At start-up the menu is set once for everyone (English) and once per other language."""
    calls = harness.api.calls("setMyCommands")
    spanish = [call for call in calls if call.params.get("language_code") == "es"]
    assert len(spanish) == 1
    menu = {item["command"]: item["description"] for item in spanish[0].params["commands"]}
    assert menu["start"] == "configurar"
    assert menu["add"] == "añadir una sesión"
    default = [call for call in calls if not call.params.get("language_code")]
    assert {item["command"]: item["description"] for item in default[-1].params["commands"]}[
        "start"
    ] == "set up"


async def test_add_and_a_date_outside_a_question_read_spanish(harness: BotHarness) -> None:
    """/add takes Spanish dates, kinds and repeats; a Spanish date typed out of the blue is
    pointed to /add, in Spanish."""
    await harness.say(PATIENT, "/start", user=LUCIA)
    await harness.say(PATIENT, "/timezone Madrid", user=LUCIA)
    calls = await harness.say(PATIENT, "/add 1 de diciembre 14:30 otra mar,jue x3", user=LUCIA)
    assert_spanish(calls)
    said = "\n".join(texts(calls))
    assert "Guardada: martes 1 de diciembre, 14:30 (Europe/Madrid)" in said
    assert "Sesiones añadidas: 3." in said
    sessions = harness.services.companion.sessions(locale_person_id(harness))
    assert [s.kind.value for s in sessions] == ["other", "other", "other"]
    assert [s.local_start.day for s in sessions] == [1, 3, 8]
    (pointer,) = await harness.say(PATIENT, "pasado mañana 9:00", user=LUCIA)
    assert "Para añadir una sesión a esa hora, envía: /add pasado mañana 9:00" in (
        pointer.plain_text or ""
    )


def locale_person_id(h: BotHarness) -> int:
    person = h.services.companion.person_by_chat(PATIENT)
    assert person is not None
    return person.id


def test_the_built_in_crisis_line_is_worded_in_spanish_only_while_it_is_the_default() -> None:
    """The default line reads in Spanish for Spanish speakers; a line the operator configured
    (for everyone, or for Spanish) is never replaced."""
    spanish_default = "988 (EE. UU.; otros países: findahelpline.com)"
    assert Settings().crisis_line_for("es") == spanish_default
    assert Settings().crisis_line_for("es-MX", "America/Mexico_City") == spanish_default
    assert Settings().crisis_line_for("fr") == DEFAULT_CRISIS_LINE
    assert Settings().crisis_line_for(None) == DEFAULT_CRISIS_LINE
    assert Settings(crisis_line="116 123").crisis_line_for("es") == "116 123"
    assert Settings(crisis_lines=(("es", "024"),)).crisis_line_for("es") == "024"
    by_country = Settings(crisis_lines_by_country=(("GB", "116 123"),))
    assert by_country.crisis_line_for("es", "Europe/London") == "116 123"


@pytest.mark.parametrize(("args", "days"), [(["5", "días"], 5), (["1", "día"], 1), (["7dias"], 7)])
def test_pause_takes_days_in_spanish(args: list[str], days: int) -> None:
    assert parse_pause_days(args) == days
