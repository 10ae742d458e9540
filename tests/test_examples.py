"""Every committed replay in examples/ with an `.expected.jsonl` beside it gives exactly that
output (with `examples/NAME.yaml` as config when there is one, else the demo config).
Regenerate one after an intended change with
`gridbot replay examples/NAME.jsonl > examples/NAME.expected.jsonl` and review the diff."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from bot.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CASES = sorted(p for p in EXAMPLES.glob("*.jsonl") if not p.name.endswith(".expected.jsonl"))


def test_every_example_has_its_expected_output() -> None:
    assert CASES
    missing = [p.name for p in CASES if not p.with_suffix(".expected.jsonl").exists()]
    assert missing == []


@pytest.mark.parametrize("example", CASES, ids=lambda p: p.stem)
def test_example_replays_as_expected(
    example: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.delenv("GRIDBOT_CONFIG", raising=False)
    config = example.with_suffix(".yaml")  # an example may bring its own config
    args = ["replay", str(example)] + (["--config", str(config)] if config.exists() else [])
    assert main(args) == 0
    got = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected_lines = example.with_suffix(".expected.jsonl").read_text(encoding="utf-8")
    expected = [json.loads(line) for line in expected_lines.splitlines() if line.strip()]
    assert got == expected
