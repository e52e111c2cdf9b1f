"""The handlers every chat meets: the private-chat guard, the blocked-bot note, ``/help``, and the
unknown-text reply.

The guard keeps the companion out of groups and channels: a health companion must not talk about
someone's treatment where others read along, so it says so once, leaves, and stores nothing.
"""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.parsing import WhenError, parse_when
from bot.ui.rides import tell_lost
from bot.ui.turn import Turn
from scheduler.model import Role

_LOGGER = logging.getLogger(__name__)

_REMEMBERED_CHATS = 1000  # chats already told, so a burst of updates gets one reply


class PrivateChatGuard:
    """Stops every update from a group or channel after replying once and leaving."""

    def __init__(self) -> None:
        self._told: dict[int, None] = {}  # insertion-ordered, bounded

    async def __call__(self, update: Update, context: BotContext) -> None:
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.PRIVATE:
            return
        membership = update.my_chat_member
        removed = membership is not None and membership.new_chat_member.status in (
            ChatMember.LEFT,
            ChatMember.BANNED,
        )
        if not removed and chat.id not in self._told:
            self._remember(chat.id)
            user = update.effective_user
            text = context.services.catalog.render_reply(
                user.language_code if user is not None else None, "private_only"
            )
            # Each step alone: a channel may refuse the post, and leaving must still happen.
            try:
                await context.bot.send_message(chat.id, text)
            except TelegramError as exc:
                _LOGGER.info("could not post the private-only note (%s)", type(exc).__name__)
            try:
                await context.bot.leave_chat(chat.id)
            except TelegramError as exc:
                _LOGGER.info("could not leave a group chat (%s)", type(exc).__name__)
        raise ApplicationHandlerStop

    def _remember(self, chat_id: int) -> None:
        self._told[chat_id] = None
        while len(self._told) > _REMEMBERED_CHATS:
            del self._told[next(iter(self._told))]


def private_membership(turn: Turn) -> None:
    """A private chat's ``my_chat_member``: the person blocked the bot (status ``kicked``), so
    mark them gone and withdraw what waits for them. Unknown chats: nothing is stored. Coming
    back is a plain ``/start``."""
    membership = turn.update.my_chat_member
    person = turn.person
    if membership is None or membership.new_chat_member.status != ChatMember.BANNED:
        return
    if person is None or turn.companion.is_gone(person.id):
        return
    turn.companion.mark_gone(person.id, turn.now)
    # A ride they promised is a promise nobody will keep now: the patient hears it at once.
    tell_lost(turn, turn.companion.release_promised(person.id, turn.now))


def help_(turn: Turn) -> None:
    """Family members get a /help written for them; everyone else the general one."""
    person = turn.person
    turn.reply("family_help" if person is not None and person.role is Role.FAMILY else "help")


def unusable(turn: Turn) -> None:
    """Whatever no handler took: text outside a step, a photo, a voice note, a sticker, a
    location, an edit. Never silence: what the bot can do, that nobody reads the chat, and the
    crisis line; a date typed outside a step is pointed to the command that takes it."""
    if turn.is_edit:
        turn.reply("edits_not_read")
        return
    person = turn.patient
    text = turn.text.strip()
    if person is not None and text and not text.startswith("/"):
        try:
            parse_when(text, person.zone, turn.now)
        except WhenError:
            pass
        else:
            turn.reply("date_outside_step", command=f"/add {text}")
            return
    if text.startswith("/"):
        turn.reply("unknown_command")
        return
    # A relative who writes in is most often worried about someone else: their crisis line says so.
    family = turn.person is not None and turn.person.role is Role.FAMILY
    turn.reply("family_unknown_text" if family else "unknown_text")


def stale_button(turn: Turn) -> None:
    """A button no handler recognises (forged, malformed or outdated): nothing changes."""
    turn.stale()
