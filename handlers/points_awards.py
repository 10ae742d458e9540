"""Leaders' /加分, /扣分 and /更正: points for the people a command really @mentions.

Each entry is keyed by the inbound message, the person and the rule, so a message handled
twice records once. Caps are checked right after the entry is written, in the same
transaction: the member's balance row is locked by then, so a concurrent command for the same
person waits and counts this one. An amount over a cap refuses the whole command (UserError
rolls back every entry it wrote): nothing is clipped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.context import Context
from bot.events import Outbound
from bot.routing import Role, Router, Scope, UserError
from bot.settings import PointsCaps, PointsRule
from handlers.periods import day_start, month_start
from handlers.points_text import signed
from handlers.targets import names, resolve
from storage import points
from storage.models import EntryKind, Member

log = logging.getLogger(__name__)

router = Router("points_awards")

AWARD_USAGE = "/加分 @某人 <规则名或分值> [理由]"
PENALTY_USAGE = "/扣分 @某人 <规则名或分值> [理由]"
ADJUST_USAGE = "/更正 @某人 <+分值或-分值> <理由>"
REASON_CHARS = 100
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d*)?分?$")
_MAX_DIGITS = 9  # past this a number is over every cap; int() of thousands of digits fails


def _shown(word: str) -> str:
    return word if len(word) <= 12 else word[:12] + "…"


def parse_amount(word: str, cap: int, verb: str) -> int | None:
    """A typed amount, strictly 1..cap, else a UserError; None when ``word`` is no number."""
    if not _NUMBER.match(word):
        return None
    number = word.removesuffix("分")
    if "." in number:
        raise UserError(f"分值要是整数，「{_shown(word)}」不行。")
    if number.startswith("-"):
        other = "加分请用 /加分" if verb == "扣" else "扣分请用 /扣分"
        raise UserError(f"分值要是 1 到 {cap} 的整数；{other}。")
    digits = number.lstrip("+").lstrip("0")
    if not digits:
        raise UserError(f"分值要是 1 到 {cap} 的整数，0 分不记录。")
    if len(digits) > _MAX_DIGITS or int(digits) > cap:
        raise UserError(f"单次最多{verb} {cap} 分，{_shown(digits)} 分超过上限，本次未记录。")
    return int(digits)


@dataclass(frozen=True, slots=True)
class _Kind:
    kind: EntryKind
    verb: str  # 加 or 扣
    example: str  # a rule name for the usage hints

    @property
    def command(self) -> str:
        return f"/{self.verb}分"


AWARD = _Kind(EntryKind.AWARD, "加", "志愿服务")
PENALTY = _Kind(EntryKind.PENALTY, "扣", "乱扔垃圾")


def _caps(ctx: Context, kind: EntryKind) -> PointsCaps:
    caps = ctx.settings.points.caps
    return caps.award if kind in (EntryKind.AWARD, EntryKind.BASE) else caps.penalty


def _check_caps(
    ctx: Context,
    member: Member,
    what: _Kind,
    amount: int,
    rule: tuple[str, PointsRule] | None,
) -> None:
    """Refuse when today's or this month's total, this entry included, is over a cap.

    Corrections count with the kind they move points in, both ways round: `/更正 +50` after
    a day's awards reached the cap is refused, and so is `/加分` after corrections did."""
    assert member.id is not None
    tz = ctx.settings.tz
    sign = 1 if what.kind == EntryKind.AWARD else -1
    name, verb = member.display_name, what.verb
    today = day_start(ctx.now, tz)
    per_day = _caps(ctx, what.kind).per_day
    day = sign * points.total_since(
        session=ctx.session, member_id=member.id, since=today, kinds=(what.kind,), corrections=sign
    )
    if day > per_day:
        raise UserError(
            f"{name} 今天已{verb} {day - amount} 分，再{verb} {amount} 分就超过"
            f"每天上限 {per_day} 分，本次未记录。"
        )
    if rule is None:
        return
    code, spec = rule
    for cap, since, when in (
        (spec.daily_cap, today, "今天"),
        (spec.monthly_cap, month_start(ctx.now, tz), "本月"),
    ):
        if cap is None:
            continue
        total = sign * points.total_since(
            session=ctx.session,
            member_id=member.id,
            since=since,
            kinds=(what.kind,),
            rule_code=code,
        )
        if total > cap:
            limit = "每天" if when == "今天" else "每月"
            raise UserError(
                f"{name} {when}按「{spec.name}」已{verb} {total - amount} 分，"
                f"{limit}上限 {cap} 分，本次未记录。"
            )


def _post(
    ctx: Context,
    member: Member,
    *,
    delta: int,
    kind: EntryKind,
    rule_code: str | None,
    reason: str | None,
) -> int | None:
    assert ctx.grid is not None
    assert member.id is not None
    try:
        balance = points.post(
            session=ctx.session,
            member_id=member.id,
            grid_code=ctx.grid.code,
            delta=delta,
            kind=kind,
            key=f"msg:{ctx.message_id}:{member.id}:{rule_code or kind.value}",
            at=ctx.now,
            actor_id=ctx.event.sender_id,
            rule_code=rule_code,
            reason=reason,
            message_id=ctx.message_id,
        )
    except points.Overdrawn as exc:
        raise UserError(
            f"{member.display_name} 现有 {exc.balance} 分，不够扣 {-delta} 分，本次未记录。"
        ) from None
    if balance is not None:
        log.info(
            "points %+d (%s %s) to %s in %s by %s (message %d): balance %d",
            delta,
            kind.value,
            rule_code or "-",
            member.contact_id,
            ctx.grid.code,
            ctx.event.sender_id,
            ctx.message_id,
            balance,
        )
    return balance


def _announce(ctx: Context, text: str, members: list[Member]) -> None:
    """Tell the group, @mentioning the people whose points changed."""
    event = ctx.event
    ctx.send(
        Outbound(
            text=text,
            room_id=event.room_id,
            room_topic=event.room_topic,
            mentions=tuple(m.contact_id for m in members),
        )
    )


async def _record(ctx: Context, what: _Kind, usage: str) -> None:
    targets = resolve(ctx, usage=usage)
    word, _, rest = targets.rest.partition(" ")
    reason = rest.strip()[:REASON_CHARS] or None
    settings = ctx.settings.points
    caps = _caps(ctx, what.kind)
    if not word:
        raise UserError(f"请写明规则名或分值，例如：{what.command} @张阿姨 {what.example}。")
    rule = settings.rule(word)
    if rule is not None:
        _code, spec = rule
        # first: told it is a /扣分 rule, a leader would try /扣分, refused again
        if ctx.grid is not None and not spec.applies_in(ctx.grid.tags):
            raise UserError(
                f"「{spec.name}」不是本网格的积分规则，发送「积分规则」查看本网格的规则。"
            )
        if spec.kind != what.kind.value:
            other = "/扣分" if spec.kind == "penalty" else "/加分"
            raise UserError(f"「{spec.name}」是{other[1]}分规则，请用 {other}。")
        amount = spec.points
    else:
        parsed = parse_amount(word, caps.per_command, what.verb)
        if parsed is None:
            raise UserError(
                f"没有「{_shown(word)}」这个积分规则。请写规则名（发送「积分规则」查看）"
                f"或 1 到 {caps.per_command} 的整数分值。"
            )
        if reason is None:
            raise UserError(
                f"按分值{what.verb}分请写明理由，例如：{what.command} @张阿姨 5 帮忙清扫楼道。"
            )
        amount = parsed
    if what.kind == EntryKind.AWARD and any(
        m.contact_id == ctx.event.sender_id for m in targets.members
    ):
        raise UserError("不能给自己加分，请由其他网格长或管理员操作。")
    delta = amount if what.kind == EntryKind.AWARD else -amount
    rule_code = rule[0] if rule else None
    recorded: set[int | None] = set()
    # One lock order (by member id) for every command: two commands naming the same people
    # in different orders wait for each other instead of deadlocking.
    for member in sorted(targets.members, key=lambda m: m.id or 0):
        posted = _post(ctx, member, delta=delta, kind=what.kind, rule_code=rule_code, reason=reason)
        if posted is None:
            continue  # this message recorded it before
        _check_caps(ctx, member, what, amount, rule)
        recorded.add(member.id)
    done = [m for m in targets.members if m.id in recorded]
    if not done:
        ctx.reply("这条消息的积分已经记过了。")
        return
    detail = "：".join(x for x in (rule[1].name if rule else None, reason) if x)
    each = "各" if len(done) > 1 else ""
    if what.kind == EntryKind.AWARD:
        text = f"已给 {names(done)} {each}加 {amount} 分（{detail}）。"
    else:
        text = f"已扣 {names(done)} {each}{amount} 分（{detail}）。"
    _announce(ctx, text, done)


@router.command(
    "加分", role=Role.LEADER, scope=Scope.GROUP, usage=AWARD_USAGE, summary="给群成员加分"
)
async def award(ctx: Context) -> None:
    await _record(ctx, AWARD, AWARD_USAGE)


@router.command(
    "扣分", role=Role.LEADER, scope=Scope.GROUP, usage=PENALTY_USAGE, summary="给群成员扣分"
)
async def penalise(ctx: Context) -> None:
    await _record(ctx, PENALTY, PENALTY_USAGE)


@router.command(
    "更正",
    role=Role.LEADER,
    scope=Scope.GROUP,
    usage=ADJUST_USAGE,
    summary="更正记错的积分（另记一笔，不改原记录）",
)
async def adjust(ctx: Context) -> None:
    targets = resolve(ctx, usage=ADJUST_USAGE)
    word, _, rest = targets.rest.partition(" ")
    reason = rest.strip()[:REASON_CHARS] or None
    example = "例如：/更正 @张阿姨 -5 重复加分。"
    if not word or word[0] not in "+-":
        raise UserError(f"请写明 +分值 或 -分值，{example}")
    what = AWARD if word[0] == "+" else PENALTY
    amount = parse_amount(word[1:], _caps(ctx, what.kind).per_command, what.verb)
    if amount is None:
        raise UserError(f"「{_shown(word)}」不是分值，{example}")
    if reason is None:
        raise UserError(f"更正请写明理由，{example}")
    if what is AWARD and any(m.contact_id == ctx.event.sender_id for m in targets.members):
        raise UserError("不能给自己加分，请由其他网格长或管理员操作。")
    delta = amount if what is AWARD else -amount
    recorded: set[int | None] = set()
    for member in sorted(targets.members, key=lambda m: m.id or 0):
        posted = _post(
            ctx, member, delta=delta, kind=EntryKind.ADJUST, rule_code=None, reason=reason
        )
        if posted is None:
            continue  # this message recorded it before
        _check_caps(ctx, member, what, amount, None)
        recorded.add(member.id)
    done = [m for m in targets.members if m.id in recorded]
    if not done:
        ctx.reply("这条消息的积分已经记过了。")
        return
    each = "各" if len(done) > 1 else ""
    _announce(ctx, f"已更正 {names(done)} {each}{signed(delta)} 分（{reason}）。", done)
