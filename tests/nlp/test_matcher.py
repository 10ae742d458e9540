from __future__ import annotations

import random
from typing import Any

import pytest

from nlp.matcher import TermMatcher, _PhraseTrie
from nlp.tokenizer import Tokenizer
from nlp.vocabulary import TermSet, Vocabulary


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


def test_contrast_words_have_their_own_section(small_vocabulary: Vocabulary) -> None:
    contrast = TermSet.model_validate({"keywords": {"不过": 1}})
    matcher = TermMatcher(small_vocabulary.model_copy(update={"contrast": contrast}))
    hits = {h.term: h for h in matcher.match("谢谢 不过不亮", ["谢谢", " ", "不过", "不亮"])}
    assert [matcher.sections.names[s] for s in hits["不过"].sections] == ["contrast"]
    assert matcher.sections.contrast not in (*matcher.sections.urgency, matcher.sections.no_ask)
    # the urgency kinds come after every cue section
    assert matcher.sections.names[matcher.sections.urgency[0]] == "urgency:fire"


@pytest.fixture(scope="module")
def overlap_vocabulary(shipped_vocabulary_data: dict[str, Any]) -> Vocabulary:
    """Terms that overlap: a one-character phrase inside keywords, a keyword inside a phrase."""
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
        "ask": {"keywords": {"麻烦": 1}},
        "no_ask": {"keywords": {"好的": 1.5}},
        "urgency": {"fire": {"emergency_number": "119", "category": "safety",
                             "keywords": {"着火": 2}}},
    }  # fmt: skip
    data["categories"]["security"]["keywords"].update({"被骗": 3})
    data["categories"]["security"]["phrases"] = {"骗": 1.5}
    data["categories"]["dispute"]["phrases"] = {"说好的": 1}
    return Vocabulary.model_validate(data)


def test_a_term_inside_a_longer_matched_term_does_not_count_again(
    overlap_vocabulary: Vocabulary, jieba_cache_dir: Any
) -> None:
    matcher = TermMatcher(overlap_vocabulary)
    tokenizer = Tokenizer(overlap_vocabulary.dictionary_words(), cache_dir=jieba_cache_dir)
    # a phrase inside a keyword: 骗 was read as part of 被骗
    assert _terms(matcher, tokenizer, "我被骗了") == ["被骗"]
    # ... but still catches the compounds nobody listed
    assert _terms(matcher, tokenizer, "钱被人骗走了") == ["骗"]
    # a keyword inside a phrase: 好的 was read as part of 说好的
    assert _terms(matcher, tokenizer, "说好的工钱") == ["说好的"]
    assert _terms(matcher, tokenizer, "好的") == ["好的"]


def _longest_at_each_position(words: set[str], text: str) -> list[tuple[int, int, str]]:
    """The reference: at each position the longest word starting there, dropped when it lies
    inside a word kept before it."""
    found: list[tuple[int, int, str]] = []
    reach = 0
    for i in range(len(text)):
        here = [w for w in words if text.startswith(w, i)]
        if here:
            word = max(here, key=len)
            if i + len(word) > reach:
                found.append((i, i + len(word), word))
                reach = i + len(word)
    return found


def test_phrase_trie_finds_the_longest_phrase_at_each_position() -> None:
    rng = random.Random(7)
    alphabet = "修好了灯不亮坏掉"
    words = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(60)}
    trie = _PhraseTrie(words)
    for _ in range(300):
        text = "".join(rng.choice(alphabet + "的了") for _ in range(rng.randint(0, 20)))
        assert trie.find(text) == _longest_at_each_position(words, text)


def test_phrase_trie_edges() -> None:
    trie = _PhraseTrie(["修好了", "好了", "修", "了吗"])
    assert trie.find("") == []
    assert trie.find("修好了") == [(0, 3, "修好了")]  # 好了 lies inside it: not again
    # 了吗 starts inside 修好了 and ends beyond it: both are read
    assert trie.find("修好了吗") == [(0, 3, "修好了"), (2, 4, "了吗")]
    assert trie.find("修好") == [(0, 1, "修")]  # a dead end falls back to the last phrase
    assert trie.find("好了好了") == [(0, 2, "好了"), (2, 4, "好了")]
    assert _PhraseTrie([]).find("修好了") == []


def test_a_phrase_starting_inside_another_is_not_hidden_by_it(
    small_vocabulary: Vocabulary,
) -> None:
    problem = TermSet.model_validate({"phrases": {"都没": 0.5}})
    categories = dict(small_vocabulary.categories)
    categories["facility"] = categories["facility"].model_copy(update={"phrases": {"没来水": 2.0}})
    vocabulary = small_vocabulary.model_copy(update={"problem": problem, "categories": categories})
    matcher = TermMatcher(vocabulary)
    hits = matcher.match("一天都没来水", ["一天", "都", "没", "来水"])
    assert [(h.term, h.position) for h in hits] == [("都没", 2), ("没来水", 3)]


def test_single_characters_are_not_boosted_in_the_dictionary(jieba_cache_dir: Any) -> None:
    # boosting 路 would cut it out of 路灯
    tokenizer = Tokenizer({"路", "路灯", "不亮"}, cache_dir=jieba_cache_dir)
    assert tokenizer.cut("路灯不亮") == ["路灯", "不亮"]
