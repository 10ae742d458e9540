"""How points are written in replies: amounts, ledger lines, the rules list."""

from __future__ import annotations

from collections.abc import Collection
from datetime import tzinfo

from bot.settings import PointsSettings
from domain.points import KIND_NAMES, rule_caps
from storage.models import EntryKind, PointsEntry

__all__ = ["KIND_NAMES", "entry_label", "entry_line", "month_change", "rules_text", "signed"]


def signed(points: int) -> str:
    return f"{points:+d}"


def month_change(points: int) -> str:
    return f"本月 {signed(points)} 分" if points else "本月无变动"


def entry_label(entry: PointsEntry, settings: PointsSettings) -> str:
    """What an entry was for, as a resident reads it in 积分明细."""
    kind = EntryKind(entry.kind)
    if kind in (EntryKind.AWARD, EntryKind.PENALTY):
        rule = settings.rules.get(entry.rule_code) if entry.rule_code else None
        # a rule removed from config since still shows its code
        head = rule.name if rule else entry.rule_code or KIND_NAMES[kind]
        return f"{head}：{entry.reason}" if entry.reason else head
    if kind in (EntryKind.REDEEM, EntryKind.REFUND):
        return f"{KIND_NAMES[kind]} {entry.reason}（单号 {entry.order_id}）"
    if kind == EntryKind.BASE:
        return f"基础分 {entry.reason}"
    return f"更正：{entry.reason}"


def entry_line(entry: PointsEntry, settings: PointsSettings, tz: tzinfo) -> str:
    return f"{entry.at.astimezone(tz):%m-%d} {signed(entry.delta)} {entry_label(entry, settings)}"


def rules_text(settings: PointsSettings, grid_tags: Collection[str] | None = None) -> str:
    """The rules list: of a grid with ``grid_tags`` (of any of several grids, given all their
    tags), or every rule when None."""
    lines: list[str] = []
    for kind, title, sign in (("award", "加分规则：", "+"), ("penalty", "扣分规则：", "-")):
        rules = [
            rule
            for rule in settings.rules.values()
            if rule.kind == kind and (grid_tags is None or rule.applies_in(grid_tags))
        ]
        if not rules:
            continue
        lines.append(title)
        lines.extend(f"{rule.name} {sign}{rule.points}{rule_caps(rule)}" for rule in rules)
    return "\n".join(lines) if lines else "本地还没有设置积分规则。"
