"""`gridbot train`: fit the learned layer, measure it against the keywords, install it if it
is not worse.

The data, in a checkout's tests/data (or ``--data``):
- fitted on: classify/tune.jsonl, classify/train.jsonl (written for the model only: the
  vocabulary is never tuned on it), the messages of the tune group days (requests; chatter as
  not requests) and leaders' stored corrections (storage/examples.py). Corrections
  are few and skewed towards errors: they are added to the labelled parts, never replace them.
- thresholds chosen on messages neither the vocabulary nor the model was fitted on:
  classify/valid.jsonl and test.jsonl (their errors were never read), and train.jsonl scored
  out of fold (each message by a model fitted without it); the urgency threshold on all the
  fitted messages out of fold (nlp/hybrid.py says why), and so the threshold below which the
  urgency head doubts the keywords' alarms (for a model fitted before it existed, `gridbot
  model doubt` chooses it on group days the model was not fitted on: ``add_doubt``).
- judged on: classify/heldout.jsonl, frozen before the first model; its figures decide.

A new version is refused when the hybrid does worse there than the keywords alone on any of
request precision, request recall, category accuracy and urgent recall, or labels fewer
messages fully right than the version in use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.models import (
    ModelError,
    history,
    install,
    models_dir,
    next_version,
    read_model,
    vocabulary_sha,
)
from bot.settings import Settings
from nlp.classification import Classification
from nlp.classifier import Classifier
from nlp.conversation import laughs
from nlp.hybrid import choose_thresholds, combine, doubt_threshold, urgent_threshold
from nlp.model import NOT_REQUEST, LinearModel
from nlp.quality import LabelledRow, Quality, fully_right, measure_quality
from nlp.training import DEFAULT_C, MIN_DF, PRUNE, fit, out_of_fold

__all__ = ["TrainingData", "add_doubt", "groupday_rows", "load_training_data", "train"]

# The headline figures a new model may not lower against the keywords alone.
GUARDED = ("request_precision", "request_recall", "category_accuracy", "urgent_recall")


@dataclass(frozen=True)
class TrainingData:
    fitted: list[LabelledRow]
    # fitted[i] for i in unseen_by_vocabulary: also in the threshold choice, out of fold
    unseen_by_vocabulary: range
    choose: list[LabelledRow]
    heldout: list[LabelledRow]
    counts: dict[str, int]
    # the group days fitted on (file stems): a threshold may later be chosen on others only
    groupdays: list[str] = field(default_factory=list)


def _read_jsonl(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _groupday_rows(folder: Path) -> list[LabelledRow]:
    return groupday_rows(sorted(folder.glob("*.jsonl")))


def groupday_rows(paths: Sequence[Path]) -> list[LabelledRow]:
    """The labelled lines of group days a model may learn from: requests and chatter."""
    rows: list[LabelledRow] = []
    for path in paths:
        for n, item in enumerate(_read_jsonl(path)):
            label = item.get("label")
            text = item.get("text")
            if not label or not text:
                continue
            if label["kind"] == "request":
                category, urgent = label["category"], bool(label.get("urgent"))
            elif label["kind"] == "chatter":
                category, urgent = None, False
            else:
                # followups and commands are neither a new request nor plain chatter; notes
                # are a matter's news in a report's words ("刘爹爹摔了，已经叫了救护车"), and
                # the bot knows them by who speaks: as "none" they taught the model that
                # reports are talk
                continue
            rows.append(
                LabelledRow(
                    id=f"{path.stem}:{n}",
                    text=text,
                    is_request=category is not None,
                    category=category,
                    urgent=urgent,
                    script="simplified",
                )
            )
    return rows


def load_training_data(data_dir: Path, corrections: Sequence[LabelledRow]) -> TrainingData:
    classify = data_dir / "classify"
    parts: dict[str, list[LabelledRow]] = {
        name: _read_jsonl(classify / f"{name}.jsonl")
        for name in ("tune", "train", "valid", "test", "heldout")
    }
    days = _groupday_rows(data_dir / "groupdays" / "tune")
    choose = [*parts["valid"], *parts["test"]]
    judged = {r["text"] for r in choose} | {r["text"] for r in parts["heldout"]}
    # a correction of a message that is also in a judging part would leak its label there
    kept = [r for r in corrections if r["text"] not in judged]
    fitted: list[LabelledRow] = [*parts["tune"], *parts["train"], *days, *kept]
    start = len(parts["tune"])
    return TrainingData(
        fitted=fitted,
        unseen_by_vocabulary=range(start, start + len(parts["train"])),
        choose=choose,
        heldout=parts["heldout"],
        counts={
            "tune": len(parts["tune"]),
            "train": len(parts["train"]),
            "groupdays": len(days),
            "corrections": len(kept),
        },
        groupdays=sorted({r["id"].split(":")[0] for r in days}),
    )


def _hybrid(
    keywords: Classifier, model: LinearModel, rows: Sequence[LabelledRow]
) -> list[Classification]:
    return [
        combine(
            keywords.keywords_only(r["text"]),
            model.predict_counts(keywords.features(r["text"])),
            model.thresholds,
            may_add=not laughs(r["text"]),
        )
        for r in rows
    ]


def train(
    settings: Settings,
    data: TrainingData,
    *,
    keywords: Classifier,
    folder: Path | None = None,
    c: float = DEFAULT_C,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
) -> tuple[bool, LinearModel]:
    """Fit, choose thresholds, judge on the held-out part; install unless refused or
    ``dry_run``. (installed, the model)."""
    folder = folder or models_dir(settings)
    version = next_version(folder)
    examples = [
        (keywords.features(r["text"]), r["category"] or NOT_REQUEST, r["urgent"])
        for r in data.fitted
    ]
    model = fit(examples, version=version, c=c)
    oof = out_of_fold(examples, c=c)
    choose = [*data.choose, *(data.fitted[i] for i in data.unseen_by_vocabulary)]
    chosen = choose_thresholds(
        choose,
        [keywords.keywords_only(r["text"]) for r in choose],
        [
            *(model.predict_counts(keywords.features(r["text"])) for r in data.choose),
            *(oof[i] for i in data.unseen_by_vocabulary),
        ],
    )
    urgent = urgent_threshold([p.p_urgent or 0.0 for p in oof], [r["urgent"] for r in data.fitted])
    alarms = [
        i
        for i, r in enumerate(data.fitted)
        if (kw := keywords.keywords_only(r["text"])).urgent and not kw.possible
    ]
    doubt = doubt_threshold(
        [oof[i].p_urgent or 0.0 for i in alarms], [data.fitted[i]["urgent"] for i in alarms]
    )
    model.thresholds = replace(chosen, urgent=urgent, doubt=doubt)
    kw_results = [keywords.keywords_only(r["text"]) for r in data.heldout]
    new_results = _hybrid(keywords, model, data.heldout)
    kw_q = measure_quality(data.heldout, kw_results)
    new_q = measure_quality(data.heldout, new_results)
    in_use = history(folder)
    old_q: Quality | None = None
    old_right = -1
    if in_use:
        old = read_model(folder, in_use[0])
        old_results = _hybrid(keywords, old, data.heldout)
        old_q = measure_quality(data.heldout, old_results)
        old_right = fully_right(data.heldout, old_results)
    new_right = fully_right(data.heldout, new_results)
    model.meta = {
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "examples": data.counts,
        "groupdays": data.groupdays,
        "c": c,
        "min_df": MIN_DF,
        "prune": PRUNE,
        "thresholds_chosen_on": f"valid+test ({len(data.choose)} messages), train out of "
        f"fold ({len(data.unseen_by_vocabulary)}); urgent and doubt: all out of fold",
        "vocabulary": vocabulary_sha(settings),
        "heldout": {
            "messages": len(data.heldout),
            "keywords": kw_q.headline(),
            "hybrid": new_q.headline(),
            "fully_right": new_right,
        },
    }
    columns = [("keywords", kw_q), (f"hybrid {version}", new_q)]
    if old_q is not None:
        columns.append((f"in use {in_use[0]}", old_q))
    _print_figures(say, data, model, columns)

    worse = [k for k in GUARDED if new_q.headline()[k] < kw_q.headline()[k]]
    if worse:
        say(f"refused: {version} is worse than the keywords alone on {', '.join(worse)}")
        return False, model
    if new_right < old_right:
        say(
            f"refused: {version} labels {new_right} held-out messages fully right, "
            f"{in_use[0]} in use labels {old_right}"
        )
        return False, model
    if dry_run:
        say(f"not installed (--dry-run): {version} would be accepted")
        return False, model
    path = install(folder, model)
    say(f"installed {path} and put {version} in use (roll back: gridbot model rollback)")
    return True, model


def _print_figures(
    say: Callable[[str], None],
    data: TrainingData,
    model: LinearModel,
    columns: list[tuple[str, Quality]],
) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in data.counts.items())
    size = f"{len(data.fitted)} messages ({counts}); {len(model.idf)} features"
    say(f"{model.version}: fitted on {size}")
    th = model.thresholds
    say(
        f"thresholds chosen on valid+test ({len(data.choose)} messages) and train out of fold "
        f"({len(data.unseen_by_vocabulary)}): add at P(request) >= "
        f"{th.add}, drop below {th.drop}, change category at {th.switch}, possible "
        f"emergency at P(urgent) >= {th.urgent}, the keywords' alarm only possible below "
        f"{th.doubt}"
    )
    say(f"held-out part, {len(data.heldout)} messages:")
    say(" " * 18 + "".join(f"{name:>16}" for name, _ in columns))
    for key in (*GUARDED, "urgent_precision"):
        values = "".join(f"{q.headline()[key]:>16.3f}" for _, q in columns)
        say(f"  {key:<16}{values}")


def add_doubt(
    settings: Settings,
    days: Sequence[Path],
    *,
    keywords: Classifier,
    folder: Path | None = None,
    say: Callable[[str], None] = print,
) -> LinearModel:
    """The version in use again as a new version, its weights untouched, with the threshold
    below which its urgency head doubts the keywords' alarms chosen on group ``days`` it was
    not fitted on (a model trained before that threshold existed doubts none). Its verdicts
    on every message are the same; only how a doubted alarm is told changes."""
    folder = folder or models_dir(settings)
    in_use = history(folder)
    if not in_use:
        raise ModelError("no model in use")
    base = read_model(folder, in_use[0])
    fitted_on = base.meta.get("groupdays")
    seen = sorted({p.stem for p in days} & set(fitted_on if isinstance(fitted_on, list) else ()))
    if seen:
        raise ModelError(f"{base.version} was fitted on {', '.join(seen)}")
    p_urgent: list[float] = []
    urgent: list[bool] = []
    for row in groupday_rows(days):
        kw = keywords.keywords_only(row["text"])
        if kw.urgent and not kw.possible:
            p_urgent.append(base.predict_counts(keywords.features(row["text"])).p_urgent or 0.0)
            urgent.append(row["urgent"])
    doubt = doubt_threshold(p_urgent, urgent)
    model = replace(
        base,
        version=next_version(folder),
        thresholds=replace(base.thresholds, doubt=doubt),
        meta={
            **base.meta,
            "based_on": base.version,
            "doubt_chosen_on": {
                "days": sorted(p.stem for p in days),
                "alarms": len(urgent),
                "emergencies": sum(urgent),
                "doubted": sum(p < doubt for p in p_urgent),
                "emergencies_doubted": sum(
                    p < doubt and u for p, u in zip(p_urgent, urgent, strict=True)
                ),
                "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        },
    )
    path = install(folder, model)
    say(
        f"{model.version}: {base.version}'s weights; the keywords' alarm only possible below "
        f"P(urgent) {doubt} (on {len(days)} days it was not fitted on: {len(urgent)} alarms, "
        f"{sum(urgent)} of them emergencies); installed {path} and put it in use"
    )
    return model
