"""The labelled messages in tests/data/classify, and the classifier's quality gates on them.

The test part is frozen: its sha256 is recorded in docs/classification.md and checked here, so
an edit to it (tuning on it, relabelling it) can't go unnoticed. valid.jsonl is a second
held-out part, written before tuning and never tuned on. Assertions about the held-out parts
report counts and tune/valid ids only, never a test message.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from nlp.classifier import Classification, Classifier
from nlp.normalize import is_traditional
from nlp.vocabulary import CATEGORY_CODES

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "classify"
FIELDS = {"id", "text", "is_request", "category", "urgent", "script"}


def _load(part: str) -> list[dict[str, Any]]:
    with (DATA / f"{part}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


PARTS = ("tune", "test", "valid")
# tune.jsonl rows up to this id are the ones the split of test.jsonl was drawn with; later
# rows (u432...) were written afterwards to tune on, and don't change the test part.
ORIGINAL_TUNE = 431


@pytest.fixture(scope="module")
def parts() -> dict[str, list[dict[str, Any]]]:
    return {part: _load(part) for part in PARTS}


def test_test_part_is_frozen() -> None:
    doc = (ROOT / "docs" / "classification.md").read_text(encoding="utf-8")
    recorded = re.search(r"test\.jsonl.*?sha256[^0-9a-f]*([0-9a-f]{64})", doc, re.S)
    assert recorded, "docs/classification.md must record the sha256 of test.jsonl"
    actual = hashlib.sha256((DATA / "test.jsonl").read_bytes()).hexdigest()
    assert actual == recorded.group(1)


@pytest.mark.parametrize("part", PARTS)
def test_rows_are_well_formed(parts: dict[str, list[dict[str, Any]]], part: str) -> None:
    for row in parts[part]:
        assert set(row) == FIELDS, row
        assert isinstance(row["text"], str)
        assert row["text"].strip()
        assert row["category"] is None or row["category"] in CATEGORY_CODES
        assert row["is_request"] == (row["category"] is not None), row
        assert row["is_request"] or not row["urgent"], row
        assert row["script"] == ("traditional" if is_traditional(row["text"]) else "simplified")


def test_split(parts: dict[str, list[dict[str, Any]]]) -> None:
    tune, test, valid = parts["tune"], parts["test"], parts["valid"]
    rows = tune + test + valid
    assert len(rows) >= 600
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    # ids and counts only: a failure here must not print the test part's messages
    test_texts = {r["text"] for r in test}
    assert [r["id"] for r in tune + valid if r["text"] in test_texts] == []
    tune_texts = {r["text"] for r in tune}
    assert [r["id"] for r in valid if r["text"] in tune_texts] == []
    original = [r for r in tune if int(r["id"][1:]) <= ORIGINAL_TUNE]
    assert len(original) == ORIGINAL_TUNE
    assert 0.35 <= len(test) / (len(original) + len(test)) <= 0.45
    assert len(valid) >= 200
    for part in (tune, test, valid):
        assert sum(not r["is_request"] for r in part) >= len(part) / 3
        assert 0.08 <= sum(r["script"] == "traditional" for r in part) / len(part) <= 0.15
        assert {r["category"] for r in part} == {*CATEGORY_CODES, None}
    assert sum(r["urgent"] for r in test) >= 30


# --- quality gates ------------------------------------------------------------------------


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


Pairs = Sequence[tuple[dict[str, Any], Classification]]


def _precision(pairs: Pairs, want: str, got: Callable[[Classification], bool]) -> float:
    tp = sum(1 for r, g in pairs if r[want] and got(g))
    return _ratio(tp, sum(1 for _, g in pairs if got(g)))


def _recall(pairs: Pairs, want: str, got: Callable[[Classification], bool]) -> float:
    tp = sum(1 for r, g in pairs if r[want] and got(g))
    return _ratio(tp, sum(1 for r, _ in pairs if r[want]))


def _script_gap(pairs: Pairs) -> float:
    def accuracy(script: str) -> float:
        subset = [(r, g) for r, g in pairs if r["script"] == script]
        ok = sum(
            1
            for r, g in subset
            if (g.is_request, g.category, g.urgent) == (r["is_request"], r["category"], r["urgent"])
        )
        return _ratio(ok, len(subset))

    return accuracy("traditional") - accuracy("simplified")


METRICS: dict[str, Callable[[Pairs], float]] = {
    "request precision": lambda p: _precision(p, "is_request", lambda g: g.is_request),
    "request recall": lambda p: _recall(p, "is_request", lambda g: g.is_request),
    "category accuracy": lambda p: _ratio(
        sum(1 for r, g in p if r["is_request"] and g.category == r["category"]),
        sum(1 for r, _ in p if r["is_request"]),
    ),
    "urgent recall": lambda p: _recall(p, "urgent", lambda g: g.urgent),
    "urgent precision": lambda p: _precision(p, "urgent", lambda g: g.urgent),
    "traditional minus simplified": _script_gap,
}
TARGETS = {
    "request precision": 0.95,
    "request recall": 0.92,
    "category accuracy": 0.92,
    "urgent recall": 0.95,
    "urgent precision": 0.80,
    "traditional minus simplified": -0.03,
}
# Targets the frozen test part does not reach yet (figures in docs/classification.md). strict:
# when one starts passing, this list must be updated, and the docs with it.
MISSED_ON_TEST: set[str] = set()
# Floors a little under today's test figures: a vocabulary change that makes things worse fails.
# (Today, measurement #6 in docs/classification.md: precision 0.952, recall 0.952, category
# 0.920, urgent recall 0.973 = 36/37, urgent precision 0.973, traditional - simplified +0.060.)
FLOORS_ON_TEST = {
    "request precision": 0.94,
    "request recall": 0.94,
    "category accuracy": 0.90,
    "urgent recall": 0.94,
    "urgent precision": 0.95,
    "traditional minus simplified": -0.03,
}
# The same for valid.jsonl, the held-out part written before tuning (today: precision 0.962,
# recall 0.921, category 0.890, urgent recall 1.000 = 29/29, urgent precision 0.967).
FLOORS_ON_VALID = {
    "request precision": 0.95,
    "request recall": 0.90,
    "category accuracy": 0.87,
    "urgent recall": 0.95,
    "urgent precision": 0.93,
    "traditional minus simplified": -0.03,
}


@pytest.fixture(scope="module")
def results(
    classifier: Classifier, parts: dict[str, list[dict[str, Any]]]
) -> dict[str, list[tuple[dict[str, Any], Classification]]]:
    return {
        part: [(row, classifier.classify(row["text"])) for row in rows]
        for part, rows in parts.items()
    }


@pytest.mark.parametrize(
    "metric",
    [
        pytest.param(
            m,
            marks=pytest.mark.xfail(
                m in MISSED_ON_TEST, reason="target missed on the test part", strict=True
            ),
        )
        for m in TARGETS
    ],
)
def test_target_on_test_part(
    results: dict[str, list[tuple[dict[str, Any], Classification]]], metric: str
) -> None:
    assert METRICS[metric](results["test"]) >= TARGETS[metric]


@pytest.mark.parametrize("metric", list(FLOORS_ON_TEST))
def test_no_regression_on_test_part(
    results: dict[str, list[tuple[dict[str, Any], Classification]]], metric: str
) -> None:
    assert METRICS[metric](results["test"]) >= FLOORS_ON_TEST[metric]


@pytest.mark.parametrize("metric", list(FLOORS_ON_VALID))
def test_no_regression_on_valid_part(
    results: dict[str, list[tuple[dict[str, Any], Classification]]], metric: str
) -> None:
    assert METRICS[metric](results["valid"]) >= FLOORS_ON_VALID[metric]


@pytest.mark.parametrize("metric", list(TARGETS))
def test_target_on_tune_part(
    results: dict[str, list[tuple[dict[str, Any], Classification]]], metric: str
) -> None:
    assert METRICS[metric](results["tune"]) >= TARGETS[metric]
