from __future__ import annotations

import re

import pytest

from bench.accounts import DEFAULT_SELF, GRID_ROOM, Projection, Sample, main, project, report
from bench.accounts import world as account_world


def test_accounts_are_packed_per_process_the_last_taking_the_rest() -> None:
    assert project(334, 1, 200.0, 0.5) == Projection(334, 334 * 200.0, 200.0)
    # 4 processes of 80 accounts and one of 14
    full = 200.0 + 79 * 0.5
    assert project(334, 80, 200.0, 0.5) == Projection(5, 4 * full + 200.0 + 13 * 0.5, full)
    assert project(160, 80, 200.0, 0.5) == Projection(2, 2 * full, full)


def test_the_target_is_judged_on_the_increment_per_extra_account(
    capsys: pytest.CaptureFixture[str],
) -> None:
    one = Sample(1, 200.0, 210.0, 2.0, 0.5)
    assert report(one, Sample(21, 280.0, 290.0, 3.0, 0.5), gateways=22, per_process=80)  # 4 MB
    assert "target increment < 5 MB per extra account: PASS (4.00 MB" in capsys.readouterr().out
    assert not report(one, Sample(21, 300.0, 310.0, 3.0, 0.5), gateways=22, per_process=80)
    assert "FAIL (5.00 MB; a 80-account process: 595 MB)" in capsys.readouterr().out


def test_a_process_that_does_not_stop_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    one = Sample(1, 200.0, 210.0, 2.0, 0.5)
    assert not report(one, Sample(21, 210.0, 220.0, 3.0, None), gateways=22, per_process=80)
    out = capsys.readouterr().out
    assert "PASS (0.50 MB" in out
    assert "stops within 20 s of being told: FAIL (stuck: the process of 21 account(s))" in out


def test_each_account_has_a_world_of_its_own() -> None:
    data = account_world(7)
    assert data["self"]["id"] == "wxid_gridbot_7"
    members = [m for room in data["rooms"] for m in room["members"]]
    assert DEFAULT_SELF not in members
    grid = next(room for room in data["rooms"] if room["topic"] == GRID_ROOM)
    assert {"wxid_gridbot_7", "wxid_resident_7"} <= set(grid["members"])
    assert "wxid_resident_7" in {c["id"] for c in data["contacts"]}
    assert account_world(8)["self"]["id"] == "wxid_gridbot_8"  # no state shared between them


@pytest.mark.integration
def test_two_accounts_in_one_process_are_measured_against_one(
    gateway_ready: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--accounts", "2", "--grids", "5"])
    out = capsys.readouterr().out
    assert "3 gateways up" in out
    rows = re.findall(
        r"^  ([12]) +([\d.]+) MB +([\d.]+) MB +([\d.]+) s +(?:[\d.]+ s|STUCK)$", out, re.MULTILINE
    )
    assert [row[0] for row in rows] == ["1", "2"], out
    for _, rss, hwm, online in rows:
        assert 50.0 < float(rss) <= float(hwm)  # a bot with its classifier, not an empty process
        assert float(online) > 0.0
    extra = float(re.findall(r"increment per extra account: ([-+][\d.]+) MB", out)[0])
    assert extra == pytest.approx(float(rows[1][1]) - float(rows[0][1]), abs=0.11)
    assert re.search(r"  1 per process: 334 processes", out)
    assert re.search(r" 80 per process:   5 processes", out)
    assert code == (0 if "FAIL" not in out else 1)
