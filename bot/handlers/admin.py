"""``/stats`` for the operator's own chats (``Settings.admin_chat_ids``): counts only.

It is registered for those chats alone (``bot.app``), so anyone else's ``/stats`` reaches the
fallback like any unknown command and learns nothing, not even that the command exists. The
text is the same as ``python -m bot stats`` prints (``scheduler.stats.Stats.lines``).
"""

from __future__ import annotations

from bot.ui.turn import Turn
from scheduler.stats import collect


def stats(turn: Turn) -> None:
    turn.reply_text("\n".join(collect(turn.services.db, turn.now).lines()))
