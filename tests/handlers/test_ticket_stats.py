from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.ticket_stats import figures, percent, period_start
from storage.tickets import TicketFacts
from tests.auxil.chat import ADMIN, LEADER, NEIGHBOUR, OTHER_ROOM, RESIDENT, Chat
from tests.conftest import TZ

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def fact(
    status: str,
    *,
    resolved_after: float | None = None,
    due_after: float = 48,
    rating: str | None = None,
    category: str = "facility",
) -> TicketFacts:
    resolved = T0 + timedelta(hours=resolved_after) if resolved_after is not None else None
    return TicketFacts(
        "G03", category, status, T0, T0 + timedelta(hours=due_after), resolved, rating
    )


def test_figures_follow_the_documented_definitions() -> None:
    f = figures(
        [
            fact("archived", resolved_after=10, rating="satisfied"),
            fact("archived", resolved_after=60, rating="none"),  # late, never rated
            fact("resolved", resolved_after=20, category="environment"),
            fact("assigned"),
            fact("dismissed"),
            fact("open", rating="unsatisfied"),  # reopened after 不满意
        ]
    )
    assert (f.accepted, f.done, f.working, f.dismissed) == (6, 3, 2, 1)
    assert f.done_rate == 3 / 5
    assert f.on_time_rate == 2 / 3
    assert f.hours_to_resolve == 30
    assert (f.rated, f.satisfied, f.satisfaction) == (2, 1, 0.5)
    assert f.by_category == {"facility": 5, "environment": 1}


def test_rates_of_nothing_are_shown_as_a_dash() -> None:
    f = figures([fact("dismissed")])
    assert (f.done_rate, f.on_time_rate, f.satisfaction) == (None, None, None)
    assert percent(None) == "—"
    assert percent(2 / 3) == "66.7%"


def test_periods_start_on_monday_and_the_first() -> None:
    now = datetime(2026, 11, 22, 15, 30, tzinfo=TZ)  # a Sunday
    assert period_start(now, "本周") == (datetime(2026, 11, 16, tzinfo=TZ), "本周")
    assert period_start(now, "") == (datetime(2026, 11, 1, tzinfo=TZ), "本月")


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
