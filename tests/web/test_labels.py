from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.routing import Role
from bot.settings import Settings
from domain.actor import Actor
from web.labels import action_label, category_name, local_time, shown

ADMIN = Actor("wxid_street_admin", Role.ADMIN, frozenset({"G03", "G04"}))
LEADER = Actor("wxid_leader_li", Role.LEADER, frozenset({"G03"}))


def test_a_leader_reads_numbers_masked_an_administrator_as_written() -> None:
    text = "刘姐 13812345678，身份证 110105199001011234"
    assert shown(LEADER, text) == "刘姐 138****5678，身份证 110105********1234"
    assert shown(ADMIN, text) == text
    assert shown(LEADER, None) == ""


def test_times_are_local() -> None:
    moment = datetime(2026, 11, 22, 1, 5, tzinfo=UTC)
    assert local_time(moment, ZoneInfo("Asia/Shanghai")) == "2026-11-22 09:05"
    assert local_time(None, ZoneInfo("Asia/Shanghai")) == ""


def test_names_of_actions_and_categories_and_what_is_unknown(settings: Settings) -> None:
    assert action_label("assigned") == "派单"
    assert action_label("something_new") == "something_new"  # shown, not hidden
    assert category_name(settings, "facility") == "设施报修"
    assert category_name(settings, "removed_one") == "removed_one"
