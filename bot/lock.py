"""One process per database: an exclusive ``flock`` on ``<db>.lock``, held for the process's life.

Two bots on one file would each take the other's ``sending`` rows for crashed ones at start-up
(``Deliveries.recover_in_flight``) and answer every person twice. The kernel drops the lock when
the process ends however it ends (SIGKILL included), so a stale lock file never blocks a start.
Also the file permissions: the database, its WAL and the lock are the owner's alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
from pathlib import Path
from types import TracebackType

_LOGGER = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
# SQLite's companions of the database file: all hold the same data.
SIDE_FILES = ("-wal", "-shm", "-journal")


class AlreadyRunning(Exception):
    """Another process holds the lock on this database."""

    def __init__(self, lock_path: Path, pid: str) -> None:
        holder = f" (pid {pid})" if pid else ""
        super().__init__(
            f"another Session Companion{holder} is already running on this database; "
            f"stop it first (lock file: {lock_path})"
        )
        self.lock_path = lock_path
        self.pid = pid


def lock_path_for(db_path: str | Path) -> Path:
    return Path(f"{db_path}.lock")


class DatabaseLock:
    """``with DatabaseLock(db_path):`` or ``acquire()``/``release()``; raises ``AlreadyRunning``."""

    def __init__(self, db_path: str | Path) -> None:
        self.path = lock_path_for(db_path)
        self._fd: int | None = None

    def acquire(self) -> DatabaseLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunning(self.path, pid) from None
        except BaseException:
            os.close(fd)
            raise
        # For the operator reading the file; the flock is what counts.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            # Closing drops the flock; the file stays, so the next start finds the same inode.
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> DatabaseLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def make_private(db_path: str | Path) -> None:
    """Files created from now on are the owner's alone (umask 077); the database's directory is
    created 0700, and an existing database, WAL and shared-memory file are set to 0600.

    An existing directory is tightened to 0700 only if this user owns it and it is not a shared
    sticky directory such as ``/tmp``; otherwise a warning says so.
    """
    os.umask(0o077)
    path = Path(db_path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.exists():
        directory.mkdir(mode=PRIVATE_DIR, parents=True)
    info = directory.stat()
    if stat.S_IMODE(info.st_mode) & 0o077:
        if info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX:
            directory.chmod(PRIVATE_DIR)
        else:
            _LOGGER.warning(
                "the database directory is readable by other users and not ours to change; "
                "use a private directory for COMPANION_DB"
            )
    for suffix in ("", *SIDE_FILES):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").chmod(PRIVATE_FILE)
