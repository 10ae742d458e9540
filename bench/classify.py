"""Quality and speed of the request classifier on the labelled messages.

    .venv/bin/python bench/classify.py                 # test part: the reported figures
    .venv/bin/python bench/classify.py --part tune     # tuning part
    .venv/bin/python bench/classify.py --part valid    # held-out check while tuning
    .venv/bin/python bench/classify.py --part tune --errors   # what to tune

Quality targets are checked on whichever part is chosen; the test part is the one reported.
`--errors` lists misclassified messages and is refused on the test and valid parts: tuning by
looking at their errors would make their figures meaningless. valid.jsonl is a second held-out
set, written before tuning, for watching generalisation without spending test measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import jieba  # noqa: E402
import yaml  # noqa: E402

from bench.figures import verdict  # noqa: E402
from nlp.classifier import Classification, Classifier  # noqa: E402
from nlp.vocabulary import CATEGORY_CODES, Vocabulary  # noqa: E402

DATA = ROOT / "tests" / "data" / "classify"
REPEATS = 7


def load_vocabulary() -> Vocabulary:
    text = (files("config") / "categories.yaml").read_text(encoding="utf-8")
    return Vocabulary.model_validate(yaml.safe_load(text))


def load_part(part: str) -> list[dict[str, Any]]:
    with (DATA / f"{part}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(tp: int, fp: int, fn: int) -> float:
    return _ratio(2 * tp, 2 * tp + fp + fn)


@dataclass(frozen=True)
class Quality:
    request_precision: float
    request_recall: float
    category_accuracy: float
    urgent_precision: float
    urgent_recall: float
    category_f1: dict[str, float]
    script_accuracy: dict[str, tuple[float, int]]


def correct(row: dict[str, Any], got: Classification) -> bool:
    return bool(
        got.is_request == row["is_request"]
        and got.category == row["category"]
        and got.urgent == row["urgent"]
    )


def measure_quality(rows: Sequence[dict[str, Any]], results: Sequence[Classification]) -> Quality:
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


def best_time(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()  # warm-up: first calls fill jieba's and the regex engine's caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_throughput(classifier: Classifier, texts: Sequence[str]) -> tuple[float, float]:
    """Seconds for the whole part: (our classify, default jieba.lcut on the raw text)."""
    jieba.lcut("预热")  # the default tokenizer loads its dictionary on first use
    ours = best_time(lambda: [classifier.classify(t) for t in texts])
    raw = best_time(lambda: [jieba.lcut(t) for t in texts])
    return ours, raw


_COLD_START = """
import time
t0 = time.perf_counter()
from importlib.resources import files
from pathlib import Path
import yaml
from nlp.classifier import Classifier
from nlp.vocabulary import Vocabulary
data = yaml.safe_load((files("config") / "categories.yaml").read_text(encoding="utf-8"))
Classifier(Vocabulary.model_validate(data), cache_dir=Path({cache!r}))
print(time.perf_counter() - t0)
"""


def measure_cold_start(cache_dir: Path, runs: int = 5) -> list[float]:
    """Import + vocabulary + dictionary load, each in a fresh interpreter, warm jieba cache."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _COLD_START.format(cache=str(cache_dir))],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def report(
    part: str, quality: Quality, rows: Sequence[dict[str, Any]], speed: dict[str, Any] | None
) -> bool:
    """Print the figures against the targets; whether all measured ones pass (``speed``
    None: not timed, those two lines say so and don't count)."""
    n_req = sum(1 for r in rows if r["is_request"])
    n_urg = sum(1 for r in rows if r["urgent"])
    print(f"part: {part}  messages: {len(rows)}  requests: {n_req}  urgent: {n_urg}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print()
    simp, n_simp = quality.script_accuracy["simplified"]
    trad, n_trad = quality.script_accuracy["traditional"]
    q = quality
    checks = [
        ("request precision", q.request_precision, ">= 0.95", q.request_precision >= 0.95),
        ("request recall", q.request_recall, ">= 0.92", q.request_recall >= 0.92),
        ("category accuracy (true requests)", q.category_accuracy, ">= 0.92",
         q.category_accuracy >= 0.92),
        ("urgent recall", q.urgent_recall, ">= 0.95", q.urgent_recall >= 0.95),
        ("urgent precision", q.urgent_precision, ">= 0.80", q.urgent_precision >= 0.80),
        (f"accuracy traditional (n={n_trad}) - simplified (n={n_simp})", trad - simp,
         ">= -0.03", trad >= simp - 0.03),
    ]  # fmt: skip
    if speed is not None:
        checks += [
            ("throughput vs raw jieba.lcut (x)", speed["ratio"], ">= 0.80", speed["ratio"] >= 0.8),
            ("cold start, warm cache (s, median)", speed["cold"], "<= 1.5", speed["cold"] <= 1.5),
        ]  # fmt: skip
    for name, value, target, ok in checks:
        print(f"  {name:<52} {value:>8.3f}   target {target:<9} {verdict(ok)}")
    if speed is None:
        print(f"  {'throughput and cold start':<52} not measured (--no-speed)")
    print()
    print("  per-category F1:")
    for code, f1 in quality.category_f1.items():
        print(f"    {code:<12} {f1:.3f}")
    print(f"  full-label accuracy: simplified {simp:.3f}, traditional {trad:.3f}")
    if speed is None:
        return all(ok for *_, ok in checks)
    print()
    print(
        f"  throughput: classify {speed['ours'] * 1e3:.1f} ms, raw jieba.lcut "
        f"{speed['raw'] * 1e3:.1f} ms for {len(rows)} messages (best of {REPEATS}); "
        f"{len(rows) / speed['ours']:.0f} msg/s"
    )
    cold = ", ".join(f"{t:.3f}" for t in speed["cold_runs"])
    print(f"  cold start runs (s): {cold}")
    return all(ok for *_, ok in checks)


def print_errors(rows: Sequence[dict[str, Any]], results: Sequence[Classification]) -> None:
    for row, got in zip(rows, results, strict=True):
        if correct(row, got):
            continue
        want = f"{row['is_request']!s:5} {row['category']!s:11} urgent={row['urgent']!s:5}"
        have = f"{got.is_request!s:5} {got.category!s:11} urgent={got.urgent!s:5}"
        print(f"{row['id']}  want {want} got {have} {got.confidence:.2f} {list(got.keywords)}")
        print(f"      {row['text']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("test", "tune", "valid"), default="test")
    parser.add_argument("--errors", action="store_true", help="list misclassified (tune only)")
    parser.add_argument("--no-speed", action="store_true", help="skip timing (faster tuning)")
    args = parser.parse_args(argv)
    if args.errors and args.part != "tune":
        parser.error(f"--errors is for the tune part only; the {args.part} part is not for tuning")

    rows = load_part(args.part)
    with tempfile.TemporaryDirectory(prefix="gridbot-jieba-") as tmp:
        cache_dir = Path(tmp)
        classifier = Classifier(load_vocabulary(), cache_dir=cache_dir)  # also warms the cache
        results = [classifier.classify(r["text"]) for r in rows]
        quality = measure_quality(rows, results)
        if args.errors:
            print_errors(rows, results)
        speed: dict[str, Any] | None = None
        if not args.no_speed:
            texts = [r["text"] for r in rows]
            ours, raw = measure_throughput(classifier, texts)
            cold_runs = measure_cold_start(cache_dir)
            speed = {"ratio": raw / ours, "ours": ours, "raw": raw, "cold_runs": cold_runs,
                     "cold": statistics.median(cold_runs)}  # fmt: skip
    ok = report(args.part, quality, rows, speed)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
