"""The domain core: people, sessions, the plan, the store and the dispatcher. No Telegram here."""
