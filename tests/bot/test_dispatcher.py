from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, update
from sqlmodel import col, select

from bot import dispatcher as dispatcher_module
from bot.app import App, build_app
from bot.clock import ManualClock
from bot.context import Context, Services
from bot.dispatcher import SORRY, Dispatcher
from bot.events import MessageType
from bot.outbox import OutboxSender
from bot.routing import Role, Router, Scope, SkipHandler, UserError
from bot.scheduler import Scheduler
from bot.settings import Settings
from nlp.classifier import Classifier
from storage import grids
from storage.db import Database
from storage.models import Grid, InboundMessage, Member, MemberRole, OutboundMessage
from tests.auxil.chat import (
    ADMIN,
    LEADER,
    NEIGHBOUR,
    OTHER_LEADER,
    OTHER_ROOM,
    RESIDENT,
    ROOM,
    Chat,
    RecordingSender,
)


@pytest.fixture
def services(
    settings: Settings, clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> Services:
    # build_app syncs the grids into the database
    return build_app(
        settings, clock=clock, db=sqlite_db, sender=RecordingSender(), classifier=classifier
    ).services


def outbox_texts(db: Database) -> list[str]:
    with db.session() as s:
        return [r.text for r in s.exec(select(OutboundMessage).order_by(OutboundMessage.id))]


def inbox_rows(db: Database) -> list[InboundMessage]:
    with db.session() as s:
        return list(s.exec(select(InboundMessage).order_by(InboundMessage.id)))


def make_chat(services: Services, *routers: Router) -> tuple[Dispatcher, Chat]:
    dispatcher = Dispatcher(services, routers)
    sender = RecordingSender()
    outbox = OutboxSender(services.db, services.clock, sender, services.settings.sending)
    scheduler = Scheduler(services, services.clock, stepped=True, persist=False)
    app = App(services, dispatcher, outbox, scheduler)
    assert isinstance(services.clock, ManualClock)
    return dispatcher, Chat(app, services.clock, sender)


async def test_higher_priority_runs_first_and_a_blocking_handler_stops(services: Services) -> None:
    router = Router("r")
    ran: list[str] = []

    @router.message(priority=1)
    async def low(ctx: Context) -> None:
        ran.append("low")

    @router.message(priority=10, block=False)
    async def high_passes_on(ctx: Context) -> None:
        ran.append("high")

    @router.message(priority=5)
    async def middle_blocks(ctx: Context) -> None:
        ran.append("middle")

    _, chat = make_chat(services, router)
    await chat.say("你好")
    assert ran == ["high", "middle"]


async def test_skip_handler_and_filters_pass_the_message_on(services: Services) -> None:
    router = Router("r")
    ran: list[str] = []

    @router.message(lambda ctx: "灯" in ctx.event.text, priority=9)
    async def lamps(ctx: Context) -> None:
        ran.append("lamps")

    @router.message(priority=8)
    async def skips(ctx: Context) -> None:
        ran.append("skips")
        raise SkipHandler

    @router.message(priority=7)
    async def fallback(ctx: Context) -> None:
        ran.append("fallback")

    _, chat = make_chat(services, router)
    await chat.say("你好")
    assert ran == ["skips", "fallback"]
    ran.clear()
    await chat.say("路灯坏了")
    assert ran == ["lamps"]


async def test_equal_priorities_keep_registration_order_across_routers(services: Services) -> None:
    first, second = Router("first"), Router("second")
    ran: list[str] = []

    @second.message()
    async def b(ctx: Context) -> None:
        ran.append("second")

    @first.message()
    async def a(ctx: Context) -> None:
        ran.append("first")

    _, chat = make_chat(services, first, second)
    await chat.say("x")
    assert ran == ["first"]


def test_a_router_or_a_command_included_twice_fails_loudly(services: Services) -> None:
    router = Router("r")
    router.command("帮助", summary="x")(lambda ctx: None)  # type: ignore[arg-type,return-value]
    dispatcher = Dispatcher(services, [router])
    with pytest.raises(ValueError, match="already included"):
        dispatcher.include(router)
    twin = Router("twin")
    twin.command("帮助", summary="y")(lambda ctx: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="registered twice"):
        dispatcher.include(twin)


async def test_every_message_is_stored_before_a_handler_sees_it(services: Services) -> None:
    router = Router("r")
    seen: list[str] = []

    @router.message()
    async def look(ctx: Context) -> None:
        # a separate connection sees the row committed, handler not finished
        with services.db.session() as other:
            row = other.get_one(InboundMessage, ctx.message_id)
            seen.append(f"{row.status}:{row.text}")

    _, chat = make_chat(services, router)
    await chat.say("3栋路灯坏了")
    assert seen == ["pending:3栋路灯坏了"]
    [row] = inbox_rows(services.db)
    assert row.status == "handled"
    assert row.grid_code == "G03"
    assert row.sender_id == RESIDENT[0]


async def test_a_message_no_handler_takes_is_stored_handled_in_one_transaction(
    services: Services,
) -> None:
    router = Router("r")
    asked: list[str] = []

    def about_lamps(ctx: Context) -> bool:
        asked.append(ctx.event.text)
        return "路灯" in ctx.event.text

    @router.message(about_lamps)
    async def lamps(ctx: Context) -> None:
        if "好了" in ctx.event.text:
            raise SkipHandler  # taken by the filter, then passed on: handled the usual way
        ctx.reply("收到")

    @router.command("积分", bare=True, summary="查积分")
    async def points(ctx: Context) -> None:
        ctx.reply("0 分")

    _, chat = make_chat(services, router)
    commits = services.db.commits("inbound_message")
    chatter = chat.message("今天天气不错")
    assert await chat.feed(chatter) == []
    # one commit: stored already handled, no second transaction to mark it
    assert services.db.commits("inbound_message") == commits + 1
    assert await chat.say("路灯修好了") == []
    assert services.db.commits("inbound_message") == commits + 3
    assert len(await chat.say("3栋路灯坏了")) == 1
    assert len(await chat.say("积分")) == 1
    # the filter is asked to decide, then again when the handlers run
    assert asked == ["今天天气不错", "路灯修好了", "路灯修好了", "3栋路灯坏了", "3栋路灯坏了"]
    rows = inbox_rows(services.db)
    assert [(r.status, r.handled_at) for r in rows] == [("handled", r.sent_at) for r in rows]
    assert len(rows) == 4
    # a second delivery of the quiet message is recognised as such
    assert await chat.feed(chatter) == []
    assert len(inbox_rows(services.db)) == 4


async def test_a_message_delivered_twice_is_handled_once(services: Services) -> None:
    router = Router("r")

    @router.message()
    async def echo(ctx: Context) -> None:
        ctx.reply("收到")

    _, chat = make_chat(services, router)
    event = chat.message("你好", msg_id="same")
    assert len(await chat.feed(event)) == 1
    assert await chat.feed(event) == []
    assert len(inbox_rows(services.db)) == 1
    assert outbox_texts(services.db) == ["收到"]


async def test_a_user_error_rolls_back_and_answers_once(services: Services) -> None:
    router = Router("r")

    @router.command("改名", summary="x")
    async def rename(ctx: Context) -> None:
        grid = ctx.session.get_one(Grid, "G03")
        grid.name = "被改了"
        ctx.session.add(grid)
        ctx.session.flush()
        ctx.reply("this reply is dropped")
        raise UserError("请写明新名字，例如：/改名 幸福一组")

    _, chat = make_chat(services, router)
    sent = await chat.say("/改名")
    assert [m.text for m in sent] == ["请写明新名字，例如：/改名 幸福一组"]
    assert sent[0].mentions == (RESIDENT[0],)
    with services.db.session() as s:
        assert s.get_one(Grid, "G03").name == "幸福社区第3网格"
    assert inbox_rows(services.db)[0].status == "handled"


async def test_a_crashing_handler_is_recorded_and_a_command_gets_an_apology(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    router = Router("r")

    @router.command("坏了", summary="x")
    async def broken(ctx: Context) -> None:
        ctx.reply("never sent")
        raise RuntimeError("bug")

    @router.message()
    async def broken_too(ctx: Context) -> None:
        raise RuntimeError("bug in chatter")

    _, chat = make_chat(services, router)
    with caplog.at_level(logging.ERROR):
        assert [m.text for m in await chat.say("/坏了")] == [SORRY]
        assert await chat.say("今天天气不错") == []  # chatter never gets an answer
    rows = inbox_rows(services.db)
    assert [r.status for r in rows] == ["failed", "failed"]
    assert rows[0].error is not None
    assert "RuntimeError: bug" in rows[0].error
    assert "handling message" in caplog.text


async def test_roles_come_from_contact_ids_never_display_names(services: Services) -> None:
    router = Router("r")
    roles: list[Role] = []

    @router.message()
    async def record(ctx: Context) -> None:
        roles.append(ctx.role)

    _, chat = make_chat(services, router)
    await chat.say("a", LEADER)
    await chat.say("b", ADMIN)
    await chat.say("c", RESIDENT)
    await chat.say("d", ("wxid_impostor", LEADER[1]))  # renamed to the leader's name
    await chat.say("e", OTHER_LEADER)  # a leader, but of another grid
    await chat.say("f", OTHER_LEADER, room=OTHER_ROOM)
    await chat.say("g", LEADER, room=None)  # private: a leader somewhere
    assert roles == [
        Role.LEADER,
        Role.ADMIN,
        Role.RESIDENT,
        Role.RESIDENT,
        Role.RESIDENT,
        Role.LEADER,
        Role.LEADER,
    ]


async def test_a_leader_granted_in_the_database_is_a_leader_of_that_grid(
    services: Services,
) -> None:
    router = Router("r")
    roles: list[Role] = []

    @router.message()
    async def record(ctx: Context) -> None:
        roles.append(ctx.role)

    _, chat = make_chat(services, router)
    await chat.say("first", RESIDENT)
    with services.db.session() as s:
        member = s.exec(select(Member).where(Member.contact_id == RESIDENT[0])).one()
        member.role = MemberRole.LEADER
        s.add(member)
        s.commit()
    await chat.say("second", RESIDENT)
    await chat.say("third", RESIDENT, room=OTHER_ROOM)
    assert roles == [Role.RESIDENT, Role.LEADER, Role.RESIDENT]


async def test_rights_and_scope_are_checked_before_the_handler(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    router = Router("r")
    ran: list[str] = []

    @router.command("派单", role=Role.LEADER, scope=Scope.GROUP, summary="x")
    async def assign(ctx: Context) -> None:
        ran.append(ctx.event.sender_id)

    @router.command("全城", role=Role.ADMIN, summary="x")
    async def city(ctx: Context) -> None:
        ran.append("city")

    @router.command("悄悄话", scope=Scope.PRIVATE, summary="x")
    async def whisper(ctx: Context) -> None:
        ran.append("whisper")

    _, chat = make_chat(services, router)
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        refused = await chat.say("/派单 1", RESIDENT)
        assert [m.text for m in refused] == ["抱歉，/派单 仅限本网格的网格长使用。"]
        assert await chat.say("/派单 1", ("wxid_impostor", LEADER[1])) != []
        assert [m.text for m in await chat.say("/派单 1", LEADER, room=None)] == [
            "/派单 请在网格群里使用。"
        ]
        assert await chat.say("/派单 1", OTHER_LEADER) != []  # not this grid's leader
        await chat.say("/派单 1", LEADER)
        await chat.say("/派单 1", ADMIN)
        assert [m.text for m in await chat.say("/全城", LEADER)] == [
            "抱歉，/全城 仅限街道管理员使用。"
        ]
        assert [m.text for m in await chat.say("/悄悄话")] == ["/悄悄话 请私聊我使用。"]
        await chat.say("/悄悄话", room=None)
    assert ran == [LEADER[0], ADMIN[0], "whisper"]
    assert f"refused /派单 to {RESIDENT[0]} (role RESIDENT) in G03" in caplog.text
    assert f"/派单 by {LEADER[0]} (role LEADER) in G03: '1'" in caplog.text


async def test_bare_and_glued_command_names(services: Services) -> None:
    router = Router("r")
    got: list[tuple[str, str]] = []

    @router.command("积分", "我的积分", bare=True, summary="x")
    async def points(ctx: Context) -> None:
        assert ctx.command is not None
        got.append((ctx.command.name, ctx.command.args))

    @router.command("工单", summary="x")
    async def tickets(ctx: Context) -> None:
        assert ctx.command is not None
        got.append((ctx.command.name, ctx.command.args))

    @router.command("工单统计", summary="x")
    async def stats(ctx: Context) -> None:
        assert ctx.command is not None
        got.append((ctx.command.name, ctx.command.args))

    _, chat = make_chat(services, router)
    for text in ["积分", "我的积分", "/工单超期", "/工单统计 本周", "工单", "积分是什么"]:
        await chat.say(text, LEADER)
    assert got == [("积分", ""), ("我的积分", ""), ("工单", "超期"), ("工单统计", "本周")]


async def test_rooms_in_no_grid_are_stored_and_never_answered(services: Services) -> None:
    router = Router("r")

    @router.message()
    async def echo(ctx: Context) -> None:
        ctx.reply("hi")

    _, chat = make_chat(services, router)
    assert await chat.say("/帮助", ADMIN, room="别的群") == []
    [row] = inbox_rows(services.db)
    assert (row.room_topic, row.grid_code, row.status) == ("别的群", None, "handled")


def grid_recorder() -> tuple[Router, list[str | None]]:
    """A router whose handler notes the grid each message was found in."""
    router = Router("r")
    grids: list[str | None] = []

    @router.message()
    async def record(ctx: Context) -> None:
        grids.append(ctx.grid.code if ctx.grid else None)

    return router, grids


async def test_a_room_is_bound_by_topic_once_and_a_look_alike_is_ignored(
    services: Services,
) -> None:
    router, grids = grid_recorder()
    _, chat = make_chat(services, router)
    await chat.feed(replace(chat.message("a"), room_id="room@1"))
    with services.db.session() as s:
        assert s.get_one(Grid, "G03").room_id == "room@1"
    # same topic, another room: a copycat group is not the grid's group
    await chat.feed(replace(chat.message("b"), room_id="room@evil"))
    # the real room renamed: still the grid's group
    await chat.feed(replace(chat.message("c"), room_id="room@1", room_topic="新群名"))
    assert grids == ["G03", "G03"]
    assert [r.grid_code for r in inbox_rows(services.db)] == ["G03", None, "G03"]


async def test_a_room_moved_by_another_process_is_followed_on_a_server_database(
    settings: Settings,
    clock: ManualClock,
    db: Database,
    classifier: Classifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = build_app(
        settings, clock=clock, db=db, sender=RecordingSender(), classifier=classifier
    ).services
    router, grids = grid_recorder()
    _, chat = make_chat(services, router)
    await chat.feed(replace(chat.message("a"), room_id="room@1"))  # bound by its topic
    await chat.feed(replace(chat.message("a2"), room_id="room@1"))  # found by its id
    # another process (past this one's count of commits) moves the room to grid G04
    with db.engine.begin() as other:
        other.execute(update(Grid).where(col(Grid.code) == "G03").values(room_id=None))
        other.execute(update(Grid).where(col(Grid.code) == "G04").values(room_id="room@1"))
    await chat.feed(replace(chat.message("b"), room_id="room@1"))
    monkeypatch.setattr(dispatcher_module, "ROOMS_FRESH", 0.0)
    await chat.feed(replace(chat.message("c"), room_id="room@1"))
    if db.url.get_backend_name() == "postgresql":
        assert grids == ["G03", "G03", "G03", "G04"]  # followed once the cache is too old
    else:
        assert grids == ["G03"] * 4  # SQLite serves one process: its own writes drop the cache


async def test_members_are_recorded_with_their_latest_display_name(services: Services) -> None:
    _, chat = make_chat(services)
    await chat.say("a", RESIDENT)
    await chat.say("b", (RESIDENT[0], "张阿姨（3栋）"))
    await chat.say("c", RESIDENT, room=None)
    with services.db.session() as s:
        [member] = s.exec(select(Member)).all()
    assert (member.contact_id, member.grid_code, member.display_name) == (
        RESIDENT[0],
        "G03",
        "张阿姨（3栋）",
    )


async def test_recover_handles_what_a_crash_left_pending(services: Services) -> None:
    router = Router("r")

    @router.message()
    async def echo(ctx: Context) -> None:
        quoted = f"（回{ctx.event.quote.name}）" if ctx.event.quote else ""
        ctx.reply(f"回复{quoted}：{ctx.event.text}")

    crashing = Router("crashing")

    @crashing.message()
    async def die(ctx: Context) -> None:
        raise KeyboardInterrupt  # the process is stopped mid-handling

    _, chat = make_chat(services, crashing)
    with pytest.raises(KeyboardInterrupt):
        await chat.say("路灯坏了", type=MessageType.TEXT)
    quoted = "「王大爷：灯呢」\n- - - - - - - - - - - - - - -\n"
    with pytest.raises(KeyboardInterrupt):  # the quote is stored with it, and read back
        await chat.feed(chat.message("还没修", quote=quoted))
    assert inbox_rows(services.db)[1].quote == {"name": "王大爷", "text": "灯呢", "sender_id": None}
    assert inbox_rows(services.db)[0].status == "pending"
    assert outbox_texts(services.db) == []

    restarted, chat2 = make_chat(services, router)
    services.clock.set(services.clock.now() + timedelta(minutes=1))  # type: ignore[attr-defined]
    assert await restarted.recover() == 2
    assert await restarted.recover() == 0
    await chat2.app.outbox.flush()
    assert chat2.sender.texts() == ["回复：路灯坏了", "回复（回王大爷）：还没修"]
    assert inbox_rows(services.db)[0].status == "handled"


async def test_history_is_stored_and_not_answered(services: Services) -> None:
    router = Router("r")

    @router.message()
    async def echo(ctx: Context) -> None:
        ctx.reply("hi")

    dispatcher, chat = make_chat(services, router)
    await dispatcher.feed(chat.message("路灯坏了"), answer=False)
    await chat.app.outbox.flush()
    assert chat.sender.sent == []
    [row] = inbox_rows(services.db)
    assert (row.text, row.status) == ("路灯坏了", "handled")


async def test_in_a_room_of_no_grid_only_commands_made_for_it_run(services: Services) -> None:
    router = Router("r")
    ran: list[str] = []

    @router.command("绑定", role=Role.ADMIN, summary="x", unbound_rooms=True)
    async def bind(ctx: Context) -> None:
        ran.append(f"bind {ctx.grid}")

    @router.command("其他", role=Role.ADMIN, summary="x")
    async def other(ctx: Context) -> None:
        ran.append("other")

    @router.message()
    async def everything(ctx: Context) -> None:
        ran.append("message")

    _, chat = make_chat(services, router)
    await chat.say("/其他", ADMIN, room="新群")
    await chat.say("你好", ADMIN, room="新群")
    await chat.say("/绑定 G03", ADMIN, room="新群")
    assert ran == ["bind None"]


async def test_every_privileged_command_is_audited_once_with_the_actors_id(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    """Each leader's and administrator's command, run by someone allowed, leaves one audit
    line naming the actor's contact id; the impostor's try leaves one refusal line."""
    privileged = [spec for spec in chat.app.dispatcher.commands if spec.role >= Role.LEADER]
    assert len(privileged) >= 20
    for spec in privileged:
        actor = ADMIN if spec.role == Role.ADMIN else LEADER
        # each where it is used: /后台 (a login link) in a private chat only
        room = None if spec.scope == Scope.PRIVATE else ROOM
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="gridbot.audit"):
            await chat.say(f"/{spec.name} 1", actor, room=room)
        lines = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
        role = "ADMIN" if actor == ADMIN else "LEADER"
        where = "private" if room is None else "G03"
        assert lines == [f"/{spec.name} by {actor[0]} (role {role}) in {where}: '1'"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        await chat.say(
            "/加分 @张阿姨 50 辛苦", ("wxid_impostor", LEADER[1]), mentions=(RESIDENT[0],)
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
    assert lines == ["refused /加分 to wxid_impostor (role RESIDENT) in G03"]


async def test_a_resident_asking_privately_for_a_leaders_command_is_told_whose_it_is(
    chat: Chat,
) -> None:
    """Who may comes before where: sending a resident to the group would only get them
    refused there."""
    [resident] = await chat.say("/派单 1", RESIDENT, room=None)
    assert resident.text == "抱歉，/派单 仅限本网格的网格长使用。"
    [stranger] = await chat.say("/网格列表", ("wxid_stranger", "路人"), room=None)
    assert stranger.text == "抱歉，/网格列表 仅限街道管理员使用。"
    [leader] = await chat.say("/派单 1", LEADER, room=None)
    assert leader.text == "/派单 请在网格群里使用。"


async def test_a_nul_character_or_a_huge_name_is_stored_and_answered_on_every_backend(
    db: Database, settings: Settings, clock: ManualClock, classifier: Classifier
) -> None:
    """PostgreSQL refuses NUL in text and strings wider than their column: storing such a
    message raised out of the dispatcher, and the message was lost. It is kept, NUL as
    U+FFFD and the name cut to its column, and handled."""
    sender = RecordingSender()
    app = build_app(settings, clock=clock, db=db, sender=sender, classifier=classifier)
    await app.start()
    chat = Chat(app, clock, sender)
    try:
        [reply] = await chat.say("/帮助\x00", ("wxid_nul", "张\x00三"))
        assert reply.text.startswith("可用命令：")
        assert await chat.say("abc\x00def", RESIDENT, msg_id="m\x00") == []
        rows = inbox_rows(db)
        assert [(r.text, r.sender_name, r.status) for r in rows] == [
            ("/帮助\ufffd", "张\ufffd三", "handled"),
            ("abc\ufffddef", RESIDENT[1], "handled"),
        ]
        # a redelivery is the same message, NUL and all
        assert await chat.say("abc\x00def", RESIDENT, msg_id="m\x00", at=rows[1].sent_at) == []
        assert len(inbox_rows(db)) == 2
        [named] = await chat.say("/帮助", ("wxid_long", "长" * 1000))
        assert named.text.startswith("可用命令：")
        assert await chat.say("/帮助", RESIDENT, room="群" * 300) == []  # a group of no grid
        rows = inbox_rows(db)
        assert [(len(r.sender_name), len(r.room_topic or "")) for r in rows[2:]] == [
            (100, len(ROOM)),
            (len(RESIDENT[1]), 200),
        ]
        assert {r.status for r in rows} == {"handled"}
        # a lone surrogate (a broken emoji from a bad client) can't be encoded: U+FFFD too
        assert await chat.say("哈哈\ud83d", ("wxid_half", "半个\udc00表情")) == []
        last = inbox_rows(db)[-1]
        assert (last.text, last.sender_name, last.status) == (
            "哈哈\ufffd",
            "半个\ufffd表情",
            "handled",
        )
    finally:
        app.stop()


async def test_a_mention_that_is_no_contact_id_is_dropped_the_same_on_every_backend(
    db: Database, settings: Settings, clock: ManualClock, classifier: Classifier
) -> None:
    """Issue 17 item 12: /派单 to a mention id wider than a contact id's column was assigned
    on SQLite and failed on PostgreSQL ("抱歉…", the message marked failed). Such a mention
    (WeChat sends none) is dropped where the message comes in, on both databases alike."""
    sender = RecordingSender()
    app = build_app(settings, clock=clock, db=db, sender=sender, classifier=classifier)
    await app.start()
    chat = Chat(app, clock, sender)
    try:
        [filed] = await chat.say("3栋楼道的灯坏了，晚上看不见", RESIDENT)
        assert "#1" in filed.text
        wide, empty = "w" * (dispatcher_module.ID_CHARS + 1), ""
        for mention in (wide, empty):
            [reply] = await chat.say("/派单 1 @某人", LEADER, mentions=(mention,))
            assert reply.text == "请在命令里 @ 处理人（用微信的 @ 选人），例如：/派单 12 @王师傅"
        longest = "w" * dispatcher_module.ID_CHARS  # as wide as a contact id may be: kept
        [assigned] = await chat.say("/派单 1 @某人", LEADER, mentions=(wide, longest))
        assert assigned.text.startswith("工单 #1（")
        assert longest in assigned.mentions
        rows = inbox_rows(db)
        assert {r.status for r in rows} == {"handled"}
        assert [r.mentions for r in rows[1:]] == [[], [], [longest]]
    finally:
        app.stop()


class _Statements:
    """The statements (verb and table) and commits on ``db``'s engine from now on."""

    def __init__(self, db: Database) -> None:
        self.said: list[str] = []
        self.commits = 0
        event.listen(db.engine, "before_cursor_execute", self._statement)
        event.listen(db.engine, "commit", self._commit)

    def _statement(self, _conn: object, _cursor: object, sql: str, *_args: object) -> None:
        words = sql.replace('"', "").split()
        verb = words[0]
        table = words[words.index("INTO") + 1] if verb == "INSERT" else words[1]
        self.said.append(f"{verb} {table}")

    def _commit(self, _conn: object) -> None:
        self.commits += 1

    def take(self) -> tuple[list[str], int]:
        said, commits = self.said, self.commits
        self.said, self.commits = [], 0
        return said, commits


async def test_chatter_of_someone_seen_lately_is_one_insert_and_one_commit(
    services: Services,
) -> None:
    """Issue 21: a member's row is written when they are first seen, when their name changes
    and when its last_seen is older than LAST_SEEN_STEP; not for every message."""
    dispatcher, chat = make_chat(services)
    clock = chat.clock
    step = grids.LAST_SEEN_STEP

    async def say(text: str, who: tuple[str, str], after: timedelta) -> tuple[list[str], int]:
        clock.set(clock.now() + after)
        assert await dispatcher.feed(chat.message(text, who, at=clock.now())) is not None
        return counted.take()

    for text in ("早", "吃了吗"):  # the room bound and its grid read; someone else seen
        await chat.say(text, NEIGHBOUR)
    counted = _Statements(services.db)
    first = await say("早上好", RESIDENT, timedelta(seconds=1))
    assert first == (["UPDATE member", "INSERT member", "INSERT inbound_message"], 1)
    assert await say("今天天气不错", RESIDENT, timedelta(minutes=1)) == (
        ["INSERT inbound_message"],
        1,
    )
    renamed = (RESIDENT[0], "张阿姨（3栋）")
    assert await say("改个名字", renamed, timedelta(seconds=1)) == (
        ["UPDATE member", "INSERT inbound_message"],
        1,
    )
    assert await say("哈哈", renamed, step) == (["INSERT inbound_message"], 1)
    written_at = clock.now() + timedelta(seconds=1)
    assert await say("好久不见", renamed, timedelta(seconds=1)) == (
        ["UPDATE member", "INSERT inbound_message"],
        1,
    )
    await say("嗯", renamed, timedelta(seconds=1))
    with services.db.session() as s:
        member = s.exec(select(Member).where(Member.contact_id == RESIDENT[0])).one()
        assert (member.display_name, member.last_seen) == ("张阿姨（3栋）", written_at)
        assert grids.last_seen_in(session=s, grid_code="G03")[RESIDENT[0]] == clock.now()


async def test_a_member_row_changed_elsewhere_is_written_again_and_its_role_obeyed(
    services: Services,
) -> None:
    """What this process knows of a member row spares writing it, never overrides it: the
    insert checks it, and a row changed since (another process, /设网格长) is read again."""
    router = Router("r")
    staff_words: list[tuple[str, Role]] = []

    @router.message(lambda ctx: ctx.is_staff)
    async def staff(ctx: Context) -> None:
        staff_words.append((ctx.event.text, ctx.role))

    _, chat = make_chat(services, router)
    await chat.say("早上好", RESIDENT)
    with services.db.session() as s:
        s.execute(
            update(Member)
            .where(col(Member.contact_id) == RESIDENT[0])
            .values(display_name="别处的名字", role=MemberRole.LEADER)
        )
        s.commit()
    counted = _Statements(services.db)
    await chat.say("今天天气不错", RESIDENT)
    said, _ = counted.take()
    assert [s for s in said if "member" in s or "inbound_message" in s][:3] == [
        "INSERT inbound_message",  # refused by its check, rolled back
        "UPDATE member",
        "INSERT inbound_message",
    ]
    assert staff_words == [("今天天气不错", Role.LEADER)]  # a leader's words, not chatter
    with services.db.session() as s:
        member = s.exec(select(Member).where(Member.contact_id == RESIDENT[0])).one()
        assert (member.display_name, member.role) == (RESIDENT[1], MemberRole.LEADER)
    assert [(r.text, r.status) for r in inbox_rows(services.db)] == [
        ("早上好", "handled"),
        ("今天天气不错", "handled"),
    ]
