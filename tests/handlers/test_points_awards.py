from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.settings import Settings
from storage.db import Database
from storage.models import PointsEntry
from tests.auxil.chat import (
    ADMIN,
    LEADER,
    NEIGHBOUR,
    OTHER_LEADER,
    OTHER_ROOM,
    RESIDENT,
    Chat,
)
from tests.auxil.points import entry_count, member_id, rural_g04
from tests.conftest import settings_with_points

ZHANG, WANG = RESIDENT[0], NEIGHBOUR[0]
NO_RULE = "这个积分规则。请写规则名（发送「积分规则」查看）或 1 到 50 的整数分值。"


@pytest.fixture
def points_config() -> dict[str, Any]:
    return {}  # the points rules as shipped


@pytest.fixture
def settings(points_config: dict[str, Any]) -> Settings:
    return rural_g04(settings_with_points(points_config))


@pytest.fixture
async def group(chat: Chat) -> Chat:
    """Zhang and Wang have spoken in the group: they are its members."""
    await chat.say("收到", RESIDENT)
    await chat.say("收到", NEIGHBOUR)
    return chat


def ledger(db: Database) -> list[tuple[str, int, str, str | None, str | None, str | None]]:
    with db.session() as session:
        rows = session.exec(select(PointsEntry).order_by(col(PointsEntry.id))).all()
        return [
            (e.kind, e.delta, str(e.member_id), e.rule_code, e.reason, e.actor_id) for e in rows
        ]


async def test_a_leader_awards_by_rule_to_several_people_at_once(
    group: Chat, sqlite_db: Database
) -> None:
    [reply] = await group.say(
        "/加分 @张阿姨 @王大爷 志愿服务 打扫楼道", LEADER, mentions=(ZHANG, WANG)
    )
    assert reply.text == "已给 张阿姨、王大爷 各加 5 分（志愿服务：打扫楼道）。"
    assert reply.mentions == (ZHANG, WANG)
    assert ledger(sqlite_db) == [
        ("award", 5, "1", "volunteer", "打扫楼道", LEADER[0]),
        ("award", 5, "2", "volunteer", "打扫楼道", LEADER[0]),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/加分 @张阿姨 8 帮忙搬物资", "已给 张阿姨 加 8 分（帮忙搬物资）。"),
        ("/加分 @张阿姨 ８分 帮忙搬物资", "已给 张阿姨 加 8 分（帮忙搬物资）。"),  # full-width
        ("/加分 @张阿姨 +8 帮忙搬物资", "已给 张阿姨 加 8 分（帮忙搬物资）。"),
        ("/加分 @张阿姨 隐患排查", "已给 张阿姨 加 3 分（上报隐患）。"),  # an alias
        ("/加分 @张阿姨 hazard_report", "已给 张阿姨 加 3 分（上报隐患）。"),  # the code
        ("/加分 志愿服务 @张阿姨 ", "已给 张阿姨 加 5 分（志愿服务）。"),  # mention anywhere
    ],
)
async def test_amounts_and_rule_names_a_leader_may_write(
    group: Chat, text: str, expected: str
) -> None:
    [reply] = await group.say(text, LEADER, mentions=(ZHANG,))
    assert reply.text == expected


async def test_a_penalty_by_rule(group: Chat, sqlite_db: Database) -> None:
    await group.say("/加分 @王大爷 10 清理河道", LEADER, mentions=(WANG,))
    [reply] = await group.say("/扣分 @王大爷 乱扔垃圾 楼道口", LEADER, mentions=(WANG,))
    assert reply.text == "已扣 王大爷 5 分（乱扔垃圾：楼道口）。"
    assert reply.mentions == (WANG,)
    assert ledger(sqlite_db)[-1] == ("penalty", -5, "2", "litter", "楼道口", LEADER[0])


# --- bad input: one clear reply each, the ledger unchanged ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/加分 @张阿姨 0 测试", "分值要是 1 到 50 的整数，0 分不记录。"),
        ("/加分 @张阿姨 000 测试", "分值要是 1 到 50 的整数，0 分不记录。"),
        ("/加分 @张阿姨 -5 测试", "分值要是 1 到 50 的整数；扣分请用 /扣分。"),
        ("/加分 @张阿姨 51 测试", "单次最多加 50 分，51 分超过上限，本次未记录。"),
        ("/加分 @张阿姨 500 测试", "单次最多加 50 分，500 分超过上限，本次未记录。"),
        (
            "/加分 @张阿姨 99999999999999999999999999 测试",
            "单次最多加 50 分，999999999999… 分超过上限，本次未记录。",
        ),
        ("/加分 @张阿姨 5.5 测试", "分值要是整数，「5.5」不行。"),
        ("/加分 @张阿姨 五 测试", "没有「五」" + NO_RULE),
        ("/加分 @张阿姨 跳广场舞", "没有「跳广场舞」" + NO_RULE),
        ("/加分 @张阿姨 5", "按分值加分请写明理由，例如：/加分 @张阿姨 5 帮忙清扫楼道。"),
        ("/加分 @张阿姨", "请写明规则名或分值，例如：/加分 @张阿姨 志愿服务。"),
        ("/加分 @张阿姨 乱扔垃圾", "「乱扔垃圾」是扣分规则，请用 /扣分。"),
        ("/扣分 @张阿姨 志愿服务", "「志愿服务」是加分规则，请用 /加分。"),
        ("/扣分 @张阿姨 60 严重违规", "单次最多扣 50 分，60 分超过上限，本次未记录。"),
        ("/扣分 @张阿姨 -3 测试", "分值要是 1 到 50 的整数；加分请用 /加分。"),
        ("/扣分 @张阿姨 乱扔垃圾", "张阿姨 现有 0 分，不够扣 5 分，本次未记录。"),
    ],
)
async def test_a_bad_amount_or_rule_gets_one_clear_reply_and_records_nothing(
    group: Chat, sqlite_db: Database, text: str, expected: str
) -> None:
    replies = await group.say(text, LEADER, mentions=(ZHANG,))
    assert [r.text for r in replies] == [expected]
    assert replies[0].mentions == (LEADER[0],)
    assert entry_count(sqlite_db) == 0


async def test_a_typed_name_without_a_real_mention_grants_nothing(
    group: Chat, sqlite_db: Database
) -> None:
    [reply] = await group.say("/加分 @张阿姨 志愿服务", LEADER)
    assert reply.text == "请用微信的 @ 功能从群成员里选人，手动输入的「@名字」不算数。"
    # one real mention and one typed: still refused as a whole
    [mixed] = await group.say("/加分 @张阿姨 @李四 志愿服务", LEADER, mentions=(ZHANG,))
    assert mixed.text == reply.text
    [bare] = await group.say("/加分 志愿服务", LEADER)
    assert bare.text == "请 @ 要操作的人，用法：/加分 @某人 <规则名或分值> [理由]"
    assert entry_count(sqlite_db) == 0


async def test_a_mention_of_someone_outside_the_grid_is_refused(
    group: Chat, sqlite_db: Database
) -> None:
    await group.say("收到", ("wxid_outsider", "赵四"), room=OTHER_ROOM)  # a member elsewhere
    [reply] = await group.say(
        "/加分 @张阿姨 @赵四 志愿服务", LEADER, mentions=(ZHANG, "wxid_outsider")
    )
    assert reply.text == "被 @ 的人里有 1 位不是本网格群成员（还没在本群发过言），本次未记录。"
    assert entry_count(sqlite_db) == 0


async def test_the_bot_mentioned_in_front_of_the_command_is_not_a_target(group: Chat) -> None:
    [reply] = await group.say(
        "@社区小助手\u2005/加分 @张阿姨\u2005志愿服务", LEADER, mentions=("wxid_bot", ZHANG)
    )
    assert reply.text == "已给 张阿姨 加 5 分（志愿服务）。"


@pytest.mark.parametrize("who", [RESIDENT, OTHER_LEADER])
async def test_only_this_grids_leaders_may_award(
    group: Chat, sqlite_db: Database, who: tuple[str, str]
) -> None:
    [reply] = await group.say("/加分 @王大爷 5 好人", who, mentions=(WANG,))
    assert reply.text == "抱歉，/加分 仅限本网格的网格长使用。"
    assert entry_count(sqlite_db) == 0


async def test_an_admin_may_award_and_commands_only_work_in_a_group(
    group: Chat, sqlite_db: Database
) -> None:
    [ok] = await group.say("/加分 @王大爷 志愿服务", ADMIN, mentions=(WANG,))
    assert ok.text.startswith("已给 王大爷 加 5 分")
    [private] = await group.say("/加分 @王大爷 志愿服务", LEADER, room=None, mentions=(WANG,))
    assert private.text == "/加分 请在网格群里使用。"
    assert entry_count(sqlite_db) == 1


async def test_a_leader_cannot_award_themselves(group: Chat, sqlite_db: Database) -> None:
    [reply] = await group.say("/加分 @李网格长 志愿服务", LEADER, mentions=(LEADER[0],))
    assert reply.text == "不能给自己加分，请由其他网格长或管理员操作。"
    assert entry_count(sqlite_db) == 0


# --- caps: refused, never clipped ---


async def test_a_rules_daily_cap_refuses_the_award_that_would_pass_it(
    group: Chat, sqlite_db: Database
) -> None:
    for _ in range(2):
        await group.say("/加分 @张阿姨 志愿服务", LEADER, mentions=(ZHANG,))
    [reply] = await group.say("/加分 @张阿姨 @王大爷 志愿服务", LEADER, mentions=(ZHANG, WANG))
    assert reply.text == "张阿姨 今天按「志愿服务」已加 10 分，每天上限 10 分，本次未记录。"
    assert entry_count(sqlite_db) == 2  # Wang's part of the refused command is not kept
    tomorrow = group.clock.now() + timedelta(days=1)
    [next_day] = await group.say("/加分 @张阿姨 志愿服务", LEADER, mentions=(ZHANG,), at=tomorrow)
    assert next_day.text.startswith("已给")


async def test_a_rules_monthly_cap(group: Chat) -> None:
    for _ in range(2):
        [first] = await group.say("/加分 @张阿姨 孝老爱亲", LEADER, mentions=(ZHANG,))
        assert first.text.startswith("已给")
    [third] = await group.say("/加分 @张阿姨 邻里和睦", LEADER, mentions=(ZHANG,))
    assert third.text == "张阿姨 本月按「孝老爱亲」已加 10 分，每月上限 10 分，本次未记录。"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("/扣分 @王大爷 焚烧秸秆", "焚烧秸秆"),
        ("/加分 @王大爷 村规民约", "遵守村规民约"),  # by an alias
        ("/加分 @王大爷 焚烧秸秆", "焚烧秸秆"),  # not "use /扣分": it is no rule here at all
    ],
)
async def test_a_village_rule_is_refused_in_a_city_grid(
    group: Chat, sqlite_db: Database, text: str, rule: str
) -> None:
    """Issue 18 item 11: a city community's leader could deduct points for 焚烧秸秆."""
    [reply] = await group.say(text, LEADER, mentions=(WANG,))
    assert reply.text == f"「{rule}」不是本网格的积分规则，发送「积分规则」查看本网格的规则。"
    assert entry_count(sqlite_db) == 0


async def test_a_village_rule_applies_in_a_rural_grid(chat: Chat, sqlite_db: Database) -> None:
    await chat.say("收到", NEIGHBOUR, room=OTHER_ROOM)
    [award] = await chat.say(
        "/加分 @王大爷 村规民约", OTHER_LEADER, room=OTHER_ROOM, mentions=(WANG,)
    )
    assert award.text == "已给 王大爷 加 5 分（遵守村规民约）。"
    [penalty] = await chat.say(
        "/扣分 @王大爷 焚烧秸秆", OTHER_LEADER, room=OTHER_ROOM, mentions=(WANG,)
    )
    assert penalty.text == "王大爷 现有 5 分，不够扣 20 分，本次未记录。"  # the rule applies
    assert ledger(sqlite_db)[-1][3] == "village_rules"


@pytest.mark.parametrize("points_config", [{"caps": {"award": {"per_command": 20, "per_day": 30}}}])
async def test_the_daily_cap_for_all_awards(group: Chat, sqlite_db: Database) -> None:
    await group.say("/加分 @张阿姨 20 组织活动", LEADER, mentions=(ZHANG,))
    [reply] = await group.say("/加分 @张阿姨 11 又组织活动", LEADER, mentions=(ZHANG,))
    assert reply.text == "张阿姨 今天已加 20 分，再加 11 分就超过每天上限 30 分，本次未记录。"
    [ok] = await group.say("/加分 @张阿姨 10 又组织活动", LEADER, mentions=(ZHANG,))
    assert ok.text.startswith("已给")
    assert entry_count(sqlite_db) == 2


async def test_corrections_count_against_the_daily_cap(group: Chat, sqlite_db: Database) -> None:
    """Issue 17 item 6: three `/更正 +50` went through after the day's awards reached 100."""
    for _ in range(2):
        await group.say("/加分 @张阿姨 50 组织活动", LEADER, mentions=(ZHANG,))
    [refused] = await group.say("/更正 @张阿姨 +50 少加了", LEADER, mentions=(ZHANG,))
    assert refused.text == "张阿姨 今天已加 100 分，再加 50 分就超过每天上限 100 分，本次未记录。"
    assert entry_count(sqlite_db) == 2
    # the other way round: corrections that gave points leave less room for awards
    await group.say("/更正 @王大爷 +50 少加了", LEADER, mentions=(WANG,))
    await group.say("/更正 @王大爷 +40 少加了", LEADER, mentions=(WANG,))
    [award] = await group.say("/加分 @王大爷 20 组织活动", LEADER, mentions=(WANG,))
    assert award.text == "王大爷 今天已加 90 分，再加 20 分就超过每天上限 100 分，本次未记录。"
    [taken] = await group.say("/更正 @王大爷 -50 记错了", LEADER, mentions=(WANG,))
    assert taken.text == "已更正 王大爷 -50 分（记错了）。"  # counts as taken, not given back
    [again] = await group.say("/更正 @王大爷 +20 少加了", LEADER, mentions=(WANG,))
    assert again.text.startswith("王大爷 今天已加 90 分")
    tomorrow = group.clock.now() + timedelta(days=1)
    [next_day] = await group.say("/更正 @张阿姨 +50 少加了", LEADER, mentions=(ZHANG,), at=tomorrow)
    assert next_day.text == "已更正 张阿姨 +50 分（少加了）。"


@pytest.mark.parametrize("points_config", [{"caps": {"penalty": {"per_day": 50}}}])
async def test_corrections_that_take_points_count_against_the_penalty_cap(
    group: Chat, sqlite_db: Database
) -> None:
    for _ in range(2):
        await group.say("/加分 @张阿姨 50 组织活动", LEADER, mentions=(ZHANG,))
    await group.say("/扣分 @张阿姨 30 乱扔垃圾", LEADER, mentions=(ZHANG,))
    [ok] = await group.say("/更正 @张阿姨 -20 少扣了一次", LEADER, mentions=(ZHANG,))
    assert ok.text == "已更正 张阿姨 -20 分（少扣了一次）。"
    [over] = await group.say("/更正 @张阿姨 -1 又少扣了", LEADER, mentions=(ZHANG,))
    assert over.text == "张阿姨 今天已扣 50 分，再扣 1 分就超过每天上限 50 分，本次未记录。"
    assert entry_count(sqlite_db) == 4


# --- idempotency, corrections, audit ---


async def test_a_message_delivered_twice_records_once(group: Chat, sqlite_db: Database) -> None:
    event = group.message("/加分 @张阿姨 志愿服务", LEADER, mentions=(ZHANG,))
    first = await group.feed(event)
    again = await group.feed(event)
    assert [r.text for r in first] == ["已给 张阿姨 加 5 分（志愿服务）。"]
    assert again == []
    assert entry_count(sqlite_db) == 1


async def test_a_correction_is_a_new_entry_with_its_reason(
    group: Chat, sqlite_db: Database
) -> None:
    await group.say("/加分 @张阿姨 志愿服务", LEADER, mentions=(ZHANG,))
    await group.say("/加分 @张阿姨 志愿服务", LEADER, mentions=(ZHANG,))
    [reply] = await group.say("/更正 @张阿姨 -5 重复加分", LEADER, mentions=(ZHANG,))
    assert reply.text == "已更正 张阿姨 -5 分（重复加分）。"
    assert [row[:2] for row in ledger(sqlite_db)] == [("award", 5), ("award", 5), ("adjust", -5)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/更正 @张阿姨 5 多加了", "请写明 +分值 或 -分值，例如：/更正 @张阿姨 -5 重复加分。"),
        ("/更正 @张阿姨 -5", "更正请写明理由，例如：/更正 @张阿姨 -5 重复加分。"),
        ("/更正 @张阿姨 -x 错了", "「-x」不是分值，例如：/更正 @张阿姨 -5 重复加分。"),
        ("/更正 @张阿姨 -0 错了", "分值要是 1 到 50 的整数，0 分不记录。"),
        ("/更正 @张阿姨 -80 错了", "单次最多扣 50 分，80 分超过上限，本次未记录。"),
        ("/更正 @张阿姨 -9 错了", "张阿姨 现有 5 分，不够扣 9 分，本次未记录。"),
    ],
)
async def test_bad_corrections_are_refused(
    group: Chat, sqlite_db: Database, text: str, expected: str
) -> None:
    await group.say("/加分 @张阿姨 志愿服务", LEADER, mentions=(ZHANG,))
    [reply] = await group.say(text, LEADER, mentions=(ZHANG,))
    assert reply.text == expected
    assert entry_count(sqlite_db) == 1


async def test_every_ledger_write_is_logged_with_its_actor(
    group: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="handlers.points_awards"):
        await group.say("/加分 @张阿姨 志愿服务", LEADER, mentions=(ZHANG,))
    [record] = [r for r in caplog.records if r.name == "handlers.points_awards"]
    assert record.getMessage().startswith(
        f"points +5 (award volunteer) to {ZHANG} in G03 by {LEADER[0]}"
    )


async def test_an_administrator_awards_in_the_group_not_privately(
    group: Chat, sqlite_db: Database
) -> None:
    """Points belong to a grid's member: privately there is no grid (this crashed)."""
    for text in ("/加分 @张阿姨 5 帮忙", "/扣分 @张阿姨 乱扔垃圾", "/更正 @张阿姨 -5 记错了"):
        [private] = await group.say(text, ADMIN, room=None, mentions=(ZHANG,))
        assert private.text == f"{text.split()[0]} 请在网格群里使用。"
    assert entry_count(sqlite_db) == 0
    [done] = await group.say("/加分 @张阿姨 5 帮忙", ADMIN, mentions=(ZHANG,))
    assert done.text == "已给 张阿姨 加 5 分（帮忙）。"


async def test_the_mention_decides_who_never_the_name_written_after_the_at(
    group: Chat, sqlite_db: Database
) -> None:
    """The text says @张阿姨 but the mention WeChat carries is Wang's (say Wang took the
    display name 张阿姨 for a moment): Wang gets the points, Zhang gets nothing."""
    [reply] = await group.say("/加分 @张阿姨 志愿服务", LEADER, mentions=(WANG,))
    assert reply.text == "已给 王大爷 加 5 分（志愿服务）。"
    assert reply.mentions == (WANG,)
    assert [(delta, member) for _, delta, member, *_ in ledger(sqlite_db)] == [
        (5, str(member_id(sqlite_db, WANG)))
    ]
