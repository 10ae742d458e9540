"""Fitting the linear model of nlp/model.py with scikit-learn (the optional `train` extra).

Only `gridbot train` and the tests import this module; the bot scores a fitted model in plain
Python. Each example is a message's feature counts (``nlp.model.features``) and its label: a
category code, or ``none`` for a message that is not a request.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nlp.model import LABELS, LinearModel, Prediction

__all__ = [
    "Example",
    "TrainingUnavailable",
    "fit",
    "out_of_fold",
    "sklearn_probabilities",
]

# Ridge strength (scikit-learn's C): chosen on the valid part when the first model was trained
# (see docs/classification.md); larger C fits the training messages more closely.
DEFAULT_C = 10.0
# A feature seen in fewer messages than this is noise for a model of a few thousand messages;
# 3 (16k features) did as well as 2 (28k) on valid and test, in half the size.
MIN_DF = 3
# Weights smaller than this are left out of the exported file (their features' idf stays).
PRUNE = 0.05


class TrainingUnavailable(RuntimeError):
    """scikit-learn is not installed."""


def _sklearn() -> Any:
    try:
        from sklearn.feature_extraction import DictVectorizer  # noqa: PLC0415
        from sklearn.feature_extraction.text import TfidfTransformer  # noqa: PLC0415
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    except ImportError:  # pragma: no cover - depends on the environment
        raise TrainingUnavailable("训练需要 scikit-learn：pip install -e '.[train]'") from None
    return DictVectorizer, TfidfTransformer, LogisticRegression


Example = tuple[Mapping[str, int], str, bool]  # feature counts, label, urgent


def fit(
    examples: Sequence[Example],
    *,
    version: str,
    c: float = DEFAULT_C,
    min_df: int = MIN_DF,
    prune: float = PRUNE,
    meta: dict[str, object] | None = None,
) -> LinearModel:
    """A model fitted on ``examples``, with an urgency head when some are urgent; weights
    under ``prune`` in size are dropped (the feature's idf stays, so a message's vector
    length is unchanged)."""
    fitted = _fitted(examples, c=c, min_df=min_df)
    names = list(fitted.vectorizer.get_feature_names_out())
    classes = list(fitted.labels.classes_)
    # scikit-learn orders classes alphabetically; a label absent from the examples can never
    # be predicted (a very low intercept and no weights).
    columns = [classes.index(label) if label in classes else None for label in LABELS]
    intercepts = [
        -50.0 if k is None else _binary_aware(fitted.labels.intercept_, None, k, len(classes))
        for k in columns
    ]
    urgent_intercept = None
    if fitted.urgent is not None:
        urgent_intercept = float(fitted.urgent.intercept_[0])
    coef = fitted.labels.coef_
    weights: dict[str, tuple[float, ...]] = {}
    idf: dict[str, float] = {}
    for j, name in enumerate(names):
        idf[name] = float(fitted.tfidf.idf_[j])
        row = [0.0 if k is None else _binary_aware(coef, j, k, len(classes)) for k in columns]
        if fitted.urgent is not None:
            row.append(float(fitted.urgent.coef_[0, j]))
        if max(abs(w) for w in row) > prune:
            weights[name] = tuple(row)
    return LinearModel(
        version=version,
        labels=LABELS,
        intercepts=tuple(intercepts),
        idf=idf,
        weights=weights,
        meta=dict(meta or {}),
        urgent_intercept=urgent_intercept,
    )


def _binary_aware(values: Any, j: int | None, k: int, n_classes: int) -> float:
    """Class ``k``'s intercept (``j`` None) or weight of feature ``j``. With two classes
    scikit-learn keeps one row, for classes_[1]; classes_[0] scores 0."""
    if n_classes == 2:
        if k == 0:
            return 0.0
        return float(values[0] if j is None else values[0, j])
    return float(values[k] if j is None else values[k, j])


def sklearn_probabilities(
    examples: Sequence[Example],
    queries: Sequence[Mapping[str, int]],
    *,
    c: float = DEFAULT_C,
    min_df: int = MIN_DF,
) -> list[dict[str, float]]:
    """scikit-learn's own probabilities for ``queries`` after the same fit as `fit` (the
    urgency head's as ``urgent``): the reference the exported model is checked against."""
    fitted = _fitted(examples, c=c, min_df=min_df)
    q = fitted.tfidf.transform(fitted.vectorizer.transform([dict(e) for e in queries]))
    found = [
        dict(zip(fitted.labels.classes_, map(float, p), strict=True))
        for p in fitted.labels.predict_proba(q)
    ]
    if fitted.urgent is not None:
        for probabilities, p in zip(found, fitted.urgent.predict_proba(q), strict=True):
            probabilities["urgent"] = float(p[1])
    return found


@dataclass(frozen=True)
class _Fitted:
    vectorizer: Any
    tfidf: Any
    labels: Any
    urgent: Any | None


def _fitted(examples: Sequence[Example], *, c: float, min_df: int) -> _Fitted:
    dict_vectorizer, tfidf_transformer, logistic_regression = _sklearn()
    unknown = {label for _, label, _ in examples} - set(LABELS)
    if unknown:
        raise ValueError(f"unknown labels: {sorted(unknown)}")
    df: Counter[str] = Counter()
    for counts, _, _ in examples:
        df.update(counts.keys())
    kept = {f for f, n in df.items() if n >= min_df}
    vectorizer = dict_vectorizer(sort=True)
    x = vectorizer.fit_transform(
        [{f: n for f, n in e.items() if f in kept} for e, _, _ in examples]
    )
    tfidf = tfidf_transformer(sublinear_tf=True, smooth_idf=True, norm="l2")
    x = tfidf.fit_transform(x)
    labels = logistic_regression(C=c, max_iter=5000)
    labels.fit(x, [label for _, label, _ in examples])
    flags = [urgent for _, _, urgent in examples]
    urgent = None
    if any(flags) and not all(flags):
        urgent = logistic_regression(C=c, max_iter=5000)
        urgent.fit(x, flags)
    return _Fitted(vectorizer, tfidf, labels, urgent)


def out_of_fold(
    examples: Sequence[Example], *, folds: int = 5, c: float = DEFAULT_C, seed: int = 0
) -> list[Prediction]:
    """Each example's prediction by a model fitted on the other folds: how the model scores
    messages it has not seen."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    found: list[Prediction | None] = [None] * len(examples)
    for fold in range(folds):
        held = set(order[fold::folds])
        model = fit([examples[i] for i in order if i not in held], version="fold", c=c)
        for i in held:
            found[i] = model.predict_counts(examples[i][0])
    return [p for p in found if p is not None]
