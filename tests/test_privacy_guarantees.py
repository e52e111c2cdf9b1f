"""Privacy guarantees of the running process: tokens and names never reach output, /forget
leaves nothing readable in the database file or its WAL, and invites resist guessing."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.offline.fake_api import JSON, FakeBotApi
from messages.catalog import TimelineEntry
from scheduler.companion import Companion, InviteInvalid
from scheduler.model import Kind
from scheduler.store.db import Database
from scheduler.store.inbox import INVITE_FAILURE_LIMIT, InviteFailures
from tests.faultbot import BotProcess, db_rows, system_now, wait_until

PATIENT = 1001
CANARY_NAME = "Zebulonquixotic"
CANARY_TOKEN = "5550001111:CANARYxTOKENxCANARYxTOKENxCANARYxT"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _files(db_path: Path) -> dict[str, bytes]:
    return {
        suffix or "db": Path(f"{db_path}{suffix}").read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(f"{db_path}{suffix}").exists()
    }


@pytest.mark.slow
def test_canary_token_and_name_never_reach_output_and_forget_leaves_no_trace(
    fake_api: FakeBotApi, tmp_path: Path, timeline: tuple[TimelineEntry, ...]
) -> None:
    """A whole conversation under a canary name and token; then /forget. Neither canary is in
    stdout, stderr, the database file, its WAL or its shared-memory file."""
    data = tmp_path / "data"
    db_path = data / "companion.db"
    data.mkdir(mode=0o755)
    db = Database(db_path)
    try:
        patient = Companion(db, timeline).register_patient(
            PATIENT, CANARY_NAME, "Europe/Berlin", system_now()
        )
        Companion(db, timeline).add_session(
            patient.id,
            (system_now() + timedelta(days=20)).replace(tzinfo=None, hour=10, minute=0),
            Kind.IV,
            system_now(),
        )
    finally:
        db.close()
    user: JSON = {
        "id": PATIENT,
        "is_bot": False,
        "first_name": CANARY_NAME,
        "last_name": CANARY_NAME,
        "username": CANARY_NAME,
        "language_code": "en",
    }
    day = (system_now() + timedelta(days=21)).date()
    process = BotProcess(fake_api, db_path, tmp_path / "logs", token=CANARY_TOKEN)
    try:
        process.wait_polling()
        for text in (
            "/help",
            f"/add {day:%Y-%m-%d} 10:00 iv",
            "/sessions",
            f"my name is {CANARY_NAME} and I feel anxious",
            "/export",
            "/invite",
            "/forget",
        ):
            fake_api.add_text(PATIENT, text, user=user)
        fake_api.wait_for(
            lambda: any(b[1] == "forget_y" for c in fake_api.sent_to(PATIENT) for b in c.buttons),
            timeout=30,
        )
        files = _files(db_path)
        assert any(CANARY_NAME.encode() in blob for blob in files.values())  # the test can see
        fake_api.add_callback(PATIENT, "forget_y", user=user)
        wait_until(
            lambda: (
                not db_rows(db_path, "SELECT 1 FROM people")
                and not db_rows(db_path, "SELECT 1 FROM inbox WHERE status = 'pending'")
            ),
            timeout=30,
        )
        time.sleep(0.3)  # the scrub after marking the last update done
        while_running = _files(db_path)
        code, _ = process.terminate()
        assert code == 0, process.stderr()[-3000:]
    finally:
        process.close()
    output = process.stdout() + process.stderr()
    for canary in (CANARY_NAME, CANARY_TOKEN, CANARY_TOKEN.split(":")[1]):
        assert canary not in output
    for name, blob in {
        **while_running,
        **{f"{k} after": v for k, v in _files(db_path).items()},
    }.items():
        assert CANARY_NAME.encode() not in blob, f"canary name in {name}"
        assert CANARY_TOKEN.split(":")[1].encode() not in blob, f"canary token in {name}"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for suffix in ("", "-wal", "-shm", ".lock"):
        path = Path(f"{db_path}{suffix}")
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, suffix
    sizes = {k: len(v) for k, v in while_running.items()}
    print(f"\n[canary] not in output, DB, WAL or SHM after /forget; file sizes {sizes}")


def test_forget_zeroes_the_rows_and_truncates_the_wal(
    tmp_path: Path, timeline: tuple[TimelineEntry, ...]
) -> None:
    """Storage level: after forget() the name is in neither file, even with the connection
    still open (secure_delete, then a TRUNCATE checkpoint after the commit)."""
    db = Database(tmp_path / "c.db")
    try:
        companion = Companion(db, timeline)
        person = companion.register_patient(PATIENT, CANARY_NAME, "Africa/Abidjan", T0)
        companion.add_session(person.id, datetime(2026, 12, 3, 10, 0), Kind.IV, T0)  # noqa: DTZ001
        db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # the name is in the main file too
        assert CANARY_NAME.encode() in (tmp_path / "c.db").read_bytes()
        companion.forget(person.id, T0)
        for blob in _files(tmp_path / "c.db").values():
            assert CANARY_NAME.encode() not in blob
        assert os.path.getsize(tmp_path / "c.db-wal") == 0
    finally:
        db.close()


# -- invites ------------------------------------------------------------------------------------


def _companion_with_invite(
    db: Database, timeline: tuple[TimelineEntry, ...]
) -> tuple[Companion, str]:
    companion = Companion(db, timeline, invite_ttl=timedelta(hours=72))
    patient = companion.register_patient(PATIENT, "Ann", "Africa/Abidjan", T0)
    return companion, companion.create_invite(patient.id, T0)


def test_invite_tokens_are_256_bit_and_stored_only_as_hashes(
    db: Database, timeline: tuple[TimelineEntry, ...]
) -> None:
    _, token = _companion_with_invite(db, timeline)
    assert len(token) == 43  # 32 random bytes, URL-safe base64 without padding
    stored = [tuple(row) for row in db.conn.execute("SELECT * FROM invites")]
    assert token not in repr(stored)


def test_every_invalid_invite_gets_the_same_error(
    db: Database, timeline: tuple[TimelineEntry, ...]
) -> None:
    """Unknown, malformed, expired, used, and one's own: the same exception, the same code."""
    companion, token = _companion_with_invite(db, timeline)
    expired_companion = Companion(db, timeline, invite_ttl=timedelta(minutes=1))
    expired = expired_companion.create_invite(companion.person_by_chat(PATIENT).id, T0)  # type: ignore[union-attr]
    companion.redeem_invite(token, 3003, "Cy", T0)
    attempts = [
        ("unknown", "A" * 43, 2002, T0),
        ("malformed", "short", 2002, T0),
        ("used", token, 2002, T0),
        ("expired", expired, 2002, T0 + timedelta(hours=1)),
        ("own", expired, PATIENT, T0),
    ]
    errors = []
    for _, attempt, chat, now in attempts:
        with pytest.raises(InviteInvalid) as caught:
            companion.redeem_invite(attempt, chat, "X", now)
        errors.append((type(caught.value), caught.value.code, str(caught.value)))
    assert len(set(errors)) == 1


def test_failed_redemptions_are_rate_limited_per_chat(
    db: Database, timeline: tuple[TimelineEntry, ...]
) -> None:
    """After five failures in an hour even a valid token is refused for that chat, with the
    same answer; other chats are unaffected, and the window passes."""
    companion, token = _companion_with_invite(db, timeline)
    for i in range(INVITE_FAILURE_LIMIT):
        with pytest.raises(InviteInvalid):
            companion.redeem_invite(f"{i}" * 43, 2002, "X", T0)
    assert not InviteFailures(db).allowed(2002, T0)
    with pytest.raises(InviteInvalid):
        companion.redeem_invite(token, 2002, "X", T0 + timedelta(minutes=5))
    assert InviteFailures(db).allowed(3003, T0)
    link_id, _ = companion.redeem_invite(token, 2002, "X", T0 + timedelta(hours=1, minutes=1))
    assert link_id > 0


def test_forget_clears_the_chats_failed_attempts(
    db: Database, timeline: tuple[TimelineEntry, ...]
) -> None:
    companion, _ = _companion_with_invite(db, timeline)
    with pytest.raises(InviteInvalid):
        companion.redeem_invite("B" * 43, PATIENT, "X", T0)
    person = companion.person_by_chat(PATIENT)
    assert person is not None
    companion.forget(person.id, T0)
    assert db.conn.execute("SELECT count(*) FROM invite_failures").fetchone()[0] == 0
