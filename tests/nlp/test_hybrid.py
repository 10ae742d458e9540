from __future__ import annotations

from nlp.classification import Classification
from nlp.hybrid import choose_thresholds, combine, doubt_threshold, urgent_threshold
from nlp.model import LABELS, HybridThresholds, Prediction
from nlp.quality import LabelledRow

TH = HybridThresholds(add=0.8, drop=0.1, switch=0.7, urgent=0.6)
CHATTER = Classification(False, None, False, 0.9, ())
LAMP = Classification(True, "facility", False, 0.8, ("灯",))
FIRE = Classification(True, "safety", True, 0.9, ("着火",), "119", "fire")


def _pred(p_request: float, category: str = "facility", p_category: float = 0.9,
          p_urgent: float | None = 0.0, known: int = 12) -> Prediction:  # fmt: skip
    share = [0.0] * len(LABELS)
    share[0] = 1 - p_request
    share[LABELS.index(category)] = p_request
    return Prediction(p_request, category, p_category, tuple(share), p_urgent, known)


def test_the_keywords_verdict_stands_unless_the_model_is_confident() -> None:
    assert combine(CHATTER, _pred(0.7), TH).is_request is False
    assert combine(LAMP, _pred(0.2), TH).is_request is True
    assert combine(LAMP, _pred(0.9, "environment", 0.6), TH).category == "facility"
    kept = combine(LAMP, _pred(0.9), TH)
    assert (kept.decided_by, kept.p_request) == ("keywords", 0.9)


def test_a_confident_model_adds_drops_or_refiles_a_request() -> None:
    added = combine(CHATTER, _pred(0.85, "environment"), TH)
    assert (added.is_request, added.category, added.urgent) == (True, "environment", False)
    assert (added.decided_by, added.model_only) == ("model", True)
    dropped = combine(LAMP, _pred(0.05), TH)
    assert (dropped.is_request, dropped.category, dropped.decided_by) == (False, None, "model")
    refiled = combine(LAMP, _pred(0.9, "environment", 0.75), TH)
    assert (refiled.category, refiled.decided_by) == ("environment", "model")
    # the keywords had it as a request
    assert (dropped.model_only, refiled.model_only) == (False, False)


def test_the_model_makes_no_request_of_a_matter_told_as_over() -> None:
    settled = Classification(False, None, False, 0.9, ("有水了",), settled=True)
    assert combine(settled, _pred(0.95, "facility"), TH).is_request is False


def test_a_keyword_emergency_is_never_dropped_or_refiled() -> None:
    got = combine(FIRE, _pred(0.01, "dispute", 0.99), TH)
    assert (got.is_request, got.category, got.urgent) == (True, "safety", True)
    assert (got.emergency_number, got.possible) == ("119", False)


def test_the_urgency_head_raises_a_request_to_a_possible_emergency_without_a_number() -> None:
    got = combine(LAMP, _pred(0.9, p_urgent=0.7), TH)
    assert (got.urgent, got.possible, got.emergency_number) == (True, True, None)
    assert got.decided_by == "model"
    # but never makes chatter urgent, and never below its threshold
    assert combine(CHATTER, _pred(0.3, p_urgent=0.99), TH).urgent is False
    assert combine(LAMP, _pred(0.9, p_urgent=0.5), TH).urgent is False
    assert combine(LAMP, _pred(0.9, p_urgent=None), TH).urgent is False


def _row(is_request: bool, category: str | None = None, urgent: bool = False) -> LabelledRow:
    return LabelledRow(id="x", text="x", is_request=is_request, category=category,
                       urgent=urgent, script="simplified")  # fmt: skip


def test_thresholds_are_chosen_where_most_messages_come_out_right() -> None:
    rows = [_row(True, "environment"), _row(False), _row(True, "facility")]
    keywords = [CHATTER, LAMP, LAMP]
    predictions = [_pred(0.75, "environment"), _pred(0.15), _pred(0.95)]
    th = choose_thresholds(rows, keywords, predictions)
    assert 0.6 <= th.add <= 0.75  # adds the first
    assert th.drop > 0.15  # drops the second
    got = [combine(k, p, th) for k, p in zip(keywords, predictions, strict=True)]
    assert [(g.is_request, g.category) for g in got] == [
        (True, "environment"), (False, None), (True, "facility")
    ]  # fmt: skip


def test_with_nothing_to_gain_the_keywords_are_never_overruled() -> None:
    rows = [_row(True, "facility"), _row(False)]
    th = choose_thresholds(rows, [LAMP, CHATTER], [_pred(0.95), _pred(0.05)])
    assert (th.add, th.drop, th.switch) == (1.01, -0.01, 1.01)


def test_the_urgency_threshold_is_the_lowest_at_which_the_head_is_right_19_times_in_20() -> None:
    p = [0.25] * 10 + [0.55] * 20
    urgent = [False] * 5 + [True] * 5 + [True] * 19 + [False]
    assert urgent_threshold(p, urgent) == 0.3
    assert urgent_threshold([0.9, 0.9], [False, False]) == 1.01


def test_the_model_adds_nothing_on_what_it_hardly_knows() -> None:
    # "馋了": of its features the model knows only 了, whose weight then decides everything
    assert combine(CHATTER, _pred(0.85, known=1), TH).is_request is False
    assert combine(LAMP, _pred(0.9, p_urgent=0.99, known=2), TH).urgent is False
    assert combine(CHATTER, _pred(0.85, known=3), TH).is_request is True


def test_an_alarm_the_urgency_head_finds_no_danger_in_is_told_as_possible() -> None:
    th = HybridThresholds(add=0.8, drop=0.1, switch=0.7, urgent=0.6, doubt=0.1)
    doubted = combine(FIRE, _pred(0.9, "safety", p_urgent=0.05), th)
    assert (doubted.urgent, doubted.possible, doubted.decided_by) == (True, True, "model")
    assert (doubted.category, doubted.emergency_number) == ("safety", "119")
    assert combine(FIRE, _pred(0.9, "safety", p_urgent=0.2), th).possible is False
    # not on what the model hardly knows, and never with the thresholds of an older model
    assert combine(FIRE, _pred(0.9, "safety", p_urgent=0.05, known=2), th).possible is False
    assert combine(FIRE, _pred(0.9, "safety", p_urgent=0.0), TH).possible is False


def test_the_doubt_threshold_loses_few_emergencies_and_doubts_mostly_false_alarms() -> None:
    # 40 true emergencies, 2 of them below 0.1 and 3 more below 0.15; 18 false alarms
    p = [0.01] * 18 + [0.08] * 2 + [0.12] * 3 + [0.9] * 35
    urgent = [False] * 18 + [True] * 40
    assert doubt_threshold(p, urgent) == 0.1
    # the head finds no danger in true emergencies: it may doubt none
    assert doubt_threshold([0.01] * 5 + [0.9] * 5, [True] * 5 + [False] * 5) == -0.01
    assert doubt_threshold([0.5, 0.9], [True, True]) == -0.01
