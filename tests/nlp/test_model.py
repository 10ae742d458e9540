from __future__ import annotations

import math

import pytest

from nlp.model import LABELS, HybridThresholds, LinearModel, features


def _model(**overrides: object) -> LinearModel:
    n = len(LABELS)
    base: dict[str, object] = {
        "version": "v7",
        "labels": LABELS,
        "intercepts": (1.0,) + (0.0,) * (n - 1),
        "idf": {"c:灯": 2.0, "c:坏": 1.5, "w:路灯": 3.0, "c:好": 1.0},
        "weights": {
            "c:灯": (0.0, 0.0, 2.0) + (0.0,) * (n - 3),
            "w:路灯": (-1.0, 0.0, 3.0) + (0.0,) * (n - 3),
        },
        "thresholds": HybridThresholds(add=0.7, drop=0.1, switch=0.8, urgent=0.6),
        "meta": {"note": "测试"},
    }
    base.update(overrides)
    return LinearModel(**base)  # type: ignore[arg-type]


def test_features_fold_digits_and_keep_words_of_two_characters_or_more() -> None:
    counts = features("3栋 路灯", ["3", "栋", " ", "路灯"])
    assert counts["w:路灯"] == 1
    assert "w:栋" not in counts  # one character: already a character feature
    assert counts["c:0栋"] == 1  # 3栋 and 5栋 are the same evidence
    assert "c:3" not in counts
    assert counts["c:灯"] == 1
    assert "c:栋 路" not in counts  # n-grams stay within runs without spaces


def test_repeated_ngrams_are_counted() -> None:
    assert features("哈哈哈", [])["c:哈"] == 3
    assert features("哈哈哈", [])["c:哈哈"] == 2


def test_probabilities_follow_the_documented_formula() -> None:
    model = _model()
    n = len(LABELS)
    p = model.predict_counts({"c:灯": 1, "w:路灯": 2, "c:不认识": 1})
    # tf-idf with sublinear tf, scaled to unit length, over known features only
    v_light, v_road = 2.0, (1 + math.log(2)) * 3.0
    norm = math.hypot(v_light, v_road)
    scores = [1.0 - v_road / norm, 0.0, (2.0 * v_light + 3.0 * v_road) / norm] + [0.0] * (n - 3)
    exps = [math.exp(s) for s in scores]
    expected = [e / sum(exps) for e in exps]
    assert p.probabilities == pytest.approx(expected)
    assert p.p_request == pytest.approx(1 - expected[0])
    assert p.category == LABELS[2]
    assert p.p_category == pytest.approx(expected[2] / (1 - expected[0]))
    assert p.p_urgent is None
    assert p.known == 2  # 不认识 is no feature of the model


def test_a_message_with_no_known_feature_scores_the_intercepts() -> None:
    p = _model().predict_counts({"c:无": 1})
    assert sum(p.probabilities) == pytest.approx(1.0)
    assert p.probabilities[0] == max(p.probabilities)


def test_the_urgency_head_is_a_sigmoid_of_its_own_column() -> None:
    n = len(LABELS)
    model = _model(
        weights={"c:灯": (0.0,) * n + (4.0,)},
        urgent_intercept=-1.0,
    )
    p = model.predict_counts({"c:灯": 1})
    assert p.p_urgent == pytest.approx(1 / (1 + math.exp(-(4.0 - 1.0))))


def test_dump_and_parse_give_back_the_same_model() -> None:
    n = len(LABELS)
    model = _model(weights={"c:灯": tuple(0.1 * k for k in range(n + 1))}, urgent_intercept=0.25)
    again = LinearModel.parse(model.dump())
    assert again.version == "v7"
    assert again.thresholds == model.thresholds
    assert again.meta == {"note": "测试"}
    assert again.idf == model.idf
    assert again.weights["c:灯"] == pytest.approx(model.weights["c:灯"])
    counts = {"c:灯": 2, "c:好": 1}
    assert again.predict_counts(counts).probabilities == pytest.approx(
        model.predict_counts(counts).probabilities
    )
    assert again.predict_counts(counts).p_urgent == pytest.approx(
        model.predict_counts(counts).p_urgent
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("labels\tnone\nintercept\t0\n", "lacks: version"),
        ("version\tv1\nlabels\tnone\tfacility\nintercept\t0\t0\nc:灯\tx\n", "line 4"),
        ("version\tv1\nlabels\tnone\tfacility\nintercept\t0\t0\nbogus\t1\n", "line 4"),
        ("version\tv1\nlabels\tnone\tlamps\nintercept\t0\t0\n", "category codes"),
        ("version\tv1\nlabels\tnone\tfacility\nintercept\t0\t0\nc:灯\t1\t0.5\n", "one weight"),
    ],
)
def test_a_broken_model_file_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        LinearModel.parse(text)


def test_explain_names_the_features_that_pushed_towards_the_label() -> None:
    model = _model()
    top = model.explain("路灯坏了", ["路灯", "坏", "了"], LABELS[2])
    assert [f for f, _ in top] == ["w:路灯", "c:灯"]
    assert all(w > 0 for _, w in top)
    # against "not a request", the features that pushed towards the best category
    assert [f for f, _ in model.explain("好", ["好"], "none")] == []
