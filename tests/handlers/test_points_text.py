from __future__ import annotations

from datetime import datetime

from handlers.points_text import entry_line, month_change, rules_text
from storage.models import PointsEntry
from tests.conftest import TZ, settings_with_points

AT = datetime(2026, 11, 22, 9, 0, tzinfo=TZ)


def entry(kind: str, delta: int, **fields: object) -> PointsEntry:
    return PointsEntry(key="k", member_id=1, grid_code="G03", delta=delta, kind=kind, at=AT,
                       **fields)  # type: ignore[arg-type]  # fmt: skip


def test_each_kind_of_entry_reads_as_what_it_was_for() -> None:
    points = settings_with_points({}).points
    lines = [
        entry_line(entry("award", 5, rule_code="volunteer", reason="打扫楼道"), points, TZ),
        entry_line(entry("award", 3, reason="帮邻居取药"), points, TZ),
        entry_line(entry("penalty", -5, rule_code="gone_rule"), points, TZ),
        entry_line(entry("redeem", -20, reason="肥皂", order_id=3), points, TZ),
        entry_line(entry("refund", 20, reason="肥皂", order_id=3), points, TZ),
        entry_line(entry("base", 20, reason="2026年"), points, TZ),
        entry_line(entry("adjust", -5, reason="重复加分"), points, TZ),
    ]
    assert lines == [
        "11-22 +5 志愿服务：打扫楼道",
        "11-22 +3 加分：帮邻居取药",
        "11-22 -5 gone_rule",  # a rule removed from config since
        "11-22 -20 兑换 肥皂（单号 3）",
        "11-22 +20 退回 肥皂（单号 3）",
        "11-22 +20 基础分 2026年",
        "11-22 -5 更正：重复加分",
    ]


def test_month_change() -> None:
    assert (month_change(5), month_change(-2), month_change(0)) == (
        "本月 +5 分",
        "本月 -2 分",
        "本月无变动",
    )


def test_rules_text_without_rules() -> None:
    empty = settings_with_points({}).points.model_copy(update={"rules": {}})
    assert rules_text(empty) == "本地还没有设置积分规则。"
