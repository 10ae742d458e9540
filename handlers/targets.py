"""Who a leader's command is about: the people it really @mentions, never a typed name.

WeChat puts the contact ids of the people picked with @ in the message's mentions and writes
"@群昵称" into its text. A name typed after a hand-written @ has no contact id behind it and
names nobody; anyone can take any display name, so names are never looked up.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.context import Context
from bot.routing import UserError
from handlers.rooms import grid_here
from storage import points
from storage.models import Member

_MENTION_TOKEN = re.compile(r"@\S+")
_LEADING_MENTIONS = re.compile(r"^(?:@\S+(?:\s+|$))+")

TYPED_MENTION = "请用微信的 @ 功能从群成员里选人，手动输入的「@名字」不算数。"


@dataclass(frozen=True, slots=True)
class Targets:
    members: list[Member]  # in the order mentioned, each once
    rest: str  # the command's arguments with the mentions taken out


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def resolve(ctx: Context, *, usage: str) -> Targets:
    """The grid members the command @mentions and the text after them.

    Refused (UserError): no mention at all, a hand-typed @name, or a mention of someone who
    is not a member of this grid (has never spoken in its group).
    """
    grid = grid_here(ctx)
    assert ctx.command is not None
    args = ctx.command.args
    mentioned = list(dict.fromkeys(ctx.event.mentions))
    found = points.members_by_contact(
        session=ctx.session, grid_code=grid.code, contact_ids=mentioned
    )
    outsiders = [cid for cid in mentioned if cid not in found]
    # Mentions in front of the command are the bot being addressed (command_text drops
    # them); the bot is nobody's member, so that many outsiders are taken to be the bot.
    leading = _LEADING_MENTIONS.match(_fold(ctx.event.text).strip())
    bot_mentions = leading.group(0).count("@") if leading else 0
    if len(outsiders) > bot_mentions:
        extra = len(outsiders) - bot_mentions
        raise UserError(
            f"被 @ 的人里有 {extra} 位不是本网格群成员（还没在本群发过言），本次未记录。"
        )
    members = [found[cid] for cid in mentioned if cid in found]
    rest = args
    unmatched = 0
    for member in sorted(members, key=lambda m: -len(m.display_name)):
        written = f"@{_fold(member.display_name)}"
        if written in rest:
            rest = rest.replace(written, " ")  # every time: the same person @ twice
        else:
            unmatched += 1  # renamed since they last spoke: its @token is left in the text
    leftovers = _MENTION_TOKEN.findall(rest)
    if len(leftovers) > unmatched or (leftovers and not members):
        raise UserError(TYPED_MENTION)
    rest = " ".join(_MENTION_TOKEN.sub(" ", rest).split())
    if not members:
        raise UserError(f"请 @ 要操作的人，用法：{usage}")
    return Targets(members, rest)


def names(members: list[Member]) -> str:
    return "、".join(m.display_name for m in members)
