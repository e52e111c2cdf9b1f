"""One process per database: the lock file, and a second ``python -m bot`` refused."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.lock import AlreadyRunning, DatabaseLock, lock_path_for, make_private
from bot.offline.fake_api import FakeBotApi
from tests.faultbot import ROOT, STALL, BotProcess, wait_active


def test_a_second_lock_on_the_same_database_is_refused(tmp_path: Path) -> None:
    """Within one process too: flock locks are per open file, not per process."""
    db_path = tmp_path / "companion.db"
    with DatabaseLock(db_path) as held:
        assert held.held
        with pytest.raises(AlreadyRunning, match=rf"pid {os.getpid()}"):
            DatabaseLock(db_path).acquire()
    DatabaseLock(db_path).acquire().release()  # free again once released


def test_the_lock_file_sits_beside_the_database_and_is_private(tmp_path: Path) -> None:
    db_path = tmp_path / "companion.db"
    with DatabaseLock(db_path):
        lock_file = lock_path_for(db_path)
        assert lock_file == tmp_path / "companion.db.lock"
        assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path: Path) -> None:
    """The kernel drops a flock when its holder dies, SIGKILL included."""
    db_path = tmp_path / "companion.db"
    code = (
        "import sys, time; from bot.lock import DatabaseLock; "
        f"DatabaseLock({str(db_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning):
            DatabaseLock(db_path).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        DatabaseLock(db_path).acquire().release()
    finally:
        holder.kill()
        holder.communicate(timeout=10)


def test_make_private_sets_the_directory_and_files_to_the_owner(tmp_path: Path) -> None:
    """Directory 0700; database, WAL and shared memory 0600; new files 0600 via the umask."""
    directory = tmp_path / "data"
    directory.mkdir(mode=0o755)
    db_path = directory / "companion.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").write_bytes(b"")
        Path(f"{db_path}{suffix}").chmod(0o644)
    previous = os.umask(0o022)
    try:
        make_private(db_path)
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        for suffix in ("", "-wal", "-shm"):
            assert stat.S_IMODE(Path(f"{db_path}{suffix}").stat().st_mode) == 0o600
        fresh = directory / "new"
        fresh.write_bytes(b"")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    finally:
        os.umask(previous)


def test_make_private_creates_a_missing_directory_0700(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        make_private(tmp_path / "a" / "b" / "companion.db")
        assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    finally:
        os.umask(previous)


@pytest.mark.slow
def test_a_second_bot_on_the_same_database_exits_3_and_the_first_runs_on(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    """The second ``python -m bot`` says why and exits 3; the first still answers."""
    db_path = tmp_path / "companion.db"
    first = BotProcess(fake_api, db_path, tmp_path / "logs")
    try:
        first.wait_polling()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TELEGRAM_BOT_TOKEN": fake_api.token,
            "TELEGRAM_API_BASE_URL": fake_api.base_url,
            "COMPANION_DB": str(db_path),
        }
        second = subprocess.run(
            [sys.executable, "-m", "bot"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=STALL,  # a hang, not a slow start, fails this
        )
        assert second.returncode == 3
        assert "already running on this database" in second.stderr
        assert f"pid {first.pid}" in second.stderr
        assert fake_api.token not in second.stderr + second.stdout
        fake_api.add_text(1001, "/help")
        wait_active(fake_api, lambda: fake_api.sent_to(1001), first)
        code, _ = first.terminate()
        assert code == 0
    finally:
        first.close()
