"""What the classifier says about one message."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Classification"]


@dataclass(frozen=True, slots=True)
class Classification:
    is_request: bool
    category: str | None
    urgent: bool
    confidence: float
    keywords: tuple[str, ...]
    # For the bot's urgent reply ("请立即拨打119"); None unless urgent.
    emergency_number: str | None = None
    # The urgency kind (fire, gas, unseen, ...) when urgent, and whether its alarms are told
    # as possible rather than clear (``UrgencyKind.level``); not part of ``as_dict()``.
    urgency_kind: str | None = None
    possible: bool = False
    # Which half decided (``keywords`` or ``model``, see nlp/hybrid.py) and the model's
    # probability that the message is a request (None without a model).
    decided_by: str = "keywords"
    p_request: float | None = None
    # A request only the model found: the keywords passed the message over.
    model_only: bool = False
    # The keywords read that nothing needs doing ("有水了", "修好了", "没事了"): the model may
    # not make a request of it.
    settled: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "is_request": self.is_request,
            "category": self.category,
            "urgent": self.urgent,
            "confidence": self.confidence,
            "keywords": list(self.keywords),
            "decided_by": self.decided_by,
            "p_request": self.p_request,
        }
