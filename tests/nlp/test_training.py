from __future__ import annotations

import pytest

from nlp.classifier import Classifier
from nlp.model import LABELS, LinearModel
from nlp.training import Example, fit, out_of_fold, sklearn_probabilities

FIXTURE = [
    ("3栋楼道的灯坏了好几天", "facility", False),
    ("路灯不亮了 晚上黑漆漆的", "facility", False),
    ("电梯又坏了 老人下不了楼", "facility", False),
    ("小区门口垃圾堆了三天没人清", "environment", False),
    ("垃圾桶满了 臭得很", "environment", False),
    ("楼下烧烤油烟太大 垃圾乱扔", "environment", False),
    ("楼道里有很浓的煤气味 快来人", "safety", True),
    ("5栋着火了 好大的烟", "safety", True),
    ("电动车在楼道里充电 太危险了", "safety", False),
    ("早上好 各位邻居", "none", False),
    ("收到 谢谢网格员", "none", False),
    ("哈哈哈 今天天气真好", "none", False),
    ("好的 明天见", "none", False),
]
QUERIES = ["6栋的灯也坏了", "垃圾没人清", "煤气味很重", "谢谢大家", "完全无关的话"]


@pytest.fixture(scope="module")
def examples(classifier: Classifier) -> list[Example]:
    return [(classifier.features(t), label, urgent) for t, label, urgent in FIXTURE]


def test_an_exported_model_scores_exactly_as_scikit_learn(
    classifier: Classifier, examples: list[Example]
) -> None:
    model = fit(examples, version="v1", c=5.0, min_df=1, prune=0.0)
    reloaded = LinearModel.parse(model.dump())
    queries = [classifier.features(q) for q in QUERIES]
    reference = sklearn_probabilities(examples, queries, c=5.0, min_df=1)
    for counts, expected in zip(queries, reference, strict=True):
        got = reloaded.predict_counts(counts)
        for label, p in zip(LABELS, got.probabilities, strict=True):
            # labels absent from the fixture (dispute, ...) are never predicted
            assert p == pytest.approx(expected.get(label, 0.0), abs=1e-6)
        assert got.p_urgent == pytest.approx(expected["urgent"], abs=1e-6)


def test_the_fitted_model_learns_the_fixture(
    classifier: Classifier, examples: list[Example]
) -> None:
    model = fit(examples, version="v1", c=10.0, min_df=1)
    lamp = model.predict_counts(classifier.features("楼道的灯坏了"))
    assert (lamp.category, lamp.p_request > 0.5) == ("facility", True)
    gas = model.predict_counts(classifier.features("有煤气味 快来人"))
    lamp_urgency = lamp.p_urgent or 0.0
    assert gas.p_urgent is not None
    assert gas.p_urgent > 2 * lamp_urgency
    thanks = model.predict_counts(classifier.features("谢谢 早上好"))
    assert thanks.p_request < 0.5


def test_rare_features_and_small_weights_are_left_out(examples: list[Example]) -> None:
    everything = fit(examples, version="v1", min_df=1, prune=0.0)
    pruned = fit(examples, version="v1", min_df=2, prune=1.0)
    assert len(pruned.idf) < len(everything.idf)
    assert len(pruned.weights) < len(pruned.idf)
    # a pruned feature still counts in the vector's length
    assert set(pruned.weights) < set(pruned.idf)


def test_no_urgency_head_without_urgent_examples(examples: list[Example]) -> None:
    calm = [(counts, label, False) for counts, label, _ in examples]
    assert fit(calm, version="v1", min_df=1).urgent_intercept is None


def test_unknown_labels_are_refused(examples: list[Example]) -> None:
    with pytest.raises(ValueError, match="unknown labels"):
        fit([*examples, (examples[0][0], "lamps", False)], version="v1")


def test_out_of_fold_scores_each_example_by_a_model_that_never_saw_it(
    examples: list[Example],
) -> None:
    found = out_of_fold(examples, folds=3, c=10.0)
    assert len(found) == len(examples)
    seen = fit(examples, version="v1", c=10.0)
    # the same message is less certain to a model that never saw it
    own = [seen.predict_counts(e[0]).probabilities for e in examples]
    label = [LABELS.index(e[1]) for e in examples]
    assert sum(p[k] for p, k in zip(own, label, strict=True)) > sum(
        p.probabilities[k] for p, k in zip(found, label, strict=True)
    )
