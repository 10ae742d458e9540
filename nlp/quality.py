"""Figures of a classifier's verdicts against labelled messages (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypedDict

from nlp.vocabulary import CATEGORY_CODES

__all__ = ["LabelledRow", "Quality", "Verdict", "correct", "fully_right", "measure_quality"]


class LabelledRow(TypedDict):
    """One line of tests/data/classify/*.jsonl."""

    id: str
    text: str
    is_request: bool
    category: str | None
    urgent: bool
    script: str


class Verdict(Protocol):
    @property
    def is_request(self) -> bool: ...
    @property
    def category(self) -> str | None: ...
    @property
    def urgent(self) -> bool: ...


@dataclass(frozen=True)
class Quality:
    request_precision: float
    request_recall: float
    category_accuracy: float
    urgent_precision: float
    urgent_recall: float
    category_f1: dict[str, float]
    script_accuracy: dict[str, tuple[float, int]]

    def headline(self) -> dict[str, float]:
        return {
            "request_precision": round(self.request_precision, 3),
            "request_recall": round(self.request_recall, 3),
            "category_accuracy": round(self.category_accuracy, 3),
            "urgent_recall": round(self.urgent_recall, 3),
            "urgent_precision": round(self.urgent_precision, 3),
        }


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(tp: int, fp: int, fn: int) -> float:
    return _ratio(2 * tp, 2 * tp + fp + fn)


def correct(row: LabelledRow, got: Verdict) -> bool:
    return bool(
        got.is_request == row["is_request"]
        and got.category == row["category"]
        and got.urgent == row["urgent"]
    )


def fully_right(rows: Sequence[LabelledRow], results: Sequence[Verdict]) -> int:
    """How many messages are labelled right as a request or not and by category."""
    return sum(
        g.is_request == r["is_request"] and g.category == r["category"]
        for r, g in zip(rows, results, strict=True)
    )


def measure_quality(rows: Sequence[LabelledRow], results: Sequence[Verdict]) -> Quality:
    """Category accuracy is over the true requests (a missed request counts as wrong)."""
    pairs = list(zip(rows, results, strict=True))
    req_tp = sum(1 for r, g in pairs if r["is_request"] and g.is_request)
    req_fp = sum(1 for r, g in pairs if not r["is_request"] and g.is_request)
    req_fn = sum(1 for r, g in pairs if r["is_request"] and not g.is_request)
    requests = [(r, g) for r, g in pairs if r["is_request"]]
    cat_ok = sum(1 for r, g in requests if g.category == r["category"])
    urg_tp = sum(1 for r, g in pairs if r["urgent"] and g.urgent)
    urg_fp = sum(1 for r, g in pairs if not r["urgent"] and g.urgent)
    urg_fn = sum(1 for r, g in pairs if r["urgent"] and not g.urgent)
    f1: dict[str, float] = {}
    for code in CATEGORY_CODES:
        tp = sum(1 for r, g in pairs if r["category"] == code and g.category == code)
        fp = sum(1 for r, g in pairs if r["category"] != code and g.category == code)
        fn = sum(1 for r, g in pairs if r["category"] == code and g.category != code)
        f1[code] = _f1(tp, fp, fn)
    scripts: dict[str, tuple[float, int]] = {}
    for script in ("simplified", "traditional"):
        subset = [(r, g) for r, g in pairs if r["script"] == script]
        scripts[script] = (_ratio(sum(correct(r, g) for r, g in subset), len(subset)), len(subset))
    return Quality(
        request_precision=_ratio(req_tp, req_tp + req_fp),
        request_recall=_ratio(req_tp, req_tp + req_fn),
        category_accuracy=_ratio(cat_ok, len(requests)),
        urgent_precision=_ratio(urg_tp, urg_tp + urg_fp),
        urgent_recall=_ratio(urg_tp, urg_tp + urg_fn),
        category_f1=f1,
        script_accuracy=scripts,
    )
