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
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import BotContext, CompanionApp

_LOGGER = logging.getLogger(__name__)

# The lowest group, so it runs before anything else; feature modules may use groups above it
# (e.g. -2 to end a guided step before a command's own handler) without ever seeing a group chat.
GUARD_GROUP = -100
# Right after the guard, so only private chats reach it; every update passes the guard's
# catch-all TypeHandler, so a second handler in GUARD_GROUP itself would never run.
MEMBERSHIP_GROUP = GUARD_GROUP + 1
_REMEMBERED_CHATS = 1000  # chats already told, so a burst of updates gets one reply


def locale_for(update: Update, context: BotContext) -> str | None:
    """The person's chosen locale if they are known, else their Telegram app's language."""
    chat = update.effective_chat
    if chat is not None:
        person = context.services.companion.person_by_chat(chat.id)
        if person is not None:
            return person.locale
    user = update.effective_user
    return user.language_code if user is not None else None


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


async def private_membership(update: Update, context: BotContext) -> None:
    """A private chat's ``my_chat_member``: the person blocked the bot (status ``kicked``), so
    mark them gone and withdraw what waits for them. Unknown chats: nothing is stored. Coming
    back is a plain ``/start`` (control.restart_on_start)."""
    membership = update.my_chat_member
    if membership is None or membership.new_chat_member.status != ChatMember.BANNED:
        return
    companion = context.services.companion
    person = companion.person_by_chat(membership.chat.id)
    if person is None:
        return
    state = companion.people.state(person.id)
    if state is not None and state.gone:
        return
    companion.mark_gone(person.id, context.services.clock.now())
    context.services.rearm()


async def help_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    await message.reply_text(
        services.catalog.render_reply(
            locale_for(update, context), "help", crisis_line=services.settings.crisis_line
        )
    )


async def unknown_text(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    await message.reply_text(
        services.catalog.render_reply(
            locale_for(update, context), "unknown_text", crisis_line=services.settings.crisis_line
        )
    )


async def stale_button(update: Update, context: BotContext) -> None:
    """Answer a button no feature handler recognises, so the client stops spinning."""
    query = update.callback_query
    if query is None:
        return
    await query.answer(
        context.services.catalog.render_reply(locale_for(update, context), "button_stale")
    )


def register_guard(application: CompanionApp) -> None:
    application.add_handler(TypeHandler(Update, PrivateChatGuard()), group=GUARD_GROUP)
    application.add_handler(
        ChatMemberHandler(private_membership, ChatMemberHandler.MY_CHAT_MEMBER),
        group=MEMBERSHIP_GROUP,
    )


def register_help(application: CompanionApp) -> None:
    application.add_handler(CommandHandler("help", help_command))


def register_fallback(application: CompanionApp) -> None:
    """Must be the last handler of group 0: it answers only what no feature handler took."""
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, unknown_text))
    # Forged, malformed or outdated callback data: a short answer, and nothing changes.
    application.add_handler(CallbackQueryHandler(stale_button))
