"""Leaders' /加分, /扣分 and /更正: points for the people a command really @mentions, the chat
face of domain/points.py.

The command is read here (who is @mentioned, the rule or amount, the reason); the domain
checks the rules and the caps and writes the ledger. Each entry is keyed by the inbound
message, the person and the rule, so a message handled twice records once. An amount over a
cap refuses the whole command (the refusal rolls back every entry it wrote): nothing is
clipped.
"""

from __future__ import annotations

import logging

from bot.context import Context
from bot.routing import Role, Router, Scope
from domain import points as domain_points
from domain.points import AWARD, PENALTY, Asked, Awarded, Way
from handlers.acting import actor_of, replies_to_refusals
from handlers.rooms import grid_here
from handlers.targets import resolve

log = logging.getLogger(__name__)

router = Router("points_awards")

AWARD_USAGE = "/加分 @某人 <规则名或分值> [理由]"
PENALTY_USAGE = "/扣分 @某人 <规则名或分值> [理由]"
ADJUST_USAGE = "/更正 @某人 <+分值或-分值> <理由>"


def _done(ctx: Context, awarded: Awarded) -> None:
    """Log each entry written and queue the group's announcement."""
    grid_code = grid_here(ctx).code
    for posted in awarded.posted:
        log.info(
            "points %+d (%s %s) to %s in %s by %s (message %d): balance %d",
            awarded.delta,
            awarded.kind.value,
            awarded.rule_code or "-",
            posted.member.contact_id,
            grid_code,
            ctx.event.sender_id,
            ctx.message_id,
            posted.balance,
        )
    if not awarded.posted:
        ctx.reply("这条消息的积分已经记过了。")
        return
    for message in awarded.messages:
        ctx.send(message)


def _asked(ctx: Context, usage: str) -> tuple[Asked, str, str]:
    """Whom the command @mentions, keyed by the message; the rule or amount, and the rest."""
    targets = resolve(ctx, usage=usage)
    word, _, rest = targets.rest.partition(" ")
    asked = Asked(
        actor_of(ctx),
        grid_here(ctx).code,
        targets.members,
        ctx.now,
        key=f"msg:{ctx.message_id}",
        message_id=ctx.message_id,
    )
    return asked, word, rest


async def _record(ctx: Context, way: Way, usage: str) -> None:
    asked, word, rest = _asked(ctx, usage)
    _done(
        ctx, domain_points.award(ctx.session, ctx.settings, asked, way=way, word=word, reason=rest)
    )


@router.command(
    "加分", role=Role.LEADER, scope=Scope.GROUP, usage=AWARD_USAGE, summary="给群成员加分"
)
@replies_to_refusals
async def award(ctx: Context) -> None:
    await _record(ctx, AWARD, AWARD_USAGE)


@router.command(
    "扣分", role=Role.LEADER, scope=Scope.GROUP, usage=PENALTY_USAGE, summary="给群成员扣分"
)
@replies_to_refusals
async def penalise(ctx: Context) -> None:
    await _record(ctx, PENALTY, PENALTY_USAGE)


@router.command(
    "更正",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage=ADJUST_USAGE,
    summary="更正记错的积分（另记一笔，不改原记录）",
)
@replies_to_refusals
async def adjust(ctx: Context) -> None:
    asked, word, rest = _asked(ctx, ADJUST_USAGE)
    _done(ctx, domain_points.adjust(ctx.session, ctx.settings, asked, word=word, reason=rest))
