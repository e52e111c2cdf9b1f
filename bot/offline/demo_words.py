"""The demo's own words per language: its cast, what they type, and the transcript's framing.

The bot's messages come from the catalog like in production; this holds only what the demo
itself prints around them (header, stage directions, footer) and what its people type, so
``python -m bot demo --lang es`` reads as Spanish from the first line to the last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from babel.dates import format_date, format_datetime


@dataclass(frozen=True)
class DemoWords:
    code: str  # a catalog locale, and the people's Telegram language_code
    patient: str  # first names, four letters: the transcript's columns are sized for them
    family: str
    second_family: str  # five letters at most
    first_session: str  # what the patient types for her first session
    series: str  # and the repeat that completes the series
    win: str  # what the patient writes down as easier today
    noticed: str  # what a family member noticed
    forwards: str  # stage direction: the patient passes the invite link on
    sends_second: str  # stage direction: a second link goes to the second family member
    opened_link: str  # how a family member's "/start <token>" is shown
    taps: str  # "{label}"
    tapped: str  # "{name}", "{label}"
    popup: str  # "{text}"
    changes: str  # "{text}"
    title: str
    intro: str
    clock: str  # "{date}", "{time}"
    cast_patient: str
    cast_family: str
    cast_second_family: str
    legend: str
    summary: str
    simulated: str  # "{first}", "{last}", "{days}", "{seconds}"
    received: str  # "{name}", "{received}", "{timed}", "{answers}"
    buttons_used: str  # "{taps}"
    not_sent_head: str
    not_sent_line: str  # "{stamp}", "{name}", "{topic}", "{why}"
    none_skipped: str
    run_it: str
    skip_reasons: dict[str, str] = field(default_factory=dict)

    def stamp(self, local: datetime) -> str:
        """``Tue  1 Dec 20:00`` / ``mar  1 dic 20:00``: weekday, day, month, time."""
        weekday = format_datetime(local, "EEE", locale=self.code)
        month = format_datetime(local, "MMM", locale=self.code)
        return f"{weekday} {local.day:>2} {month} {local:%H:%M}"

    def long_date(self, local: datetime) -> str:
        """``Monday 30 November 2026`` / ``lunes 30 de noviembre de 2026``."""
        pattern = "EEEE d MMMM y" if self.code == "en" else "EEEE d 'de' MMMM 'de' y"
        return str(format_date(local, pattern, locale=self.code))


ENGLISH = DemoWords(
    code="en",
    patient="Maya",
    family="Sam",
    second_family="Priya",
    first_session="tomorrow 10:00",
    series="tue thu, 3 sessions",  # the first session and two more: Tue, Thu, Tue
    win="Made breakfast and ate it at the table",
    noticed="She hummed while making coffee this morning",
    forwards="Maya forwards the link to Sam, who opens it a little later.",
    sends_second="Maya sends the new link to her sister Priya.",
    opened_link="/start  (opened from Maya's link)",
    taps="taps [{label}]",
    tapped="{name} tapped [{label}]",
    popup="(pop-up) {text}",
    changes="(the message changes to:) {text}",
    title="Session Companion: offline demo",
    intro=(
        "This is the real bot (handlers, scheduler, SQLite store, message catalog) talking "
        "to a fake Telegram server inside this process, on 127.0.0.1. No bot token, no "
        "network, and nothing is kept: the database lives in a temporary directory."
    ),
    clock=(
        "Time is simulated. The clock starts on {date} at {time} in London and jumps from one "
        "due message to the next, so more than a week passes in a few seconds."
    ),
    cast_patient="a patient in London, about to start a series of 3 IV sessions",
    cast_family="her partner, whom she invites to help",
    cast_second_family="her sister, who helps too",
    legend=(
        "Each line shows the local time on that person's phone, who wrote to whom, and the "
        "text as they read it; [Label] is a button under the message."
    ),
    summary="Summary",
    simulated="Simulated {first} to {last} ({days} days) in {seconds} s of real time.",
    received=(
        "{name} received {received} messages: {timed} timed, {answers} answers to what "
        "{name_again} typed or tapped"
    ),
    buttons_used="Buttons on timed messages: {taps}.",
    not_sent_head="Not sent (the bot never sends a message late):",
    not_sent_line="{stamp}  to {name} {topic}: {why}",
    none_skipped=(
        "Not sent: none. Every timed message went out while it was still relevant; one "
        "whose moment has passed is recorded as skipped, never sent late."
    ),
    run_it=(
        "To run it for real, create a bot with @BotFather and start "
        "`TELEGRAM_BOT_TOKEN=... python -m bot` (see the README). To see every message a "
        'series would send: `python -m bot preview --zone Europe/London --session "2026-12-01 '
        '10:00" --family`.'
    ),
    skip_reasons={
        "expired": "its moment had passed before it could be sent",
        "quiet_hours": "it would have fallen in quiet hours",
        "paused": "messages were paused",
        "stopped": "the person had stopped all messages",
        "recipient_gone": "the person could no longer be reached",
        "unlinked": "the family member was no longer linked",
        "session_cancelled": "the session was cancelled",
    },
)

SPANISH = DemoWords(
    code="es",
    patient="Inés",
    family="Raúl",
    second_family="Elena",
    first_session="mañana 10:00",
    series="mar jue, 3 sesiones",  # la primera sesión y dos más: mar, jue, mar
    win="Me hice el desayuno y me lo tomé sentada a la mesa",
    noticed="Esta mañana tarareaba mientras hacía el café",
    forwards="Inés le reenvía el enlace a Raúl, que lo abre un rato después.",
    sends_second="Inés le manda el enlace nuevo a su hermana Elena.",
    opened_link="/start  (abierto desde el enlace de Inés)",
    taps="toca [{label}]",
    tapped="{name} tocó [{label}]",
    popup="(aviso) {text}",
    changes="(el mensaje cambia a:) {text}",
    title="Session Companion: demostración sin conexión",
    intro=(
        "Este es el bot de verdad (manejadores, planificador, base SQLite, catálogo de "
        "mensajes) hablando con un servidor de Telegram simulado dentro de este mismo "
        "proceso, en 127.0.0.1. Sin token del bot, sin red, y no se guarda nada: la base de "
        "datos vive en un directorio temporal."
    ),
    clock=(
        "El tiempo es simulado. El reloj empieza el {date} a las {time} en Londres y salta de "
        "un mensaje pendiente al siguiente, así que pasa más de una semana en unos segundos."
    ),
    cast_patient="paciente en Londres, a punto de empezar una serie de 3 sesiones IV",
    cast_family="su pareja, a quien invita para que ayude",
    cast_second_family="su hermana, que también ayuda",
    legend=(
        "Cada línea muestra la hora local en el teléfono de esa persona, quién escribió a "
        "quién y el texto tal como lo lee; [Etiqueta] es un botón bajo el mensaje."
    ),
    summary="Resumen",
    simulated="Simulado del {first} al {last} ({days} días) en {seconds} s de tiempo real.",
    received=(
        "{name} recibió {received} mensajes: {timed} programados, {answers} respuestas a lo "
        "que {name_again} escribió o tocó"
    ),
    buttons_used="Botones en mensajes programados: {taps}.",
    not_sent_head="No enviados (el bot nunca envía un mensaje tarde):",
    not_sent_line="{stamp}  a {name} {topic}: {why}",
    none_skipped=(
        "No enviados: ninguno. Cada mensaje programado salió mientras aún venía al caso; uno "
        "cuyo momento ya pasó queda anotado como omitido, nunca se envía tarde."
    ),
    run_it=(
        "Para usarlo de verdad, crea un bot con @BotFather y arranca "
        "`TELEGRAM_BOT_TOKEN=... python -m bot` (mira el README). Para ver cada mensaje que "
        "enviaría una serie: `python -m bot preview --locale es --zone Europe/Madrid --session "
        '"2026-12-01 10:00" --family`.'
    ),
    skip_reasons={
        "expired": "su momento pasó antes de poder enviarlo",
        "quiet_hours": "habría caído en horas de silencio",
        "paused": "los mensajes estaban en pausa",
        "stopped": "la persona había parado todos los mensajes",
        "recipient_gone": "ya no se podía contactar con la persona",
        "unlinked": "el familiar ya no estaba vinculado",
        "session_cancelled": "la sesión se canceló",
    },
)

LANGUAGES = {words.code: words for words in (ENGLISH, SPANISH)}
