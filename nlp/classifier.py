"""Turning a resident's message into a request decision, a category and an urgency flag.

The decision is a sum of the weights of matched terms, so it can be read back:

    category score  = sum of the matched terms of that category, at most `thresholds.topic_cap`
    urgency score   = sum of the matched terms of an urgency kind (best kind wins), plus the
                      urgency boosters (快, 救命) when that kind has a cue of its own
    request score   = best category score + ask cues + best urgency score - no-ask cues

A message is a request when its request score reaches `thresholds.request` and either its best
category reaches `thresholds.topic` or it is urgent. It is urgent when it is a request and its
best urgency score, less the no-ask cues, reaches `thresholds.urgent` (so "火已经灭了" and
"万一起火" don't raise an alarm). `Classification.keywords` lists the terms that
counted: the chosen category's, the ask and no-ask cues, and urgency cues, in text order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from nlp.matcher import Hit, TermMatcher
from nlp.normalize import normalize
from nlp.tokenizer import Tokenizer
from nlp.vocabulary import CATEGORY_CODES, Vocabulary

__all__ = ["Classification", "Classifier"]


@dataclass(frozen=True, slots=True)
class Classification:
    is_request: bool
    category: str | None
    urgent: bool
    confidence: float
    keywords: tuple[str, ...]
    # For the bot's urgent reply ("请立即拨打119"); None unless urgent.
    emergency_number: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "is_request": self.is_request,
            "category": self.category,
            "urgent": self.urgent,
            "confidence": self.confidence,
            "keywords": list(self.keywords),
        }


_NOTHING = Classification(False, None, False, 1.0, ())


def _certainty(margin: float, scale: float) -> float:
    """0.5 at the threshold, rising towards 1 as the score moves away from it."""
    return 1.0 - 0.5 * math.exp(-max(margin, 0.0) / scale)


class Classifier:
    """Built once at start-up (before any fork): it loads jieba's dictionary eagerly."""

    __slots__ = ("_kind_category", "_kind_number", "_matcher", "_tokenizer", "vocabulary")

    def __init__(self, vocabulary: Vocabulary, *, cache_dir: Path | None = None) -> None:
        self.vocabulary = vocabulary
        self._matcher = TermMatcher(vocabulary)
        self._tokenizer = Tokenizer(vocabulary.all_terms(), cache_dir=cache_dir)
        self._kind_number = tuple(k.emergency_number for k in vocabulary.urgency.values())
        self._kind_category = tuple(k.category for k in vocabulary.urgency.values())

    def classify(self, text: str) -> Classification:
        normalised = normalize(text[: self.vocabulary.max_chars])
        if not normalised:
            return _NOTHING
        hits = self._matcher.match(normalised, self._tokenizer.cut(normalised))
        return self._decide(hits)

    def _decide(self, hits: list[Hit]) -> Classification:
        sections = self._matcher.sections
        thresholds = self.vocabulary.thresholds
        scores = [0.0] * len(sections.names)
        for hit in hits:
            for section, weight in zip(hit.sections, hit.weights, strict=True):
                scores[section] += weight

        n = sections.n_categories
        # Ties go to the category listed first in CATEGORY_CODES; max() keeps the first.
        best = max(range(n), key=scores.__getitem__)
        topic = min(scores[best], thresholds.topic_cap)
        second = max((scores[i] for i in range(n) if i != best), default=0.0)
        kind = max(range(len(sections.urgency)), key=lambda k: scores[sections.urgency[k]])
        urgency = scores[sections.urgency[kind]]
        if urgency > 0:
            urgency += scores[sections.urgency_boost]
        no_ask = scores[sections.no_ask]
        request_score = topic + scores[sections.ask] + urgency - no_ask
        urgent_cue = urgency - no_ask >= thresholds.urgent
        is_request = request_score >= thresholds.request and (
            topic >= thresholds.topic or urgent_cue
        )
        urgent = is_request and urgent_cue
        if is_request:
            category: str | None = CATEGORY_CODES[best] if topic > 0 else None
            if category is None:
                category = self._kind_category[kind]
            share = scores[best] / (scores[best] + second) if topic > 0 else 1.0
            confidence = _certainty(request_score - thresholds.request, thresholds.request)
            confidence *= share
        else:
            category = None
            if request_score < thresholds.request:
                margin, scale = thresholds.request - request_score, thresholds.request
            else:
                margin, scale = thresholds.topic - topic, thresholds.topic
            confidence = _certainty(margin, scale)

        shown = {best, sections.ask, sections.no_ask}
        if urgency > 0:
            shown.update((sections.urgency[kind], sections.urgency_boost))
        keywords = tuple(h.term for h in hits if not shown.isdisjoint(h.sections))
        return Classification(
            is_request=is_request,
            category=category,
            urgent=urgent,
            confidence=round(confidence, 3),
            keywords=keywords,
            emergency_number=self._kind_number[kind] if urgent else None,
        )
