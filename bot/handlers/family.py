"""Family opt-in: ``/invite``, the ``/start <token>`` deep link, approval, ``/family``, ``/leave``.

A family member gets messages only through a link the patient made AND the patient's approval.
Every invalid invite (unknown, expired, used, revoked, the patient's own) gets one identical
reply, so a token reveals nothing. What family members read never names the drug, the condition
or the clinic, and shows the patient's chosen name only on the screen where they decide to join;
everything sent to them is ``protect_content``.

Callback data (short ASCII, at most 64 bytes). It says what to do, never who may: every handler
re-checks that the thing named belongs to whoever pressed, so forged or stale data changes nothing.

    fi_rv:<invite id>   cancel this unused invite link (patient)
    fj:<token>          join with this invite (whoever opened the link)
    fj_no               no thanks: nothing is stored
    fa:<link id>        approve this family member (patient)
    fd:<link id>        decline them (patient)
    fr:<link id>        remove them: ask to confirm (patient)
    fr_y:<link id>      yes, remove
    fr_n:<link id>      no, keep
    fl_y / fl_n         /leave confirmed / not (family member)

The helpers at the top (``chat_person``, ``reply``, ``tell``, ``settle``, ``stale``) are shared by
the reminders, control and privacy modules.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import BotContext, CompanionApp
from bot.handlers.basics import help_command as basics_help_command
from bot.handlers.basics import locale_for
from scheduler.companion import Companion, InviteInvalid, NotAllowed
from scheduler.model import Person, Role
from scheduler.store.family import ACTIVE, PENDING, LinkView
from scheduler.store.inbox import InviteFailures

_LOGGER = logging.getLogger(__name__)

MAX_FAMILY_NAME = 32  # a first name; longer ones crowd the patient's approval prompt
# The token alphabet of Companion.create_invite; a deep-link payload is at most 64 characters.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
JOIN = re.compile(r"^fj:(?P<token>[A-Za-z0-9_-]{1,64})$")
JOIN_NO = "fj_no"
REVOKE = re.compile(r"^fi_rv:(?P<id>\d{1,18})$")
APPROVE = re.compile(r"^fa:(?P<id>\d{1,18})$")
DECLINE = re.compile(r"^fd:(?P<id>\d{1,18})$")
REMOVE = re.compile(r"^fr:(?P<id>\d{1,18})$")
REMOVE_YES = re.compile(r"^fr_y:(?P<id>\d{1,18})$")
REMOVE_NO = re.compile(r"^fr_n:(?P<id>\d{1,18})$")
LEAVE_YES = "fl_y"
LEAVE_NO = "fl_n"
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


# -- shared helpers -------------------------------------------------------------------------------


def chat_person(update: Update, context: BotContext) -> Person | None:
    chat = update.effective_chat
    return None if chat is None else context.services.companion.person_by_chat(chat.id)


def protect(person: Person | None) -> bool:
    """Family members and people not yet known get protected messages (no forwarding, saving)."""
    return person is None or person.role is not Role.PATIENT


def label(context: BotContext, locale: str | None, key: str) -> str:
    return context.services.catalog.button_label(locale, key)


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """Rows of (label, callback data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


async def reply(
    update: Update,
    context: BotContext,
    key: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **values: object,
) -> None:
    """A catalog reply in the current chat; protected unless the person is a patient."""
    chat = update.effective_chat
    assert chat is not None
    text = context.services.catalog.render_reply(locale_for(update, context), key, **values)
    await chat.send_message(
        text,
        reply_markup=markup,
        protect_content=protect(chat_person(update, context)),
        link_preview_options=_NO_PREVIEW,
    )


async def tell(
    context: BotContext,
    person: Person,
    key: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **values: object,
) -> bool:
    """A catalog reply to someone else's chat, in their language. A blocked chat must not undo
    what was just done, so a Telegram error is logged (type only) and reported as False."""
    text = context.services.catalog.render_reply(person.locale, key, **values)
    try:
        await context.bot.send_message(
            person.chat_id,
            text,
            reply_markup=markup,
            protect_content=protect(person),
            link_preview_options=_NO_PREVIEW,
        )
    except TelegramError as exc:
        _LOGGER.info("could not message person %d (%s)", person.id, type(exc).__name__)
        return False
    return True


async def settle(update: Update, context: BotContext, key: str, **values: object) -> None:
    """Answer a press and turn the pressed message into its outcome (its buttons go)."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    text = context.services.catalog.render_reply(locale_for(update, context), key, **values)
    await query.edit_message_text(text, link_preview_options=_NO_PREVIEW)


async def stale(update: Update, context: BotContext) -> None:
    """The one answer for a forged, stale or foreign button: nothing changes."""
    query = update.callback_query
    assert query is not None
    text = context.services.catalog.render_reply(locale_for(update, context), "button_stale")
    await query.answer(text)


async def remove_keyboard(update: Update) -> None:
    query = update.callback_query
    assert query is not None
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest as exc:
        # Two quick taps: the first already took the buttons off.
        if "not modified" not in exc.message.lower():
            raise


def normalise_name(raw: str) -> str:
    """A Telegram first name made safe to show: no bidi overrides or zero-width characters
    (Unicode format characters), no control characters, spaces collapsed, length capped."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(
        " " if not char.isprintable() else char
        for char in text
        if unicodedata.category(char) != "Cf"
    )
    return " ".join(text.split())[:MAX_FAMILY_NAME].strip()


def _patient(update: Update, context: BotContext) -> Person | None:
    person = chat_person(update, context)
    return person if person is not None and person.role is Role.PATIENT else None


def _match_id(update: Update, pattern: re.Pattern[str]) -> int | None:
    query = update.callback_query
    match = pattern.match(query.data or "") if query is not None else None
    return int(match["id"]) if match is not None else None


def _own_link(
    update: Update, context: BotContext, pattern: re.Pattern[str], *statuses: str
) -> tuple[Person, LinkView] | None:
    """The pressing patient and their link the button names, in one of ``statuses``."""
    patient = _patient(update, context)
    link_id = _match_id(update, pattern)
    if patient is None or link_id is None:
        return None
    link = context.services.companion.links.get(link_id)
    if link is None or link.patient_id != patient.id or link.status not in statuses:
        return None
    return patient, link


# -- /invite --------------------------------------------------------------------------------------


async def invite_command(update: Update, context: BotContext) -> None:
    chat = update.effective_chat
    patient = _patient(update, context)
    if chat is None or patient is None:
        await reply(update, context, "family_not_patient")
        return
    services = context.services
    now = services.clock.now()
    token = services.companion.create_invite(patient.id, now)
    invite = services.companion.invites.by_token(token)
    assert invite is not None
    locale = locale_for(update, context)
    days = max(1, math.ceil(services.companion.invite_ttl / timedelta(days=1)))
    # Not protected: the patient must be able to forward or copy the link.
    await chat.send_message(
        services.catalog.render_reply(
            locale,
            "family_invite",
            link=f"https://t.me/{context.bot.username}?start={token}",
            days=days,
        ),
        reply_markup=keyboard([(label(context, locale, "family_revoke"), f"fi_rv:{invite.id}")]),
        link_preview_options=_NO_PREVIEW,
    )


async def revoke_button(update: Update, context: BotContext) -> None:
    patient = _patient(update, context)
    invite_id = _match_id(update, REVOKE)
    services = context.services
    if (
        patient is None
        or invite_id is None
        or not services.companion.revoke_invite(patient.id, invite_id, services.clock.now())
    ):
        await stale(update, context)
        return
    await settle(update, context, "family_invite_revoked")


# -- /start <token> and joining -------------------------------------------------------------------


def _inviting_patient(
    companion: Companion, token: str, chat_id: int, now: datetime
) -> Person | None:
    """Who made this invite, if this chat may use it; None for every kind of invalid.

    Opening a link shows the patient's name, so it counts against the same per-chat failure
    limit as redeeming does (``Companion.redeem_invite``): guessing tokens through ``/start``
    is as slow as through Join, and a throttled chat gets the same answer as a wrong token.
    """
    failures = InviteFailures(companion.db)
    if not failures.allowed(chat_id, now):
        return None
    invite = companion.invites.by_token(token) if _TOKEN.fullmatch(token) else None
    patient = companion.person(invite.patient_id) if invite is not None else None
    if invite is None or not invite.usable(now) or patient is None:
        failures.record(chat_id, now)
        return None
    if patient.role is not Role.PATIENT or patient.chat_id == chat_id:
        return None  # their own link: refused, but not a guess
    return patient


async def invite_start(update: Update, context: BotContext) -> None:
    """``/start <token>``: who invited them and what they'd get; nothing is stored yet."""
    chat = update.effective_chat
    if chat is None:
        return
    services = context.services
    args = context.args or []
    token = args[0] if len(args) == 1 else ""
    patient = _inviting_patient(services.companion, token, chat.id, services.clock.now())
    if patient is None:
        await reply(update, context, "family_invite_invalid")
        return
    locale = locale_for(update, context)
    await reply(
        update,
        context,
        "family_invite_confirm",
        name=patient.display_name,
        markup=keyboard(
            [(label(context, locale, "family_join"), f"fj:{token}")],
            [(label(context, locale, "family_no_thanks"), JOIN_NO)],
        ),
    )


def _already_asked(companion: Companion, token: str, chat_id: int) -> bool:
    """Join pressed again for an invite this chat already redeemed (e.g. replayed after a crash):
    the invite is used, and this chat's pending link to its patient was made in that same step."""
    invite = companion.invites.by_token(token) if _TOKEN.fullmatch(token) else None
    member = companion.person_by_chat(chat_id)
    if invite is None or member is None or invite.used_at is None or invite.revoked_at:
        return False
    return any(
        link.patient_id == invite.patient_id
        and link.status == PENDING
        and link.created_at == invite.used_at
        for link in companion.links.of_family(member.id)
    )


async def join_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    chat = update.effective_chat
    user = update.effective_user
    assert query is not None
    match = JOIN.match(query.data or "")
    if match is None or chat is None or user is None:
        await stale(update, context)
        return
    services = context.services
    companion = services.companion
    now = services.clock.now()
    name = normalise_name(user.first_name) or services.catalog.render_reply(
        locale_for(update, context), "family_unnamed"
    )
    try:
        link_id, patient = companion.redeem_invite(match["token"], chat.id, name, now)
    except InviteInvalid:
        replayed = _already_asked(companion, match["token"], chat.id)
        await settle(update, context, "family_join_asked" if replayed else "family_invite_invalid")
        return
    link = companion.links.get(link_id)
    member = companion.person_by_chat(chat.id)
    assert link is not None and member is not None
    if link.status == ACTIVE:
        await settle(update, context, "family_join_already")
        return
    if member.stopped:
        # Tapping Join is asking for messages again.
        companion.restart(member.id, now)
        services.rearm()
    await settle(update, context, "family_join_waiting")
    locale = patient.locale
    await tell(
        context,
        patient,
        "family_approve_ask",
        name=link.name,
        markup=keyboard(
            [
                (label(context, locale, "family_approve"), f"fa:{link_id}"),
                (label(context, locale, "family_decline"), f"fd:{link_id}"),
            ]
        ),
    )


async def join_no_button(update: Update, context: BotContext) -> None:
    await settle(update, context, "family_join_no_thanks")


# -- approval -------------------------------------------------------------------------------------


async def approve_button(update: Update, context: BotContext) -> None:
    found = _own_link(update, context, APPROVE, PENDING)
    if found is None:
        await stale(update, context)
        return
    patient, link = found
    services = context.services
    try:
        approved = services.companion.approve_link(patient.id, link.id, services.clock.now())
    except NotAllowed:
        await stale(update, context)
        return
    await settle(update, context, "family_approved", name=link.name)
    await tell(context, approved.person, "family_welcome_in")
    # The family welcome is planned from this instant: wake the dispatcher for it, after the
    # "you're in" note so the two arrive in that order.
    services.rearm()


async def decline_button(update: Update, context: BotContext) -> None:
    found = _own_link(update, context, DECLINE, PENDING)
    if found is None:
        await stale(update, context)
        return
    patient, link = found
    services = context.services
    companion = services.companion
    now = services.clock.now()
    try:
        family_id = companion.decline_link(patient.id, link.id, now)
    except NotAllowed:
        await stale(update, context)
        return
    services.rearm()
    await settle(update, context, "family_declined", name=link.name)
    member = companion.person(family_id)
    if member is None:
        return
    await tell(context, member, "family_join_declined")
    if member.role is Role.FAMILY and not companion.linked_patients(member.id):
        # Someone the patient did not accept keeps no row here.
        companion.forget(member.id, now)


# -- /family, removal -----------------------------------------------------------------------------


async def family_command(update: Update, context: BotContext) -> None:
    person = chat_person(update, context)
    if person is None:
        await reply(update, context, "family_not_registered")
        return
    services = context.services
    companion = services.companion
    if person.role is not Role.PATIENT:
        key = "family_list_helping" if companion.linked_patients(person.id) else "family_leave_none"
        await reply(update, context, key)
        return
    links = companion.family(person.id)
    invites = companion.pending_invites(person.id, services.clock.now())
    if not links and not invites:
        await reply(update, context, "family_list_none")
        return
    locale = locale_for(update, context)
    catalog = services.catalog
    lines = [catalog.render_reply(locale, "family_list_head")]
    rows: list[list[tuple[str, str]]] = []
    for link in links:
        if link.status == ACTIVE:
            lines.append(catalog.render_reply(locale, "family_list_active", name=link.name))
            rows.append(
                [(f"{label(context, locale, 'family_remove')} {link.name}", f"fr:{link.id}")]
            )
        else:
            lines.append(catalog.render_reply(locale, "family_list_pending", name=link.name))
            rows.append(
                [
                    (f"{label(context, locale, 'family_approve')} {link.name}", f"fa:{link.id}"),
                    (label(context, locale, "family_decline"), f"fd:{link.id}"),
                ]
            )
    if invites:
        lines.append(catalog.render_reply(locale, "family_list_invites", count=len(invites)))
        cancel = label(context, locale, "family_revoke_n")
        rows += [[(f"{cancel} {n}", f"fi_rv:{inv.id}")] for n, inv in enumerate(invites, 1)]
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message("\n".join(lines), reply_markup=keyboard(*rows))


async def remove_button(update: Update, context: BotContext) -> None:
    found = _own_link(update, context, REMOVE, ACTIVE, PENDING)
    query = update.callback_query
    if found is None or query is None:
        await stale(update, context)
        return
    _patient_person, link = found
    locale = locale_for(update, context)
    await query.answer()
    await reply(
        update,
        context,
        "family_remove_ask",
        name=link.name,
        markup=keyboard(
            [
                (label(context, locale, "family_remove_yes"), f"fr_y:{link.id}"),
                (label(context, locale, "family_remove_no"), f"fr_n:{link.id}"),
            ]
        ),
    )


async def remove_yes_button(update: Update, context: BotContext) -> None:
    found = _own_link(update, context, REMOVE_YES, ACTIVE, PENDING)
    if found is None:
        await stale(update, context)
        return
    patient, link = found
    services = context.services
    try:
        # One transaction: the link, their queued messages about this patient, their rides.
        family_id = services.companion.remove_family(patient.id, link.id, services.clock.now())
    except NotAllowed:
        await stale(update, context)
        return
    services.rearm()
    await settle(update, context, "family_removed", name=link.name)
    member = services.companion.person(family_id)
    if member is not None:
        # Someone still waiting for approval hears the same as after a decline.
        notice = "family_removed_notice" if link.status == ACTIVE else "family_join_declined"
        await tell(context, member, notice)


async def remove_no_button(update: Update, context: BotContext) -> None:
    if _own_link(update, context, REMOVE_NO, ACTIVE, PENDING) is None:
        await stale(update, context)
        return
    await settle(update, context, "family_remove_kept")


# -- /leave ---------------------------------------------------------------------------------------


async def leave_command(update: Update, context: BotContext) -> None:
    person = chat_person(update, context)
    if person is None or not context.services.companion.linked_patients(person.id):
        await reply(update, context, "family_leave_none")
        return
    locale = locale_for(update, context)
    await reply(
        update,
        context,
        "family_leave_ask",
        markup=keyboard(
            [
                (label(context, locale, "family_leave_yes"), LEAVE_YES),
                (label(context, locale, "family_leave_no"), LEAVE_NO),
            ]
        ),
    )


async def leave_yes_button(update: Update, context: BotContext) -> None:
    person = chat_person(update, context)
    services = context.services
    if person is None or not services.companion.linked_patients(person.id):
        await stale(update, context)
        return
    services.companion.leave(person.id, services.clock.now())
    services.rearm()
    await settle(update, context, "family_left")


async def leave_no_button(update: Update, context: BotContext) -> None:
    await settle(update, context, "family_leave_kept")


# -- /help ----------------------------------------------------------------------------------------


async def help_command(update: Update, context: BotContext) -> None:
    """Family members get a /help written for them; everyone else the general one."""
    person = chat_person(update, context)
    if person is None or person.role is not Role.FAMILY:
        await basics_help_command(update, context)
        return
    await reply(update, context, "family_help", crisis_line=context.services.settings.crisis_line)


def register(application: CompanionApp) -> None:
    # The deep link: "/start <token>". has_args=True keeps it apart from onboarding's plain
    # /start (has_args=False), so neither can take the other's update whatever the module order;
    # an invite payload must never start a patient's setup.
    application.add_handler(CommandHandler("start", invite_start, has_args=True))
    application.add_handler(CommandHandler("invite", invite_command))
    application.add_handler(CommandHandler("family", family_command))
    application.add_handler(CommandHandler("leave", leave_command))
    # Before basics.register_help (app.py registers features first): first match wins.
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CallbackQueryHandler(join_button, pattern=r"^fj:"))
    application.add_handler(CallbackQueryHandler(join_no_button, pattern=rf"^{JOIN_NO}$"))
    application.add_handler(CallbackQueryHandler(revoke_button, pattern=r"^fi_rv:"))
    application.add_handler(CallbackQueryHandler(approve_button, pattern=r"^fa:"))
    application.add_handler(CallbackQueryHandler(decline_button, pattern=r"^fd:"))
    application.add_handler(CallbackQueryHandler(remove_button, pattern=r"^fr:"))
    application.add_handler(CallbackQueryHandler(remove_yes_button, pattern=r"^fr_y:"))
    application.add_handler(CallbackQueryHandler(remove_no_button, pattern=r"^fr_n:"))
    application.add_handler(CallbackQueryHandler(leave_yes_button, pattern=rf"^{LEAVE_YES}$"))
    application.add_handler(CallbackQueryHandler(leave_no_button, pattern=rf"^{LEAVE_NO}$"))
