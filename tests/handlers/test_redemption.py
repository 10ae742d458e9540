from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from storage.db import Database
from storage.models import OrderStatus, PointsOrder
from tests.auxil.chat import ADMIN, LEADER, NEIGHBOUR, OTHER_LEADER, OTHER_ROOM, RESIDENT, Chat
from tests.auxil.points import entry_count

ZHANG, WANG = RESIDENT[0], NEIGHBOUR[0]


@pytest.fixture
def points_config() -> dict[str, Any]:
    return {"catalogue": {"cooking_oil": {"stock": 1}}}


@pytest.fixture
async def group(chat: Chat) -> Chat:
    """Zhang has 45 points."""
    await chat.say("收到", RESIDENT)
    await chat.say("收到", NEIGHBOUR)
    await chat.say("/加分 @张阿姨 45 组织屋场会", LEADER, mentions=(ZHANG,))
    return chat


def orders(db: Database) -> list[tuple[int | None, str, str]]:
    with db.session() as session:
        return [(o.id, o.item_code, o.status) for o in session.exec(select(PointsOrder))]


async def test_the_catalogue_shows_this_months_stock(group: Chat) -> None:
    [reply] = await group.say("兑换列表", RESIDENT)
    assert reply.text.splitlines() == [
        "可兑换物品：",
        "肥皂 20 分（本月剩 30 件）",
        "毛巾 30 分（本月剩 20 件）",
        "洗衣粉 40 分（本月剩 20 件）",
        "大米 80 分（本月剩 10 件）",
        "食用油 100 分（本月剩 1 件）",
        "发送「兑换 物品名」兑换，到网格长处领取。",
    ]
    [private] = await group.say("兑换列表", RESIDENT, room=None)
    assert "肥皂 20 分（每月 30 件）" in private.text.splitlines()


async def test_an_order_holds_the_points_and_a_leader_confirms_the_handover(
    group: Chat, sqlite_db: Database
) -> None:
    [placed] = await group.say("兑换 肥皂", RESIDENT)
    assert placed.text == "已为您预留「肥皂」，扣除 20 分，现有 25 分。单号 1，请到网格长处领取。"
    assert placed.mentions == (ZHANG,)
    [listing] = await group.say("兑换列表", NEIGHBOUR)
    assert "肥皂 20 分（本月剩 29 件）" in listing.text
    [done] = await group.say("/核销 1", LEADER)
    assert done.text == "已核销单号 1：张阿姨 领取「肥皂」。"
    assert done.mentions == (LEADER[0], ZHANG)
    assert orders(sqlite_db) == [(1, "soap", OrderStatus.CONFIRMED)]
    [again] = await group.say("/核销 #1", LEADER)
    assert again.text == "单号 1 已核销过了。"
    [late] = await group.say("/退回 1", LEADER)
    assert late.text == "单号 1 已核销，不能退回。"
    [balance] = await group.say("积分", RESIDENT)
    assert balance.text.startswith("您现有积分 25 分")


@pytest.mark.parametrize("points_config", [{"replies": "private"}])
async def test_with_private_replies_the_group_never_reads_a_balance(group: Chat) -> None:
    [placed] = await group.say("兑换 肥皂", RESIDENT)
    assert placed.text == "已为您预留「肥皂」，扣除 20 分。单号 1，请到网格长处领取。"
    [short] = await group.say("兑换 大米", RESIDENT)
    assert short.text == "积分不够：兑换「大米」需要 80 分。"


async def test_a_refund_gives_the_points_back(group: Chat, sqlite_db: Database) -> None:
    await group.say("兑换 毛巾", RESIDENT)
    [refunded] = await group.say("/退回 1 本月毛巾没到货", LEADER)
    assert refunded.text == "已退回单号 1：「毛巾」的 30 分已退还给 张阿姨。"  # no balance
    assert refunded.mentions == (LEADER[0], ZHANG)
    [balance] = await group.say("积分", RESIDENT)  # she asks, and hears it herself
    assert balance.text.startswith("您现有积分 45 分")
    [again] = await group.say("/退回 1", LEADER)
    assert again.text == "单号 1 已退回过了。"
    [confirm] = await group.say("/核销 1", LEADER)
    assert confirm.text == "单号 1 已退回，不能核销。"
    [history] = await group.say("积分明细", RESIDENT)
    assert history.text.splitlines()[1:3] == [
        "11-22 +30 退回 毛巾：本月毛巾没到货（单号 1）",
        "11-22 -30 兑换 毛巾（单号 1）",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("兑换", "请写要兑换的物品，例如：兑换 肥皂。发送「兑换列表」查看可兑换的物品。"),
        ("兑换 金条", "没有「金条」这个兑换物品，发送「兑换列表」查看可兑换的物品。"),
        ("兑换 大米", "积分不够：兑换「大米」需要 80 分，您现有 45 分。"),
    ],
)
async def test_a_bad_order_gets_one_clear_reply_and_changes_nothing(
    group: Chat, sqlite_db: Database, text: str, expected: str
) -> None:
    [reply] = await group.say(text, RESIDENT)
    assert reply.text == expected
    assert orders(sqlite_db) == []
    assert entry_count(sqlite_db) == 1


async def test_an_item_out_of_stock_this_month(group: Chat, sqlite_db: Database) -> None:
    for day in (1, 2):  # under the daily cap
        await group.say("/加分 @张阿姨 @王大爷 50 清理河道", LEADER, mentions=(ZHANG, WANG),
                        at=group.clock.now() + timedelta(days=day))  # fmt: skip
    [first] = await group.say("兑换 食用油", NEIGHBOUR)
    assert first.text.startswith("已为您预留「食用油」")
    [second] = await group.say("兑换 食用油", RESIDENT)
    assert second.text == "「食用油」本月已兑完，下月再来。"
    [listing] = await group.say("兑换列表", RESIDENT)
    assert "食用油 100 分（本月已兑完）" in listing.text.splitlines()
    assert len(orders(sqlite_db)) == 1


async def test_a_message_delivered_twice_orders_once(group: Chat, sqlite_db: Database) -> None:
    event = group.message("兑换 肥皂", RESIDENT)
    await group.feed(event)
    assert await group.feed(event) == []
    assert len(orders(sqlite_db)) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/核销", "请写明单号，用法：/核销 <单号>"),
        ("/核销 一", "单号要是数字，例如：/核销 12。"),
        ("/核销 99", "没有单号 99 的兑换单。"),
        ("/退回 99", "没有单号 99 的兑换单。"),
        ("/退回 x1", "单号要是数字，例如：/退回 12。"),
    ],
)
async def test_closing_a_bad_order_number(group: Chat, text: str, expected: str) -> None:
    await group.say("兑换 肥皂", RESIDENT)
    [reply] = await group.say(text, LEADER)
    assert reply.text == expected


async def test_another_grids_leader_cannot_close_the_order(
    group: Chat, sqlite_db: Database
) -> None:
    await group.say("兑换 肥皂", RESIDENT)
    [there] = await group.say("/核销 1", OTHER_LEADER, room=OTHER_ROOM)
    assert there.text == "单号 1 不是本网格的兑换单，不能核销。"
    [refund] = await group.say("/退回 1", OTHER_LEADER, room=OTHER_ROOM)
    assert refund.text == "单号 1 不是本网格的兑换单，不能退回。"
    [here] = await group.say("/核销 1", OTHER_LEADER)
    assert here.text == "抱歉，/核销 仅限本网格的网格长使用。"
    [resident] = await group.say("/退回 1", RESIDENT)
    assert resident.text == "抱歉，/退回 仅限本网格的网格长使用。"
    assert orders(sqlite_db) == [(1, "soap", OrderStatus.PENDING)]
    assert entry_count(sqlite_db) == 2


async def test_a_number_too_long_for_an_order_and_an_admin_outside_the_group(
    group: Chat, sqlite_db: Database
) -> None:
    await group.say("兑换 肥皂", RESIDENT)
    [too_long] = await group.say("/核销 99999999999999999999", LEADER)
    assert too_long.text == "没有单号 999999999999… 的兑换单。"  # not "the number must be digits"
    # Administrators may use group commands privately; an order is handed over in its group
    # (this crashed on the missing grid).
    for text in ("/核销 1", "/退回 1", "兑换 肥皂"):
        [private] = await group.say(text, ADMIN, room=None)
        assert private.text == f"/{text.split()[0].lstrip('/')} 请在网格群里使用。"
    assert orders(sqlite_db) == [(1, "soap", OrderStatus.PENDING)]
