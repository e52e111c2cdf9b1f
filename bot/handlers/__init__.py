"""Thin handlers, one module per feature: each is ``def name(turn: Turn) -> None``: it parses what
the person sent, calls one use case of the domain, and says what happened (``bot.ui.turn``).

They import ``bot.ui`` and the domain, never each other. ``bot.app.handlers`` is the one ordered
list that says which handler answers which update, and in which group.
"""
