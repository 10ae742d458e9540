from __future__ import annotations

from tests.auxil.chat import ADMIN, LEADER, NEIGHBOUR, OTHER_ROOM, RESIDENT, Chat


async def test_statistics_in_the_group_match_the_tickets(chat: Chat) -> None:
    await chat.say("3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下")
    await chat.say("楼下垃圾堆了三天没人清理，臭死了", NEIGHBOUR)
    await chat.say("/办结 1 路灯已更换", LEADER)
    await chat.say("满意")
    [reply] = await chat.say("/统计", LEADER)
    assert reply.text.splitlines() == [
        "幸福社区第3网格本月工单统计（11-01 至 11-22）：",
        "受理 2 件：已办结 1，处理中 1，已驳回 0",
        "办结率 50.0%，按时办结率 100.0%，平均办结用时 0.0 小时",
        "满意率 100.0%（已评价 1 件）",
        "分类：设施报修 1、环境卫生 1",
    ]
    [resident] = await chat.say("/统计", RESIDENT)
    assert resident.text == "抱歉，/统计 仅限本网格的网格长使用。"
    [bad] = await chat.say("/统计 去年", LEADER)
    assert bad.text == "用法：/统计、/统计 本周 或 /统计 本月"


async def test_an_admin_sees_every_grid(chat: Chat) -> None:
    await chat.say("3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下")
    await chat.say(
        "3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下", NEIGHBOUR, room=OTHER_ROOM
    )
    [reply] = await chat.say("/统计 本周", ADMIN, room=None)
    lines = reply.text.splitlines()
    assert lines[0] == "全部网格本周工单统计（11-16 至 11-22）："
    assert lines[1] == "受理 2 件：已办结 0，处理中 2，已驳回 0"
    assert sorted(lines[-2:]) == [
        "G03：受理 1，办结率 0.0%，满意率 —",
        "G04：受理 1，办结率 0.0%，满意率 —",
    ]
