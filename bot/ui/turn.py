"""One update, handled once: a ``Turn`` is what a handler reads and what it wants said.

A handler is a plain function ``def name(turn: Turn) -> None``, wrapped by :func:`handler`. The
wrapper opens the domain's unit of work (``Companion.handling``): every domain call the handler
makes, every message it queues (its reply, a note to the family, an approval request) and the
mark that the update was handled commit in one transaction, or none does. Nothing is sent from
inside it: the messages are rows in the deliveries table, sent by the dispatcher at once, with its
retries and crash policy. So a failed reply is retried, never the command, and a late press still
delivers every follow-up.

After the commit, and only then, the pressed button is answered and its message edited: best
effort, since Telegram refuses a callback answer after about 15 seconds and an edit of an old
message. An outcome the person must see (``settle``) that cannot be shown by editing is queued as
a new message instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import Message, Update
from telegram.error import TelegramError

from bot.context import BotContext, Services
from bot.sender import inline_keyboard
from messages import Catalog
from scheduler.companion import Companion
from scheduler.handling import AlreadyHandled, Handling
from scheduler.model import Person, Role
from scheduler.sending import KeyboardButton, OutgoingMessage

_LOGGER = logging.getLogger(__name__)

SINCE = "since"  # in a step's data: the message id it follows (``Turn.set_step``)
# Rows of (label, callback data).
Keyboard = Sequence[Sequence[tuple[str, str]]]
Callback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


@dataclass
class _Edit:
    text: str | None  # None: only take the buttons off
    keyboard: Keyboard | None


class Turn:
    """One update as a handler sees it: who, what they sent, and what to say back."""

    def __init__(self, update: Update, context: BotContext, unit: Handling) -> None:
        self.update = update
        self.context = context
        self.unit = unit
        self.services: Services = context.services
        self.companion: Companion = self.services.companion
        self.catalog: Catalog = self.services.catalog
        self.now: datetime = unit.now
        chat = update.effective_chat
        if chat is None:  # handlers are registered for chats only
            raise ValueError("an update without a chat")
        self.chat_id: int = chat.id
        user = update.effective_user
        self.first_name: str = user.first_name if user is not None else ""
        self.language: str | None = user.language_code if user is not None else None
        message = update.effective_message
        self.message: Message | None = message if update.callback_query is None else None
        self.text: str = (self.message.text or "") if self.message is not None else ""
        self.is_edit: bool = update.edited_message is not None
        query = update.callback_query
        self.data: str = (query.data or "") if query is not None else ""
        self.args: list[str] = list(context.args or [])
        self.person: Person | None = self.companion.person_by_chat(self.chat_id)
        self._answer: str | None = None
        self._answered = False
        self._edit: _Edit | None = None
        self._later: list[Callable[[], Awaitable[None]]] = []

    # -- who ---------------------------------------------------------------------------------------

    @property
    def locale(self) -> str | None:
        """The person's chosen language if they are known, else their Telegram app's."""
        return self.person.locale if self.person is not None else self.language

    @property
    def app_locale(self) -> str | None:
        """The catalog locale nearest the Telegram app's language ("es-MX" -> "es"), falling
        back to the default one (English) for any other; None when Telegram did not say."""
        return self.catalog.texts(self.language).code if self.language else None

    def adopt_app_locale(self) -> None:
        """Someone new to the bot (set-up, joining a family): write to them in their app's
        language from the first message. A known person keeps what they chose in /settings."""
        person = self.person
        code = self.app_locale
        if person is not None and code is not None and code != person.locale:
            self.companion.set_locale(person.id, code, self.now)
            self.refresh()

    @property
    def patient(self) -> Person | None:
        person = self.person
        return person if person is not None and person.role is Role.PATIENT else None

    def refresh(self) -> Person | None:
        """Read the person again after a domain call changed them (or erased them)."""
        self.person = self.companion.person_by_chat(self.chat_id)
        return self.person

    # -- guided steps ------------------------------------------------------------------------------

    def set_step(self, step: str, data: dict[str, Any]) -> None:
        """Open a guided step, noting the message it follows: an edit of that message or an
        earlier one answered an earlier step, and is not read as an answer to this one."""
        self.companion.set_step(self.chat_id, step, {**data, SINCE: self.message_id}, self.now)

    @property
    def message_id(self) -> int:
        message = self.update.effective_message
        return message.message_id if message is not None else 0

    @property
    def is_command(self) -> bool:
        return self.message is not None and self.text.startswith("/")

    @property
    def is_callback(self) -> bool:
        return self.update.callback_query is not None

    # -- words -------------------------------------------------------------------------------------

    def render(self, key: str, **values: object) -> str:
        zone = self.person.zone if self.person is not None else None
        return self.catalog.render_reply(
            self.locale, key, **{**self._deployment(self.locale, zone), **values}
        )

    def _deployment(self, locale: str | None, zone: str | None) -> dict[str, object]:
        """What every reply may show of the deployment: the crisis line for the reader's
        country or language, the clinic's contact (a reply's line with it is left out when
        unset), and its name (the patient's welcome and /help; never a family text, since a
        clinic's name may say what the treatment is)."""
        settings = self.services.settings
        return {
            "crisis_line": settings.crisis_line_for(locale, zone),
            "clinic_contact": settings.clinic_contact or "",
            "deployment_name": settings.deployment_name,
        }

    def label(self, key: str) -> str:
        return self.catalog.button_label(self.locale, key)

    # -- saying ------------------------------------------------------------------------------------

    def reply(
        self,
        key: str,
        *,
        keyboard: Keyboard | None = None,
        values: Mapping[str, object] | None = None,
        **more: object,
    ) -> None:
        """A catalog reply in this chat, queued with the change."""
        self.reply_text(self.render(key, **{**(values or {}), **more}), keyboard=keyboard)

    def reprompt(self, key: str, *, keyboard: Keyboard | None = None, **values: object) -> None:
        """A step's question again, with what the bot is, that nobody reads the chat, and the
        crisis line: a sentence typed where a date was asked may be the one that matters."""
        text = f"{self.render(key, **values)}\n\n{self.render('step_help')}"
        self.reply_text(text, keyboard=keyboard)

    def reply_text(self, text: str, *, keyboard: Keyboard | None = None) -> None:
        person = self.person
        self.unit.send(
            _message(self.chat_id, text, keyboard, protect=_protect(person)),
            person.id if person is not None else None,
        )

    def tell(
        self,
        person: Person,
        key: str,
        *,
        keyboard: Keyboard | None = None,
        values: Mapping[str, object] | None = None,
        own: bool = False,
        heading: str | None = None,
        **more: object,
    ) -> None:
        """A catalog message to someone else, in their language, queued with the change.
        Protected (no forwarding or saving) unless it is about the reader's ``own`` sessions:
        protection follows what the message is, so a family note reaches someone who is also a
        patient protected too. ``heading``: a first line already rendered (whose it is)."""
        merged = {**self._deployment(person.locale, person.zone), **(values or {}), **more}
        text = self.catalog.render_reply(person.locale, key, **merged)
        if heading:
            text = f"{heading}\n{text}"
        self.unit.send(_message(person.chat_id, text, keyboard, protect=not own), person.id)

    # -- the pressed button (after the commit, best effort) ----------------------------------------

    def answer(self, key: str | None = None, **values: object) -> None:
        """The short note on the pressed button (or nothing, to stop the spinner)."""
        self._answer = self.render(key, **values) if key is not None else None
        self._answered = True

    def stale(self) -> None:
        """The one answer for a forged, stale or foreign button: nothing changes."""
        self.answer("button_stale")

    def settle(
        self,
        key: str,
        *,
        keyboard: Keyboard | None = None,
        values: Mapping[str, object] | None = None,
        **more: object,
    ) -> None:
        """Turn the pressed message into its outcome (its buttons go, or are replaced)."""
        self._edit = _Edit(self.render(key, **{**(values or {}), **more}), keyboard)
        if not self._answered:
            self.answer()

    def settle_text(self, text: str, *, keyboard: Keyboard | None = None) -> None:
        """``settle`` with a text already put together (several replies in one)."""
        self._edit = _Edit(text, keyboard)
        if not self._answered:
            self.answer()

    def drop_buttons(self) -> None:
        """Take the buttons off the pressed message, so an old choice cannot linger."""
        if self._edit is None:
            self._edit = _Edit(None, None)

    def later(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` after the commit: for what the queue cannot carry (a document)."""
        self._later.append(action)

    def queue_now(self, text: str) -> None:
        """Queue a message in a unit of its own, after the update's unit committed (for a
        ``later`` action that failed and must still tell the person)."""
        with self.companion.handling(None, self.services.clock.now()) as unit:
            person = self.refresh()
            unit.send(
                _message(self.chat_id, text, None, protect=_protect(person)),
                person.id if person is not None else None,
            )

    async def finish(self) -> None:
        for action in self._later:
            await action()
        query = self.update.callback_query
        if query is None:
            return
        if self._answered:
            try:
                await query.answer(self._answer)
            except TelegramError as exc:  # too old, or a network fault: the outcome stands
                _LOGGER.info("press not answered (%s)", type(exc).__name__)
        edit = self._edit
        if edit is None:
            return
        markup = inline_keyboard(_message(self.chat_id, "", edit.keyboard, protect=False))
        try:
            if edit.text is None:
                await query.edit_message_reply_markup(None)
            else:
                await query.edit_message_text(edit.text, reply_markup=markup)
        except TelegramError as exc:
            if "not modified" in str(exc).lower():
                return  # a second tap: the first already showed it
            _LOGGER.info("pressed message not edited (%s)", type(exc).__name__)
            if edit.text is not None:
                # The person must still see the outcome: as a message of its own.
                self.queue_now(edit.text)


def handler(fn: Callable[[Turn], None], *, ends_step: bool = True) -> Callback:
    """Wrap ``fn`` as a PTB callback that applies it exactly once (see the module docstring).

    ``ends_step``: a command ends the guided step the chat was in, in the same transaction.
    """

    async def run(update: Update, context: BotContext) -> None:
        services = context.services
        try:
            with services.companion.handling(update.update_id, services.clock.now()) as unit:
                turn = Turn(update, context, unit)
                if ends_step and turn.is_command:
                    turn.companion.end_step(turn.chat_id)
                fn(turn)
        except AlreadyHandled:
            _LOGGER.info("update %d: handled before; replay ignored", update.update_id)
            return
        await turn.finish()

    run.__name__ = run.__qualname__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _protect(person: Person | None) -> bool:
    """Family members and people not yet known get protected messages (no forwarding, saving)."""
    return person is None or person.role is not Role.PATIENT


def _message(
    chat_id: int, text: str, keyboard: Keyboard | None, *, protect: bool
) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id=0,
        chat_id=chat_id,
        text=text,
        protect_content=protect,
        keyboard=tuple(
            tuple(KeyboardButton(label, data) for label, data in row) for row in keyboard or ()
        ),
    )
