"""What every benchmark prints its figures with: percentiles, PASS/FAIL, a sender that
discards what the bot sends."""

from __future__ import annotations

from collections.abc import Sequence

from bot.events import Outbound


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) by nearest rank: a value that was measured."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


class Discard:
    """A sender for runs that measure the bot, not a channel."""

    async def send(self, message: Outbound) -> None:
        del message
