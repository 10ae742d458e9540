from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.cli import EXIT_OK, EXIT_USAGE, main
from web.points_ledger import LAYOUT as POINTS
from web.ticket_ledger import LAYOUT as TICKETS
from web.workbook import Layout

G03, G04 = "幸福社区第3网格", "桃园村网格"
RESIDENT = ("wxid_resident_zhang", "张阿姨")
VILLAGER = ("wxid_villager_liu", "刘大叔")
LEADER = ("wxid_leader_li", "李网格长")
PHONE = "13812345678"


def line(ts: str, who: tuple[str, str], text: str, room: str = G03) -> str:
    event = {"ts": f"2026-11-{ts}+08:00", "room": room, "from": who[0], "name": who[1]}
    return json.dumps(event | {"text": text}, ensure_ascii=False)


@pytest.fixture
def url(tmp_path: Path) -> str:
    """Three tickets of the demo's grids on two days: #1 (G03, 22nd, resolved), #2 (G04,
    22nd), #3 (G03, the 23rd just after midnight in Shanghai)."""
    db = f"sqlite:///{tmp_path}/gridbot.db"
    events = tmp_path / "days.jsonl"
    lines = [
        line("22T09:00:00", RESIDENT, f"3栋门口的路灯坏了好几天了，我电话{PHONE}"),
        line("22T09:10:00", VILLAGER, "村口的垃圾堆了三天没人清理，臭死了", G04),
        line("22T11:00:00", LEADER, "/办结 1 路灯已更换"),
        line("23T00:10:00", RESIDENT, "小区东门的井盖松了，踩上去晃得厉害"),
    ]
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["replay", str(events), "--db", db]) == EXIT_OK
    return db


def rows(path: Path, layout: Layout = TICKETS) -> list[dict[str, Any]]:
    """The rows of the file's ledger (the 工单台账, unless ``layout`` says), by header."""
    sheet = load_workbook(path)[layout.title]
    header, *body = list(sheet.iter_rows(values_only=True))
    assert list(header) == [title for title, _width in layout.columns]
    return [dict(zip(header, row, strict=True)) for row in body]


def test_export_tickets_of_some_days_and_grids(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "台账.xlsx"
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        assert main(["export", "tickets", "--db", url, "--out", str(out)]) == EXIT_OK
    assert capsys.readouterr().err.endswith(f"\n3 ticket(s) written to {out}\n")
    every = rows(out)
    assert [r["工单编号"] for r in every] == [1, 2, 3]  # oldest first
    first = every[0]
    assert first["网格"] == G03
    assert first["状态"] == "已办结，待评价"
    assert first["反映内容"].endswith(PHONE)  # the command line's file is an administrator's
    assert first["受理时间"].isoformat() == "2026-11-22T09:00:00"  # local time
    assert first["按时办结"] == "是"
    assert first["办理结果"] == "路灯已更换"
    assert "3 ticket(s) exported" in caplog.text

    # a day is a day where the grids are: the 23rd starts at 00:00 in Shanghai
    args = ["export", "tickets", "--db", url, "--out", str(out)]
    assert main([*args, "--from", "2026-11-23"]) == EXIT_OK
    assert [r["工单编号"] for r in rows(out)] == [3]
    assert main([*args, "--to", "2026-11-22", "--grid", "G03", "--mask"]) == EXIT_OK
    [masked] = rows(out)
    assert masked["工单编号"] == 1
    assert masked["反映内容"].endswith("138****5678")
    assert main([*args, "--grid", "G03", "--grid", "G04", "--to", "2026-11-22"]) == EXIT_OK
    assert len(rows(out)) == 2


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--grid", "G99"], "no grid G99 in the config"),
        (["--from", "2026-11-23", "--to", "2026-11-22"], "--from is after --to"),
    ],
)
def test_export_refuses_what_would_be_wrong(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], said: str
) -> None:
    out = tmp_path / "t.xlsx"
    assert main(["export", "tickets", "--db", url, "--out", str(out), *extra]) == EXIT_USAGE
    assert said in capsys.readouterr().err
    assert not out.exists()


def test_export_says_what_it_cant_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = f"sqlite:///{tmp_path}/none.db"
    out = str(tmp_path / "t.xlsx")
    assert main(["export", "tickets", "--db", missing, "--out", out]) == EXIT_USAGE
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
    assert main(["export", "tickets", "--db", missing, "--out", str(tmp_path / "t.csv")]) == (
        EXIT_USAGE
    )
    assert "should end in .xlsx" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "tickets", "--from", "yesterday", "--out", out])
    assert "not a date" in capsys.readouterr().err


def test_export_into_a_folder_that_is_not_there(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nowhere" / "t.xlsx"
    assert main(["export", "tickets", "--db", url, "--out", str(out)]) == EXIT_USAGE
    assert "can't write" in capsys.readouterr().err


# --- the 积分台账 ---


@pytest.fixture
def points_url(tmp_path: Path) -> str:
    """张阿姨 given 志愿服务 on the 22nd and 8 points (her phone number in the reason) on the
    23rd just after midnight in Shanghai; 刘大叔 in G04 given 清理河道 by its leader."""
    db = f"sqlite:///{tmp_path}/gridbot.db"
    events = tmp_path / "days.jsonl"
    zhao = ("wxid_leader_zhao", "赵支书")
    lines = [
        line("22T09:00:00", RESIDENT, "收到"),
        line("22T09:01:00", VILLAGER, "收到", G04),
        award("22T09:02:00", LEADER, "/加分 @张阿姨 志愿服务", RESIDENT[0]),
        award("22T09:03:00", zhao, "/加分 @刘大叔 10 清理河道", VILLAGER[0], G04),
        award("23T00:10:00", LEADER, f"/加分 @张阿姨 8 帮邻居取药 电话{PHONE}", RESIDENT[0]),
    ]
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["replay", str(events), "--db", db]) == EXIT_OK
    return db


def award(ts: str, who: tuple[str, str], text: str, mentioned: str, room: str = G03) -> str:
    event = json.loads(line(ts, who, text, room))
    return json.dumps(event | {"mentions": [mentioned]}, ensure_ascii=False)


def test_export_points_of_some_days_and_grids(
    points_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = tmp_path / "积分台账.xlsx"
    args = ["export", "points", "--db", points_url, "--out", str(out)]
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        assert main(args) == EXIT_OK
    assert capsys.readouterr().err.endswith(f"\n3 entr(ies) written to {out}\n")
    assert "3 entr(ies) exported" in caplog.text
    every = rows(out, POINTS)
    assert [(r["居民"], r["积分"], r["变动后余额"], r["网格编码"]) for r in every] == [
        ("张阿姨", 5, 5, "G03"),
        ("刘大叔", 10, 10, "G04"),
        ("张阿姨", 8, 13, "G03"),
    ]
    first = every[0]
    assert first["记账时间"].isoformat() == "2026-11-22T09:02:00"  # local time
    assert (first["类型"], first["规则"], first["理由"]) == ("加分", "志愿服务", None)
    assert (first["经办人"], first["经办人身份"]) == ("李明", "网格长")  # never a contact id
    assert every[2]["理由"].endswith(PHONE)  # the command line's file is an administrator's

    # the 23rd starts at 00:00 in Shanghai; the balance counts what came before the days
    assert main([*args, "--from", "2026-11-23", "--mask"]) == EXIT_OK
    [late] = rows(out, POINTS)
    assert (late["积分"], late["变动后余额"]) == (8, 13)
    assert late["理由"].endswith("138****5678")
    assert main([*args, "--grid", "G04", "--to", "2026-11-22"]) == EXIT_OK
    assert [r["居民"] for r in rows(out, POINTS)] == ["刘大叔"]
    assert main([*args, "--grid", "G99"]) == EXIT_USAGE
