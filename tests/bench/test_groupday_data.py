from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from bench.groupday_data import DATA, PARTS, DayError, load_day, load_part

HEADER = {
    "meta": {
        "day": "t",
        "date": "2026-10-12",
        "setting": "city",
        "grid": {"code": "T1", "name": "测试网格", "room": "测试网格"},
        "leaders": {"wxid_l": "李网格长"},
    }
}


def write(tmp_path: Path, *lines: dict[str, Any]) -> Path:
    path = tmp_path / "day.jsonl"
    rows = [HEADER, *lines]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def msg(ts: str, text: str, label: dict[str, Any], sender: str = "wxid_a") -> dict[str, Any]:
    return {"ts": f"2026-10-12T{ts}+08:00", "from": sender, "name": "张阿姨", "text": text,
            "label": label}  # fmt: skip


def test_every_committed_day_is_well_formed() -> None:
    days = [day for part in PARTS for day in load_part(part)]
    assert len(days) >= 12
    assert sum(len(day.messages) for day in days) >= 3000
    held = load_part("held")
    assert len(held) * 3 >= len(days)  # a third held out


def test_a_day_reads_as_its_lines(tmp_path: Path) -> None:
    request = {"kind": "request", "matter": "m1", "category": "facility", "urgent": False}
    day = load_day(
        write(
            tmp_path,
            msg("07:00:00", "早上好", {"kind": "chatter"}),
            msg("07:01:00", "3栋路灯坏了", request),
            msg("08:00:00", "/办结 {m1} 已换", {"kind": "command"}, sender="wxid_l"),
            {"ts": "2026-10-12T23:59:00+08:00", "tick": True},
        )
    )
    assert [line.label.kind if line.label else "tick" for line in day.lines] == [
        "chatter", "request", "command", "tick"
    ]  # fmt: skip
    assert day.lines[1].event["room"] == "测试网格"
    assert "label" not in day.lines[1].event
    assert day.counts()["request"] == 1


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ([msg("07:00:00", "x", {"kind": "gossip"})], "label.kind"),
        ([msg("07:00:00", "x", {"kind": "request", "matter": "m1"})], "category"),
        ([msg("07:00:00", "x", {"kind": "followup", "matter": "m1"})], "before its request"),
        ([msg("07:00:00", "/办结 {m2} 好", {"kind": "command"})], "not reported yet"),
        ([msg("08:00:00", "a", {"kind": "chatter"}), msg("07:00:00", "b", {"kind": "chatter"})],
         "back in time"),
        ([msg("07:00:00", "办结", {"kind": "command"})], "starts with '/'"),
    ],
)  # fmt: skip
def test_mistakes_are_refused_with_the_line(
    tmp_path: Path, lines: list[dict[str, Any]], problem: str
) -> None:
    with pytest.raises(DayError, match=problem):
        load_day(write(tmp_path, *lines))


# The held-out days are frozen: written before any tuning, never edited after it (a day
# changed to suit the bot would measure nothing). docs/classification.md lists these too.
HELD_SHA256 = {
    "city-h1.jsonl": "cd6643464fa5ae862186cf4c0a2423eca2d4eb04572323467d3bbdd07b1e281a",
    "city-h2.jsonl": "07a7c0d7ad20de6235ba0562f0bb0015177e0a1056453e652c6718f4926896c1",
    "oldtown-h1.jsonl": "0cac93d84dba834baae240d634d9fc4925bbd01895e747e58fbbfcc650f23138",
    "village-h1.jsonl": "0f1e05f47d52cd8bf79587a3b723fc4385a777cfaf76f7f3e0704c9e78af905a",
}


def test_the_held_out_days_are_frozen() -> None:
    found = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((DATA / "held").glob("*.jsonl"))
    }
    assert found == HELD_SHA256
