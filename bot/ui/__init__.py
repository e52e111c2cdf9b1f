"""What every handler shares, in one place: the ``Turn`` (one update's reply and follow-ups,
committed with its change), the keyboards and the callback data their buttons carry, the guided
step filter, and the wording of sessions and mistakes.

Handler modules import this package and the domain, never each other.
"""
