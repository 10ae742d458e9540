from __future__ import annotations

import copy
import logging

import pytest
from sqlmodel import select

from bot.clock import ManualClock
from bot.settings import MAX_MESSAGE_CHARS, Settings
from handlers.grid_status import LIST_LIMIT
from storage.db import Database
from storage.models import Member, MemberRole
from tests.auxil.chat import (
    ADMIN,
    LEADER,
    NEIGHBOUR,
    OTHER_LEADER,
    OTHER_ROOM,
    RESIDENT,
    ROOM,
    Chat,
)
from tests.conftest import SETTINGS

LAMP = "3栋门口的路灯坏了好几天了，麻烦处理一下"


@pytest.fixture
def settings() -> Settings:
    # the web console on: a leader made in the chat gets its login links too
    return Settings.model_validate(copy.deepcopy(SETTINGS) | {"web": {"enabled": True}})


def roles(db: Database) -> dict[tuple[str, str], str]:
    with db.session() as session:
        rows = session.exec(select(Member)).all()
        return {(m.contact_id, m.grid_code): m.role for m in rows}


# --- /成员 ---


async def test_members_in_a_group_go_privately_to_the_administrator(chat: Chat) -> None:
    await chat.say("早", RESIDENT)
    await chat.say("早", LEADER)
    await chat.say("早", ADMIN)
    await chat.say("早", NEIGHBOUR, room=OTHER_ROOM)  # another grid's group
    [reply] = await chat.say("/成员", ADMIN)
    # the list is never said in the group: contact ids are nobody else's business
    assert (reply.to, reply.room_id) == (ADMIN[0], None)
    assert reply.text.splitlines() == [
        "幸福社区第3网格（G03）：我见过 3 人在群里发言，配置里另有 1 人还没发过言。",
        "昵称｜联系人ID｜身份｜最后发言",
        "街道办小陈｜wxid_street_admin｜街道管理员｜11月22日 09:00",
        "李网格长｜wxid_leader_li｜网格长（配置）｜11月22日 09:00",
        # a worker the config names who never spoke there: a wrong id looks like this
        "（未发言）｜wxid_louzhang_hu｜网格员｜未在本群发过言",
        "张阿姨｜wxid_resident_zhang｜居民｜11月22日 09:00",
    ]


async def test_members_privately_need_a_grid_code(chat: Chat) -> None:
    await chat.say("早", RESIDENT)
    [how] = await chat.say("/成员", ADMIN, room=None)
    assert how.to == ADMIN[0]
    assert how.text == (
        "请在网格群里发送 /成员，名单会私信发给您；或私聊我发送 /成员 <网格编码>，例如：/成员 G03"
    )
    [listed] = await chat.say("/成员 g03", ADMIN, room=None)
    assert "张阿姨｜wxid_resident_zhang｜居民｜" in listed.text
    [unknown] = await chat.say("/成员 G99", ADMIN, room=None)
    assert unknown.text == "没有编码为 G99 的网格，发送 /网格列表 查看。"
    # in a group, a mistake is said privately too
    [wrong] = await chat.say("/成员 G99", ADMIN)
    assert (wrong.to, wrong.text) == (ADMIN[0], "没有编码为 G99 的网格，发送 /网格列表 查看。")


async def test_members_of_a_group_nobody_spoke_in(chat: Chat) -> None:
    [reply] = await chat.say("/成员 G04", ADMIN, room=None)
    assert reply.text.splitlines()[0] == (
        "幸福社区第4网格（G04）：我见过 0 人在群里发言，配置里另有 1 人还没发过言。"
    )
    leader = "（未发言）｜wxid_leader_zhao｜网格长（配置）｜未在本群发过言"
    assert reply.text.splitlines()[2] == leader


async def test_members_is_for_administrators(chat: Chat) -> None:
    [reply] = await chat.say("/成员", LEADER)
    assert reply.text == "抱歉，/成员 仅限街道管理员使用。"


async def test_many_members_go_page_by_page(chat: Chat, clock: ManualClock) -> None:
    for i in range(45):
        await chat.say("早", (f"wxid_r{i:02}", f"居民{i}" + "长" * 40))
    [first] = await chat.say("/成员", ADMIN)
    lines = first.text.splitlines()
    assert lines[0] == "幸福社区第3网格（G03）：我见过 46 人在群里发言，配置里另有 2 人还没发过言。"
    assert len(lines) == LIST_LIMIT + 3
    assert lines[-1] == "第 1/3 页，发送 /成员 G03 2 看下一页"
    # a long name is cut: one line stays readable
    name = lines[5].split("｜")[0]
    assert name.startswith("居民44长长")
    assert name.endswith("…")
    seen = lines[2:-1]
    for page in (2, 3):
        [reply] = await chat.say(f"/成员 G03 {page}", ADMIN, room=None)
        assert len(reply.text) <= MAX_MESSAGE_CHARS
        seen += reply.text.splitlines()[2:-1]
    assert reply.text.splitlines()[-1] == "第 3/3 页"
    # the administrator asking in the group is one of them
    assert len(seen) == 48
    assert len({line.split("｜")[1] for line in seen}) == 48
    [beyond] = await chat.say("/成员 4", ADMIN)
    assert (beyond.to, beyond.text) == (ADMIN[0], "幸福社区第3网格的成员名单共 3 页，没有第 4 页。")


# --- /设网格长, /撤网格长 ---


async def test_a_leader_made_in_the_chat_leads_at_once_everywhere(
    chat: Chat, sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await chat.say("早", NEIGHBOUR)
    [refused] = await chat.say("/状态", NEIGHBOUR)
    assert refused.text == "抱歉，/状态 仅限本网格的网格长使用。"
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        [made] = await chat.say("/设网格长 @王大爷", ADMIN, mentions=(NEIGHBOUR[0],))
    assert made.text == "已将 王大爷 设为幸福社区第3网格的网格长，立即生效。"
    assert made.mentions == (ADMIN[0],)
    assert roles(sqlite_db)[(NEIGHBOUR[0], "G03")] == MemberRole.LEADER
    assert "grid leader role in G03 given to wxid_resident_wang by wxid_street_admin" in (
        caplog.messages
    )
    # the leader's commands, in the group and privately
    [status] = await chat.say("/状态", NEIGHBOUR)
    assert status.text.startswith("幸福社区第3网格（G03）")
    [link] = await chat.say("/后台", NEIGHBOUR, room=None)
    assert "/login/" in link.text
    # a resident's matter reaches him as it reaches the config's leader, and is his to close
    [filed] = await chat.say(LAMP, RESIDENT)
    assert "工单 #1" in filed.text
    [done] = await chat.say("/办结 1 路灯已修好", NEIGHBOUR)
    assert "路灯已修好" in done.text
    sent = await chat.say("快叫120！", RESIDENT)
    assert {m.to for m in sent if m.to} == {LEADER[0], NEIGHBOUR[0]}
    [listed] = await chat.say("/成员", ADMIN)
    assert "王大爷｜wxid_resident_wang｜网格长（/设网格长）｜" in listed.text
    # and only in his grid
    await chat.say("早", NEIGHBOUR, room=OTHER_ROOM)
    [elsewhere] = await chat.say("/状态", NEIGHBOUR, room=OTHER_ROOM)
    assert elsewhere.text == "抱歉，/状态 仅限本网格的网格长使用。"

    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        [taken] = await chat.say("/撤网格长 @王大爷", ADMIN, mentions=(NEIGHBOUR[0],))
    assert taken.text == "已撤销 王大爷 的网格长身份，立即生效。"
    assert "grid leader role in G03 taken from wxid_resident_wang by wxid_street_admin" in (
        caplog.messages
    )
    assert roles(sqlite_db)[(NEIGHBOUR[0], "G03")] == MemberRole.RESIDENT
    [again] = await chat.say("/状态", NEIGHBOUR)
    assert again.text == "抱歉，/状态 仅限本网格的网格长使用。"
    [no_link] = await chat.say("/后台", NEIGHBOUR, room=None)
    assert "/login/" not in no_link.text


async def test_a_leader_in_the_config_stays_one(chat: Chat, sqlite_db: Database) -> None:
    await chat.say("早", LEADER)
    [made] = await chat.say("/设网格长 @李网格长", ADMIN, mentions=(LEADER[0],))
    assert made.text == "李网格长 已是配置里登记的网格长。"
    [kept] = await chat.say("/撤网格长 @李网格长", ADMIN, mentions=(LEADER[0],))
    assert kept.text == (
        "李网格长 是配置文件里登记的网格长，不能用 /撤网格长 撤销，请联系信息化人员修改配置。"
    )
    assert roles(sqlite_db)[(LEADER[0], "G03")] == MemberRole.RESIDENT  # nothing written
    [status] = await chat.say("/状态", LEADER)
    assert status.text.startswith("幸福社区第3网格（G03）")


async def test_making_a_leader_twice_and_unmaking_a_resident(chat: Chat) -> None:
    await chat.say("早", RESIDENT)
    await chat.say("早", NEIGHBOUR)
    both = (RESIDENT[0], NEIGHBOUR[0])
    [made] = await chat.say("/设网格长 @张阿姨 @王大爷", ADMIN, mentions=both)
    assert made.text == "已将 张阿姨、王大爷 设为幸福社区第3网格的网格长，立即生效。"
    [again] = await chat.say("/设网格长 @张阿姨", ADMIN, mentions=(RESIDENT[0],))
    assert again.text == "张阿姨 已是本网格的网格长。"
    await chat.say("/撤网格长 @张阿姨", ADMIN, mentions=(RESIDENT[0],))
    [not_one] = await chat.say("/撤网格长 @张阿姨", ADMIN, mentions=(RESIDENT[0],))
    assert not_one.text == "张阿姨 不是本网格的网格长。"


async def test_making_a_leader_goes_by_the_mention_only(chat: Chat, sqlite_db: Database) -> None:
    await chat.say("早", RESIDENT)
    [typed] = await chat.say("/设网格长 @张阿姨", ADMIN)  # typed by hand: no contact id
    assert typed.text == "请用微信的 @ 功能从群成员里选人，手动输入的「@名字」不算数。"
    [nobody] = await chat.say("/设网格长", ADMIN)
    assert nobody.text == "请 @ 要操作的人，用法：/设网格长 @某人"
    [stranger] = await chat.say("/设网格长 @路人", ADMIN, mentions=("wxid_stranger",))
    assert stranger.text.startswith("被 @ 的人里有 1 位不是本网格群成员（还没在本群发过言）")
    assert set(roles(sqlite_db).values()) == {MemberRole.RESIDENT}


async def test_making_a_leader_is_for_administrators_in_a_group(chat: Chat) -> None:
    await chat.say("早", RESIDENT)
    [leader] = await chat.say("/设网格长 @张阿姨", LEADER, mentions=(RESIDENT[0],))
    assert leader.text == "抱歉，/设网格长 仅限街道管理员使用。"
    [other] = await chat.say("/撤网格长 @张阿姨", OTHER_LEADER, mentions=(RESIDENT[0],))
    assert other.text == "抱歉，/撤网格长 仅限街道管理员使用。"
    [private] = await chat.say("/设网格长 @张阿姨", ADMIN, room=None, mentions=(RESIDENT[0],))
    assert private.text == "/设网格长 请在网格群里使用。"
    [admin] = await chat.say("/设网格长 @街道办小陈", ADMIN, room=ROOM, mentions=(ADMIN[0],))
    assert admin.text == "街道办小陈 是街道管理员，不用设为网格长。"
