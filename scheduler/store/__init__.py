"""The SQLite store: the single record of people, sessions and what must be sent.

Only this package imports ``sqlite3``.
"""

from scheduler.store.db import Database, from_db, to_db

__all__ = ["Database", "from_db", "to_db"]
