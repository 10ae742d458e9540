from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

ROOM = "幸福社区第3网格"


def line(ts: str, who: str, name: str, text: str, **extra: Any) -> str:
    event = {"ts": f"2026-11-{ts}+08:00", "room": ROOM, "from": who, "name": name, "text": text}
    return json.dumps(event | extra, ensure_ascii=False)


RESIDENT = ("wxid_resident_zhang", "张阿姨")
NEIGHBOUR = ("wxid_resident_wang", "王大爷")
LEADER = ("wxid_leader_li", "李网格长")


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A database where a leader corrected the bot three times on two days."""
    db = f"sqlite:///{tmp_path}/gridbot.db"
    events = tmp_path / "day.jsonl"
    lines = [
        line("22T09:00:00", *RESIDENT, "3栋门口的路灯坏了好几天了，我电话13812345678"),
        line("22T09:01:00", *LEADER, "/改类 1 环境卫生"),
        line("22T09:02:00", *NEIGHBOUR, "张阿姨，楼上那家又开始了，天天这样"),
        line("23T10:00:00", *LEADER, "/受理 矛盾纠纷",
             quote={"name": NEIGHBOUR[1], "text": "张阿姨，楼上那家又开始了，天天这样"}),
        line("23T10:01:00", *LEADER, "/改类 1 设施报修"),
    ]  # fmt: skip
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["replay", str(events), "--db", db]) == EXIT_OK
    return db


def exported(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["examples", "export", *args]) == EXIT_OK
    return [json.loads(row) for row in capsys.readouterr().out.splitlines()]


def test_export_writes_the_examples_as_labelled_lines(
    url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = exported(capsys, "--db", url)
    # the lamp corrected twice: once, as last corrected
    assert rows == [
        {"id": "c2", "text": "张阿姨，楼上那家又开始了，天天这样", "is_request": True,
         "category": "dispute", "urgent": False, "script": "simplified"},
        {"id": "c3", "text": "3栋门口的路灯坏了好几天了，我电话138****5678", "is_request": True,
         "category": "facility", "urgent": False, "script": "simplified"},
    ]  # fmt: skip
    # a date is a day where the grids are: the 23rd starts at 00:00 in Shanghai
    assert [r["id"] for r in exported(capsys, "--db", url, "--since", "2026-11-23")] == [
        "c2",
        "c3",
    ]
    assert exported(capsys, "--db", url, "--since", "2026-11-24") == []
    out = tmp_path / "corrections.jsonl"
    capsys.readouterr()
    assert main(["examples", "export", "--db", url, "--out", str(out)]) == EXIT_OK
    assert capsys.readouterr() == ("", f"2 example(s) written to {out}\n")
    assert [json.loads(row)["id"] for row in out.read_text(encoding="utf-8").splitlines()] == [
        "c2",
        "c3",
    ]


def test_delete_by_date_and_by_id_is_logged(
    url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        assert main(["examples", "delete", "--db", url, "--before", "2026-11-23"]) == EXIT_OK
        assert capsys.readouterr().out == "deleted 1 example(s) kept before 2026-11-23\n"
        assert main(["examples", "delete", "--db", url, "--id", "c3"]) == EXIT_OK
        assert capsys.readouterr().out == "deleted example c3\n"
        assert main(["examples", "delete", "--db", url, "--id", "3"]) == EXIT_FAILED
        assert capsys.readouterr().err.endswith("\ngridbot examples: no example c3\n")
    logged = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
    assert logged == [
        "1 training example(s) kept before 2026-11-23T00:00:00+08:00 deleted",
        "training example c3 deleted",
    ]
    assert [r["id"] for r in exported(capsys, "--db", url)] == ["c2"]


@pytest.mark.parametrize(
    "args",
    [
        ["examples", "delete"],  # neither
        ["examples", "delete", "--before", "2026-11-23", "--id", "1"],  # both
        ["examples", "delete", "--id", "x1"],
        ["examples", "delete", "--before", "23.11.2026"],
        ["examples", "export", "--since", "yesterday"],
        ["examples", "delete", "--before", "0001-01-01"],  # no UTC time
        ["examples", "delete", "--id", "99999999999999999999"],  # past PostgreSQL's integer
    ],
)
def test_a_malformed_use_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == EXIT_USAGE
    assert "usage: gridbot examples" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["examples"], ["examples", "export"], ["examples", "delete"]])
def test_every_subcommand_has_help(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*args, "--help"])
    assert caught.value.code == 0
    assert "usage: gridbot examples" in capsys.readouterr().out


def test_without_a_database_nothing_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    assert main(["examples", "export", "--db", f"sqlite:///{missing}"]) == EXIT_USAGE
    assert capsys.readouterr().err == f"gridbot: no database at {missing}\n"
    assert not missing.exists()
