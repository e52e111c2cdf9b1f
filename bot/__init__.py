"""The Telegram adapter: wiring, handlers, keyboards, the sender and ``python -m bot``."""
