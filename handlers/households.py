"""Households (户) and their base points (基础分): `/户 @户代表 @家人` and `/基础分`.

A household's base goes to its representative, and each person counts once per period
(``base_coverage``): `/基础分` sent twice (or by two leaders) gives nothing more, and neither
does moving someone already counted into another household; a household's newcomers are
paid for at the next `/基础分`. Households come from the group (`/户`) and from config
(``points.households``); someone in a household formed in the group is not counted again in
a configured one. A leader's own household waits for another leader or an administrator, as
his own points do (不能给自己加分).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.context import Context
from bot.routing import Role, Router, Scope, UserError
from handlers.periods import base_period
from handlers.rooms import grid_here
from handlers.targets import names, resolve
from storage import households, points
from storage.models import EntryKind, Member

log = logging.getLogger(__name__)

router = Router("households")

HOUSEHOLD_USAGE = "/户 @户代表 @家人…"


@router.command(
    "户",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage=HOUSEHOLD_USAGE,
    summary="登记一户（第一个 @ 的是户代表）",
)
async def form_household(ctx: Context) -> None:
    grid = grid_here(ctx)
    targets = resolve(ctx, usage=HOUSEHOLD_USAGE)
    households.form(
        session=ctx.session,
        grid_code=grid.code,
        members=targets.members,
        actor=ctx.event.sender_id,
        at=ctx.now,
    )
    head = targets.members[0]
    log.info(
        "household in %s by %s: %s",
        grid.code,
        ctx.event.sender_id,
        ", ".join(m.contact_id for m in targets.members),
    )
    ctx.reply(
        f"已登记一户：户代表 {head.display_name}，共 {len(targets.members)} 人"
        f"（{names(targets.members)}）。"
    )


@dataclass(frozen=True, slots=True)
class _Unit:
    head: Member | None  # None: the representative has not spoken in the group yet
    contacts: frozenset[str]  # everyone in it, the representative too


def _units(ctx: Context) -> list[_Unit]:
    assert ctx.grid is not None
    code = ctx.grid.code
    formed = households.of_grid(session=ctx.session, grid_code=code)
    placed = {m.contact_id for household in formed for m in household}
    units = [
        _Unit(household[0], frozenset(m.contact_id for m in household)) for household in formed
    ]
    for contacts in ctx.settings.points.households.get(code, []):
        if placed.intersection(contacts):
            continue
        head = points.member(session=ctx.session, grid_code=code, contact_id=contacts[0])
        units.append(_Unit(head, frozenset(contacts)))
    return units


@router.command("基础分", role=Role.LEADER, scope=Scope.GROUP, summary="给本网格每户发放本期基础分")
async def give_base(ctx: Context) -> None:
    grid = grid_here(ctx)
    settings = ctx.settings.points.base
    if settings.per_household == 0 and settings.per_person == 0:
        raise UserError("配置里的基础分是 0 分，没有可发放的。")
    units = _units(ctx)
    if not units:
        raise UserError(f"本网格还没有登记户，请先用 {HOUSEHOLD_USAGE} 登记。")
    key, label = base_period(ctx.now, ctx.settings.tz, settings.period)
    given = total = already = absent = own = partly = 0
    for unit in units:
        if unit.head is None:
            absent += 1
            continue
        if ctx.event.sender_id in unit.contacts:
            own += 1
            continue
        assert unit.head.id is not None
        fresh = households.count_in(
            session=ctx.session,
            grid_code=grid.code,
            period=key,
            contact_ids=sorted(unit.contacts),
            at=ctx.now,
        )
        # The household part only for a household none of whom was counted yet: else moving
        # one person out to a household of their own would pay it again.
        whole = fresh == unit.contacts
        amount = (settings.per_household if whole else 0) + settings.per_person * len(fresh)
        if amount == 0:
            already += 1
            continue
        # A representative counted before (his household grew, or he moved) gets a second
        # entry this period, for the newcomers: its key names this message.
        entry_key = f"base:{key}:{unit.head.id}"
        if unit.head.contact_id not in fresh:
            entry_key += f":m{ctx.message_id}"
        balance = points.post(
            session=ctx.session,
            member_id=unit.head.id,
            grid_code=grid.code,
            delta=amount,
            kind=EntryKind.BASE,
            key=entry_key,
            at=ctx.now,
            actor_id=ctx.event.sender_id,
            reason=label,
            message_id=ctx.message_id,
        )
        if balance is None:
            already += 1  # paid before base_coverage existed, by the same key
            continue
        given += 1
        total += amount
        if not whole:
            partly += 1
        log.info(
            "base points %+d (%s, %d of %d people) to %s in %s by %s",
            amount,
            key,
            len(fresh),
            len(unit.contacts),
            unit.head.contact_id,
            grid.code,
            ctx.event.sender_id,
        )
    if given == 0 and absent == 0 and own == 0 and already:
        ctx.reply(f"{label}基础分已经发过了，这次没有新发放。")
        return
    parts = [f"已发放{label}基础分：{given} 户，共 {total} 分。"]
    if partly:
        parts.append(f"其中 {partly} 户只计本期还没计过的人。")
    if already:
        parts.append(f"{already} 户本期已发过。")
    if own:
        parts.append(f"{own} 户有您本人，请由其他网格长或管理员发放。")
    if absent:
        parts.append(f"{absent} 户的户代表还没在本群发过言，未发放。")
    ctx.reply("".join(parts))
