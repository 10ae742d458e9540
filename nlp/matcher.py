"""Finding the vocabulary's terms in a normalised message.

Every term belongs to one or more *sections*: a category, the problem, ask, no-ask, courtesy,
calm or contrast cues, the urgency boosters, an urgency kind or its danger elements. The
matcher reports each distinct term once, with every section it counts for, in the order the
terms appear in the text, so the classifier can both score and explain. Where one matched
term lies inside another (骗 in 被骗, 好的 in 说好的, 修好了 over 好了), only the longer
counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from nlp.vocabulary import CATEGORY_CODES, TermSet, Vocabulary

__all__ = [
    "ASK",
    "CALM",
    "CONTRAST",
    "COURTESY",
    "NO_ASK",
    "PROBLEM",
    "URGENCY_BOOST",
    "Hit",
    "Sections",
    "TermMatcher",
]

ASK = "ask"
NO_ASK = "no_ask"
PROBLEM = "problem"
COURTESY = "courtesy"
URGENCY_BOOST = "urgency_boost"
CALM = "calm"
CONTRAST = "contrast"


class Hit(NamedTuple):
    """One matched term and what it counts for: `sections[i]` gets `weights[i]`.

    A NamedTuple rather than a frozen dataclass: a message makes several, and a tuple is
    built several times faster."""

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
    courtesy: int
    problem: int
    urgency_boost: int
    calm: int
    contrast: int
    urgency: tuple[int, ...]
    # danger elements of each urgency kind, in the order of `urgency`
    danger: tuple[int, ...]

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> Sections:
        kinds = tuple(f"urgency:{kind}" for kind in vocabulary.urgency)
        names = (
            *CATEGORY_CODES,
            ASK,
            NO_ASK,
            COURTESY,
            PROBLEM,
            URGENCY_BOOST,
            CALM,
            CONTRAST,
            *kinds,
            *(f"danger:{kind}" for kind in vocabulary.urgency),
        )
        n = len(CATEGORY_CODES)
        first_kind = n + 7
        first_danger = first_kind + len(kinds)
        return cls(
            names, n, n, n + 1, n + 2, n + 3, n + 4, n + 5, n + 6,
            tuple(range(first_kind, first_danger)),
            tuple(range(first_danger, first_danger + len(kinds))),
        )  # fmt: skip


_Entry = tuple[tuple[int, ...], tuple[float, ...]]


def _index(pairs: list[tuple[TermSet, int]], *, phrases: bool) -> dict[str, _Entry]:
    collected: dict[str, dict[int, float]] = {}
    for term_set, section in pairs:
        terms = term_set.phrases if phrases else term_set.keywords
        for term, weight in terms.items():
            collected.setdefault(term, {})[section] = weight
    return {t: (tuple(s), tuple(s.values())) for t, s in collected.items()}


class _PhraseTrie:
    """Many literal phrases in a character trie, found left to right, longest first.

    At each position the longest phrase that starts there is found, unless it lies inside a
    phrase found before it (修好了 hides 好了: it was read as part of 修好了). A phrase that
    starts inside an earlier one and ends beyond it is found too: residents' words run into
    each other, and 都没 must not hide 没来水 in 都没来水, nor 被关 hide 关在车里 (the
    non-overlapping scan of before did, and every such pair had to be listed again as one
    longer phrase). A position where no phrase starts costs one dict lookup. A trie-shaped
    regex was 3x slower at 1,500 phrases: Python's regex engine tries the branches of an
    alternation one by one."""

    __slots__ = ("_root",)

    _END = ""  # key of the phrase that ends at a node; no phrase is empty

    def __init__(self, words: Iterable[str]) -> None:
        self._root: dict[str, Any] = {}
        for word in words:
            node = self._root
            for ch in word:
                node = node.setdefault(ch, {})
            node[self._END] = word

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, phrase) of each phrase found, in text order; none lies inside another."""
        found: list[tuple[int, int, str]] = []
        root, end_key = self._root, self._END
        i, n = 0, len(text)
        reach = 0
        while i < n:
            node = root.get(text[i])
            if node is None:
                i += 1
                continue
            best_end, best = -1, ""
            j = i + 1
            while True:
                word = node.get(end_key)
                if word is not None:
                    best_end, best = j, word
                if j == n:
                    break
                node = node.get(text[j])
                if node is None:
                    break
                j += 1
            if best_end > reach:  # not inside the phrase found before it
                found.append((i, best_end, best))
                reach = best_end
            i += 1
        return found


# Inner matches of a token, remembered: residents reuse a small set of words, so after warm-up
# nearly every token is a dict hit. Bounded so a flood of random text can't grow it forever.
_INNER_CACHE_SIZE = 50_000


class TermMatcher:
    """Keywords are looked up token by token; phrases with one trie-shaped regex over the text.

    jieba's dictionary holds many words that contain a keyword (聚众赌博, 灯不亮, 自来水管,
    好久没), so a keyword of two or more characters also matches inside a longer token,
    longest first without overlaps. One-character keywords match only a whole token, which
    is what keeps 火 out of 火车 and 灯 out of 灯笼.
    """

    __slots__ = ("_inner", "_keywords", "_longest", "_phrase_trie", "_phrases", "sections")

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.sections = Sections.of(vocabulary)
        pairs: list[tuple[TermSet, int]] = [
            (vocabulary.categories[code], i) for i, code in enumerate(CATEGORY_CODES)
        ]
        pairs += [(vocabulary.ask, self.sections.ask), (vocabulary.no_ask, self.sections.no_ask)]
        pairs += zip(vocabulary.urgency.values(), self.sections.urgency, strict=True)
        optional = (
            (vocabulary.courtesy, self.sections.courtesy),
            (vocabulary.problem, self.sections.problem),
            (vocabulary.urgency_boost, self.sections.urgency_boost),
            (vocabulary.calm, self.sections.calm),
            (vocabulary.contrast, self.sections.contrast),
        )
        pairs += [(terms, section) for terms, section in optional if terms is not None]
        danger = vocabulary.danger or {}
        pairs += [
            (danger[kind], section)
            for kind, section in zip(vocabulary.urgency, self.sections.danger, strict=True)
            if kind in danger
        ]
        self._keywords = _index(pairs, phrases=False)
        self._longest = max((len(k) for k in self._keywords), default=0)
        self._inner: dict[str, tuple[tuple[int, str], ...]] = {}
        self._phrases = _index(pairs, phrases=True)
        self._phrase_trie = _PhraseTrie(self._phrases)

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
        """Every term found, once, in text order. Where a keyword and a phrase overlap so
        that one lies inside the other, only the longer counts: the shorter was read as part
        of it (骗 in 被骗, 好的 in 说好的, 着火 in 不是着火)."""
        keywords = self._keywords
        # (start, end, term) of every keyword occurrence
        occurrences: list[tuple[int, int, str]] = []
        position = 0
        for token in tokens:
            size = len(token)
            if token in keywords:
                occurrences.append((position, position + size, token))
            elif size > 2:
                for offset, piece in self._inner_keywords(token):
                    start = position + offset
                    occurrences.append((start, start + len(piece), piece))
            position += size
        phrases: list[tuple[int, int, str]] = []
        for start, end, term in self._phrase_trie.find(text):
            for a, b, _ in occurrences:
                if a <= start and end <= b:
                    break
            else:
                phrases.append((start, end, term))
        found: dict[str, Hit] = {}
        for start, end, term in occurrences:
            if term in found:
                continue
            for a, b, _ in phrases:
                if a <= start and end <= b:
                    break
            else:
                sections, weights = keywords[term]
                found[term] = Hit(term, start, sections, weights)
        for start, _, term in phrases:
            if term not in found:
                sections, weights = self._phrases[term]
                found[term] = Hit(term, start, sections, weights)
        if any(hit.term[0] in _DIGITS or hit.term[-1] in _DIGITS for hit in found.values()):
            found = {t: h for t, h in found.items() if _number_of_its_own(text, h)}
        if len(found) < 2:
            return list(found.values())
        return sorted(found.values(), key=_position)


def _position(hit: Hit) -> int:
    return hit.position


_DIGITS = frozenset("0123456789")
# After a number these make it a house, room, building, amount or count: 110室, 120号, 119栋,
# 120蚊 (Cantonese yuan), 120袋, 120平 (square metres). Not 人, 包 or 晚: "打120人晕了",
# "打120包扎", "打120晚了".
_NUMBER_UNITS = frozenset(
    "号室栋楼幢单元户层弄巷路米元块斤岁年月日点分秒次个多届期路公里蚊毛角袋箱盒瓶桶件台张套平"
)
# A price before the number: 一袋120, 一晚120, 每斤110, 一百斤120, 卖120, 双人套餐119 (not
# 一辆120, an ambulance).
_AMOUNT_BEFORE = re.compile(r"(?:[一每](?![辆个])[\u4e00-\u9fff]|[卖价收售餐斤])$")
# A parking space (119车位); a letter before the digits, joined or not, makes a code (B-119).
_SPOT = "车位"
_CODE_JOINERS = frozenset("-－_·#")
# Readings of the body, said as numbers: 血压120, 高压都110了.
_MEASURES = ("血压", "高压", "低压", "心率", "心跳", "血糖", "体重", "脉搏")
# digits with the spaces, dots and dashes people write inside phone and ID numbers
_NUMBER_RUN = re.compile(r"\d+(?:[ .\-]\d+)*")
# A run of digits this long, with or without spaces and dashes, is a phone, ID or account
# number, whatever emergency number it happens to contain.
_LONG_NUMBER = 7


def _number_of_its_own(text: str, hit: Hit) -> bool:
    """Whether the digits of a term (110, 打119) stand as a number of their own in ``text``:
    not inside a longer run of digits (13811012345, 0731-81190120, 138 1101 2345) and not a
    house, room or building number (110室, 120号, 119栋). Terms without digits pass."""
    term = hit.term
    if term[0] not in _DIGITS and term[-1] not in _DIGITS:
        return True
    first = hit.position + next(i for i, ch in enumerate(term) if ch in _DIGITS)
    last = hit.position + max(i for i, ch in enumerate(term) if ch in _DIGITS) + 1
    if (first > 0 and text[first - 1] in _DIGITS) or (last < len(text) and text[last] in _DIGITS):
        return False
    if (last < len(text) and text[last] in _NUMBER_UNITS) or text.startswith(_SPOT, last):
        return False
    if text.startswith("一", last):
        return False  # a price for one: 120一桶, 110一箱
    if any(word in text[max(0, first - 4) : first] for word in _MEASURES):
        return False  # a reading: 血压120往上冲
    if _AMOUNT_BEFORE.search(text, 0, first):
        return False  # a price: 化肥一袋120, 民宿一晚120
    before = first - 2 if first > 1 and text[first - 1] in _CODE_JOINERS else first - 1
    if before >= 0 and text[before].isascii() and text[before].isalpha():
        return False  # a code: B-119 (a parking space), A120, K110
    for run in _NUMBER_RUN.finditer(text):
        if run.start() <= first < run.end():
            return sum(ch in _DIGITS for ch in run.group()) < _LONG_NUMBER
    return True
