from __future__ import annotations

import pytest

from bench.classify import Quality, report

ROWS = [{"is_request": True, "urgent": False}, {"is_request": False, "urgent": False}]
SCRIPTS = {"simplified": (0.95, 200), "traditional": (0.94, 20)}


def quality(category_accuracy: float) -> Quality:
    return Quality(0.96, 0.93, category_accuracy, 0.9, 0.96, {"facility": 0.9}, SCRIPTS)


def test_without_timing_the_speed_lines_say_not_measured_and_do_not_judge(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert report("valid", quality(0.93), ROWS, None)
    assert not report("valid", quality(0.91), ROWS, None)
    out = capsys.readouterr().out
    assert "throughput and cold start" in out
    assert "not measured" in out
    assert "nan" not in out
    assert "msg/s" not in out


def test_with_timing_speed_is_judged_too(capsys: pytest.CaptureFixture[str]) -> None:
    fast = {"ratio": 1.2, "cold": 1.0, "ours": 0.1, "raw": 0.12, "cold_runs": [1.0]}
    slow = {**fast, "ratio": 0.7}
    assert report("valid", quality(0.93), ROWS, fast)
    assert not report("valid", quality(0.93), ROWS, slow)
    assert "throughput vs raw jieba.lcut" in capsys.readouterr().out
