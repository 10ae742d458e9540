"""Turning a resident's message into a request decision, a category and an urgency flag.

The decision is a sum of the weights of matched terms, so it can be read back:

    category score  = sum of the matched terms of that category; the best one counts at most
                      `thresholds.topic_cap`
    urgency score   = sum of the matched terms of an urgency kind (best kind wins), plus its
                      danger elements (烟, 晕, 塌) when combined: with the boosters
                      reaching `thresholds.immediacy` (快, 还在, 不得了, !), with each
                      other, or with a cue of the kind (see `_urgency`); plus the boosters
                      when the kind has a cue
    urgent cue      = urgency - no-ask cues - calm cues >= `thresholds.urgent`
    request score   = best category score + problem cues + ask cues - no-ask - courtesy
                      + urgency when urgent, else at most `thresholds.hazard_cap`

A message is a request when its request score reaches `thresholds.request` and either its best
category reaches `thresholds.topic` or it is urgent. It is urgent when it is a request with an
urgent cue. The roles of the cues: problem words say something is wrong (坏了, 没人管), ask
words that something is wanted (怎么办, 吗); no-ask words that nothing is (修好了, 虚惊一场,
通知) and courtesy words that the message is a thank-you or greeting (谢谢, 大家注意); calm
words that a danger is not happening now (万一, 昨天, 怕). Courtesy doesn't calm an urgency:
"大家注意 5栋着火了" is an emergency. No-ask and courtesy cues before the last contrast word
(不过, 可是, 但是) don't count: "谢谢 路灯修好了 不过隔壁的灯也不亮" is a request. A danger
that is not current counts only a little toward the request: its words count through their
category. When a message is urgent, its urgency also counts (x
`thresholds.emergency_evidence`) for its kind's category, so a fight in progress is filed as
security even when the words are a family quarrel's.
`Classification.keywords` lists the terms that counted: the chosen category's, the problem,
ask, no-ask and courtesy cues, and urgency cues, in text order.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from nlp.classification import Classification
from nlp.conversation import drop_hyperbole, laughs
from nlp.hybrid import combine
from nlp.matcher import Hit, TermMatcher
from nlp.model import LinearModel, features
from nlp.normalize import normalize
from nlp.tokenizer import Tokenizer
from nlp.vocabulary import CATEGORY_CODES, Vocabulary

__all__ = ["Classification", "Classifier"]


_NOTHING = Classification(False, None, False, 1.0, ())


def _certainty(margin: float, scale: float) -> float:
    """0.5 at the threshold, rising towards 1 as the score moves away from it."""
    return 1.0 - 0.5 * math.exp(-max(margin, 0.0) / scale)


class Classifier:
    """Built once at start-up (before any fork): it loads jieba's dictionary eagerly."""

    __slots__ = (
        "_kind_category",
        "_kind_index",
        "_kind_name",
        "_kind_number",
        "_kind_possible",
        "_matcher",
        "_n_sections",
        "_tokenizer",
        "model",
        "vocabulary",
    )

    def __init__(
        self,
        vocabulary: Vocabulary,
        *,
        cache_dir: Path | None = None,
        model: LinearModel | None = None,
    ) -> None:
        self.vocabulary = vocabulary
        # The learned half (nlp/hybrid.py): None classifies by the keywords alone.
        self.model = model
        self._matcher = TermMatcher(vocabulary)
        self._n_sections = len(self._matcher.sections.names)
        self._tokenizer = Tokenizer(vocabulary.dictionary_words(), cache_dir=cache_dir)
        self._kind_number = tuple(k.emergency_number for k in vocabulary.urgency.values())
        self._kind_name = tuple(vocabulary.urgency)
        self._kind_possible = tuple(k.level == "possible" for k in vocabulary.urgency.values())
        self._kind_category = tuple(k.category for k in vocabulary.urgency.values())
        self._kind_index = tuple(CATEGORY_CODES.index(c) for c in self._kind_category)

    def classify(self, text: str) -> Classification:
        normalised, words = self._read(text)
        if not normalised:
            return _NOTHING
        verdict = self._decide(self._matcher.match(normalised, words))
        if self.model is None:
            return verdict
        prediction = self.model.predict(normalised, words)
        return combine(verdict, prediction, self.model.thresholds, may_add=not laughs(text))

    def keywords_only(self, text: str) -> Classification:
        """The keyword rules' verdict, whatever the model would say."""
        normalised, words = self._read(text)
        if not normalised:
            return _NOTHING
        return self._decide(self._matcher.match(normalised, words))

    def features(self, text: str) -> Counter[str]:
        """The model's features of ``text`` (what `gridbot train` fits on)."""
        return features(*self._read(text))

    def explain(self, text: str, label: str, n: int = 5) -> list[tuple[str, float]]:
        """The model's features that weighed most for ``label`` (empty without a model)."""
        if self.model is None:
            return []
        return self.model.explain(*self._read(text), label, n)

    def _read(self, text: str) -> tuple[str, list[str]]:
        """The message as the rules and the model read it: normalised, without a degree said
        with a danger ("热得俺都快着火了" is how hot, not a fire), and its words."""
        normalised = drop_hyperbole(normalize(text[: self.vocabulary.max_chars])).strip()
        return normalised, self._tokenizer.cut(normalised) if normalised else []

    def _decide(self, hits: list[Hit]) -> Classification:
        sections = self._matcher.sections
        thresholds = self.vocabulary.thresholds
        scores = [0.0] * self._n_sections
        # No-ask and courtesy cues before the last "but" (不过, 可是) don't count: they
        # settle or thank for what came before it, not for what follows.
        cutoff = -1
        for hit in hits:
            if sections.contrast in hit.sections:
                cutoff = hit.position
        dropped = (sections.no_ask, sections.courtesy)
        strongest_no_ask = 0.0
        for hit in hits:
            before = hit.position < cutoff
            for section, weight in zip(hit.sections, hit.weights, strict=True):
                if not (before and section in dropped):
                    scores[section] += weight
                    if section == sections.no_ask:
                        strongest_no_ask = max(strongest_no_ask, weight)

        kind, urgency = self._urgency(scores)
        no_ask = scores[sections.no_ask]
        urgent_cue = urgency - no_ask - scores[sections.calm] >= thresholds.urgent

        n = sections.n_categories
        evidence = scores[:n]
        if urgent_cue:
            # An emergency is evidence for the category of its kind (fire -> safety, a
            # fight in progress -> security), on top of what the words of the message say.
            evidence[self._kind_index[kind]] += thresholds.emergency_evidence * urgency
        # Ties go to the category listed first in CATEGORY_CODES (the first maximum).
        top = max(evidence)
        best = evidence.index(top)
        evidence[best] = -1.0
        second = max(evidence)
        topic = min(top, thresholds.topic_cap)
        # A danger that is happening now adds its full weight; one that isn't (a risk, the
        # past, a notice) is one more sign of a problem, and its words count through their
        # category.
        danger = urgency if urgent_cue else min(urgency, thresholds.hazard_cap)
        request_score = (
            topic
            + scores[sections.ask]
            + scores[sections.problem]
            + danger
            - no_ask
            - scores[sections.courtesy]
        )
        is_request = request_score >= thresholds.request and (
            topic >= thresholds.topic or urgent_cue
        )
        urgent = is_request and urgent_cue
        if is_request:
            category: str | None = CATEGORY_CODES[best] if topic > 0 else None
            if category is None:
                category = self._kind_category[kind]
            share = top / (top + second) if topic > 0 else 1.0
            confidence = _certainty(request_score - thresholds.request, thresholds.request)
            confidence *= share
        else:
            category = None
            if request_score < thresholds.request:
                margin, scale = thresholds.request - request_score, thresholds.request
            else:
                margin, scale = thresholds.topic - topic, thresholds.topic
            confidence = _certainty(margin, scale)

        shown = {best, sections.ask, sections.no_ask, sections.courtesy, sections.problem}
        if urgency > 0:
            shown.update(
                (
                    sections.urgency[kind],
                    sections.danger[kind],
                    sections.urgency_boost,
                    sections.calm,
                )
            )
        keywords = tuple(
            h.term
            for h in hits
            if not shown.isdisjoint(h.sections)
            and not (h.position < cutoff and set(h.sections) <= set(dropped))
        )
        return Classification(
            is_request=is_request,
            category=category,
            urgent=urgent,
            confidence=round(confidence, 3),
            keywords=keywords,
            emergency_number=self._kind_number[kind] if urgent else None,
            urgency_kind=self._kind_name[kind] if urgent else None,
            possible=urgent and self._kind_possible[kind],
            settled=strongest_no_ask >= thresholds.settled,
        )

    def _urgency(self, scores: list[float]) -> tuple[int, float]:
        """The best urgency kind and its score.

        A kind's danger elements (烟, 晕, 塌, 没影) are what a danger is made of; they count
        only in combination with a second element: an immediacy cue (the boosters 快, 还在,
        救命, ! reaching `thresholds.immediacy`), another danger element of the kind (together
        reaching `thresholds.urgent`), or, for the best kind when its own cues fall short of
        the threshold, a cue of the kind itself. Alone they are a topic, not an alarm
        ("烟花", "头晕好几天了")."""
        sections = self._matcher.sections
        thresholds = self.vocabulary.thresholds
        boost = scores[sections.urgency_boost]
        immediate = boost >= thresholds.immediacy

        def combined(elements: int) -> bool:
            # with immediacy, or with each other
            return immediate or scores[elements] >= thresholds.urgent

        kind, urgency = 0, 0.0
        for k, (section, elements) in enumerate(
            zip(sections.urgency, sections.danger, strict=True)
        ):
            score = scores[section] + (scores[elements] if combined(elements) else 0.0)
            if score > urgency:
                kind, urgency = k, score
        if urgency > 0:
            urgency += boost
            elements = sections.danger[kind]
            if urgency < thresholds.urgent and not combined(elements):
                # the kind's own cue is the second element: its danger elements back it
                urgency += scores[elements]
        return kind, urgency
