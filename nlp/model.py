"""The learned half of the classifier: a linear model over a message's words and characters.

Features of a normalised message, with every digit folded to 0 (3栋 and 5栋 are the same
evidence): its jieba words of two or more characters (``w:路灯``) and its character 1-3-grams
within runs without spaces (``c:灯坏``). They are weighted as TF-IDF (``1 + log(count)`` times
the feature's idf, the vector scaled to unit length) and scored by a multinomial logistic
regression over ``none`` (not a request) and the category codes. That is exactly what
scikit-learn's ``TfidfTransformer(sublinear_tf=True)`` and ``LogisticRegression`` compute, so a
model fitted there (``nlp/training.py``) and exported scores the same here, in plain Python and
without scikit-learn at run time.

A model is a text file (``LinearModel.dump`` / ``LinearModel.parse``), reviewable and diffable:

    # comment lines
    version<TAB>v1
    labels<TAB>none<TAB>environment<TAB>...
    thresholds<TAB>{"add": 0.8, "drop": 0.1, "switch": 0.8}
    meta<TAB>{...what it was trained on, its figures...}
    intercept<TAB>b_none<TAB>b_environment<TAB>...
    urgent<TAB>b_urgent                      (optional: the urgency head)
    <feature><TAB><idf>[<TAB>w_none<TAB>w_environment...[<TAB>w_urgent]]

The urgency head is a second, binary logistic regression on the same vector: the probability
that the message reports a danger happening now. A feature line without weights still counts in
a message's vector length: its weights were all too small to keep. This module does no I/O:
the caller reads the file.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nlp.vocabulary import CATEGORY_CODES

__all__ = ["LABELS", "NOT_REQUEST", "HybridThresholds", "LinearModel", "Prediction", "features"]

NOT_REQUEST = "none"
LABELS: tuple[str, ...] = (NOT_REQUEST, *CATEGORY_CODES)

_DIGIT = re.compile(r"[0-9]")
_SPACES = re.compile(r"\s+")
# A word feature is made of letters, digits or Han characters: punctuation and emoji leftovers
# are already in the character n-grams.
_WORD = re.compile(r"^[\w]{2,}$")
_MAX_GRAM = 3


def features(normalised: str, words: Iterable[str]) -> Counter[str]:
    """The feature counts of a message: ``normalised`` is ``nlp.normalize``'s output and
    ``words`` its jieba words (the project's ``Tokenizer.cut`` of it)."""
    counts: Counter[str] = Counter(
        "w:" + _DIGIT.sub("0", word) for word in words if _WORD.match(word)
    )
    for run in _SPACES.split(_DIGIT.sub("0", normalised)):
        n = len(run)
        counts.update(
            "c:" + run[i : i + size]
            for size in range(1, _MAX_GRAM + 1)
            for i in range(n - size + 1)
        )
    return counts


@dataclass(frozen=True, slots=True)
class HybridThresholds:
    """When the model overrules the keywords (chosen on data neither has seen).

    add: a message the keywords pass over is a request when P(request) is at least this.
    drop: a keyword request (not urgent) is chatter when P(request) is below this.
    switch: a keyword request changes category when the model's P(category | request) for
    another category is at least this.
    urgent: a request the keywords don't find urgent is a possible emergency when the
    urgency head's probability is at least this.
    doubt: an emergency the keywords find is told as only possible (the leaders check it, the
    group is asked with care) when the urgency head's probability is below this."""

    add: float = 1.01
    drop: float = -0.01
    switch: float = 1.01
    urgent: float = 1.01
    doubt: float = -0.01

    def as_dict(self) -> dict[str, float]:
        return {
            "add": self.add,
            "drop": self.drop,
            "switch": self.switch,
            "urgent": self.urgent,
            "doubt": self.doubt,
        }


@dataclass(frozen=True, slots=True)
class Prediction:
    p_request: float
    # The most probable category and its probability given that the message is a request.
    category: str
    p_category: float
    probabilities: tuple[float, ...]
    # the urgency head's probability (None: the model has none)
    p_urgent: float | None = None
    # how many of the message's features the model knows: with one or two ("馋了": only 了),
    # the vector's whole length sits on them and the probabilities say nothing
    known: int = 0


@dataclass(slots=True)
class LinearModel:
    version: str
    labels: tuple[str, ...]
    intercepts: tuple[float, ...]
    idf: dict[str, float]
    weights: dict[str, tuple[float, ...]]
    thresholds: HybridThresholds = field(default_factory=HybridThresholds)
    meta: dict[str, object] = field(default_factory=dict)
    # The urgency head's intercept; its weights are the last of each weight row.
    urgent_intercept: float | None = None
    _table: dict[str, tuple[float, tuple[float, ...] | None]] = field(init=False, repr=False)
    _bias: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.labels[0] != NOT_REQUEST or set(self.labels[1:]) - set(CATEGORY_CODES):
            raise ValueError(f"labels must be {NOT_REQUEST} then category codes: {self.labels}")
        n = len(self.labels)
        width = n + (self.urgent_intercept is not None)
        if len(self.intercepts) != n or any(len(w) != width for w in self.weights.values()):
            raise ValueError("every weight row needs one weight per label")
        if set(self.weights) - set(self.idf):
            raise ValueError("a weighted feature has no idf")
        self._table = {f: (v, self.weights.get(f)) for f, v in self.idf.items()}
        self._bias = (
            *self.intercepts,
            *(() if self.urgent_intercept is None else (self.urgent_intercept,)),
        )

    def vector(self, counts: Mapping[str, int]) -> dict[str, float]:
        """The message's TF-IDF vector over the model's features, scaled to unit length."""
        idf = self.idf
        values = {f: (1.0 + math.log(c)) * idf[f] for f, c in counts.items() if f in idf}
        norm = math.sqrt(sum(v * v for v in values.values()))
        if norm == 0.0:
            return {}
        return {f: v / norm for f, v in values.items()}

    def scores(self, vector: Mapping[str, float]) -> list[float]:
        """The labels' scores, then the urgency head's when the model has one."""
        scores = list(self.intercepts)
        if self.urgent_intercept is not None:
            scores.append(self.urgent_intercept)
        weights = self.weights
        n = len(scores)
        for f, v in vector.items():
            row = weights.get(f)
            if row is not None:
                for k in range(n):
                    scores[k] += row[k] * v
        return scores

    def predict(self, normalised: str, words: Iterable[str]) -> Prediction:
        return self.predict_counts(features(normalised, words))

    def predict_counts(self, counts: Mapping[str, int]) -> Prediction:
        # The hot path (every message): one lookup per feature, and the vector's length
        # divided out once at the end, since the scores are linear in the vector.
        get = self._table.get
        rows: list[tuple[float, ...]] = []
        values: list[float] = []
        squares = 0.0
        known = 0
        for f, c in counts.items():
            entry = get(f)
            if entry is None:
                continue
            idf, row = entry
            known += 1
            v = idf if c == 1 else (1.0 + math.log(c)) * idf
            squares += v * v
            if row is not None:
                rows.append(row)
                values.append(v)
        if rows:
            norm = math.sqrt(squares)
            scores = [
                sum(map(operator.mul, column, values)) / norm + b
                for column, b in zip(zip(*rows, strict=True), self._bias, strict=True)
            ]
        else:
            scores = list(self._bias)
        p_urgent = None
        if self.urgent_intercept is not None:
            p_urgent = _sigmoid(scores.pop())
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        probabilities = tuple(e / total for e in exps)
        p_request = 1.0 - probabilities[0]
        best = max(range(1, len(probabilities)), key=probabilities.__getitem__)
        p_category = probabilities[best] / p_request if p_request > 0 else 0.0
        return Prediction(p_request, self.labels[best], p_category, probabilities, p_urgent, known)

    def explain(
        self, normalised: str, words: Sequence[str], label: str, n: int = 5
    ) -> list[tuple[str, float]]:
        """The features that moved ``label`` furthest from ``none`` (for a category) or from
        the best category (for ``none``), with their contribution to that log-odds."""
        vector = self.vector(features(normalised, words))
        k = self.labels.index(label)
        # a category against not-a-request; not-a-request against the likeliest category
        rival = self.labels.index(self.predict(normalised, words).category) if k == 0 else 0
        parts = []
        for f, v in vector.items():
            row = self.weights.get(f)
            if row is not None:
                parts.append((f, (row[k] - row[rival]) * v))
        parts.sort(key=lambda p: -p[1])
        return [(f, round(c, 3)) for f, c in parts[:n] if c > 0]

    def state(self) -> tuple[Any, ...]:
        """Plain values (for ``marshal``: a start-up cache of the parsed file)."""
        return (
            self.version,
            self.labels,
            self.intercepts,
            self.urgent_intercept,
            self.thresholds.as_dict(),
            self.meta,
            self.idf,
            self.weights,
        )

    @classmethod
    def from_state(cls, state: tuple[Any, ...]) -> LinearModel:
        version, labels, intercepts, urgent, thresholds, meta, idf, weights = state
        return cls(
            version=version,
            labels=tuple(labels),
            intercepts=tuple(intercepts),
            idf=idf,
            weights=weights,
            thresholds=HybridThresholds(**thresholds),
            meta=meta,
            urgent_intercept=urgent,
        )

    def dump(self) -> str:
        lines = [
            "# GridBot classifier model: see nlp/model.py for the format",
            f"version\t{self.version}",
            "labels\t" + "\t".join(self.labels),
            "thresholds\t" + json.dumps(self.thresholds.as_dict(), sort_keys=True),
            "meta\t" + json.dumps(self.meta, ensure_ascii=False, sort_keys=True),
            "intercept\t" + "\t".join(_num(b) for b in self.intercepts),
        ]
        if self.urgent_intercept is not None:
            lines.append(f"urgent\t{_num(self.urgent_intercept)}")
        for f in sorted(self.idf):
            if "\t" in f or "\n" in f:
                continue  # never produced by `features`, which splits on whitespace
            row = self.weights.get(f)
            tail = "" if row is None else "\t" + "\t".join(_num(w) for w in row)
            lines.append(f"{f}\t{_num(self.idf[f])}{tail}")
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> LinearModel:
        head: dict[str, list[str]] = {}
        idf: dict[str, float] = {}
        weights: dict[str, tuple[float, ...]] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            try:
                if parts[0] in ("version", "labels", "thresholds", "meta", "intercept", "urgent"):
                    head[parts[0]] = parts[1:]
                elif parts[0].startswith(("w:", "c:")) and len(parts) >= 2:
                    idf[parts[0]] = float(parts[1])
                    if len(parts) > 2:
                        weights[parts[0]] = tuple(map(float, parts[2:]))
                else:
                    raise ValueError("unknown line")
            except ValueError as exc:
                raise ValueError(f"model line {number}: {exc}") from None
        missing = {"version", "labels", "intercept"} - set(head)
        if missing:
            raise ValueError(f"model file lacks: {', '.join(sorted(missing))}")
        thresholds = json.loads(head["thresholds"][0]) if "thresholds" in head else {}
        meta = json.loads(head["meta"][0]) if "meta" in head else {}
        return cls(
            version=head["version"][0],
            labels=tuple(head["labels"]),
            intercepts=tuple(float(b) for b in head["intercept"]),
            idf=idf,
            weights=weights,
            thresholds=HybridThresholds(**thresholds),
            meta=meta,
            urgent_intercept=float(head["urgent"][0]) if "urgent" in head else None,
        )


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _num(value: float) -> str:
    # 6 significant digits: probabilities agree with the fitted model to ~1e-6, and the file
    # stays small enough to read in a review.
    return f"{value:.6g}"
