from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot import scheduler
from bot.app import App
from bot.clock import ManualClock
from bot.scheduler import TaskContext
from handlers.ticket_deadlines import SWEEP, sweep
from storage.db import Database
from storage.models import Ticket
from tests.auxil.chat import ADMIN, LEADER, Chat, RecordingSender

LAMP = "3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下"
WORKER = ("wxid_worker_wang", "王师傅")


def ticket(db: Database, number: int = 1) -> Ticket:
    with db.session() as s:
        return s.get_one(Ticket, number)


async def test_an_overdue_ticket_is_chased_then_escalated(
    chat: Chat, app: App, clock: ManualClock, sender: RecordingSender, sqlite_db: Database
) -> None:
    await chat.say(LAMP)
    await chat.say("/派单 1 @王师傅", LEADER, mentions=(WORKER[0],))
    sender.clear()
    start = clock.now()
    await app.advance(clock, start + timedelta(hours=72))
    assert sender.sent == []  # not yet overdue: due 09:00, the sweep at 09:00 finds it on time
    await app.advance(clock, start + timedelta(hours=72, minutes=5))
    # privately to the leader and the assignee, never in the residents' group
    assert [(m.to, m.room_topic) for m in sender.sent] == [(LEADER[0], None), (WORKER[0], None)]
    assert {m.text for m in sender.sent} == {
        "【督办】工单 #1（设施报修）已超过处理时限（11月25日 09:00），请尽快处理。"
    }
    t = ticket(sqlite_db)
    assert t.reminded_at is not None
    assert t.due_at < t.reminded_at <= t.due_at + timedelta(minutes=5)  # the next sweep
    await app.advance(clock, start + timedelta(hours=95))
    assert len(sender.sent) == 2  # reminded once
    await app.advance(clock, start + timedelta(hours=96, minutes=5))
    escalation, *handlers = sender.sent[2:]
    assert escalation.room_topic == "幸福社区指挥中心"
    assert escalation.text.startswith("【超期上报】幸福社区第3网格 #1 设施报修：")
    assert escalation.text.endswith("截止11月25日 09:00，至今未办结。")
    assert [m.to for m in handlers] == [LEADER[0], WORKER[0]]
    assert {m.text for m in handlers} == {"工单 #1 超期未办结，已自动上报幸福社区指挥中心。"}
    assert ticket(sqlite_db).status == "escalated"
    await app.advance(clock, start + timedelta(days=10))
    assert len(sender.sent) == 5


async def test_urgent_tickets_escalate_sooner(
    chat: Chat, app: App, clock: ManualClock, sender: RecordingSender, sqlite_db: Database
) -> None:
    await chat.say("着火了！3栋2单元冒黑烟了，快来人")
    sender.clear()
    await app.advance(clock, clock.now() + timedelta(hours=2, minutes=5))
    assert [m.text.split("工单")[0] for m in sender.sent][:1] == ["【督办】"]
    assert ticket(sqlite_db).status == "escalated"


async def test_resolved_tickets_are_not_chased_and_unrated_ones_are_archived(
    chat: Chat, app: App, clock: ManualClock, sender: RecordingSender, sqlite_db: Database
) -> None:
    await chat.say(LAMP)
    await chat.say("/办结 1 已修好", LEADER)
    sender.clear()
    await app.advance(clock, clock.now() + timedelta(days=5))
    assert sender.sent == []
    t = ticket(sqlite_db)
    assert (t.status, t.rating) == ("archived", "none")
    assert t.closed_at is not None


async def test_a_year_in_one_step_chases_on_time_and_skips_the_idle_sweeps(
    chat: Chat,
    app: App,
    clock: ManualClock,
    sender: RecordingSender,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replay's tick a year ahead: the reminder and the escalation at the times the
    5-minute sweeps would have made them, without running the 105,000 that find nothing."""
    sweeps: list[datetime] = []

    async def counted(ctx: TaskContext) -> None:
        sweeps.append(ctx.at)
        await sweep(ctx)

    monkeypatch.setitem(scheduler._TASKS, SWEEP, counted)
    await chat.say(LAMP)
    sender.clear()
    due = ticket(app.services.db).due_at
    await app.advance(clock, clock.now() + timedelta(days=365))
    t = ticket(app.services.db)
    assert t.reminded_at is not None
    assert t.escalated_at is not None
    assert due < t.reminded_at <= due + timedelta(minutes=5)  # the first sweep after it
    late = due + timedelta(hours=24)
    assert late <= t.escalated_at < late + timedelta(minutes=5)
    assert [m.text.split("#")[0] for m in sender.sent] == [
        "【督办】工单 ",
        "【超期上报】幸福社区第3网格 ",
        "工单 ",
    ]
    # each with work, and one at each other job's run (the monthly 公示): no more
    assert len(sweeps) < 20


async def test_a_leader_made_in_the_chat_is_chased_as_the_configs_is(
    chat: Chat, app: App, clock: ManualClock, sender: RecordingSender
) -> None:
    """Issue 20: a leader given the role by /设网格长 leads everywhere a config leader does."""
    await chat.say("早", WORKER)
    await chat.say("/设网格长 @王师傅", ADMIN, mentions=(WORKER[0],))
    await chat.say(LAMP)
    sender.clear()
    await app.advance(clock, clock.now() + timedelta(hours=72, minutes=5))
    assert [m.to for m in sender.sent] == [LEADER[0], WORKER[0]]
    assert sender.sent[0].text.startswith("【督办】工单 #1")
