"""Tools, not adapter: the fake Bot API and the offline demo built on it.

The adapter (the rest of ``bot/``) never imports this package; ruff's banned-import rule holds
that line (``bot/ruff.toml``). The demo and the tests import the adapter, never the other way.
"""
