"""``python -m bot preview``: every message a series would send, when (local time) and to whom.

For clinicians and operators checking the timeline and the wording before a patient signs up. It
runs the real planner and renderer on made-up people: a patient "Alex" in ``--zone`` and, with
``--family``, one family member in ``--family-zone`` who joined at ``--now``. Nothing is stored
and no clock is read: ``--now`` defaults to 09:00 local, 14 days before the first session, so the
whole timeline shows. Pass a later ``--now`` to see what a late sign-up would still get.

With the operator's configuration file (``--config PATH``, else ``COMPANION_CONFIG``) it shows
what that deployment sends: its catalog overlay, crisis lines, clinic contact and session lengths.
Entries that depend on the ride home (``ride`` in ``timeline.toml``) are shown for both cases:
those for "nobody has offered yet" as planned, and, with ``--family``, those for the family
member as the driver of every session (the pick-up note). Only one case happens per session;
``ride`` in each item (JSON, and a mark in the table) says which.

Sessions fall into series by the rule the bot uses (a session more than four weeks after the
previous one starts a new series, ``scheduler.model.NEW_SERIES_GAP``). Each series has as many
sessions as given, unless ``--planned`` says more: then numbering reads "1 of 6" and the
end-of-series message waits, as for a patient who has entered only some of their sessions.
Messages render through ``scheduler.rendering``, the dispatcher's own path.

JSON (``--json``) is one array of the messages that would be sent (planned-skipped ones are left
out), in send order. ``session_number`` is the number of the session the message belongs to,
within its series; for series-wide messages that is the anchor session (1 for the series start,
N for the series end), and it is ``null`` only for the family welcome, which belongs to no
session.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import CONFIG_ENV, ConfigError, config_from_env, load_config
from bot.parsing import MAX_SERIES, WhenError, parse_series, series_starts
from bot.settings import Settings
from messages import Catalog, CatalogError, Wording
from scheduler.localtime import (
    NonexistentLocalTime,
    ZoneError,
    instant_offset_label,
    is_ambiguous,
    resolve_wall_clock,
    session_start,
    to_utc,
    utc_offset_label,
    zone_info,
)
from scheduler.model import (
    MAX_SERIES_LENGTH,
    DeliveryStatus,
    FamilyLink,
    Kind,
    Person,
    PlannedDelivery,
    Role,
    Series,
    Session,
)
from scheduler.rendering import DeliveryFacts, numbered_session, render_delivery
from scheduler.timeline import plan_deliveries, starts_new_series

PATIENT_NAME = "Alex"
DEFAULT_LEAD = timedelta(days=14)  # --now default: this long before the first session, at 09:00
_WALL = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})$")
_TAG = re.compile(r"<[^>]+>")
_FIRST_LINE_WIDTH = 72
_PATIENT_ID, _FAMILY_ID = 1, 2
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class PreviewError(ValueError):
    """Bad preview input; the message is one line for stderr."""


@dataclass(frozen=True)
class PreviewRequest:
    zone: str
    kind: Kind
    starts: tuple[datetime, ...]  # naive local wall-clock times in ``zone``, as typed
    family: bool = False
    family_zone: str | None = None  # None: the patient's zone
    wording: Wording = Wording.PLAIN
    now: datetime | None = None  # aware; None: 09:00 local, 14 days before the first session
    locale: str = "en"
    planned: int | None = None  # sessions each series has; None: as many as given


@dataclass(frozen=True)
class PreviewItem:
    """One planned message, rendered for its recipient."""

    delivery: PlannedDelivery
    recipient: str  # "patient" | "family"
    zone: str  # the recipient's zone; times show in it
    session_number: int | None
    series_length: int | None  # None only for the family welcome, which belongs to no series
    topic: str
    html: str
    text: str  # as the person reads it: tags removed, entities decoded
    buttons: tuple[str, ...]  # labels
    ride: str | None = None  # "claimed" / "unclaimed": sent only in that case (timeline ``ride``)

    @property
    def local_time(self) -> datetime:
        return self.delivery.due_at.astimezone(ZoneInfo(self.zone))

    def as_json(self) -> dict[str, object]:
        delivery = self.delivery
        return {
            "local_time": self.local_time.isoformat(timespec="seconds"),
            "utc_time": delivery.due_at.isoformat(timespec="seconds"),
            "recipient": self.recipient,
            "zone": self.zone,
            "message_id": delivery.message_id,
            "session_number": self.session_number,
            "series_length": self.series_length,
            "topic": self.topic,
            "text": self.text,
            "html": self.html,
            "buttons": list(self.buttons),
            "urgent": delivery.urgent,
            "deadline_utc": delivery.deadline.isoformat(timespec="seconds"),
            "deadline_local": delivery.deadline.astimezone(ZoneInfo(self.zone)).isoformat(
                timespec="seconds"
            ),
            "key": delivery.key,
            "ride": self.ride,
        }


@dataclass(frozen=True)
class Preview:
    request: PreviewRequest
    now: datetime
    items: tuple[PreviewItem, ...]
    notes: tuple[str, ...]  # e.g. which occurrence of an ambiguous time was taken

    @property
    def pending(self) -> list[PreviewItem]:
        return [item for item in self.items if item.delivery.status is DeliveryStatus.PENDING]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``preview`` subcommand's options."""
    parser.add_argument(
        "--zone", required=True, help="the patient's IANA time zone, e.g. Europe/Berlin"
    )
    parser.add_argument(
        "--kind",
        default=Kind.IV.value,
        choices=[kind.value for kind in Kind],
        help="session kind for every session (default: iv)",
    )
    parser.add_argument(
        "--session",
        action="append",
        default=[],
        metavar='"YYYY-MM-DD HH:MM"',
        help="a session's local start in --zone; repeat for each session",
    )
    parser.add_argument(
        "--series",
        action="append",
        default=[],
        metavar='"YYYY-MM-DD HH:MM Mon,Wed,Fri x6"',
        help="shorthand: the first session, then the next listed weekdays at the same time, "
        "until the count (sessions in all) is reached",
    )
    parser.add_argument(
        "--family", action="store_true", help="add a family member who joins at --now"
    )
    parser.add_argument(
        "--family-zone",
        help="the family member's IANA time zone (default: --zone); implies --family",
    )
    parser.add_argument(
        "--discreet", action="store_true", help="discreet wording (never names drug or condition)"
    )
    parser.add_argument("--full", action="store_true", help="print every message in full")
    parser.add_argument(
        "--json", action="store_true", help="one JSON array of the messages that would be sent"
    )
    parser.add_argument(
        "--now",
        metavar='"YYYY-MM-DD HH:MM"',
        help="plan as of this local time in --zone "
        "(default: 09:00, 14 days before the first session, so the whole timeline shows)",
    )
    parser.add_argument("--locale", default="en", help="wording locale (default: en)")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"the operator's configuration file (default: ${CONFIG_ENV}, if set): its crisis "
        "lines, clinic contact, session lengths and catalog overlay",
    )
    parser.add_argument(
        "--planned",
        type=int,
        metavar="N",
        help="sessions each series has (default: as many as given); more than given shows what "
        "a patient who has entered only some of them gets",
    )


def run(args: argparse.Namespace) -> int:
    """Run the subcommand: 0 on success, 2 with one line on stderr for bad input."""
    try:
        path = getattr(args, "config", None)
        config = load_config(path) if path else config_from_env()
        request = request_from_args(args)
        preview = build_preview(request, config.catalog, config.settings)
    except PreviewError as exc:
        print(f"preview: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except CatalogError as exc:
        print(f"preview: the message catalog is broken: {exc}", file=sys.stderr)
        return 1
    if args.json:
        for note in preview.notes:
            print(f"preview: note: {note}", file=sys.stderr)
        print(format_json(preview))
    else:
        print(format_table(preview, full=args.full))
    return 0


def request_from_args(args: argparse.Namespace) -> PreviewRequest:
    zone = _zone(args.zone, "--zone")
    family_zone = _zone(args.family_zone, "--family-zone") if args.family_zone else None
    starts: list[datetime] = [_wall(text, "--session") for text in args.session]
    for text in args.series:
        starts.extend(_series(text))
    if not starts:
        raise PreviewError(
            'no sessions: add --session "YYYY-MM-DD HH:MM" (repeatable) '
            'or --series "YYYY-MM-DD HH:MM Mon,Wed,Fri x6"'
        )
    seen: set[datetime] = set()
    for start in starts:
        if start in seen:
            raise PreviewError(f"session {start:%Y-%m-%d %H:%M} is given twice")
        seen.add(start)
        try:
            to_utc(start, zone)
        except NonexistentLocalTime as exc:
            raise PreviewError(f"session {start:%Y-%m-%d %H:%M}: {exc}") from exc
    now = None
    if args.now:
        now = resolve_wall_clock(_wall(args.now, "--now"), zone)
    planned = getattr(args, "planned", None)
    if planned is not None and not 1 <= planned <= MAX_SERIES_LENGTH:
        raise PreviewError(f"--planned {planned}: a series has 1 to {MAX_SERIES_LENGTH} sessions")
    return PreviewRequest(
        zone=zone,
        kind=Kind(args.kind),
        starts=tuple(starts),
        family=bool(args.family or args.family_zone),
        family_zone=family_zone,
        wording=Wording.DISCREET if args.discreet else Wording.PLAIN,
        now=now,
        locale=args.locale,
        planned=planned,
    )


def _zone(name: str, option: str) -> str:
    try:
        zone_info(name)
    except ZoneError as exc:
        raise PreviewError(f"{option}: {exc}") from exc
    return name


def _wall(text: str, option: str) -> datetime:
    match = _WALL.match(text.strip())
    if match is None:
        raise PreviewError(f"{option} {text!r}: expected a date and time like 2026-12-01 10:00")
    day, clock = match[1], match[2].zfill(5)
    try:
        return datetime.fromisoformat(f"{day}T{clock}")
    except ValueError as exc:
        raise PreviewError(f"{option} {text!r}: no such date or time ({exc})") from exc


def _series(text: str) -> list[datetime]:
    parts = text.split(maxsplit=2)
    example = "like '2026-12-01 10:00 Mon,Wed,Fri x6' (first session, weekdays, sessions in all)"
    if len(parts) < 3:
        raise PreviewError(f"--series {text!r}: expected {example}")
    first = _wall(f"{parts[0]} {parts[1]}", "--series")
    try:
        pattern = parse_series(parts[2])
    except WhenError as exc:
        if exc.code == "too_many":
            raise PreviewError(f"--series {text!r}: at most {MAX_SERIES} sessions") from exc
        raise PreviewError(f"--series {text!r}: expected {example}") from exc
    return [first, *series_starts(first, pattern)]


def default_now(request: PreviewRequest) -> datetime:
    """09:00 local, ``DEFAULT_LEAD`` before the first session's date."""
    first = min(request.starts, key=lambda start: to_utc(start, request.zone))
    morning = datetime.combine(first.date() - DEFAULT_LEAD, datetime.min.time()).replace(hour=9)
    return resolve_wall_clock(morning, request.zone)


def build_preview(
    request: PreviewRequest, catalog: Catalog, settings: Settings | None = None
) -> Preview:
    """Plan and render the series for a made-up patient (and family member), with the
    operator's ``settings`` (crisis lines, clinic contact, session lengths) as the bot has them;
    ``catalog`` is the one the bot runs with (the overlay merged)."""
    settings = settings if settings is not None else Settings()
    now = request.now or default_now(request)
    patient = Person(
        id=_PATIENT_ID,
        chat_id=_PATIENT_ID,
        role=Role.PATIENT,
        zone=request.zone,
        locale=request.locale,
        wording=request.wording,
        display_name=PATIENT_NAME,
    )
    sessions = _in_series(
        [
            Session(
                id=n,
                patient_id=_PATIENT_ID,
                local_start=start,
                zone=request.zone,
                kind=request.kind,
                # As the companion stores a session the patient adds.
                duration=settings.durations.get(request.kind),
            )
            for n, start in enumerate(request.starts, start=1)
        ]
    )
    series = (
        []
        if request.planned is None
        else [
            Series(id=series_id, patient_id=_PATIENT_ID, planned=request.planned)
            for series_id in sorted({session.series_ref for session in sessions})
        ]
    )
    family: list[FamilyLink] = []
    if request.family:
        member = Person(
            id=_FAMILY_ID,
            chat_id=_FAMILY_ID,
            role=Role.FAMILY,
            zone=request.family_zone or request.zone,
            locale=request.locale,
            wording=request.wording,
        )
        family.append(FamilyLink(member, joined_at=now))
    people = {patient.id: patient} | {link.person.id: link.person for link in family}
    deliveries = plan_deliveries(patient, sessions, family, catalog.timeline, now, series=series)
    if family:
        # The other case of the ride entries: the family member drives every session.
        driving = {session.id: _FAMILY_ID for session in sessions}
        claimed = {entry.id for entry in catalog.timeline if entry.ride == "claimed"}
        extra = [
            delivery
            for delivery in plan_deliveries(
                patient, sessions, family, catalog.timeline, now, series=series, drivers=driving
            )
            if delivery.message_id in claimed
        ]
        deliveries = sorted(
            [*deliveries, *extra],
            key=lambda item: (item.due_at, catalog.entry(item.message_id).order, item.key),
        )
    rides = {entry.id: entry.ride for entry in catalog.timeline}
    items = tuple(
        replace(
            _render(
                catalog,
                settings,
                delivery,
                patient,
                people[delivery.recipient_id],
                sessions,
                series,
            ),
            ride=rides.get(delivery.message_id),
        )
        for delivery in deliveries
    )
    notes = tuple(
        f"{start:%Y-%m-%d %H:%M} happens twice in {request.zone}; using the first "
        f"({utc_offset_label(start, request.zone)})"
        for start in request.starts
        if is_ambiguous(start, request.zone)
    )
    return Preview(request=request, now=now, items=items, notes=notes)


def _in_series(sessions: list[Session]) -> list[Session]:
    """The sessions with series ids 1, 2, ..., as the bot assigns them entered in date order."""
    ordered = sorted(sessions, key=lambda session: (session_start(session), session.id))
    placed: list[Session] = []
    series_id, last = 0, None
    for session in ordered:
        start = session_start(session)
        if last is None or starts_new_series(last, start):
            series_id += 1
        placed.append(replace(session, series_id=series_id))
        last = start
    return placed


def _render(
    catalog: Catalog,
    settings: Settings,
    delivery: PlannedDelivery,
    patient: Person,
    person: Person,
    sessions: list[Session],
    series: list[Series],
) -> PreviewItem:
    """One delivery rendered by the dispatcher's own path (``scheduler.rendering``)."""
    session = next((s for s in sessions if s.id == delivery.session_id), None)
    in_series = [s for s in sessions if session is not None and s.series_ref == session.series_ref]
    planned = next(
        (item.planned for item in series if session and item.id == session.series_ref), None
    )
    facts = DeliveryFacts(
        message_id=delivery.message_id,
        role=person.role,
        zone=person.zone,
        locale=person.locale,
        wording=person.wording,
        patient_name=patient.display_name,
        crisis_line=settings.crisis_line_for(person.locale, person.zone),
        session=session,
        series=in_series,
        planned=planned,
        clinic_contact=settings.clinic_contact,
    )
    rendered = render_delivery(catalog, facts)
    slot = numbered_session(facts)
    return PreviewItem(
        delivery=delivery,
        recipient=person.role.value,
        zone=person.zone,
        session_number=slot.number if slot is not None else None,
        series_length=slot.series_length if slot is not None else None,
        topic=catalog.topic(person.locale, delivery.message_id),
        html=rendered.text,
        text=plain_text(rendered.text),
        buttons=tuple(label for _, label in rendered.buttons),
    )


def plain_text(markup: str) -> str:
    """Telegram HTML as the reader sees it: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", markup)).strip()


def format_json(preview: Preview) -> str:
    return json.dumps([item.as_json() for item in preview.pending], ensure_ascii=False, indent=2)


def format_when(instant: datetime, zone: str) -> str:
    """``Mon 30 Nov 2026 09:30 UTC+01:00`` (English, independent of the machine's locale)."""
    local = instant.astimezone(ZoneInfo(zone))
    weekday = _WEEKDAYS[local.weekday()]
    month = _MONTHS[local.month - 1]
    offset = instant_offset_label(instant, zone)
    return f"{weekday} {local.day:2d} {month} {local.year} {local:%H:%M} {offset}"


def format_table(preview: Preview, *, full: bool = False) -> str:
    request = preview.request
    family_zone = request.family_zone or request.zone
    count = len(request.starts)
    lines = [
        f"{count} {request.kind.value} session{'s' if count != 1 else ''} in {request.zone}"
        + (f"; family member in {family_zone}" if request.family else "")
        + f"; {request.wording.value} wording; planned as of "
        + format_when(preview.now, request.zone),
        *(f"note: {note}" for note in preview.notes),
        "",
    ]
    width = max((len(item.topic) for item in preview.items), default=5)
    lines.append(
        f"{'when (recipient local time)':<32}  {'to':<7}  {'session':>7}  "
        f"{'topic':<{width}}  first line"
    )
    for item in preview.items:
        lines.append(_row(item, width))
        if full:
            lines.extend(_full(item))
    pending = len(preview.pending)
    skipped = Counter(
        item.delivery.reason or "?"
        for item in preview.items
        if item.delivery.status is not DeliveryStatus.PENDING
    )
    summary = f"{pending} message{'s' if pending != 1 else ''} to send"
    if skipped:
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(skipped.items()))
        summary += f"; {sum(skipped.values())} skipped ({reasons})"
    lines += ["", summary]
    return "\n".join(lines)


def _row(item: PreviewItem, width: int) -> str:
    session = "-" if item.session_number is None else f"{item.session_number}/{item.series_length}"
    first = _first_line(item.text)
    if item.delivery.status is DeliveryStatus.SKIPPED:
        first = f"[SKIPPED: {item.delivery.reason}] {first}"
    if item.ride is not None:
        first = f"[if ride {item.ride}] {first}"
    when = format_when(item.delivery.due_at, item.zone)
    return f"{when:<32}  {item.recipient:<7}  {session:>7}  {item.topic:<{width}}  {first}"


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(line) > _FIRST_LINE_WIDTH:
        line = line[: _FIRST_LINE_WIDTH - 1].rstrip() + "…"
    return line


def _full(item: PreviewItem) -> list[str]:
    body = [f"    {line}" if line else "" for line in item.text.splitlines()]
    if item.buttons:
        body.append("    " + "  ".join(f"[{label}]" for label in item.buttons))
    deadline = format_when(item.delivery.deadline, item.zone)
    urgent = "urgent; " if item.delivery.urgent else ""
    body.append(f"    ({urgent}relevant until {deadline})")
    return [*body, ""]
