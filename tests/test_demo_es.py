"""``python -m bot demo --lang es``: the same story with Spanish-speaking people, and a transcript
that is Spanish from the first line to the last."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from bot.__main__ import main as bot_main
from bot.offline import demo

# Words an English transcript is full of, and a Spanish one should never show.
_ENGLISH = re.compile(
    r"\b(?:the|you|your|please|tap|taps|tapped|session|sessions|when|what|which|nobody|"
    r"got it|remind me|tomorrow|today|done|welcome|thanks|message|messages|received|summary|"
    r"simulated|changes|pop-up|opened|forwards|sent|timed|answers|drive|ride|other|countries|us)\b",
    re.IGNORECASE,
)
# "Tue  1 Dec 20:00  bot -> Maya   text", in any language.
_STAMP = re.compile(r"^(?P<stamp>\w{3} [ \d]\d \w{3,4} \d\d:\d\d)  \w+ -> \w+\s", re.MULTILINE)


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str]:
    """The Spanish demo once, in this process, through the command line's own entry point."""
    folder = tmp_path_factory.mktemp("demo_es")
    out_path, err_path = folder / "out.txt", folder / "err.txt"
    saved = sys.stdout, sys.stderr
    with out_path.open("w", encoding="utf-8") as out, err_path.open("w", encoding="utf-8") as err:
        sys.stdout, sys.stderr = out, err
        try:
            code = bot_main(["demo", "--lang", "es"])
        finally:
            sys.stdout, sys.stderr = saved
    return code, read(out_path), read(err_path)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def english_in(text: str) -> list[str]:
    """English words left in the transcript, outside commands, code spans, links and names."""
    cleaned = re.sub(r"`[^`]*`|https?://\S+|/[a-z_]+|Session Companion|Europe/\w+", " ", text)
    return sorted(set(_ENGLISH.findall(cleaned)))


def test_the_spanish_demo_plays_out_without_a_problem(transcript: tuple[int, str, str]) -> None:
    code, _out, err = transcript
    assert err == ""
    assert code == 0


def test_the_spanish_transcript_has_no_english(transcript: tuple[int, str, str]) -> None:
    """Header, stage directions, the bot's messages, buttons, pop-ups and footer: all Spanish."""
    _code, out, _err = transcript
    assert english_in(out) == []


def test_the_spanish_transcript_reads_as_spanish(transcript: tuple[int, str, str]) -> None:
    """Set-up, the invitation, timed messages with Spanish dates, and the footer."""
    _code, out, _err = transcript
    flat = " ".join(out.split())
    for expected in (
        "Session Companion: demostración sin conexión",
        "Inés -> bot /start",
        "Hola, soy Session Companion.",
        "Inés -> bot mañana 10:00",
        "Guardada: martes 1 de diciembre, 10:00 (Europe/London), sesión 1 de 3.",
        "Inés -> bot mar jue, 3 sesiones",
        "Todo listo, Inés.",
        "Inés le reenvía el enlace a Raúl",
        "Raúl te llevará a casa",
        "Mañana: sesión 1 de 3, el martes 1 de diciembre a las 10:00.",
        "── martes 1 de diciembre de 2026",
        "[Entendido] [Recuérdamelo en 30 min]",
        "(aviso) De acuerdo, te lo recuerdo a las 08:32.",
        "Completaste tu serie.",
        "Resumen",
    ):
        assert expected in flat
    stamps = [match["stamp"] for match in _STAMP.finditer(out)]
    assert stamps[0] == "lun 30 nov 09:00"
    assert "mar  1 dic 20:00" not in stamps  # 20:00 on Monday, not Tuesday
    assert "lun 30 nov 20:00" in stamps


def test_the_english_demo_keeps_its_cast() -> None:
    """Without --lang the story is Maya and Sam's, in English, as before."""
    assert demo.NAMES == {demo.MAYA_ID: "Maya", demo.SAM_ID: "Sam", demo.PRIYA_ID: "Priya"}
    assert demo.FIRST_SESSION == "tomorrow 10:00"
    assert all(user["language_code"] == "en" for user in demo.USERS.values())


def test_an_unknown_demo_language_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert bot_main(["demo", "--lang", "fr"]) == 2
    assert "--lang" in capsys.readouterr().err
