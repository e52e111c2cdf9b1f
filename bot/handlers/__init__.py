"""Update handlers, one module per feature; each exposes ``register(application)``.

``bot.app.register_handlers`` calls them in a fixed order (see the comments there): the
private-chat guard first, feature modules next, then ``/help`` and the unknown-text fallback.
Feature handlers go in group 0, where the first matching handler wins; a handler in another
group would run *as well as* the fallback, not instead of it. A negative group (a pre-step such as
ending a guided step on any command) still runs after the guard, which has the lowest group.
"""
