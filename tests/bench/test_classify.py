from __future__ import annotations

import hashlib

import pytest

from bench.classify import DATA, Quality, load_part, report

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


# The held-out part of the learned layer (#22): written by three writers who never saw the
# vocabulary or the other parts, committed before any model was trained, never edited after.
HELDOUT_SHA256 = "0e6d154428358c0a687286112ac0502ac2dbc8de99204d30b26ccd2c1b6cdcc3"


def test_the_held_out_part_is_frozen_and_shaped_as_promised() -> None:
    path = DATA / "heldout.jsonl"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == HELDOUT_SHA256
    rows = load_part("heldout")
    assert len(rows) >= 600
    assert sum(not r["is_request"] for r in rows) >= 0.3 * len(rows)
    assert sum(r["script"] == "traditional" for r in rows) >= 0.1 * len(rows)
    assert sum(r["urgent"] for r in rows) >= 60
    others = {r["text"] for part in ("tune", "valid", "test") for r in load_part(part)}
    assert not others & {r["text"] for r in rows}
