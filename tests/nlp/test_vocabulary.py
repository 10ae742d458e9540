from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from nlp.vocabulary import CATEGORY_CODES, Vocabulary


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as excinfo:
        Vocabulary.model_validate(data)
    return str(excinfo.value)


def test_shipped_vocabulary_is_complete(vocabulary: Vocabulary) -> None:
    assert tuple(vocabulary.categories) == CATEGORY_CODES
    names = {code: c.name for code, c in vocabulary.categories.items()}
    assert names["facility"] == "设施报修"
    assert names["consult"] == "政策咨询"
    for category in vocabulary.categories.values():
        assert 0 < category.urgent_time_limit_hours <= category.time_limit_hours
        assert category.keywords
    assert vocabulary.max_chars == 500
    numbers = {kind: k.emergency_number for kind, k in vocabulary.urgency.items()}
    assert numbers["fire"] == numbers["gas"] == "119"
    assert numbers["crime"] == "110"
    assert numbers["medical"] == numbers["water"] == "120"


@pytest.mark.parametrize("term", ["路灯", "井盖", "宅基地", "电动车充电", "秸秆", "低保", "电诈"])
def test_governance_vocabulary_is_configured(vocabulary: Vocabulary, term: str) -> None:
    assert term in vocabulary.all_terms()


def test_unknown_category_code_is_rejected(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["categories"]["traffic"] = vocabulary_data["categories"]["facility"]
    message = _error(vocabulary_data)
    assert "categories.traffic" in message


def test_missing_category_is_rejected(vocabulary_data: dict[str, Any]) -> None:
    del vocabulary_data["categories"]["dispute"]
    assert "missing: dispute" in _error(vocabulary_data)


def test_category_without_terms_is_rejected(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["categories"]["consult"]["keywords"] = {}
    vocabulary_data["categories"]["consult"].pop("phrases", None)
    message = _error(vocabulary_data)
    assert "categories.consult" in message
    assert "at least one keyword or phrase" in message


@pytest.mark.parametrize("weight", [0, -1, 11, "heavy"])
def test_weight_must_be_positive_and_bounded(
    vocabulary_data: dict[str, Any], weight: object
) -> None:
    vocabulary_data["categories"]["facility"]["keywords"]["路灯"] = weight
    assert "categories.facility.keywords.路灯" in _error(vocabulary_data)


def test_unknown_field_is_rejected(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["categories"]["facility"]["keyword"] = {"灯": 1}
    assert "Extra inputs are not permitted" in _error(vocabulary_data)


def test_term_that_normalises_to_nothing_is_rejected(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["no_ask"]["keywords"]["👍"] = 2
    assert "empty after normalisation" in _error(vocabulary_data)


def test_terms_that_normalise_to_the_same_are_rejected(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["categories"]["facility"]["keywords"]["路燈"] = 1
    message = _error(vocabulary_data)
    assert "'路燈' and '路灯' are the same term" in message


def test_keyword_in_one_section_and_phrase_in_another_is_rejected(
    vocabulary_data: dict[str, Any],
) -> None:
    vocabulary_data["categories"]["dispute"]["phrases"]["路灯"] = 1
    message = _error(vocabulary_data)
    assert (
        "'路灯' is a keyword in categories.facility and a phrase in categories.dispute" in message
    )


def test_urgent_deadline_must_not_exceed_normal_deadline(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["categories"]["facility"]["urgent_time_limit_hours"] = 100
    assert "must not exceed time_limit_hours" in _error(vocabulary_data)


@pytest.mark.parametrize("number", ["", "1x9", "119119"])
def test_emergency_number_must_be_digits(vocabulary_data: dict[str, Any], number: str) -> None:
    vocabulary_data["urgency"]["fire"]["emergency_number"] = number
    assert "urgency.fire.emergency_number" in _error(vocabulary_data)


def test_urgency_fallback_category_must_be_a_code(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["urgency"]["fire"]["category"] = "fire"
    assert "urgency.fire.category" in _error(vocabulary_data)


def test_no_urgency_kinds_is_rejected(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["urgency"] = {}
    assert "emergencies are never flagged" in _error(vocabulary_data)


def test_topic_cap_below_topic_is_rejected(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["thresholds"]["topic_cap"] = 0.5
    assert "topic_cap" in _error(vocabulary_data)


@pytest.mark.parametrize("max_chars", [0, 5, 1_000_000])
def test_max_chars_bounds(vocabulary_data: dict[str, Any], max_chars: int) -> None:
    vocabulary_data["max_chars"] = max_chars
    assert "max_chars" in _error(vocabulary_data)


def test_terms_are_stored_normalised(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["categories"]["environment"]["keywords"]["ＤＪ舞廳"] = 1.5
    vocabulary = Vocabulary.model_validate(vocabulary_data)
    assert vocabulary.categories["environment"].keywords["dj舞厅"] == 1.5
    assert "dj舞厅" in vocabulary.all_terms()


def test_defaults_for_optional_sections(vocabulary_data: dict[str, Any]) -> None:
    del vocabulary_data["max_chars"]
    del vocabulary_data["thresholds"]
    del vocabulary_data["urgency_boost"]
    vocabulary = Vocabulary.model_validate(vocabulary_data)
    assert vocabulary.max_chars == 500
    assert vocabulary.thresholds.request == 2.0
    assert vocabulary.urgency_boost is None


def test_newer_sections_and_thresholds_are_optional(vocabulary_data: dict[str, Any]) -> None:
    for section in ("problem", "courtesy", "calm", "contrast"):
        vocabulary_data.pop(section, None)
    vocabulary_data["thresholds"] = {}
    vocabulary = Vocabulary.model_validate(vocabulary_data)
    assert vocabulary.problem is vocabulary.courtesy is vocabulary.calm is None
    assert vocabulary.contrast is None
    assert vocabulary.thresholds.emergency_evidence == 0.0
    assert vocabulary.thresholds.hazard_cap == 50.0


def test_shipped_vocabulary_gives_every_cue_a_role(vocabulary: Vocabulary) -> None:
    assert vocabulary.problem is not None
    assert {"坏了", "没人管"} <= set(vocabulary.problem.terms())
    assert vocabulary.courtesy is not None
    assert {"谢谢", "大家注意"} <= set(vocabulary.courtesy.terms())
    assert vocabulary.calm is not None
    assert {"万一", "昨天"} <= set(vocabulary.calm.terms())
    assert vocabulary.contrast is not None
    assert {"不过", "可是", "但是"} <= set(vocabulary.contrast.terms())


def test_dictionary_words_are_the_keywords_of_two_characters_or_more(
    vocabulary: Vocabulary,
) -> None:
    words = vocabulary.dictionary_words()
    assert "路灯" in words
    assert "灯" not in words  # one character
    assert "说了也不听" not in words  # a phrase: found in the text, not by jieba
    assert words < vocabulary.all_terms()


def test_danger_elements_need_a_known_urgency_kind(vocabulary_data: dict[str, Any]) -> None:
    vocabulary_data["danger"]["meteor"] = {"phrases": {"陨石": 1}}
    message = _error(vocabulary_data)
    assert "danger: meteor is not an urgency kind" in message


def test_a_danger_element_may_not_also_be_a_cue_of_its_kind(
    vocabulary_data: dict[str, Any],
) -> None:
    vocabulary_data["danger"]["fire"]["phrases"]["着火"] = 1
    message = _error(vocabulary_data)
    assert "danger.fire: ['着火'] already listed in urgency.fire" in message


def test_danger_elements_are_optional(vocabulary_data: dict[str, Any]) -> None:
    del vocabulary_data["danger"]
    assert Vocabulary.model_validate(vocabulary_data).danger is None


def test_shipped_danger_elements_cover_every_urgency_kind(vocabulary: Vocabulary) -> None:
    assert vocabulary.danger is not None
    assert set(vocabulary.danger) == set(vocabulary.urgency)
    assert vocabulary.thresholds.immediacy == 0.5
