"""Guided steps: which handler takes a message while a chat is in the middle of a question.

The step lives in the ``dialogs`` table (``Companion.step``), not in memory, so a restart
continues where the person was. Any command ends the step (``handler(ends_step=True)``); plain
``/start`` resumes it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.context import AnyApplication, BotContext, services_of
from bot.ui.turn import SINCE, Callback


class StepHandler(MessageHandler[BotContext, None]):
    """Takes a private, non-command message (new or edited) only while the chat's step is one of
    ``steps``; otherwise it declines and the update goes on to the next handler. Any kind of
    message matches, so a sticker or a voice note in the middle of a step gets the step's
    re-prompt instead of silence, and an edited answer is read while its step is open."""

    def __init__(self, application: AnyApplication, steps: Collection[str], callback: Callback):
        super().__init__(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGES & ~filters.COMMAND, callback
        )
        self._application = application
        self._steps = frozenset(steps)

    def check_update(self, update: object) -> bool | dict[str, list[Any]] | None:
        matched = super().check_update(update)
        if not matched or not isinstance(update, Update) or update.effective_chat is None:
            return False
        state = services_of(self._application).companion.step(update.effective_chat.id)
        if state is None or state[0] not in self._steps or not _answers(update, state[1]):
            return False
        return matched


def _answers(update: Update, data: dict[str, Any]) -> bool:
    """A new message answers the open step; an edited one only if it was sent after the step
    opened (it corrects a try at this step, not the answer to the one before). An edit that does
    not answer goes on to the fallback, which says edits are not read."""
    edited = update.edited_message
    since = data.get(SINCE)
    return edited is None or not isinstance(since, int) or edited.message_id > since
