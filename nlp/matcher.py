"""Finding the vocabulary's terms in a normalised message.

Every term belongs to one or more *sections*: a category, the ask cues, the no-ask cues, or
an urgency kind. The matcher reports each distinct term once, with every section it counts
for, in the order the terms appear in the text, so the classifier can both score and explain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlp.vocabulary import CATEGORY_CODES, TermSet, Vocabulary

__all__ = ["ASK", "NO_ASK", "URGENCY_BOOST", "Hit", "Sections", "TermMatcher"]

ASK = "ask"
NO_ASK = "no_ask"
URGENCY_BOOST = "urgency_boost"


@dataclass(frozen=True, slots=True)
class Hit:
    """One matched term and what it counts for: `sections[i]` gets `weights[i]`."""

    term: str
    position: int
    sections: tuple[int, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Sections:
    """Section ids are list indices (scores live in a flat list, cheaper than dicts)."""

    names: tuple[str, ...]
    n_categories: int
    ask: int
    no_ask: int
    urgency_boost: int
    urgency: tuple[int, ...]

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> Sections:
        kinds = tuple(f"urgency:{kind}" for kind in vocabulary.urgency)
        names = (*CATEGORY_CODES, ASK, NO_ASK, URGENCY_BOOST, *kinds)
        n = len(CATEGORY_CODES)
        return cls(names, n, n, n + 1, n + 2, tuple(range(n + 3, n + 3 + len(kinds))))


_Entry = tuple[tuple[int, ...], tuple[float, ...]]


def _index(pairs: list[tuple[TermSet, int]], *, phrases: bool) -> dict[str, _Entry]:
    collected: dict[str, dict[int, float]] = {}
    for term_set, section in pairs:
        terms = term_set.phrases if phrases else term_set.keywords
        for term, weight in terms.items():
            collected.setdefault(term, {})[section] = weight
    return {t: (tuple(s), tuple(s.values())) for t, s in collected.items()}


# Inner matches of a token, remembered: residents reuse a small set of words, so after warm-up
# nearly every token is a dict hit. Bounded so a flood of random text can't grow it forever.
_INNER_CACHE_SIZE = 50_000


class TermMatcher:
    """Keywords are looked up token by token; phrases with one regex over the text.

    jieba's dictionary holds many words that contain a keyword (聚众赌博, 灯不亮, 自来水管,
    好久没), so a keyword of two or more characters also matches inside a longer token,
    longest first without overlaps. One-character keywords match only a whole token, which
    is what keeps 火 out of 火车 and 灯 out of 灯笼.
    """

    __slots__ = ("_inner", "_keywords", "_longest", "_phrase_re", "_phrases", "sections")

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.sections = Sections.of(vocabulary)
        pairs: list[tuple[TermSet, int]] = [
            (vocabulary.categories[code], i) for i, code in enumerate(CATEGORY_CODES)
        ]
        pairs += [(vocabulary.ask, self.sections.ask), (vocabulary.no_ask, self.sections.no_ask)]
        pairs += zip(vocabulary.urgency.values(), self.sections.urgency, strict=True)
        if vocabulary.urgency_boost is not None:
            pairs.append((vocabulary.urgency_boost, self.sections.urgency_boost))
        self._keywords = _index(pairs, phrases=False)
        self._longest = max((len(k) for k in self._keywords), default=0)
        self._inner: dict[str, tuple[tuple[int, str], ...]] = {}
        self._phrases = _index(pairs, phrases=True)
        # Longest first, so that at any position the longest phrase wins (修好了 before 好了)
        # and the phrases inside it are not counted again.
        alternatives = sorted(self._phrases, key=lambda p: (-len(p), p))
        self._phrase_re = (
            re.compile("|".join(map(re.escape, alternatives))) if alternatives else None
        )

    def _inner_keywords(self, token: str) -> tuple[tuple[int, str], ...]:
        cached = self._inner.get(token)
        if cached is not None:
            return cached
        keywords = self._keywords
        found: list[tuple[int, str]] = []
        i, n = 0, len(token)
        while i < n - 1:
            for length in range(min(self._longest, n - i), 1, -1):
                piece = token[i : i + length]
                if piece in keywords:
                    found.append((i, piece))
                    i += length
                    break
            else:
                i += 1
        result = tuple(found)
        if len(self._inner) >= _INNER_CACHE_SIZE:
            self._inner.clear()
        self._inner[token] = result
        return result

    def match(self, text: str, tokens: list[str]) -> list[Hit]:
        found: dict[str, Hit] = {}
        position = 0
        keywords = self._keywords
        for token in tokens:
            entry = keywords.get(token)
            if entry is not None:
                if token not in found:
                    found[token] = Hit(token, position, entry[0], entry[1])
            elif len(token) > 2:
                for offset, piece in self._inner_keywords(token):
                    if piece not in found:
                        sections, weights = keywords[piece]
                        found[piece] = Hit(piece, position + offset, sections, weights)
            position += len(token)
        if self._phrase_re is not None:
            for m in self._phrase_re.finditer(text):
                term = m.group()
                if term not in found:
                    sections, weights = self._phrases[term]
                    found[term] = Hit(term, m.start(), sections, weights)
        return sorted(found.values(), key=lambda h: h.position)
