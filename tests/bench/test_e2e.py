from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.e2e import Run, classify_alone, report, run_replay
from bench.traffic import Town, write
from bot.settings import load_settings
from nlp.classifier import Classifier


def test_a_tiny_replay_is_timed_line_by_line(
    tmp_path: Path, classifier: Classifier, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    path = write(tmp_path, Town(grids=3), 80, database=url)
    settings = load_settings(tmp_path / "config.yaml")
    lines = path.read_text(encoding="utf-8").splitlines()
    run = run_replay(settings, url, lines, classifier, "sqlite")
    assert (run.messages, len(run.latencies), run.exit_code) == (80, 80, 0)
    assert 0 < run.sent < 80  # chatter gets no reply
    assert run.percentile(50) <= run.percentile(99) <= max(run.latencies)
    texts = [json.loads(line)["text"] for line in lines]
    assert classify_alone(classifier, texts) > 0
    assert report(run, classify_rate=1e9, target=True) is False  # far below the classifier
    out = capsys.readouterr().out
    assert "latency p99" in out
    assert "target >= 1500 msg/s: FAIL" in out


def test_the_target_is_judged_on_messages_per_second() -> None:
    fast = Run("sqlite", 3000, 1.0, 0.9, [0.001] * 3000, 100, 0)
    assert report(fast, classify_rate=20000.0, target=True)
    assert not report(Run("sqlite", 1000, 1.0, 0.9, [0.001] * 1000, 100, 0), 20000.0,
                      target=True)  # fmt: skip
    assert not report(Run("sqlite", 3000, 1.0, 0.9, [0.001] * 3000, 100, 1), 20000.0,
                      target=True)  # fmt: skip
