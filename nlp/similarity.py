"""Whether two residents' messages are about the same matter (for merging duplicates).

Merging wrongly hides a resident's matter inside another's, which is worse than a duplicate a
leader can /合并 by hand, so this errs towards "different".
"""

from __future__ import annotations

import re

from nlp.normalize import normalize
from nlp.vocabulary import Vocabulary

_NUMBER = re.compile(r"\d+")
_NOT_TEXT = re.compile(r"[^\w]", re.UNICODE)
# A term with one of these describes a state (不亮, 漏水, 堵了), not the thing it is about: two
# different things can be in the same state.
_STATE_CHARS = frozenset("不没坏漏堵臭吵乱破断裂满停爆塌")


def topic_terms(text: str, vocabulary: Vocabulary, category: str) -> set[str]:
    """The words in ``text`` (already normalised) that name what the matter is about: terms
    of ``category`` that are not state words, longest first (灯 inside 路灯 is not counted)."""
    found_in = vocabulary.categories.get(category)  # type: ignore[call-overload]
    if found_in is None:
        return set()
    problem = set(vocabulary.problem.terms()) if vocabulary.problem is not None else set()
    found = [
        term
        for term in found_in.terms()
        if term in text and term not in problem and not _STATE_CHARS.intersection(term)
    ]
    found.sort(key=len, reverse=True)
    kept: list[str] = []
    for term in found:
        if not any(term in longer for longer in kept):
            kept.append(term)
    return set(kept)


def _pairs(text: str) -> set[str]:
    compact = _NOT_TEXT.sub("", text)
    return {compact[i : i + 2] for i in range(len(compact) - 1)} or {compact}


def same_matter(
    a: str, b: str, vocabulary: Vocabulary | None, category: str, threshold: float
) -> bool:
    """True when ``a`` and ``b``, filed under ``category``, are about one matter: they name
    the same thing (a topic word of the category), or share most of their character pairs.

    Messages naming different numbers (3栋 vs 5栋, 2单元 vs 4单元) are different matters
    however alike the rest is.
    """
    na, nb = normalize(a), normalize(b)
    numbers_a, numbers_b = set(_NUMBER.findall(na)), set(_NUMBER.findall(nb))
    if numbers_a and numbers_b and not numbers_a & numbers_b:
        return False
    if vocabulary is not None and (
        topic_terms(na, vocabulary, category) & topic_terms(nb, vocabulary, category)
    ):
        return True
    pa, pb = _pairs(na), _pairs(nb)
    shorter = min(len(pa), len(pb))
    return shorter > 0 and len(pa & pb) / shorter >= threshold
