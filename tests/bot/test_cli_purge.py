from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import EXIT_OK, EXIT_USAGE, main
from storage.retention import PURGED_TEXT

ROOM = "幸福社区第3网格"
RESIDENT = ("wxid_resident_zhang", "张阿姨")
NEIGHBOUR = ("wxid_resident_wang", "王大爷")
LEADER = ("wxid_leader_li", "李网格长")


def replay(tmp_path: Path, lines: list[tuple[int, tuple[str, str], str]]) -> str:
    """A database where each line was said so many days ago (one replay: a second one on the
    database would report every scheduled run between the two as missed)."""
    now = datetime.now(UTC)
    events = [
        {"ts": (now - timedelta(days=days, minutes=-i)).isoformat(), "room": ROOM,
         "from": who[0], "name": who[1], "text": text}
        for i, (days, who, text) in enumerate(lines)
    ]  # fmt: skip
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", "utf-8")
    url = f"sqlite:///{tmp_path}/gridbot.db"
    assert main(["replay", str(file), "--db", url]) == EXIT_OK
    return url


CONFIG = """\
grids: [{code: G03, name: 幸福社区第3网格, room: 幸福社区第3网格, leaders: [wxid_leader_li]}]
retention: {cron: null}  # no daily purge in the replay: the test's `gridbot purge` does it
"""


def table(url: str, sql: str) -> list[Any]:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return [row[0] if len(row) == 1 else row for row in conn.execute(sql)]
    finally:
        conn.close()


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ticket reported, done and rated 400 days ago, with a phone number in it, and a
    resident's chatter with one, ten days ago."""
    config = tmp_path / "city.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("GRIDBOT_CONFIG", str(config))
    return replay(tmp_path, [
        (400, RESIDENT, "3栋门口的路灯坏了好几天了，晚上黑漆漆的，我电话13812345678"),
        (400, LEADER, "/办结 1 路灯已更换，恢复照明"),
        (400, RESIDENT, "满意"),
        (10, NEIGHBOUR, "有事找我，电话13900001111"),
    ])  # fmt: skip


def test_a_dry_run_shows_the_counts_and_changes_nothing(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = table(url, "SELECT text FROM inbound_message ORDER BY id")
    capsys.readouterr()
    assert main(["purge", "--dry-run", "--db", url]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "dry run: nothing is changed"
    assert out[1].startswith("phone and ID numbers: masked where older than 180 days (before ")
    assert out[2].startswith(
        "free text: replaced for tickets closed, and messages sent, more than 365 days ago"
    )
    counts = {line.split()[0]: line.split()[1:] for line in out[4:-1]}
    assert counts["inbound_message"] == ["1", "3"]  # the report; it, /办结 and 满意
    assert counts["ticket"] == ["1", "1"]
    assert counts["ticket_reporter"] == ["0", "0"]  # 张阿姨's name has no number
    assert out[-1].endswith(" row(s) would change")
    assert table(url, "SELECT text FROM inbound_message ORDER BY id") == before


def test_purge_masks_and_replaces_once(
    url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        assert main(["purge", "--db", url]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert "dry run" not in out[0]
    assert out[-1].endswith(" row(s) changed")
    texts = table(url, "SELECT text FROM inbound_message ORDER BY id")
    assert texts[:3] == [PURGED_TEXT] * 3
    assert texts[3] == "有事找我，电话13900001111"  # ten days old: as typed
    assert table(url, "SELECT text, category, status FROM ticket") == [
        (PURGED_TEXT, "facility", "archived")
    ]
    audit = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
    assert any(m.startswith("retention purge: numbers masked in ") for m in audit)
    assert main(["purge", "--db", url]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == "0 row(s) changed"


def test_purge_with_both_rules_off_does_nothing(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "off.yaml"
    config.write_text(
        "grids: [{code: G03, name: 三网格, room: 幸福社区第3网格}]\n"
        "retention: {mask_numbers_after_days: null, archived_text_after_days: null}\n",
        encoding="utf-8",
    )
    before = table(url, "SELECT text FROM inbound_message ORDER BY id")
    capsys.readouterr()
    assert main(["purge", "--config", str(config), "--db", url]) == EXIT_OK
    assert capsys.readouterr().out == (
        "nothing to do: retention.mask_numbers_after_days and "
        "retention.archived_text_after_days are both null\n"
    )
    assert table(url, "SELECT text FROM inbound_message ORDER BY id") == before


def test_purge_of_no_database_makes_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    assert main(["purge", "--db", f"sqlite:///{missing}"]) == EXIT_USAGE
    assert capsys.readouterr().err == f"gridbot: no database at {missing}\n"
    assert not missing.exists()
