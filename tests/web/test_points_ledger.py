"""积分台账: one row per ledger entry with the 积分 page's filters (grid, dates, resident),
Chinese headers, local times, who gave each entry by name and role, phone and ID numbers
masked unless the viewer is an administrator."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import BytesIO
from typing import Any
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from bot.settings import Settings
from domain.points import Givers
from storage import points as point_store
from tests.auxil.points import LI, LIU, PHONE, T0, ZHANG, ZHAO, PointsConsole
from tests.web.test_points import points_config, web
from web import points_ledger
from web.points_ledger import COLUMNS, SHEET

ADMIN = "wxid_street_admin"
__all__ = ["points_config", "web"]  # the fixtures of tests/web/test_points.py, used here


def read(content: bytes) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The rows of the 积分台账 sheet by header, and the 说明 sheet as a dict."""
    book = load_workbook(BytesIO(content))
    header, *body = list(book[SHEET].iter_rows(values_only=True))
    assert list(header) == [title for title, _width in COLUMNS]
    about = {str(k): str(v) for k, v in book["说明"].iter_rows(values_only=True)}
    return [dict(zip(header, row, strict=True)) for row in body], about


def test_one_row_per_entry_with_the_balance_it_left_and_who_gave_it(
    web: PointsConsole, settings: Settings
) -> None:
    out = BytesIO()
    with web.db.session() as session:
        count = points_ledger.write(
            out,
            point_store.each_entry(session=session, query=point_store.LedgerQuery()),
            settings=settings,
            givers=Givers(session, settings),
            masked=True,
            now=T0 + timedelta(days=1),
            about=[("导出人", "测试")],
        )
    rows, about = read(out.getvalue())
    assert count == len(rows) == 6
    assert [(r["居民"], r["类型"], r["积分"], r["变动后余额"]) for r in rows] == [
        ("张阿姨", "加分", 5, 5),
        ("王大爷", "加分", 5, 5),
        ("张阿姨", "加分", 20, 25),
        ("王大爷", "扣分", -5, 0),
        ("刘大叔", "加分", 10, 10),
        ("张阿姨", "兑换", -20, 5),
    ]
    first, third, order = rows[0], rows[2], rows[5]
    assert first["记账时间"].isoformat() == "2026-11-22T09:00:00"  # local, no time zone
    assert (first["网格"], first["网格编码"], first["规则"]) == (
        "幸福社区第3网格",
        "G03",
        "志愿服务",
    )
    assert (first["经办人"], first["经办人身份"]) == ("李网格长", "网格长")
    assert third["理由"] == "帮邻居取药，电话138****5678"
    assert (order["经办人"], order["经办人身份"], order["兑换单号"]) == ("居民本人", "兑换", 1)
    assert (rows[4]["经办人"], rows[4]["经办人身份"]) == ("网格长", "网格长")  # never seen there
    assert all(LI not in str(cell) and ZHAO not in str(cell) for r in rows for cell in r.values())
    assert about["笔数"] == "6"
    assert about["导出人"] == "测试"
    assert about["隐私"] == "居民的手机号、身份证号已打码。"


def test_a_leaders_download_has_his_grids_entries_masked(
    caplog: pytest.LogCaptureFixture, web: PointsConsole
) -> None:
    web.log_in(LI)
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        response = web.client.get("/points.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "积分台账-" in unquote(response.headers["content-disposition"])
    rows, about = read(response.content)
    assert {r["网格编码"] for r in rows} == {"G03"}
    assert len(rows) == 5
    assert all(PHONE not in str(r["理由"]) for r in rows)
    assert about["筛选条件"].startswith("我负责的网格")
    assert about["导出人"] == "李网格长（网格长）"
    assert f"web: {LI} exported 5 points entries as Excel" in caplog.text


def test_the_pages_filters_grid_dates_and_resident(web: PointsConsole) -> None:
    web.log_in(ADMIN)
    every, _about = read(web.client.get("/points.xlsx").content)
    assert len(every) == 6
    assert any(PHONE in str(r["理由"]) for r in every)  # an administrator's file
    g04, about = read(web.client.get("/points.xlsx?grid=G04").content)
    assert [r["居民"] for r in g04] == ["刘大叔"]
    assert about["筛选条件"].startswith("幸福社区第4网格")
    zhang, about = read(web.client.get(f"/points.xlsx?resident={web.ids[ZHANG]}").content)
    assert [r["积分"] for r in zhang] == [5, 20, -20]
    assert "居民 张阿姨" in about["筛选条件"]
    # the days are the grids' local days; the balance counts what came before them
    next_day, _about = read(web.client.get("/points.xlsx?from=2026-11-23").content)
    assert next_day == []
    today, about = read(
        web.client.get(
            f"/points.xlsx?from=2026-11-22&to=2026-11-22&resident={web.ids[ZHANG]}"
        ).content
    )
    assert [r["变动后余额"] for r in today] == [5, 25, 5]
    assert "记账日期 2026-11-22 至 2026-11-22" in about["筛选条件"]
    bad = web.client.get("/points.xlsx?from=yesterday")
    assert bad.status_code == 400
    assert "不是日期" in bad.text


def test_another_grid_or_its_resident_typed_by_hand_is_refused(web: PointsConsole) -> None:
    web.log_in(LI)
    assert web.client.get("/points.xlsx?grid=G04").status_code == 403
    assert web.client.get(f"/points.xlsx?resident={web.ids[LIU]}").status_code == 403
    assert web.client.get("/points.xlsx?resident=99999").status_code == 404
    assert web.client.get("/points.xlsx?grid=G99").status_code == 404
