from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from bot.context import Context
from bot.routing import Role, UserError
from bot.settings import Settings
from domain.errors import DomainError, Invalid, NotAllowed, NotFound, WrongState
from handlers.acting import actor_of, replies_to_refusals
from storage.db import Database
from tests.auxil.chat import LEADER, RESIDENT, Chat


def context(settings: Settings, session: object, sender: str) -> Context:
    """Only what actor_of reads: a Context has far more."""
    fake = SimpleNamespace(
        session=session, settings=settings, event=SimpleNamespace(sender_id=sender)
    )
    return cast(Context, fake)


@pytest.mark.parametrize("error", [NotFound, NotAllowed, WrongState, Invalid])
async def test_a_domain_refusal_is_the_chats_short_reply(error: type[DomainError]) -> None:
    @replies_to_refusals
    async def handler(ctx: Context) -> None:
        raise error("#5 已经上报过了。")

    with pytest.raises(UserError) as raised:
        await handler(cast(Context, None))
    assert raised.value.reply == "#5 已经上报过了。"


async def test_other_errors_are_not_taken_for_refusals() -> None:
    @replies_to_refusals
    async def handler(ctx: Context) -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        await handler(cast(Context, None))


def test_the_actor_is_found_by_contact_id(settings: Settings, sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        actor = actor_of(context(settings, s, LEADER[0]))
        assert (actor.contact_id, actor.role, actor.grids) == (
            LEADER[0],
            Role.LEADER,
            frozenset({"G03"}),
        )
        with pytest.raises(UserError) as refused:
            actor_of(context(settings, s, RESIDENT[0]))
    assert refused.value.reply == "抱歉，只有网格长和街道管理员可以这样做。"


async def test_a_domain_refusal_reaches_the_leader_in_the_group(chat: Chat) -> None:
    await chat.say("3栋门口的路灯坏了好几天了，麻烦处理一下")
    await chat.say("/办结 1 修好了", LEADER)
    [again] = await chat.say("/办结 1 又修了一遍", LEADER)
    assert again.text == "#1 已经办结过了，正在等居民评价。"
