"""The domain calls the bot makes. Each mutating call is one transaction that also re-plans.

``Companion(db, timeline, *, invite_ttl=timedelta(hours=72), durations={}, quiet=QuietHours())``;
every ``now`` is aware UTC. ``durations`` and ``quiet`` are the operator's: a session added without
a duration of its own gets its kind's from ``durations`` (else ``DEFAULT_DURATION``), and a new
person starts with ``quiet`` hours.

People
    ``person(person_id)``, ``person_by_chat(chat_id) -> Person | None``
    ``register_patient(chat_id, display_name, zone, now) -> Person`` (idempotent; a family member
    who registers becomes a patient too, keeping their links)
    ``set_zone / set_locale / set_wording / set_display_name (person_id, value, now) -> Person``
    ``set_quiet_hours(person_id, QuietHours | None, now)``, ``pause(person_id, until, now)``,
    ``resume(person_id, now)``, ``stop(person_id, now)``, ``restart(person_id, now)``,
    ``mark_gone(person_id, now)``: all ``-> Person``
Sessions (local wall-clock in the patient's zone; ``fold`` picks the fall-back hour's repeat)
    ``add_session(patient_id, local_start, kind, now, *, fold=0, duration=None) -> Session``
    ``move_session(patient_id, session_id, local_start, now, fold=0) -> SessionChange``
    ``cancel_session(patient_id, session_id, now) -> SessionChange``
    (``SessionChange(session, family_ids, driver_id)``: whom the bot may tell; both release the
    ride: a move's driver is asked about the new time)
    ``sessions(patient_id) -> list[Session]`` (active, by start instant),
    ``session(patient_id, session_id) -> Session | None``,
    ``session_numbering(patient_id) -> dict[session_id, (n, N)]``
Family
    ``create_invite(patient_id, now) -> str`` (the token; only its sha256 is stored)
    ``pending_invites(patient_id, now) -> list[Invite]``,
    ``revoke_invite(patient_id, invite_id, now) -> bool``
    ``redeem_invite(token, chat_id, display_name, now) -> (link_id, patient)``
    ``approve_link(patient_id, link_id, now) -> FamilyLink``,
    ``decline_link / remove_family(patient_id, link_id, now) -> family person id``
    ``family(patient_id) -> list[LinkView]`` (name = family member),
    ``linked_patients(family_person_id) -> list[LinkView]`` (name = patient)
    ``leave(family_person_id, now) -> list[patient id]``
    ``claim_ride(family_person_id, session_id, now) -> ClaimResult``,
    ``release_ride(family_person_id, session_id, now) -> bool``,
    ``driver_for(session_id) -> Person | None``
    ``promised_rides(driver_id, now, *, patient_id) -> list[LostRide]`` (read before a change
    takes them away), ``release_promised(driver_id, now) -> list[LostRide]`` (``/stop`` or a
    block: the rides go, the patients are told), ``leave_patient(family_person_id, link_id, now)
    -> Left``,
    ``unlink_family(patient_id, link_id, now) -> Unlinked``,
    ``open_requests(session_id, now)`` (whom to ask again after a ride went away),
    ``open_rides_for(family_person_id, now)`` (what to show again to someone back with /start),
    ``ride_question / confirm_ride(family_person_id, session_id, stamp, now)`` (a moved
    session's driver: does the new time, ``ride_stamp(session)``, suit them?),
    ``decline_ride(family_person_id, session_id, now)`` (no); the open question is stored, and
    ``promised_rides`` counts it, so a driver going away before answering is told as a lost ride
    Caps: ``MAX_UPCOMING_SESSIONS`` (``SessionRejected("upcoming_cap")``),
    ``MAX_PENDING_INVITES`` (``NotAllowed("invite_cap")``)
    ``issue_invite``, ``preview_invite``, ``join``, ``pending_link``, ``link_of``, ``decline``:
    what ``/invite``, an opened link, Join and Approve/Decline do
Series
    ``add_series(patient_id, first_local, kind, weekdays, count, now, *, after_session_id)``
    ``-> SeriesAdded`` (added, and skipped dates with why), ``overlaps(patient_id, session_id)``,
    ``current_series(patient_id)``, ``set_series_length(patient_id, count, now)``
Buttons on delivered messages
    ``own_delivery``, ``acknowledge``, ``snooze``, ``offer_ride``: a press counts only on the
    presser's own sent message, for a family member only while linked
Privacy
    ``export(person_id) -> dict`` (JSON-ready), ``forget(person_id, now) -> None``
Between sessions (issue 10; private to the patient, never shown to family)
    ``note_win(patient_id, text, now) -> Win``, ``tap_win(patient_id, delivery_id, label, now)
    -> Win | None``, ``wins(patient_id)``, ``answer_checkin(patient_id, delivery_id, answer,
    now)``, ``answer_checklist(patient_id, delivery_id, question, answer, now)``,
    ``family_notes_on / set_family_notes``, ``notice_target(family_id, delivery_id)``,
    ``notice(family_id, patient_id, text, now) -> Noticing``, ``keep_noticed(patient_id,
    noticed_id, now) -> Win | None``, ``noticed_kept(patient_id, noticed_id) -> bool``
One update, exactly once
    ``handling(update_id, now)``: the unit every bot handler runs in (``scheduler.handling``)
Guided steps
    ``step(chat_id)``, ``set_step(chat_id, step, data, now)``, ``end_step(chat_id)``

Errors carry a ``code`` for the bot to map to a kind reply: ``SessionRejected`` (past, too_far,
nonexistent, duplicate, not_found), ``InviteInvalid`` (invalid: one answer for unknown, expired,
used, revoked and own invites, so a token reveals nothing), ``NotAllowed`` (not_found,
not_allowed), ``ZoneRejected`` (unknown_zone).
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from messages import TimelineEntry, Wording

from scheduler.handling import REPLY_RELEVANCE, AlreadyHandled, Handling
from scheduler.localtime import (
    NonexistentLocalTime,
    NotARegionZone,
    ZoneError,
    check_region_zone,
    is_ambiguous,
    session_start,
    to_utc,
    zone_info,
)
from scheduler.model import (
    DEFAULT_QUIET_HOURS,
    MAX_SERIES_LENGTH,
    DeliveryStatus,
    FamilyLink,
    Kind,
    Person,
    QuietHours,
    Role,
    Series,
    Session,
)
from scheduler.series import SeriesAdded, SkippedDate, overlapping, series_dates
from scheduler.store.db import Database, to_db
from scheduler.store.deliveries import Deliveries, Delivery
from scheduler.store.dialogs import Dialogs
from scheduler.store.family import (
    ACTIVE,
    PENDING,
    Invite,
    Invites,
    Links,
    LinkView,
    RideRequest,
    Rides,
)
from scheduler.store.inbox import Inbox, InviteFailures
from scheduler.store.notes import Notes, Noticed, Win, WinSource
from scheduler.store.people import People
from scheduler.store.sessions import Sessions
from scheduler.timeline import (
    number_sessions,
    plan_deliveries,
    session_key_part,
    starts_new_series,
)

MAX_AHEAD = timedelta(days=366)
# Bounds against one person swamping the queue (issue 9): upcoming sessions per patient, and
# invite links per patient that are neither used nor expired. Both are far above any real need.
MAX_UPCOMING_SESSIONS = 60
MAX_PENDING_INVITES = 5
RIDE_REQUEST = "family_ride"  # the timeline message with the "I can drive" button
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")

# Reasons on withdrawn deliveries. Re-planning revives a cancelled key the plan holds again
# (Deliveries.replace_plan), so a person who comes back gets what is still relevant.
STOPPED = "stopped"
GONE = "recipient_gone"  # the dispatcher's word for the same thing
FAMILY_REMOVED = "family_removed"
LEFT = "left"
SESSION_CANCELLED = "session_cancelled"


class CompanionError(Exception):
    """A refusal the bot turns into a kind reply; ``code`` says which, ``detail`` may explain."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail


class SessionRejected(CompanionError):
    """past | too_far | nonexistent (DST gap; ``detail`` explains) | duplicate | not_found |
    upcoming_cap (``MAX_UPCOMING_SESSIONS`` upcoming already)."""


class InviteInvalid(CompanionError):
    """Unknown, expired, used, revoked, or the patient's own: deliberately indistinguishable."""

    def __init__(self) -> None:
        super().__init__("invalid")


class NotAllowed(CompanionError):
    """not_found (no such thing of yours) | not_allowed | invite_cap (``MAX_PENDING_INVITES``
    unused links already)."""


class ZoneRejected(CompanionError):
    """unknown_zone: not an IANA zone name this system knows."""


class NoteRejected(CompanionError):
    """empty | too_long: a note is one line of 1 to ``MAX_NOTE`` characters."""


class ClaimResult(StrEnum):
    CLAIMED = "claimed"
    ALREADY_YOURS = "already_yours"
    TAKEN = "taken"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class SessionChange:
    """A moved or cancelled session and whom the bot may tell about it."""

    session: Session  # after a move; as it was, for a cancel
    family_ids: tuple[int, ...]  # active family members who still get messages
    # Who had claimed the ride. Both release it: a cancel ends it, and after a move the driver
    # is asked whether the new time still suits them (``confirm_ride``); until they say yes,
    # nobody is told the ride stands.
    driver_id: int | None


@dataclass(frozen=True)
class IssuedInvite:
    token: str
    invite_id: int
    days: int  # how long it works, in whole days


class JoinOutcome(StrEnum):
    ASKED = "asked"  # a pending link: the patient is asked to approve
    ALREADY_IN = "already_in"
    REPLAYED = "replayed"  # this chat already asked with this invite
    INVALID = "invalid"  # unknown, expired, used, revoked or the patient's own: one answer


@dataclass(frozen=True)
class Joined:
    outcome: JoinOutcome
    patient: Person | None
    link: LinkView | None


class NoticeOutcome(StrEnum):
    PASSED_ON = "passed_on"  # the patient gets it, with a button to keep it as a win
    KEPT_PRIVATE = "kept_private"  # the patient has not turned these on: nothing stored or sent
    NOT_LINKED = "not_linked"  # no active link to that patient (any more)


@dataclass(frozen=True)
class Noticing:
    outcome: NoticeOutcome
    patient: Person | None  # set only when passed on
    noticed: Noticed | None


@dataclass(frozen=True)
class RideOffer:
    result: ClaimResult
    patient: Person | None
    session: Session | None
    # After a claim: the ride requests the other family members were sent, to turn into
    # "covered, thank you" (best effort; the claim itself is what refuses their button).
    covered: tuple[RideRequest, ...] = ()


@dataclass(frozen=True)
class LostRide:
    """A promised ride home that has just gone away: the patient must be told at once."""

    patient: Person
    session: Session
    driver_name: str


@dataclass(frozen=True)
class Left:
    """A family member unlinked from one patient, and the rides that went with them."""

    patient: Person
    lost: tuple[LostRide, ...]


@dataclass(frozen=True)
class Unlinked:
    """A family member the patient removed, and the rides that went with them."""

    family_id: int
    lost: tuple[LostRide, ...]


class Companion:
    def __init__(
        self,
        db: Database,
        timeline: Sequence[TimelineEntry],
        *,
        invite_ttl: timedelta = timedelta(hours=72),
        on_change: Callable[[], None] | None = None,
        durations: Mapping[Kind, timedelta] | None = None,
        quiet: QuietHours | None = DEFAULT_QUIET_HOURS,
    ) -> None:
        """``on_change`` runs after every commit that changed what is due (the bot re-arms its
        dispatch timer there), so no caller has to remember to. ``durations``: the clinic's
        expected session lengths by kind; stored with each session added, so a later change of
        the setting never moves the reminders of sessions already booked. ``quiet``: the quiet
        hours a new person starts with."""
        self.db = db
        self.timeline = tuple(timeline)
        self.invite_ttl = invite_ttl
        self.durations = dict(durations or {})
        self.quiet = quiet
        self.people = People(db)
        self.session_store = Sessions(db)
        self.invites = Invites(db)
        self.links = Links(db)
        self.rides = Rides(db)
        self.deliveries = Deliveries(db, on_change=on_change)
        self.dialogs = Dialogs(db)
        self.inbox = Inbox(db)
        self.notes = Notes(db)

    # -- one update, exactly once --------------------------------------------------------------

    @contextmanager
    def handling(self, update_id: int | None, now: datetime) -> Iterator[Handling]:
        """The unit every handler runs in: domain calls inside join one transaction, and what
        the handler queued on the ``Handling`` is written as deliveries due ``now``, and the
        update marked handled, in that same transaction. ``update_id`` None: not from the inbox.
        Raises ``AlreadyHandled`` for an update handled before; any other exception rolls the
        whole unit back."""
        with self.db.transaction():
            if update_id is not None and self.inbox.is_handled(update_id):
                raise AlreadyHandled(update_id)
            unit = Handling(update_id, now)
            yield unit
            for item in unit.outbox:
                recipient = item.recipient_id
                if recipient is not None and self.people.get(recipient) is None:
                    recipient = None  # erased in this unit (/forget): the chat still gets it
                self.deliveries.queue_reply(
                    chat_id=item.message.chat_id,
                    recipient_id=recipient,
                    body=item.message.body(),
                    now=now,
                    relevance=REPLY_RELEVANCE,
                )
            if update_id is not None:
                self.inbox.mark_done(update_id, now)

    # -- guided steps ----------------------------------------------------------------------------

    def step(self, chat_id: int) -> tuple[str, dict[str, Any]] | None:
        """The guided step a chat is in, with what it collected so far, or None."""
        return self.dialogs.get(chat_id)

    def set_step(self, chat_id: int, step: str, data: dict[str, Any], now: datetime) -> None:
        self.dialogs.set(chat_id, step, data, now)

    def end_step(self, chat_id: int) -> None:
        self.dialogs.clear(chat_id)

    # -- people ------------------------------------------------------------------------------

    def person(self, person_id: int) -> Person | None:
        return self.people.get(person_id)

    def person_by_chat(self, chat_id: int) -> Person | None:
        return self.people.by_chat(chat_id)

    def register_patient(self, chat_id: int, display_name: str, zone: str, now: datetime) -> Person:
        _check_zone(zone)
        with self.db.transaction():
            existing = self.people.by_chat(chat_id)
            if existing is None:
                return self.people.create(
                    chat_id, Role.PATIENT, display_name, zone, now, quiet=self.quiet
                )
            if existing.role is not Role.PATIENT:
                self.people.set_role(existing.id, Role.PATIENT)
                self._replan_person(existing.id, now)
            return self._get(existing.id)

    def set_zone(self, person_id: int, zone: str, now: datetime) -> Person:
        """New sessions use the new zone; existing ones keep theirs, so none silently moves."""
        _check_zone(zone)
        return self._update(person_id, now, lambda: self.people.set_zone(person_id, zone))

    def set_locale(self, person_id: int, locale: str, now: datetime) -> Person:
        return self._update(person_id, now, lambda: self.people.set_locale(person_id, locale))

    def set_wording(self, person_id: int, wording: Wording, now: datetime) -> Person:
        return self._update(person_id, now, lambda: self.people.set_wording(person_id, wording))

    def set_display_name(self, person_id: int, display_name: str, now: datetime) -> Person:
        return self._update(
            person_id, now, lambda: self.people.set_display_name(person_id, display_name)
        )

    def set_quiet_hours(self, person_id: int, quiet: QuietHours | None, now: datetime) -> Person:
        return self._update(person_id, now, lambda: self.people.set_quiet(person_id, quiet))

    def pause(self, person_id: int, until: datetime, now: datetime) -> Person:
        return self._update(person_id, now, lambda: self.people.set_paused_until(person_id, until))

    def resume(self, person_id: int, now: datetime) -> Person:
        return self._update(person_id, now, lambda: self.people.set_paused_until(person_id, None))

    def stop(self, person_id: int, now: datetime) -> Person:
        """Nothing more is sent to the person; their data stays until ``forget``."""
        with self.db.transaction():
            self._get(person_id)
            self.people.set_stopped(person_id, True)
            self.deliveries.cancel_pending(reason=STOPPED, recipient_id=person_id)
            self._replan_person(person_id, now)
            return self._get(person_id)

    def restart(self, person_id: int, now: datetime) -> Person:
        """Undo ``stop`` and ``mark_gone``: plan again what is still relevant."""
        with self.db.transaction():
            self._get(person_id)
            self.people.set_stopped(person_id, False)
            self.people.set_gone(person_id, False)
            self._replan_person(person_id, now)
            return self._get(person_id)

    def mark_gone(self, person_id: int, now: datetime) -> Person:
        """The person blocked the bot or deleted the chat: withdraw what waits for them."""
        with self.db.transaction():
            self._get(person_id)
            self.people.set_gone(person_id, True)
            self.deliveries.cancel_pending(reason=GONE, recipient_id=person_id)
            self._replan_person(person_id, now)
            return self._get(person_id)

    # -- sessions ----------------------------------------------------------------------------

    def add_session(
        self,
        patient_id: int,
        local_start: datetime,
        kind: Kind,
        now: datetime,
        *,
        fold: int = 0,
        duration: timedelta | None = None,
    ) -> Session:
        with self.db.transaction():
            patient = self._patient(patient_id)
            # Read once for the three checks below (nothing changes the sessions in between).
            active = self.session_store.active(patient_id)
            fold = self._check_start(
                patient_id, local_start, patient.zone, fold, now, moving=None, active=active
            )
            if self._upcoming(patient_id, now, active) >= MAX_UPCOMING_SESSIONS:
                raise SessionRejected("upcoming_cap", f"at most {MAX_UPCOMING_SESSIONS} upcoming")
            # The patient's current series, or a new one after a gap (``NEW_SERIES_GAP``).
            series = self._series_for(
                patient_id, to_utc(local_start, patient.zone, fold), now, active
            )
            session = self.session_store.add(
                patient_id,
                local_start,
                patient.zone,
                kind,
                now,
                fold=fold,
                duration=duration if duration is not None else self.durations.get(kind),
                series_id=series.id,
            )
            self._replan(patient_id, now)  # also extends the series if this one goes past it
            return session

    def add_series(
        self,
        patient_id: int,
        first_local: datetime,
        kind: Kind,
        weekdays: tuple[int, ...],
        count: int,
        now: datetime,
        *,
        after_session_id: int | None = None,
        duration: timedelta | None = None,
    ) -> SeriesAdded:
        """Every date of a repeat pattern, in one transaction with one re-plan.

        The series is ``count`` sessions in all, ``first_local`` included, then the same
        wall-clock time on the following days whose weekday (0 = Monday) is in ``weekdays``
        (``scheduler.series.series_dates``), in the patient's current zone. A date that cannot
        be a session is skipped, not refused: ``SeriesAdded.skipped`` says which and why
        (``past``, ``too_far``, ``nonexistent``, ``duplicate``); the rest are added, and a
        fall-back hour's time takes its first occurrence.

        ``after_session_id``: the patient's session already booked at ``first_local`` (the one
        the series repeats); its date is neither added nor counted as skipped. ``NotAllowed`` if
        the patient is none, ``SessionRejected("not_found")`` if that session is not theirs;
        ``ValueError`` for a count outside 1..24, bad weekdays, or a session at another time.
        Dates past ``MAX_UPCOMING_SESSIONS`` upcoming sessions are skipped (``upcoming_cap``).
        """
        if first_local.tzinfo is not None:
            raise ValueError("first_local is the wall-clock time the patient typed: naive")
        dates = series_dates(first_local, weekdays, count)
        duration = duration if duration is not None else self.durations.get(kind)
        with self.db.transaction():
            patient = self._patient(patient_id)
            booked = None
            if after_session_id is not None:
                booked = self._own_session(patient_id, after_session_id)
                if booked.local_start.replace(fold=0) != dates[0]:
                    raise ValueError("after_session_id is not the session at first_local")
                dates = dates[1:]
            added: list[Session] = []
            skipped: list[SkippedDate] = []
            room = MAX_UPCOMING_SESSIONS - self._upcoming(patient_id, now)
            for local in dates:
                try:
                    fold = self._check_start(patient_id, local, patient.zone, 0, now, moving=None)
                except SessionRejected as exc:
                    skipped.append(SkippedDate(local, patient.zone, exc.code, exc.detail))
                    continue
                if len(added) >= room:
                    skipped.append(SkippedDate(local, patient.zone, "upcoming_cap", ""))
                    continue
                added.append(
                    self.session_store.add(
                        patient_id, local, patient.zone, kind, now, fold=fold, duration=duration
                    )
                )
            if added:
                if booked is not None and booked.series_id is not None:
                    # "x6" is six sessions in all: the length of the series it repeats (the
                    # re-plan grows it if more are in it already).
                    self.session_store.series.set_planned(booked.series_id, count)
                self._replan(patient_id, now)
            return SeriesAdded(added=tuple(added), skipped=tuple(skipped), booked=booked)

    def repeat(
        self, patient_id: int, session_id: int, weekdays: tuple[int, ...], count: int, now: datetime
    ) -> SeriesAdded:
        """Repeat one of the patient's sessions ("Mon,Thu x6": six in all, this one the first)
        at its wall-clock time and of its kind: ``add_series`` from that session."""
        session = self._own_session(patient_id, session_id)
        return self.add_series(
            patient_id,
            session.local_start.replace(fold=0),
            session.kind,
            weekdays,
            count,
            now,
            after_session_id=session.id,
        )

    def overlaps(self, patient_id: int, session_id: int) -> list[Session]:
        """The patient's other active sessions whose time overlaps this one's, earliest first.

        A session takes ``[start, start + expected_duration)``; exact duplicates (same start)
        are left out, since they are refused when entered. ``SessionRejected("not_found")`` if
        the session is not the patient's.
        """
        session = self._own_session(patient_id, session_id)
        return overlapping(session, self.session_store.active(patient_id))

    def move_session(
        self,
        patient_id: int,
        session_id: int,
        local_start: datetime,
        now: datetime,
        fold: int = 0,
    ) -> SessionChange:
        """Re-time a session in the patient's current zone; its old reminders are withdrawn.

        A claimed ride does not carry over unasked: it is released, and ``SessionChange``
        names the driver so the bot can ask them about the new time (``confirm_ride``)."""
        with self.db.transaction():
            patient = self._patient(patient_id)
            self._own_session(patient_id, session_id)
            fold = self._check_start(
                patient_id, local_start, patient.zone, fold, now, moving=session_id
            )
            self.session_store.move(session_id, local_start, patient.zone, fold=fold)
            change = self._change(patient_id, self._own_session(patient_id, session_id))
            if change.driver_id is None:
                # Moved again before the driver answered: they are asked about this time.
                change = replace(change, driver_id=self.rides.asked(session_id))
            self.rides.release(session_id)
            self._ask_driver(session_id, change.driver_id, now)
            self._replan(patient_id, now)
            return change

    def cancel_session(self, patient_id: int, session_id: int, now: datetime) -> SessionChange:
        with self.db.transaction():
            self._patient(patient_id)
            session = self._own_session(patient_id, session_id)
            change = self._change(patient_id, session)
            self.session_store.cancel(session_id)
            self.deliveries.cancel_pending(reason=SESSION_CANCELLED, session_id=session_id)
            self.rides.release(session_id)
            self.rides.settle_question(session_id)
            self._replan(patient_id, now)
            return change

    def sessions(self, patient_id: int) -> list[Session]:
        return self.session_store.active(patient_id)

    def session(self, patient_id: int, session_id: int) -> Session | None:
        session = self.session_store.get(session_id)
        return session if session is not None and session.patient_id == patient_id else None

    def session_numbering(self, patient_id: int) -> dict[int, tuple[int, int]]:
        """(n, N) of "session n of N" for each active session: n within its series, N as many
        as planned for it or as many as entered if more (the planner's own numbering)."""
        numbered = number_sessions(
            self.session_store.active(patient_id), self.session_store.series.of_patient(patient_id)
        )
        return {slot.session.id: (slot.number, slot.series_length) for slot in numbered}

    # -- family ------------------------------------------------------------------------------

    def create_invite(self, patient_id: int, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        with self.db.transaction():
            self._patient(patient_id)
            if len(self.invites.pending(patient_id, now)) >= MAX_PENDING_INVITES:
                raise NotAllowed("invite_cap", f"at most {MAX_PENDING_INVITES} unused links")
            self.invites.create(patient_id, token, now, now + self.invite_ttl)
        return token

    def pending_invites(self, patient_id: int, now: datetime) -> list[Invite]:
        return self.invites.pending(patient_id, now)

    def revoke_invite(self, patient_id: int, invite_id: int, now: datetime) -> bool:
        with self.db.transaction():
            return self.invites.revoke(patient_id, invite_id, now)

    def redeem_invite(
        self, token: str, chat_id: int, display_name: str, now: datetime
    ) -> tuple[int, Person]:
        """A pending link for the patient to approve; the family member gets nothing until then.

        Every failure is the same ``InviteInvalid``; after ``INVITE_FAILURE_LIMIT`` failures in
        an hour a chat gets it without the token even being looked up.
        """
        failures = InviteFailures(self.db)
        redeemed: tuple[int, Person] | None = None
        with self.db.transaction():
            if not failures.allowed(chat_id, now):
                raise InviteInvalid()
            invite = self.invites.by_token(token) if _TOKEN.fullmatch(token) else None
            patient = self.people.get(invite.patient_id) if invite is not None else None
            if invite is None or not invite.usable(now) or patient is None:
                failures.record(chat_id, now)
            elif patient.chat_id == chat_id:
                pass  # their own link: refused, but not a guess
            else:
                member = self.people.by_chat(chat_id)
                if member is None:
                    member = self.people.create(
                        chat_id, Role.FAMILY, display_name, patient.zone, now, quiet=self.quiet
                    )
                    self.people.set_locale(member.id, patient.locale)
                else:
                    self.people.set_gone(member.id, False)  # they are talking to us right now
                link_id = self.links.create_pending(patient.id, member.id, now)
                self.invites.mark_used(invite.id, now)
                redeemed = link_id, patient
        # Raised after the commit, so the recorded failure is kept.
        if redeemed is None:
            raise InviteInvalid()
        return redeemed

    def approve_link(self, patient_id: int, link_id: int, now: datetime) -> FamilyLink:
        """Active from ``now``: the family welcome is planned at once."""
        with self.db.transaction():
            self._own_link(patient_id, link_id)
            self.links.approve(link_id, now)
            self._replan(patient_id, now)
            approved = self._own_link(patient_id, link_id)
            assert approved.joined_at is not None
            return FamilyLink(person=self._get(approved.family_id), joined_at=approved.joined_at)

    def decline_link(self, patient_id: int, link_id: int, now: datetime) -> int:
        return self.remove_family(patient_id, link_id, now)

    def remove_family(self, patient_id: int, link_id: int, now: datetime) -> int:
        """Unlink; their queued messages about this patient and their rides go in the same step."""
        with self.db.transaction():
            link = self._own_link(patient_id, link_id)
            self._unlink(link, FAMILY_REMOVED)
            self._replan(patient_id, now)
            return link.family_id

    def family(self, patient_id: int) -> list[LinkView]:
        return self.links.for_patient(patient_id)

    def linked_patients(self, family_person_id: int) -> list[LinkView]:
        return self.links.of_family(family_person_id)

    def leave(self, family_person_id: int, now: datetime) -> list[int]:
        with self.db.transaction():
            links = self.links.of_family(family_person_id)
            for link in links:
                self._unlink(link, LEFT)
                self._replan(link.patient_id, now)
            return [link.patient_id for link in links]

    def claim_ride(self, family_person_id: int, session_id: int, now: datetime) -> ClaimResult:
        with self.db.transaction():
            session = self.session_store.get(session_id)
            if (
                session is None
                or session_start(session) <= now
                or not self.links.active_link(session.patient_id, family_person_id)
            ):
                return ClaimResult.NOT_ALLOWED
            if self.rides.claim(session_id, family_person_id, now):
                self.rides.settle_question(session_id)  # someone drives: nothing left to ask
                # The others' pending requests go, the driver's pick-up note comes.
                self._replan(session.patient_id, now)
                return ClaimResult.CLAIMED
            ride = self.rides.get(session_id)
            if ride is not None and ride.driver_id == family_person_id:
                return ClaimResult.ALREADY_YOURS
            return ClaimResult.TAKEN

    def release_ride(self, family_person_id: int, session_id: int, now: datetime) -> bool:
        with self.db.transaction():
            released = self.rides.release(session_id, driver_id=family_person_id)
            session = self.session_store.get(session_id)
            if released and session is not None:
                self._replan(session.patient_id, now)
            return released

    def driver_for(self, session_id: int) -> Person | None:
        ride = self.rides.get(session_id)
        return self.people.get(ride.driver_id) if ride else None

    # -- rides that must not go away silently (issue 10) --------------------------------------

    def promised_rides(
        self, driver_id: int, now: datetime, *, patient_id: int | None = None
    ) -> list[LostRide]:
        """The rides this person promised for sessions still to come (of one patient if
        given): what ``/leave``, ``/forget`` or a removal would take away, read before it does
        so the patients can be told in the same step."""
        driver = self.people.get(driver_id)
        if driver is None:
            return []
        promised = []
        # A question about a moved session's new time, still open, stands for the ride: the
        # patient was told the answer would come, and it must, if the driver goes away.
        asked = [
            q for q in self.rides.questions_of(driver_id) if self.rides.get(q.session_id) is None
        ]
        for ride in [*self.rides.of_driver(driver_id), *asked]:
            session = self.session_store.get(ride.session_id)
            if session is None or session_start(session) <= now:
                continue
            if patient_id is not None and session.patient_id != patient_id:
                continue
            if not any(s.id == session.id for s in self.session_store.active(session.patient_id)):
                continue
            patient = self.people.get(session.patient_id)
            if patient is not None:
                promised.append(LostRide(patient, session, driver.display_name))
        return promised

    def release_promised(self, driver_id: int, now: datetime) -> list[LostRide]:
        """A driver who sends ``/stop`` or blocks the bot gets no pick-up note, so the rides they
        promised are given back now rather than left standing as a promise nobody keeps; the
        patients are re-planned (no "X will drive you") and the lost rides returned to be told."""
        with self.db.transaction():
            lost = self.promised_rides(driver_id, now)
            for ride in lost:
                self.rides.settle_question(ride.session.id, driver_id=driver_id)
                if self.rides.release(ride.session.id, driver_id=driver_id):
                    self._replan(ride.patient.id, now)
            return lost

    def open_requests(self, session_id: int, now: datetime) -> list[tuple[Person, RideRequest]]:
        """After a promised ride went away: the family members whose request for this session
        (at its current time) was sent and then shown as covered, still linked, so they can be
        asked again. Empty while someone drives, or for a session past, cancelled or gone."""
        session = self.session_store.get(session_id)
        if session is None or session_start(session) <= now or self.rides.get(session_id):
            return []
        if not any(s.id == session_id for s in self.session_store.active(session.patient_id)):
            return []
        prefix = session_key_part(session) + ":"
        found = []
        for request in self.rides.requests(session_id, RIDE_REQUEST):
            person = self.people.get(request.recipient_id)
            if (
                person is not None
                and request.key.startswith(prefix)
                and self.links.active_link(session.patient_id, person.id)
            ):
                found.append((person, request))
        return found

    def open_rides_for(
        self, family_person_id: int, now: datetime
    ) -> list[tuple[Person, Session, RideRequest]]:
        """The rides still open whose request this family member was sent, for sessions to
        come of the people they help: after a ``restart`` they are shown again, since their own
        button went when they claimed, before their ``/stop`` gave the ride back."""
        found = []
        for link in self.links.of_family(family_person_id):
            patient = self.people.get(link.patient_id)
            if link.status != ACTIVE or patient is None:
                continue
            for session in self.session_store.active(link.patient_id):
                for member, request in self.open_requests(session.id, now):
                    if member.id == family_person_id:
                        found.append((patient, session, request))
        return found

    def leave_patient(self, family_person_id: int, link_id: int, now: datetime) -> Left:
        """``/leave`` for one of the patients a family member helps (the link is theirs, else
        ``NotAllowed``); their rides for that patient go in the same step, and are returned so
        the patient hears of them at once."""
        with self.db.transaction():
            link = self.links.get(link_id)
            if link is None or link.family_id != family_person_id:
                raise NotAllowed("not_found")
            lost = self.promised_rides(family_person_id, now, patient_id=link.patient_id)
            self._unlink(link, LEFT)
            self._replan(link.patient_id, now)
            return Left(self._get(link.patient_id), tuple(lost))

    def unlink_family(self, patient_id: int, link_id: int, now: datetime) -> Unlinked:
        """``remove_family``, returning the rides the removed member had promised."""
        with self.db.transaction():
            link = self._own_link(patient_id, link_id)
            lost = self.promised_rides(link.family_id, now, patient_id=patient_id)
            family_id = self.remove_family(patient_id, link_id, now)
            return Unlinked(family_id, tuple(lost))

    def ride_question(
        self, family_person_id: int, session_id: int, stamp: str, now: datetime
    ) -> tuple[Person, Session] | None:
        """The patient and session a "does the new time suit you?" button is about, if the
        presser is still linked and the session is still upcoming at the time the question
        named (``ride_stamp``); None for a stale or foreign button."""
        session = self.session_store.get(session_id)
        if session is None or session_start(session) <= now or ride_stamp(session) != stamp:
            return None
        if not any(s.id == session_id for s in self.session_store.active(session.patient_id)):
            return None
        if not self.links.active_link(session.patient_id, family_person_id):
            return None
        patient = self.people.get(session.patient_id)
        return None if patient is None else (patient, session)

    def confirm_ride(
        self, family_person_id: int, session_id: int, stamp: str, now: datetime
    ) -> RideOffer:
        """Yes, the moved session's new time suits the driver: a claim like "I can drive",
        valid only for the time the question named."""
        with self.db.transaction():
            found = self.ride_question(family_person_id, session_id, stamp, now)
            if found is None:
                return RideOffer(ClaimResult.NOT_ALLOWED, None, None)
            patient, session = found
            self.rides.settle_question(session_id, driver_id=family_person_id)
            result = self.claim_ride(family_person_id, session_id, now)
            covered: tuple[RideRequest, ...] = ()
            if result is ClaimResult.CLAIMED:
                covered = tuple(
                    request
                    for request in self.rides.requests(session_id, RIDE_REQUEST)
                    if request.recipient_id != family_person_id
                )
            return RideOffer(result, patient, session, covered)

    def decline_ride(self, family_person_id: int, session_id: int, now: datetime) -> bool:
        """No, the moved session's new time does not suit the driver: the question is answered,
        and a ride they said yes to meanwhile (an older keyboard) is given back. True if so."""
        with self.db.transaction():
            self.rides.settle_question(session_id, driver_id=family_person_id)
            return self.release_ride(family_person_id, session_id, now)

    def _ask_driver(self, session_id: int, driver_id: int | None, now: datetime) -> None:
        """Store the open question to a moved session's driver, who can be asked only while
        they get messages (the bot tells the patient at once otherwise)."""
        state = self.people.state(driver_id) if driver_id is not None else None
        if driver_id is None or state is None or state.person.stopped or state.gone:
            self.rides.settle_question(session_id)
        else:
            self.rides.ask(session_id, driver_id, now)

    # -- what people do with invites and buttons -------------------------------------------------

    def issue_invite(self, patient_id: int, now: datetime) -> IssuedInvite:
        """``/invite``: a new single-use link's token, its id (for its cancel button), its life."""
        token = self.create_invite(patient_id, now)
        invite = self.invites.by_token(token)
        assert invite is not None
        days = max(1, math.ceil(self.invite_ttl / timedelta(days=1)))
        return IssuedInvite(token=token, invite_id=invite.id, days=days)

    def preview_invite(self, token: str, chat_id: int, now: datetime) -> Person | None:
        """Who made this invite, if this chat may use it; None for every kind of invalid.

        Opening a link shows the patient's name, so it counts against the same per-chat failure
        limit as redeeming does: guessing tokens through ``/start`` is as slow as through Join,
        and a throttled chat gets the same answer as a wrong token.
        """
        failures = InviteFailures(self.db)
        with self.db.transaction():
            if not failures.allowed(chat_id, now):
                return None
            invite = self.invites.by_token(token) if _TOKEN.fullmatch(token) else None
            patient = self.people.get(invite.patient_id) if invite is not None else None
            if invite is None or not invite.usable(now) or patient is None:
                failures.record(chat_id, now)
                return None
            if patient.role is not Role.PATIENT or patient.chat_id == chat_id:
                return None  # their own link: refused, but not a guess
            return patient

    def join(self, token: str, chat_id: int, display_name: str, now: datetime) -> Joined:
        """Join pressed: a pending link for the patient to approve (``JoinOutcome.ASKED``), or
        why not. A member who had stopped is asking for messages again: restarted."""
        try:
            with self.db.transaction():
                link_id, patient = self.redeem_invite(token, chat_id, display_name, now)
                link = self.links.get(link_id)
                member = self.people.by_chat(chat_id)
                assert link is not None and member is not None
                if link.status == ACTIVE:
                    return Joined(JoinOutcome.ALREADY_IN, patient, link)
                if member.stopped:
                    self.restart(member.id, now)
                return Joined(JoinOutcome.ASKED, patient, link)
        except InviteInvalid:
            replayed = self._already_asked(token, chat_id)
            return Joined(JoinOutcome.REPLAYED if replayed else JoinOutcome.INVALID, None, None)

    def pending_link(self, patient_id: int, link_id: int) -> LinkView | None:
        """The patient's link waiting for approval, or None (not theirs, or decided already)."""
        link = self.links.get(link_id)
        if link is None or link.patient_id != patient_id or link.status != PENDING:
            return None
        return link

    def link_of(self, patient_id: int, link_id: int) -> LinkView | None:
        """The patient's own link (pending or active), or None."""
        link = self.links.get(link_id)
        return link if link is not None and link.patient_id == patient_id else None

    def decline(self, patient_id: int, link_id: int, now: datetime) -> Person | None:
        """The patient says no: the link goes, and someone who is now linked to nobody and was
        never a patient keeps no row here. Returns the person as they were, to tell them."""
        with self.db.transaction():
            member_id = self.decline_link(patient_id, link_id, now)
            member = self.people.get(member_id)
            if (
                member is not None
                and member.role is Role.FAMILY
                and not self.linked_patients(member.id)
            ):
                self.forget(member.id, now)
            return member

    def is_gone(self, person_id: int) -> bool:
        """The person blocked the bot or deleted the chat (until they come back)."""
        state = self.people.state(person_id)
        return state is not None and state.gone

    def own_delivery(self, person_id: int, delivery_id: int) -> Delivery | None:
        """A message this person was sent and may still act on: for a family member only while
        their link to the patient is active. Anything else (someone else's, a forged id, a
        removed member's old buttons) is None."""
        delivery = self.deliveries.get(delivery_id)
        if (
            delivery is None
            or delivery.recipient_id != person_id
            or delivery.status is not DeliveryStatus.SENT
            or delivery.patient_id is None
        ):
            return None
        if delivery.recipient_id != delivery.patient_id and not self.links.active_link(
            delivery.patient_id, person_id
        ):
            return None
        return delivery

    def acknowledge(self, person_id: int, delivery_id: int, now: datetime) -> bool:
        """Got it: recorded once; False when the press is not valid for this person."""
        if self.own_delivery(person_id, delivery_id) is None:
            return False
        return self.deliveries.acknowledge(person_id, delivery_id, now)

    def snooze(
        self, person_id: int, delivery_id: int, delay: timedelta, now: datetime
    ) -> datetime | None:
        """Send the message again after ``delay``; None when it would pass its relevance."""
        if self.own_delivery(person_id, delivery_id) is None:
            return None
        return self.deliveries.snooze(person_id, delivery_id, delay, now)

    def offer_ride(self, person_id: int, delivery_id: int, now: datetime) -> RideOffer:
        """I can drive, pressed on a family message: who was told what is the handler's, but
        whether it counts and for which session is decided here."""
        delivery = self.own_delivery(person_id, delivery_id)
        if delivery is None or delivery.session_id is None or delivery.patient_id is None:
            return RideOffer(ClaimResult.NOT_ALLOWED, None, None)
        result = self.claim_ride(person_id, delivery.session_id, now)
        patient = self.people.get(delivery.patient_id)
        session = self.session(delivery.patient_id, delivery.session_id)
        covered: tuple[RideRequest, ...] = ()
        if result is ClaimResult.CLAIMED:
            covered = tuple(
                request
                for request in self.rides.requests(delivery.session_id, RIDE_REQUEST)
                if request.recipient_id != person_id
            )
        return RideOffer(result, patient, session, covered)

    def _already_asked(self, token: str, chat_id: int) -> bool:
        """Join pressed again for an invite this chat already redeemed (a replay): the invite is
        used, and this chat's pending link to its patient was made in that same step."""
        invite = self.invites.by_token(token) if _TOKEN.fullmatch(token) else None
        member = self.people.by_chat(chat_id)
        if invite is None or member is None or invite.used_at is None or invite.revoked_at:
            return False
        return any(
            link.patient_id == invite.patient_id
            and link.status == PENDING
            and link.created_at == invite.used_at
            for link in self.links.of_family(member.id)
        )

    # -- privacy -----------------------------------------------------------------------------

    def export(self, person_id: int) -> dict[str, Any]:
        """Everything stored about the person, JSON-ready; other people appear by name only."""
        state = self.people.state(person_id)
        if state is None:
            raise NotAllowed("not_found")
        person = state.person
        sessions = []
        for session, status in self.session_store.all(person_id):
            driver = self.driver_for(session.id)
            sessions.append(
                {
                    "id": session.id,
                    "local_start": session.local_start.strftime("%Y-%m-%dT%H:%M"),
                    "fold": session.local_start.fold,
                    "zone": session.zone,
                    "kind": session.kind.value,
                    "duration_min": _minutes(session.duration),
                    "status": status,
                    "driver": driver.display_name if driver else None,
                }
            )
        dialog = self.dialogs.get(person.chat_id)
        return {
            "person": {
                "id": person.id,
                "chat_id": person.chat_id,
                "role": person.role.value,
                "display_name": person.display_name,
                "zone": person.zone,
                "locale": person.locale,
                "wording": person.wording.value,
                "quiet_hours": (
                    {"start": f"{person.quiet.start:%H:%M}", "end": f"{person.quiet.end:%H:%M}"}
                    if person.quiet
                    else None
                ),
                "paused_until": _iso(person.paused_until),
                "stopped": person.stopped,
                "gone": state.gone,
                "created_at": _iso(state.created_at),
            },
            "sessions": sessions,
            "family": [_link_json(link) for link in self.links.for_patient(person_id)],
            "linked_patients": [_link_json(link) for link in self.links.of_family(person_id)],
            "invites": [
                {
                    "id": invite.id,
                    "created_at": _iso(invite.created_at),
                    "expires_at": _iso(invite.expires_at),
                    "used_at": _iso(invite.used_at),
                    "revoked_at": _iso(invite.revoked_at),
                }
                for invite in self.invites.all(person_id)
            ],
            "rides": [
                {"session_id": ride.session_id, "claimed_at": _iso(ride.claimed_at)}
                for ride in self.rides.of_driver(person_id)
            ],
            "ride_questions": [
                {"session_id": asked.session_id, "asked_at": _iso(asked.claimed_at)}
                for asked in self.rides.questions_of(person_id)
            ],
            "deliveries": [
                {
                    "id": item.id,
                    "message_id": item.message_id,
                    "session_id": item.session_id,
                    "due_at": _iso(item.due_at),
                    "deadline": _iso(item.deadline),
                    "status": item.status.value,
                    "reason": item.reason,
                    "sent_at": _iso(item.sent_at),
                    "acknowledged_at": _iso(item.acknowledged_at),
                }
                for item in self.deliveries.for_person(person_id)
            ],
            "dialog": {"step": dialog[0], "data": dialog[1]} if dialog else None,
            **self._notes_export(person_id),
        }

    def forget(self, person_id: int, now: datetime) -> None:
        """Erase every row about the person; the patients they helped are re-planned.

        With ``secure_delete`` on (``Database``) the erased rows are zeroed in the file, and the
        WAL is checkpointed and truncated after the commit, so no copy of them stays behind.
        """
        with self.db.transaction():
            person = self.people.get(person_id)
            if person is None:
                return
            helped = [link.patient_id for link in self.links.of_family(person_id)]
            self.dialogs.clear(person.chat_id)
            InviteFailures(self.db).forget(person.chat_id)
            self.inbox.forget_chat(person.chat_id)
            self.deliveries.forget_chat(person.chat_id)
            self.notes.forget_author(person_id)  # their own notes cascade with them
            self.people.delete(person_id)
            for patient_id in helped:
                self._replan(patient_id, now)
            self.db.scrub()  # runs right after this transaction commits

    # -- between sessions: wins, check-in, checklist, "I noticed" ------------------------------

    def note_win(
        self,
        patient_id: int,
        text: str,
        now: datetime,
        *,
        source: WinSource = WinSource.OWN,
        from_id: int | None = None,
        from_name: str | None = None,
    ) -> Win:
        """A win in the patient's own words (or a family member's, kept), on their local day.
        ``NoteRejected`` for an empty or over-long line; a line break reads as a space."""
        line = clean_note(text)
        with self.db.transaction():
            patient = self._patient(patient_id)
            return self.notes.add_win(
                patient_id,
                _local_day(now, patient.zone),
                line,
                source,
                now,
                from_id=from_id,
                from_name=from_name,
            )

    def tap_win(
        self, patient_id: int, delivery_id: int, label: str, now: datetime
    ) -> tuple[Win, bool] | None:
        """One of the common small wins, tapped on the patient's own message: noted once a day
        (a second tap of the same one is not a second win), with whether it is new. None when
        the press is not valid. It is noted for the patient's local day the message came (a
        week-old button is about that day, not today); ``Win.day`` says which."""
        with self.db.transaction():
            delivery = self.own_delivery(patient_id, delivery_id)
            if delivery is None:
                return None
            patient = self._patient(patient_id)
            day = _local_day(delivery.sent_at or now, patient.zone)
            if self.notes.has_win(patient_id, day, label):
                same = [w for w in self.notes.wins(patient_id) if (w.day, w.text) == (day, label)]
                return same[-1], False
            return self.notes.add_win(patient_id, day, label, WinSource.BUTTON, now), True

    def wins(self, patient_id: int) -> list[Win]:
        """The patient's wins, oldest first."""
        return self.notes.wins(patient_id)

    def answer_checkin(self, patient_id: int, delivery_id: int, answer: str, now: datetime) -> bool:
        """Tonight's check-in answered on the patient's own message; False when not valid."""
        return self._answer(patient_id, delivery_id, "checkin", "evening", answer, now)

    def answer_checklist(
        self, patient_id: int, delivery_id: int, question: str, answer: str, now: datetime
    ) -> bool:
        """One checklist question answered on the patient's own message; False when not valid.
        ``SessionRejected("outdated")``, storing nothing, when the session it asked about has
        since moved or been cancelled: the answers were for a time that no longer holds."""
        return self._answer(patient_id, delivery_id, "checklist", question, answer, now)

    def checklist_answers(self, patient_id: int, delivery_id: int) -> dict[str, str]:
        """The answers given on one checklist message so far, by question."""
        return {
            item.question: item.answer
            for item in self.notes.answers(patient_id, delivery_id=delivery_id)
        }

    def family_notes_on(self, patient_id: int) -> bool:
        """Whether the patient receives "I noticed" lines from family (off until they say)."""
        return self.notes.family_notes_on(patient_id)

    def set_family_notes(self, patient_id: int, on: bool, now: datetime) -> None:
        with self.db.transaction():
            self._patient(patient_id)
            self.notes.set_family_notes(patient_id, on)

    def notice_target(self, family_id: int, delivery_id: int) -> Person | None:
        """The patient an "I noticed" button (on the family member's own message) is about."""
        delivery = self.own_delivery(family_id, delivery_id)
        if delivery is None or delivery.patient_id is None or delivery.patient_id == family_id:
            return None
        return self.people.get(delivery.patient_id)

    def notice(self, family_id: int, patient_id: int, text: str, now: datetime) -> Noticing:
        """A family member's one line about something that looked easier. It is stored and
        passed on only if the patient turned these on; otherwise nothing of it is kept.
        ``NoteRejected`` for an empty or over-long line."""
        line = clean_note(text)
        with self.db.transaction():
            linked = self.links.active_link(patient_id, family_id)
            patient = self.people.get(patient_id)
            if not linked or patient is None:
                return Noticing(NoticeOutcome.NOT_LINKED, None, None)
            if not self.notes.family_notes_on(patient_id) or patient.stopped:
                return Noticing(NoticeOutcome.KEPT_PRIVATE, None, None)
            member = self._get(family_id)
            noticed = self.notes.add_noticed(patient_id, family_id, member.display_name, line, now)
            return Noticing(NoticeOutcome.PASSED_ON, patient, noticed)

    def keep_noticed(self, patient_id: int, noticed_id: int, now: datetime) -> Win | None:
        """Keep a family member's line as a win, once; None for someone else's or a repeat."""
        with self.db.transaction():
            noticed = self.notes.noticed(noticed_id)
            if noticed is None or noticed.patient_id != patient_id:
                return None
            if not self.notes.mark_kept(noticed_id, now):
                return None
            return self.note_win(
                patient_id,
                noticed.text,
                now,
                source=WinSource.FAMILY,
                from_id=noticed.from_id,
                from_name=noticed.from_name,
            )

    def noticed_kept(self, patient_id: int, noticed_id: int) -> bool:
        """Whether this family line of the patient's was already kept (a second Keep tap)."""
        noticed = self.notes.noticed(noticed_id)
        return noticed is not None and noticed.patient_id == patient_id and bool(noticed.kept_at)

    def _answer(
        self,
        patient_id: int,
        delivery_id: int,
        topic: str,
        question: str,
        answer: str,
        now: datetime,
    ) -> bool:
        with self.db.transaction():
            delivery = self.own_delivery(patient_id, delivery_id)
            if delivery is None or delivery.patient_id != patient_id:
                return False
            if topic == "checklist" and delivery.session_id is not None:
                session = self.session(patient_id, delivery.session_id)
                active = {s.id for s in self.session_store.active(patient_id)}
                if (
                    session is None
                    or session.id not in active
                    or not delivery.key.startswith(session_key_part(session) + ":")
                ):
                    raise SessionRejected("outdated")
            self.notes.answer(
                patient_id, delivery_id, delivery.session_id, topic, question, answer, now
            )
            return True

    def _notes_export(self, person_id: int) -> dict[str, Any]:
        """The between-sessions record: the patient's own, and the lines a family member sent
        (without whether they were kept: nothing flows from the patient to the family)."""
        return {
            "family_notes_on": self.notes.family_notes_on(person_id),
            "wins": [
                {
                    "day": win.day.isoformat(),
                    "text": win.text,
                    "source": win.source.value,
                    "from": win.from_name,
                    "created_at": _iso(win.created_at),
                }
                for win in self.notes.wins(person_id)
            ],
            "answers": [
                {
                    "topic": item.topic,
                    "question": item.question,
                    "answer": item.answer,
                    "session_id": item.session_id,
                    "answered_at": _iso(item.answered_at),
                }
                for item in self.notes.answers(person_id)
            ],
            "noticed_received": [
                {
                    "from": item.from_name,
                    "text": item.text,
                    "created_at": _iso(item.created_at),
                    "kept_at": _iso(item.kept_at),
                }
                for item in self.notes.noticed_for(person_id)
            ],
            "noticed_sent": [
                {"text": item.text, "created_at": _iso(item.created_at)}
                for item in self.notes.noticed_by(person_id)
            ],
        }

    # -- series ------------------------------------------------------------------------------

    def current_series(self, patient_id: int) -> Series | None:
        """The patient's latest series (None before any): the one a session added now joins,
        unless it starts more than ``NEW_SERIES_GAP`` after that series' last active session."""
        return self.session_store.series.current(patient_id)

    def set_series_length(self, patient_id: int, count: int, now: datetime) -> Series:
        """How many sessions the patient's series has ("session 2 of 6"; the end-of-series
        message waits until that many are entered); re-plans.

        It applies to the current series, or to a new one when there is none yet or when any
        session added from now on would open a new series anyway (the current one's last session
        is more than ``NEW_SERIES_GAP`` ago): a booster series gets its own length. Refused with
        ``SessionRejected`` code ``series_length`` outside 1..``MAX_SERIES_LENGTH``, and code
        ``fewer_than_entered`` below the count of sessions the series already has (cancel some
        first).
        """
        if not 1 <= count <= MAX_SERIES_LENGTH:
            raise SessionRejected("series_length", f"a series has 1 to {MAX_SERIES_LENGTH}")
        with self.db.transaction():
            self._patient(patient_id)
            store = self.session_store.series
            current = store.current(patient_id)
            starts = self._series_starts(patient_id, current)
            if current is None or starts_new_series(max(starts, default=None), now):
                current = store.create(patient_id, now, planned=count)
            elif count < len(starts):
                raise SessionRejected(
                    "fewer_than_entered", f"the series already has {len(starts)} sessions"
                )
            else:
                store.set_planned(current.id, count)
            self._replan(patient_id, now)
            series = store.get(current.id)
            assert series is not None
            return series

    def _series_for(
        self,
        patient_id: int,
        start: datetime,
        now: datetime,
        active: Sequence[Session] | None = None,
    ) -> Series:
        """The series a session starting at ``start`` joins: the current one, or a new one
        (``DEFAULT_SERIES_LENGTH`` planned) when there is none or after a gap. ``active``: the
        patient's active sessions as just read, if the caller has them."""
        current = self.session_store.series.current(patient_id)
        starts = self._series_starts(patient_id, current, active)
        if current is not None and not starts_new_series(max(starts, default=None), start):
            return current
        return self.session_store.series.create(patient_id, now)

    def _series_starts(
        self, patient_id: int, series: Series | None, active: Sequence[Session] | None = None
    ) -> list[datetime]:
        """Start instants of the series' active sessions (none for no series)."""
        if series is None:
            return []
        if active is None:
            active = self.session_store.active(patient_id)
        return [session_start(session) for session in active if session.series_ref == series.id]

    def _settle_series(self, patient_id: int, now: datetime) -> tuple[list[Session], list[Series]]:
        """Before planning: every active session in a series, and no series planned shorter than
        the sessions it has ("adding past planned extends it"). Sessions stored without a series
        (by a path that does not choose one) join one here, in start order, by the rule
        ``add_session`` follows. Returns the patient's active sessions and series as they now
        are (the planner needs both; read once here)."""
        sessions = self.session_store.active(patient_id)
        loose = [session for session in sessions if session.series_id is None]
        for session in loose:  # ``active`` is in start order
            series = self._series_for(patient_id, session_start(session), now)
            self.session_store.set_series(session.id, series.id)
        if loose:
            sessions = self.session_store.active(patient_id)
        entered: dict[int, int] = {}
        for session in sessions:
            entered[session.series_ref] = entered.get(session.series_ref, 0) + 1
        settled: list[Series] = []
        for series in self.session_store.series.of_patient(patient_id):
            if entered.get(series.id, 0) > series.planned:
                self.session_store.series.set_planned(series.id, entered[series.id])
                series = replace(series, planned=entered[series.id])
            settled.append(series)
        return sessions, settled

    # -- internals ---------------------------------------------------------------------------

    def _get(self, person_id: int) -> Person:
        person = self.people.get(person_id)
        if person is None:
            raise NotAllowed("not_found")
        return person

    def _patient(self, patient_id: int) -> Person:
        patient = self._get(patient_id)
        if patient.role is not Role.PATIENT:
            raise NotAllowed("not_allowed")
        return patient

    def _own_session(self, patient_id: int, session_id: int) -> Session:
        session = self.session(patient_id, session_id)
        if session is None:
            raise SessionRejected("not_found")
        return session

    def _own_link(self, patient_id: int, link_id: int) -> LinkView:
        link = self.links.get(link_id)
        if link is None or link.patient_id != patient_id:
            raise NotAllowed("not_found")
        return link

    def _check_start(
        self,
        patient_id: int,
        local_start: datetime,
        zone: str,
        fold: int,
        now: datetime,
        *,
        moving: int | None,
        active: Sequence[Session] | None = None,
    ) -> int:
        """Refuse a start the patient cannot have; the fold to store (0 unless it matters).
        ``active``: the patient's active sessions as just read, if the caller has them."""
        if local_start.tzinfo is not None:
            raise ValueError("local_start is the wall-clock time the patient typed: naive")
        try:
            start = to_utc(local_start, zone, fold=fold)
        except NonexistentLocalTime as exc:
            raise SessionRejected("nonexistent", str(exc)) from exc
        if start <= now:
            raise SessionRejected("past")
        if start > now + MAX_AHEAD:
            raise SessionRejected("too_far")
        if active is None:
            active = self.session_store.active(patient_id)
        for other in active:
            if other.id != moving and session_start(other) == start:
                raise SessionRejected("duplicate")
        return fold if is_ambiguous(local_start, zone) else 0

    def _change(self, patient_id: int, session: Session) -> SessionChange:
        ride = self.rides.get(session.id)
        family = tuple(link.person.id for link in self.links.for_planning(patient_id))
        return SessionChange(session, family, ride.driver_id if ride else None)

    def _upcoming(
        self, patient_id: int, now: datetime, active: Sequence[Session] | None = None
    ) -> int:
        if active is None:
            active = self.session_store.active(patient_id)
        return sum(1 for s in active if session_start(s) > now)

    def _unlink(self, link: LinkView, reason: str) -> None:
        self.links.remove(link.id)
        self.deliveries.cancel_pending(
            reason=reason, recipient_id=link.family_id, patient_id=link.patient_id
        )
        self.rides.release_driver(link.family_id, patient_id=link.patient_id)
        self.rides.drop_questions(link.family_id, patient_id=link.patient_id)

    def _update(self, person_id: int, now: datetime, change: Callable[[], None]) -> Person:
        with self.db.transaction():
            self._get(person_id)
            change()
            self._replan_person(person_id, now)
            return self._get(person_id)

    def _replan_person(self, person_id: int, now: datetime) -> None:
        """Re-plan every patient whose plan the person is part of: their own, and whom they help."""
        self._replan(person_id, now)
        for link in self.links.of_family(person_id):
            if link.status == ACTIVE:
                self._replan(link.patient_id, now)

    def _replan(self, patient_id: int, now: datetime) -> None:
        state = self.people.state(patient_id)
        if state is None or state.person.role is not Role.PATIENT:
            return
        patient = state.person
        family = self.links.for_planning(patient_id)
        sessions, series = self._settle_series(patient_id, now)
        planned = plan_deliveries(
            patient,
            sessions,
            family,
            self.timeline,
            now,
            series=series,
            drivers=self.rides.drivers(patient_id),
        )
        if patient.stopped or state.gone:
            planned = [p for p in planned if p.recipient_id != patient_id]
        self.deliveries.replace_plan(patient_id, planned)


def ride_stamp(session: Session) -> str:
    """The session's local start as ``YYYYMMDDHHMM`` (+ ``f`` for a fall-back hour's second
    occurrence): a question about a moved session's time holds only while it still has it."""
    local = session.local_start
    return f"{local:%Y%m%d%H%M}" + ("f" if local.fold else "")


def _check_zone(zone: str) -> None:
    """Only region zones (``Europe/Berlin``) are a person's zone. ``ZoneRejected`` codes:
    ``unknown_zone`` for a name that is no zone; ``not_a_region`` for one that loads but names
    no place (``EST``, ``CET``, ``UTC``, ``GMT``, ``Etc/GMT+1``, ``EST5EDT``, ``US/Eastern``):
    its clock is not the one on the person's wall for part of the year, or it hides the place.
    """
    try:
        check_region_zone(zone)
    except NotARegionZone as exc:
        raise ZoneRejected("not_a_region", str(exc)) from exc
    except ZoneError as exc:
        raise ZoneRejected("unknown_zone", str(exc)) from exc


MAX_NOTE = 280  # characters: one line, as the message asks for


def clean_note(text: str) -> str:
    """A note as stored: one line, spaces collapsed. ``NoteRejected`` when empty or too long."""
    line = " ".join(text.split())
    if not line:
        raise NoteRejected("empty")
    if len(line) > MAX_NOTE:
        raise NoteRejected("too_long", f"at most {MAX_NOTE} characters")
    return line


def _local_day(now: datetime, zone: str) -> date:
    return now.astimezone(zone_info(zone)).date()


def _iso(value: datetime | None) -> str | None:
    return to_db(value) if value else None


def _minutes(duration: timedelta | None) -> int | None:
    return None if duration is None else int(duration.total_seconds() // 60)


def _link_json(link: LinkView) -> dict[str, Any]:
    return {
        "id": link.id,
        "name": link.name,
        "status": link.status,
        "created_at": _iso(link.created_at),
        "joined_at": _iso(link.joined_at),
    }
