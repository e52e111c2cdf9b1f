"""Hand-written fakes for tests: a sender, a clock, a renderer, and minimal database rows.

No mocks: each fake is a small working implementation of the port it stands in for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from messages import Rendered, Wording
from scheduler.model import DeliveryStatus, PlannedDelivery
from scheduler.sending import OutgoingMessage, SendResult, Sent
from scheduler.store import Database, to_db

Outcome = SendResult | BaseException


class FakeSender:
    """Records every message; answers ``Sent`` unless told otherwise.

    ``script(...)`` queues outcomes for the next calls in order; ``script_chat(chat_id, ...)``
    queues outcomes for one chat, which win over the general queue. An exception instance as an
    outcome is raised instead of returned, like a sender with a bug.
    """

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []  # every message passed to send, whatever the outcome
        self._queue: deque[Outcome] = deque()
        self._per_chat: dict[int, deque[Outcome]] = {}
        self._next_ref = 1000

    def script(self, *outcomes: Outcome) -> None:
        self._queue.extend(outcomes)

    def script_chat(self, chat_id: int, *outcomes: Outcome) -> None:
        self._per_chat.setdefault(chat_id, deque()).extend(outcomes)

    def to_chat(self, chat_id: int) -> list[OutgoingMessage]:
        return [message for message in self.sent if message.chat_id == chat_id]

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        chat_queue = self._per_chat.get(message.chat_id)
        if chat_queue:
            outcome = chat_queue.popleft()
        elif self._queue:
            outcome = self._queue.popleft()
        else:
            self._next_ref += 1
            outcome = Sent(message_ref=self._next_ref)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class Clock:
    """A clock the test moves by hand; always aware UTC."""

    def __init__(self, start: datetime = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)) -> None:
        if start.tzinfo is None:
            raise ValueError("Clock needs an aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, instant: datetime) -> datetime:
        self._now = instant.astimezone(UTC)
        return self._now


class FakeRenderer:
    """Renders ``message_id|wording|locale`` plus the sorted value names, one ``got_it`` button;
    enough to check what the dispatcher passes without depending on the catalog's wording."""

    def __init__(self, *, fail_for: Iterable[str] = ()) -> None:
        self.calls: list[tuple[str | None, str, Wording, dict[str, object], bool]] = []
        self.fail_for = set(fail_for)

    def render_entry(
        self,
        locale: str | None,
        message_id: str,
        wording: Wording,
        values: Mapping[str, object],
        *,
        with_driver: bool = False,
    ) -> Rendered:
        self.calls.append((locale, message_id, wording, dict(values), with_driver))
        if message_id in self.fail_for:
            raise KeyError(message_id)
        names = ",".join(sorted(values))
        text = f"{message_id}|{wording}|{locale}|{names}|driver={with_driver}"
        return Rendered(text=text, buttons=(("got_it", "Got it"),))

    def render_reply(self, locale: str | None, reply_id: str, /, **values: object) -> str:
        return f"{reply_id}|{locale}|{','.join(sorted(values))}"


# -- minimal rows, written with plain SQL so tests need no other repository --------------------

CREATED = "2026-11-01T00:00:00.000000+00:00"


def add_person(
    db: Database,
    chat_id: int,
    *,
    role: str = "patient",
    zone: str = "UTC",
    locale: str = "en",
    wording: str = "plain",
    display_name: str = "",
    paused_until: datetime | None = None,
    stopped: bool = False,
    gone: bool = False,
) -> int:
    with db.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO people (chat_id, role, display_name, zone, locale, wording,"
            " paused_until, stopped, gone, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                chat_id,
                role,
                display_name,
                zone,
                locale,
                wording,
                None if paused_until is None else to_db(paused_until),
                int(stopped),
                int(gone),
                CREATED,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def add_session(
    db: Database,
    patient_id: int,
    local_start: str,
    *,
    zone: str = "UTC",
    kind: str = "iv",
    status: str = "active",
) -> int:
    """``local_start`` as stored: ``YYYY-MM-DDTHH:MM`` wall-clock in ``zone``."""
    with db.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO sessions (patient_id, local_start, zone, kind, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (patient_id, local_start, zone, kind, status, CREATED),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def link_family(db: Database, patient_id: int, family_id: int, *, status: str = "active") -> None:
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO family_links (patient_id, family_id, status, created_at, joined_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (patient_id, family_id, status, CREATED, CREATED),
        )


def claim_ride(db: Database, session_id: int, driver_id: int) -> None:
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO rides (session_id, driver_id, claimed_at) VALUES (?, ?, ?)",
            (session_id, driver_id, CREATED),
        )


def planned(
    key: str,
    patient_id: int,
    due_at: datetime,
    *,
    recipient_id: int | None = None,
    message_id: str = "rest_up",
    session_id: int | None = None,
    deadline: datetime | None = None,
    urgent: bool = False,
    status: DeliveryStatus = DeliveryStatus.PENDING,
    reason: str | None = None,
) -> PlannedDelivery:
    """A planned delivery with test defaults: to the patient, relevant for two hours."""
    return PlannedDelivery(
        key=key,
        patient_id=patient_id,
        recipient_id=patient_id if recipient_id is None else recipient_id,
        message_id=message_id,
        session_id=session_id,
        due_at=due_at,
        deadline=due_at + timedelta(hours=2) if deadline is None else deadline,
        urgent=urgent,
        status=status,
        reason=reason,
    )
