from __future__ import annotations

import copy
import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from bot.clock import ManualClock
from bot.settings import Settings
from storage.db import Database
from storage.models import Member, MemberRole, WebLoginToken
from tests.auxil.chat import ADMIN, LEADER, OTHER_ROOM, RESIDENT, Chat
from tests.conftest import SETTINGS
from web.app import create_app

LINK = re.compile(r"^http://127\.0\.0\.1:8080(/login/[A-Za-z0-9_-]{43})$", re.MULTILINE)


@pytest.fixture
def web_enabled() -> bool:
    return True


@pytest.fixture
def settings(web_enabled: bool) -> Settings:
    return Settings.model_validate(copy.deepcopy(SETTINGS) | {"web": {"enabled": web_enabled}})


def _tokens(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.exec(select(WebLoginToken.contact_id)).all())


async def test_a_leader_asking_privately_gets_a_link_that_logs_him_in(
    chat: Chat, settings: Settings, sqlite_db: Database, clock: ManualClock
) -> None:
    [reply] = await chat.say("/后台", LEADER, room=None)
    assert reply.to == LEADER[0]
    assert reply.text.startswith("指挥中心后台登录链接（10分钟内有效，只能用一次，请勿转发）：\n")
    found = LINK.search(reply.text)
    assert found is not None
    client = TestClient(create_app(settings, sqlite_db, clock), follow_redirects=False)
    assert client.post(found.group(1)).status_code == 303
    assert client.get("/tickets").status_code == 200
    # a second /后台 is a second link; the first stays spent
    [second] = await chat.say("＃后台", LEADER, room=None)
    again = LINK.search(second.text)
    assert again is not None
    assert again.group(1) != found.group(1)
    client.cookies.clear()
    assert client.get(found.group(1)).status_code == 403


async def test_an_administrator_gets_a_link_too(chat: Chat, sqlite_db: Database) -> None:
    [reply] = await chat.say("/后台", ADMIN, room=None)
    assert LINK.search(reply.text) is not None
    assert _tokens(sqlite_db) == [ADMIN[0]]


async def test_a_leader_by_the_databases_role_gets_a_link(chat: Chat, sqlite_db: Database) -> None:
    await chat.say("大家好", RESIDENT)  # known in the group: a member row
    with sqlite_db.session() as session:
        member = session.exec(select(Member).where(Member.contact_id == RESIDENT[0])).one()
        member.role = MemberRole.LEADER
        session.add(member)
        session.commit()
    [reply] = await chat.say("/后台", RESIDENT, room=None)
    assert LINK.search(reply.text) is not None


async def test_in_a_group_it_says_to_ask_privately(chat: Chat, sqlite_db: Database) -> None:
    [reply] = await chat.say("/后台", LEADER)
    assert reply.text == "/后台 请私聊我使用。"
    assert reply.room_id is not None
    assert _tokens(sqlite_db) == []


@pytest.mark.parametrize(
    ("who", "room"), [(RESIDENT, None), (RESIDENT, "幸福社区第3网格"), (LEADER, OTHER_ROOM)]
)
async def test_anyone_else_is_refused(
    chat: Chat,
    sqlite_db: Database,
    caplog: pytest.LogCaptureFixture,
    who: tuple[str, str],
    room: str | None,
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    [reply] = await chat.say("/后台", who, room=room)
    assert reply.text == "抱歉，/后台 仅限本网格的网格长使用。"
    assert _tokens(sqlite_db) == []
    [record] = [r for r in caplog.records if r.name == "gridbot.audit"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(f"refused /后台 to {who[0]} (role RESIDENT)")


async def test_each_link_made_is_in_the_audit_log(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gridbot.audit")
    await chat.say("/后台", LEADER, room=None)
    assert [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"] == [
        "/后台 by wxid_leader_li (role LEADER) in private: ''"
    ]


@pytest.mark.parametrize("web_enabled", [False])
async def test_nothing_is_handed_out_while_the_console_is_off(
    chat: Chat, sqlite_db: Database
) -> None:
    [reply] = await chat.say("/后台", LEADER, room=None)
    assert reply.text == "指挥中心后台尚未开启，请联系街道管理员。"
    assert _tokens(sqlite_db) == []
