from __future__ import annotations

from typing import Any

import pytest

from nlp.matcher import TermMatcher
from nlp.tokenizer import Tokenizer
from nlp.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def small_vocabulary(shipped_vocabulary_data: dict[str, Any]) -> Vocabulary:
    data: dict[str, Any] = {
        "categories": {
            code: {
                "name": entry["name"],
                "time_limit_hours": entry["time_limit_hours"],
                "urgent_time_limit_hours": entry["urgent_time_limit_hours"],
                "keywords": {f"占位{i}": 1},
            }
            for i, (code, entry) in enumerate(shipped_vocabulary_data["categories"].items())
        },
        "ask": {"keywords": {"麻烦": 1}, "phrases": {"?": 0.5}},
        "no_ask": {"keywords": {"谢谢": 1}, "phrases": {"修好了": 3, "好了": 1}},
        "urgency": {"fire": {"emergency_number": "119", "category": "safety",
                             "keywords": {"着火": 2}}},
    }  # fmt: skip
    facility = data["categories"]["facility"]["keywords"]
    facility.update({"灯": 1, "路灯": 1.5, "不亮": 1.5})
    data["categories"]["security"]["keywords"].update({"赌博": 3})
    data["categories"]["safety"]["keywords"].update({"着火": 3})
    return Vocabulary.model_validate(data)


@pytest.fixture(scope="module")
def matcher(small_vocabulary: Vocabulary) -> TermMatcher:
    return TermMatcher(small_vocabulary)


@pytest.fixture(scope="module")
def tokenizer(small_vocabulary: Vocabulary, jieba_cache_dir: Any) -> Tokenizer:
    return Tokenizer(small_vocabulary.all_terms(), cache_dir=jieba_cache_dir)


def _terms(matcher: TermMatcher, tokenizer: Tokenizer, text: str) -> list[str]:
    return [h.term for h in matcher.match(text, tokenizer.cut(text))]


def test_single_character_keyword_needs_a_whole_token(
    matcher: TermMatcher, tokenizer: Tokenizer
) -> None:
    assert _terms(matcher, tokenizer, "灯坏了") == ["灯"]
    assert _terms(matcher, tokenizer, "门口挂了两个灯笼") == []


def test_longer_keyword_matches_inside_a_longer_token(
    matcher: TermMatcher, tokenizer: Tokenizer
) -> None:
    assert "聚众赌博" in tokenizer.cut("村里有人聚众赌博")  # a word of jieba's own dictionary
    assert _terms(matcher, tokenizer, "村里有人聚众赌博") == ["赌博"]


def test_longest_phrase_wins(matcher: TermMatcher, tokenizer: Tokenizer) -> None:
    assert _terms(matcher, tokenizer, "路灯修好了,谢谢") == ["路灯", "修好了", "谢谢"]
    assert _terms(matcher, tokenizer, "弄好了") == ["好了"]


def test_each_term_once_in_text_order(matcher: TermMatcher, tokenizer: Tokenizer) -> None:
    hits = matcher.match("路灯不亮?路灯不亮?", tokenizer.cut("路灯不亮?路灯不亮?"))
    assert [h.term for h in hits] == ["路灯", "不亮", "?"]
    assert [h.position for h in hits] == [0, 2, 4]


def test_a_term_counts_for_every_section_that_lists_it(matcher: TermMatcher) -> None:
    (hit,) = matcher.match("着火", ["着火"])
    names = [matcher.sections.names[s] for s in hit.sections]
    assert sorted(zip(names, hit.weights, strict=True)) == [("safety", 3.0), ("urgency:fire", 2.0)]
