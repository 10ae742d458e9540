"""Why an operation was refused, typed, each with the short Chinese sentence the person reads.

The domain raises them and writes nothing that stays (the caller rolls back); each face maps
them once: the chat (handlers/refusals.py) replies with the sentence, the web answers
NotFound with 404, NotAllowed with 403, WrongState with 409 and Invalid with 422, the same
sentence on the page.
"""

from __future__ import annotations

__all__ = ["DomainError", "Invalid", "NotAllowed", "NotFound", "WrongState"]


class DomainError(Exception):
    """An operation refused; ``reply`` is what the person who asked is told (Chinese, short,
    polite, nothing they may not know)."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class NotFound(DomainError):
    """There is no such thing (a ticket number nobody has)."""


class NotAllowed(DomainError):
    """It exists, and this actor may not act on it (another grid's ticket)."""


class WrongState(DomainError):
    """Not now: the thing is past the stage the operation applies to (a resolved ticket
    resolved again), or what it needs is not set up (no escalation room)."""


class Invalid(DomainError):
    """What was asked is not a valid request: a missing or over-long text, an unknown
    category, a ticket merged into itself."""
