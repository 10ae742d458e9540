from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.traffic import Town
from bench.web import filters, main, split


def test_the_tickets_are_split_to_make_the_total_asked() -> None:
    active = 60
    for total in (1_000, 100_000):
        history, others = split(total, 50, active)
        # bench/tickets.py's fill: the open work of two grids, history, 48 other grids
        assert 2 * (active + active // 5) + history + 48 * others == total
        assert abs(history - others) <= 49
    with pytest.raises(ValueError, match="need >= 144"):
        split(100, 50, active)


def test_the_bench_runs_on_a_tiny_database_and_prints_its_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "dbs"
    main(["--tickets", "300", "--baseline", "150", "--grids", "5", "--active", "10",
          "--repeat", "2", "--keep", str(keep)])  # fmt: skip
    out = capsys.readouterr().out
    assert re.search(r"big: 300 tickets in 5 grids, \d+ events", out)
    assert re.search(r"baseline: 150 tickets in 5 grids, \d+ events", out)
    # every filter, for both people, with its p50/p95 at both sizes, a ratio and a verdict
    for who in ("administrator", "leader"):
        for name, _params in filters(Town(5)):
            line = re.compile(
                rf"^{who} +{name} +\d+ +[\d.]+ / +[\d.]+ +[\d.]+ / +[\d.]+ +[\d.]+x +(PASS|FAIL)$",
                re.M,
            )
            assert line.search(out), (who, name)
    # the export ran as the command, wrote every ticket, and says its time and peak memory
    assert re.search(r"^big +[\d.]+ s +peak +\d+ MiB +\(300 ticket\(s\) written to ", out, re.M)
    assert re.search(r"^baseline +[\d.]+ s +peak +\d+ MiB +\(150 ticket\(s\) written", out, re.M)
    assert re.search(r"^ratio [\d.]+x +(PASS|FAIL)$", out, re.M)
    assert (keep / "big.xlsx").stat().st_size > 0
