# ruff: noqa: E501  (the table as printed: its rows are wider than code lines)
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli import EXIT_OK, EXIT_USAGE, main

CONFIG = """\
timezone: Asia/Shanghai
admins: [wxid_street_admin]
grids:
  - code: G03
    name: 幸福社区第3网格
    room: 幸福社区第3网格
    leaders: [{id: wxid_leader_li, name: 李明}]
    workers: [{id: wxid_louzhang_hu, name: 胡军}, wxid_wuye_typo]
  - code: G04
    name: 桃园村网格
    room: 桃园村网格
"""


def line(ts: str, who: str, name: str, text: str, **extra: Any) -> str:
    event = {"ts": f"2026-11-22T{ts}+08:00", "room": "幸福社区第3网格", "from": who,
             "name": name, "text": text}  # fmt: skip
    return json.dumps(event | extra, ensure_ascii=False)


@pytest.fixture
def args(tmp_path: Path) -> list[str]:
    """--config and --db of a street where a few people spoke in G03's group, and an
    administrator made one of them a leader there."""
    config = tmp_path / "city.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    given = ["--config", str(config), "--db", f"sqlite:///{tmp_path}/gridbot.db"]
    events = tmp_path / "day.jsonl"
    lines = [
        line("09:00:00", "wxid_resident_zhang", "张阿姨", "早"),
        line("09:01:00", "wxid_leader_li", "李网格长", "早上好"),
        line("09:02:00", "wxid_louzhang_hu", "胡楼长", "大家好"),
        line("09:03:00", "wxid_resident_wang", "王大爷\n（3栋）", "早"),
        line("09:04:00", "wxid_street_admin", "街道办小陈", "/设网格长 @王大爷",
             mentions=["wxid_resident_wang"]),
    ]  # fmt: skip
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["replay", str(events), *given]) == EXIT_OK
    return given


def test_members_lists_each_grid_with_contact_ids(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["members", *args]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "G03 幸福社区第3网格 (group '幸福社区第3网格'): 5 member(s) seen",
        "  CONTACT ID           NAME IN GROUP             ROLE                               LAST SEEN",
        "  wxid_street_admin    街道办小陈                admin                              2026-11-22 09:04",
        "  wxid_leader_li       李网格长                  leader (config), config name 李明  2026-11-22 09:01",
        "  wxid_resident_wang   王大爷 （3栋）            leader (database: /设网格长)       2026-11-22 09:03",
        "  wxid_louzhang_hu     胡楼长                    worker (config), config name 胡军  2026-11-22 09:02",
        # named in the config, never seen: most likely a wrong id
        "  wxid_wuye_typo       -                         worker (config)                    never spoke there",
        "  wxid_resident_zhang  张阿姨                    resident                           2026-11-22 09:00",
        "",
        "G04 桃园村网格 (group '桃园村网格'): 0 member(s) seen",
    ]


def test_members_of_one_grid(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["members", "--grid", "g04", *args]) == EXIT_OK
    assert capsys.readouterr().out == "G04 桃园村网格 (group '桃园村网格'): 0 member(s) seen\n"
    assert main(["members", "--grid", "G99", *args]) == EXIT_USAGE
    assert capsys.readouterr().err == ("gridbot members: no grid 'G99' in the config (G03, G04)\n")


def test_members_without_a_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    assert main(["members", "--db", f"sqlite:///{missing}"]) == EXIT_USAGE
    assert capsys.readouterr().err == f"gridbot: no database at {missing}\n"
    assert not missing.exists()
