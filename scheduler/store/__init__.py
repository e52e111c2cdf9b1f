"""The SQLite store: the single record of people, sessions and what must be sent.

Only this package imports ``sqlite3``.
"""

from scheduler.store.db import Database, from_db, to_db

__all__ = ["Database", "from_db", "to_db"]

from scheduler.store.deliveries import (
    ClaimedDelivery,
    Deliveries,
    Delivery,
    Recovery,
    RenderContext,
)

__all__ += ["ClaimedDelivery", "Deliveries", "Delivery", "Recovery", "RenderContext"]

# Imported after the list above on purpose (appended in turn by each repository's author).
from scheduler.store.dialogs import Dialogs  # noqa: E402
from scheduler.store.family import Invite, Invites, Links, LinkView, Ride, Rides  # noqa: E402
from scheduler.store.people import People, PersonState  # noqa: E402
from scheduler.store.sessions import Sessions  # noqa: E402

__all__ += [
    "Dialogs",
    "Invite",
    "Invites",
    "LinkView",
    "Links",
    "People",
    "PersonState",
    "Ride",
    "Rides",
    "Sessions",
]
