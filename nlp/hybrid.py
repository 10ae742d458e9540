"""The keywords' verdict, unless the model is confident otherwise.

An urgent verdict of the keyword rules is never dropped or re-filed by the model; where its
urgency head finds no danger at all, the alarm is told as *possible* (only the leaders are told,
to check it). Outside that, the model may add a request the keywords passed over, drop a
keyword request, or change its category, and its urgency head may raise a request to a
*possible* emergency (the leader is asked to check at once; nobody is told to dial a number,
since no kind of danger was named).
Each only past a threshold chosen (`choose_thresholds`) on messages that neither the vocabulary
nor the model was fitted on: a model fitted on the messages the vocabulary was tuned on learns
to copy it, so only unseen messages show where it knows better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import product

from nlp.classification import Classification
from nlp.conversation import laughs
from nlp.model import HybridThresholds, Prediction
from nlp.quality import LabelledRow, fully_right

__all__ = ["choose_thresholds", "combine", "doubt_threshold", "urgent_threshold"]


# The features of a message the model must know before it may make a request or an alarm of
# what the keywords passed over: a message of one or two known characters is unread.
MIN_EVIDENCE = 3


def combine(
    kw: Classification, pred: Prediction, th: HybridThresholds, *, may_add: bool = True
) -> Classification:
    """``may_add``: whether the model may make a request of a message the keywords pass over
    (not of a joke: the model reads its words, not its laugh; nor of one the keywords read
    as settled: "有水了" is news that the matter is over)."""
    may_add = may_add and pred.known >= MIN_EVIDENCE and not kw.settled
    verdict = _request_and_category(kw, pred, th, may_add)
    if (
        verdict.is_request
        and not verdict.urgent
        and pred.known >= MIN_EVIDENCE
        and pred.p_urgent is not None
        and pred.p_urgent >= th.urgent
    ):
        return replace(verdict, urgent=True, possible=True, decided_by="model")
    return verdict


def _request_and_category(
    kw: Classification, pred: Prediction, th: HybridThresholds, may_add: bool
) -> Classification:
    p = round(pred.p_request, 3)
    if kw.urgent:
        doubted = (
            not kw.possible
            and pred.known >= MIN_EVIDENCE
            and pred.p_urgent is not None
            and pred.p_urgent < th.doubt
        )
        if doubted:
            return replace(kw, possible=True, decided_by="model", p_request=p)
        return replace(kw, p_request=p)
    if not kw.is_request:
        if may_add and pred.p_request >= th.add:
            return Classification(
                is_request=True,
                category=pred.category,
                urgent=False,
                confidence=p,
                keywords=kw.keywords,
                decided_by="model",
                p_request=p,
                model_only=True,
            )
        return replace(kw, p_request=p)
    if pred.p_request < th.drop:
        return Classification(
            is_request=False,
            category=None,
            urgent=False,
            confidence=round(1.0 - pred.p_request, 3),
            keywords=kw.keywords,
            decided_by="model",
            p_request=p,
        )
    if pred.category != kw.category and pred.p_category >= th.switch:
        return replace(
            kw,
            category=pred.category,
            confidence=round(pred.p_category, 3),
            decided_by="model",
            p_request=p,
        )
    return replace(kw, p_request=p)


# Candidate thresholds: coarse enough that 250 messages can choose among them honestly.
_ADD = (0.6, 0.7, 0.8, 0.9, 0.95, 1.01)
_DROP = (-0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
_SWITCH = (0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
_URGENT = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def choose_thresholds(
    rows: Sequence[LabelledRow],
    keywords: Sequence[Classification],
    predictions: Sequence[Prediction],
) -> HybridThresholds:
    """The thresholds that label most messages fully right (request or not, and category).

    Ties go to the most cautious thresholds (the keywords overruled least): a threshold that
    changes nothing on these messages has shown nothing."""
    best: tuple[int, float, HybridThresholds] | None = None
    for add, drop, switch in product(_ADD, _DROP, _SWITCH):
        th = HybridThresholds(add=add, drop=drop, switch=switch)
        got = [
            combine(kw, p, th, may_add=not laughs(row["text"]))
            for row, kw, p in zip(rows, keywords, predictions, strict=True)
        ]
        right = fully_right(rows, got)
        caution = add - drop + switch
        if best is None or (right, caution) > (best[0], best[1]):
            best = (right, caution, th)
    assert best is not None
    return best[2]


def urgent_threshold(
    p_urgent: Sequence[float], urgent: Sequence[bool], *, min_precision: float = 0.95
) -> float:
    """The lowest threshold at which the urgency head alone is right ``min_precision`` of
    the time, from its probabilities for messages it was not fitted on (out of fold).

    Not chosen on the keywords' unseen parts: there the keywords miss almost no emergency,
    so no threshold would show a gain, while on other people's words they miss many."""
    for threshold in _URGENT:
        raised = [u for p, u in zip(p_urgent, urgent, strict=True) if p >= threshold]
        if raised and sum(raised) >= min_precision * len(raised):
            return threshold
    return _URGENT[-1]


_DOUBT = (-0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def doubt_threshold(
    p_urgent: Sequence[float],
    urgent: Sequence[bool],
    *,
    max_doubted: float = 0.05,
    min_wrong: float = 0.8,
) -> float:
    """The highest threshold below which the urgency head may doubt the keywords' alarms,
    from its probabilities (out of fold) for the messages the keywords find urgent: at most
    ``max_doubted`` of the true emergencies among them fall below it, and at least
    ``min_wrong`` of the alarms below it are false. A doubted emergency still reaches the
    leaders at once (as one to check), so a few may be doubted; -0.01 doubts none."""
    total = sum(urgent)
    best = _DOUBT[0]
    for threshold in _DOUBT[1:]:
        below = [u for p, u in zip(p_urgent, urgent, strict=True) if p < threshold]
        if not below:
            continue
        if sum(below) > max_doubted * total or len(below) - sum(below) < min_wrong * len(below):
            break
        best = threshold
    return best
