"""What every channel provides to the runtime."""

from __future__ import annotations

from typing import Protocol

from bot.events import Outbound


class SendError(Exception):
    """A send that failed; ``transient`` ones are tried again later."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class Sender(Protocol):
    async def send(self, message: Outbound) -> None:
        """Deliver one message, or raise SendError."""
        ...
