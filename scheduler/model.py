"""The domain's nouns. Plain frozen dataclasses: no I/O, no framework, easy to build in tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from messages import Wording

# Until operator config exists (COMPANION_CONFIG, a later issue): 988 is the US line, and the
# directory covers other countries. It reads as something to call ("Call {crisis_line} now").
DEFAULT_CRISIS_LINE = "988 (US; other countries: findahelpline.com)"
# issue 11: language. The same default in the words of each language the catalog has, used only
# while the operator keeps the default (a configured line is never replaced by one of these).
DEFAULT_CRISIS_LINE_BY_LANGUAGE = {"es": "988 (EE. UU.; otros países: findahelpline.com)"}


class Kind(StrEnum):
    """How the session is given; it sets the expected length and which messages apply."""

    IV = "iv"  # infusion: ~40 min plus ~1 h observation
    NASAL = "nasal"  # esketamine spray: observed at least 2 h
    OTHER = "other"  # intramuscular and the rest: ask the clinic; 2 h by default


DEFAULT_DURATION: dict[Kind, timedelta] = {
    Kind.IV: timedelta(minutes=100),
    Kind.NASAL: timedelta(hours=2),
    Kind.OTHER: timedelta(hours=2),
}

# A series is the run of sessions one course of treatment has: typically six over two to three
# weeks (the content brief); maintenance or booster sessions weeks or months later are a new one.
DEFAULT_SERIES_LENGTH = 6  # until the patient says how many sessions their series has
MAX_SERIES_LENGTH = 24
# A session that starts more than this after the last active session of the patient's current
# series starts a new series. Four weeks is longer than any gap inside a usual series (sessions
# two or three times a week) and shorter than the usual pause before maintenance sessions, so a
# booster series gets its own "talk to your provider" note and its own numbering.
NEW_SERIES_GAP = timedelta(days=28)


class Role(StrEnum):
    PATIENT = "patient"
    FAMILY = "family"


@dataclass(frozen=True)
class QuietHours:
    """A nightly span in the recipient's zone; ``start > end`` means it crosses midnight."""

    start: time = time(21, 30)
    end: time = time(8, 0)


# What a new person starts with unless the operator says otherwise (the people table's default).
DEFAULT_QUIET_HOURS = QuietHours()


@dataclass(frozen=True)
class Person:
    id: int
    chat_id: int
    role: Role
    zone: str  # IANA name, e.g. "Europe/Berlin"
    locale: str = "en"
    wording: Wording = Wording.PLAIN
    quiet: QuietHours | None = QuietHours()  # None: no quiet hours
    paused_until: datetime | None = None  # UTC; non-urgent messages are skipped until then
    stopped: bool = False  # /stop: nothing more is sent; data kept until /forget
    display_name: str = ""  # first name the person chose; never logged


@dataclass(frozen=True)
class Session:
    """One treatment session, as the patient entered it: local wall-clock time in a zone.

    ``local_start`` is naive on purpose: it is what the patient typed, and DST must never move it.
    ``fold`` picks the first (0) or second (1) occurrence of an ambiguous fall-back time.
    """

    id: int
    patient_id: int
    local_start: datetime
    zone: str
    kind: Kind = Kind.IV
    duration: timedelta | None = None  # None: DEFAULT_DURATION[kind]
    # None: in no stored series (rows written before series existed, made-up sessions); such
    # sessions form the patient's one implicit series, whose id is the patient's (``series_ref``).
    series_id: int | None = None

    @property
    def expected_duration(self) -> timedelta:
        return self.duration if self.duration is not None else DEFAULT_DURATION[self.kind]

    @property
    def series_ref(self) -> int:
        """The id of the series this session belongs to; the patient's id for the implicit one
        (what migration 4 gave every patient's existing sessions, so their keys stay the same)."""
        return self.series_id if self.series_id is not None else self.patient_id


@dataclass(frozen=True)
class Series:
    """A run of one patient's sessions; series-wide messages (talk to your provider first, keep
    building after the last session) belong to it. ``planned`` is how many sessions the patient
    said it has: "session 2 of 6" while only two are entered, and no end-of-series message until
    that many are entered. It grows when more are entered."""

    id: int
    patient_id: int
    planned: int = DEFAULT_SERIES_LENGTH


@dataclass(frozen=True)
class FamilyLink:
    """A family member the patient approved; messages start from ``joined_at`` (UTC)."""

    person: Person
    joined_at: datetime


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its instant
    SENDING = "sending"  # claimed by a dispatcher; outcome not yet recorded
    SENT = "sent"
    SKIPPED = "skipped"  # never sent on purpose; reason says why (relevance, quiet hours, paused)
    CANCELLED = "cancelled"  # withdrawn: session cancelled, person removed or stopped
    FAILED = "failed"  # permanent: recipient gone, message refused; reason says which
    UNKNOWN = "unknown"  # a crash left the outcome unknowable and it is not resent


@dataclass(frozen=True)
class PlannedDelivery:
    """One message the plan says to send: the output of ``plan_deliveries``.

    ``key`` is unique for the delivery's identity (session and its start, message, recipient), so
    re-planning never creates the same delivery twice and a moved session gets fresh reminders.
    """

    key: str
    patient_id: int
    recipient_id: int
    message_id: str
    session_id: int | None  # None for series-wide messages
    due_at: datetime  # UTC, aware
    deadline: datetime  # UTC, aware; never sent at or after this
    urgent: bool
    status: DeliveryStatus  # PENDING, or SKIPPED when the plan already knows it cannot be sent
    reason: str | None = None  # why SKIPPED, e.g. "quiet_hours", "expired"
