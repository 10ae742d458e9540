"""积分: what grid leaders and administrators do to residents' points, asked in a group or on
the web console alike: award and deduct (/加分, /扣分), correct (/更正), and close a
redemption order (/核销 when the item is handed over, /退回 to give the points back).

Each operation takes the session, the settings, who acts (an :class:`~domain.actor.Actor`),
what it acts on and ``now``; it checks the rights and the rules (a rule of the grid, an
amount within the caps, a balance that can pay), writes the ledger in the caller's
transaction and returns the messages to send and the sentence that confirms it to the
actor. It neither commits nor sends. A refusal is a :class:`~domain.errors.DomainError`;
what was written before it is the caller's to roll back (the caps are checked after each
entry is written, when the member's balance row is locked: a concurrent command for the
same person waits and counts this one).

``in_grid`` is the grid whose group a chat command was sent in: there only that grid's
orders may be named, even by someone who leads several. The web leaves it out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.events import Outbound
from bot.settings import PointsCaps, PointsRule, Settings
from domain.actor import Actor, within_reach
from domain.errors import Invalid, NotAllowed, NotFound, WrongState
from domain.grids import leader_ids, name_in_grid, to_grid
from domain.periods import day_start, month_start
from domain.ticket_format import masked_name
from nlp.privacy import mask_personal
from storage import points as point_store
from storage import redemption
from storage.models import EntryKind, Member, OrderStatus, PointsOrder

__all__ = [
    "ALREADY",
    "AWARD",
    "KIND_NAMES",
    "PENALTY",
    "REASON_CHARS",
    "Awarded",
    "CapExceeded",
    "Closed",
    "Givers",
    "NotEnoughPoints",
    "Posted",
    "Way",
    "adjust",
    "award",
    "caps_of",
    "find_member",
    "find_order",
    "kind_name",
    "parse_amount",
    "redeem",
    "refund",
    "rule_caps",
    "rules_in",
]

REASON_CHARS = 100
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d*)?分?$")
_MAX_DIGITS = 9  # past this a number is over every cap; int() of thousands of digits fails
# Order and member ids are the database's 32-bit integers: a larger number names nothing,
# and asking PostgreSQL for it fails instead of finding nothing.
_MAX_ID = 2**31 - 1


# an entry's kind as leaders and residents know it
KIND_NAMES = {
    EntryKind.BASE: "基础分",
    EntryKind.AWARD: "加分",
    EntryKind.PENALTY: "扣分",
    EntryKind.REDEEM: "兑换",
    EntryKind.REFUND: "退回",
    EntryKind.ADJUST: "更正",
}


def kind_name(kind: str) -> str:
    """An entry's kind in words; a kind a newer bot wrote, by its code."""
    return next((name for known, name in KIND_NAMES.items() if known.value == kind), kind)


class CapExceeded(WrongState):
    """Over a cap of the day, the month or the rule: the whole operation is refused, never
    clipped."""


class NotEnoughPoints(WrongState):
    """A deduction the balance can't pay: no balance goes below zero."""


@dataclass(frozen=True, slots=True)
class Way:
    """Which way points move: given (加) or taken (扣)."""

    kind: EntryKind
    verb: str  # 加 or 扣
    example: str  # a rule name for the usage hints

    @property
    def command(self) -> str:
        return f"/{self.verb}分"


AWARD = Way(EntryKind.AWARD, "加", "志愿服务")
PENALTY = Way(EntryKind.PENALTY, "扣", "乱扔垃圾")
# what an award said when the same message (the same form) had recorded it before
ALREADY = "这次的积分已经记过了，没有重复记录。"


@dataclass(frozen=True, slots=True)
class Posted:
    member: Member
    balance: int  # after this entry


@dataclass(frozen=True, slots=True)
class Told:
    """What to tell whom: ``messages`` to queue as they are (the group's, @mentioning whom
    it concerns), ``confirmation`` for the one who asked, when no group shows it to them
    (the web's user is in no group)."""

    messages: tuple[Outbound, ...]
    confirmation: str


@dataclass(frozen=True, slots=True)
class Awarded(Told):
    """What /加分, /扣分 or /更正 recorded: each member's entry and the balance it left.
    ``posted`` is empty when every entry was recorded before (the same message handled
    again, the same web form posted twice): then nothing changed and nothing is sent."""

    posted: tuple[Posted, ...]
    delta: int
    kind: EntryKind
    rule_code: str | None


@dataclass(frozen=True, slots=True)
class Closed(Told):
    """An order closed (核销 or 退回): the order, its owner and their balance."""

    order: PointsOrder
    owner: Member
    balance: int


def _shown(word: str) -> str:
    return word if len(word) <= 12 else word[:12] + "…"


def caps_of(settings: Settings, kind: EntryKind) -> PointsCaps:
    caps = settings.points.caps
    return caps.award if kind in (EntryKind.AWARD, EntryKind.BASE) else caps.penalty


def parse_amount(word: str, cap: int, verb: str) -> int | None:
    """A typed amount, strictly 1..cap, else Invalid; None when ``word`` is no number."""
    if not _NUMBER.match(word):
        return None
    number = word.removesuffix("分")
    if "." in number:
        raise Invalid(f"分值要是整数，「{_shown(word)}」不行。")
    if number.startswith("-"):
        other = "加分请用 /加分" if verb == "扣" else "扣分请用 /扣分"
        raise Invalid(f"分值要是 1 到 {cap} 的整数；{other}。")
    digits = number.lstrip("+").lstrip("0")
    if not digits:
        raise Invalid(f"分值要是 1 到 {cap} 的整数，0 分不记录。")
    if len(digits) > _MAX_DIGITS or int(digits) > cap:
        raise Invalid(f"单次最多{verb} {cap} 分，{_shown(digits)} 分超过上限，本次未记录。")
    return int(digits)


def rules_in(settings: Settings, grid_code: str) -> dict[str, PointsRule]:
    """The rules that apply in ``grid_code`` (a village's 焚烧秸秆 not in a city's grid)."""
    grid = settings.grid(grid_code)
    tags = grid.tags if grid is not None else ()
    return {code: rule for code, rule in settings.points.rules.items() if rule.applies_in(tags)}


def rule_caps(rule: PointsRule) -> str:
    """A rule's caps as the rules list says them: "（每天最多 10 分，每月最多 30 分）", or ""."""
    limits = []
    if rule.daily_cap is not None:
        limits.append(f"每天最多 {rule.daily_cap} 分")
    if rule.monthly_cap is not None:
        limits.append(f"每月最多 {rule.monthly_cap} 分")
    return f"（{'，'.join(limits)}）" if limits else ""


def find_member(session: Session, actor: Actor, member_id: int) -> Member:
    """Member ``member_id`` (a resident of one grid) if ``actor`` may see their points."""
    member = session.get(Member, member_id) if 0 < member_id <= _MAX_ID else None
    if member is None:
        raise NotFound("没有找到这位居民。")
    if not actor.may_act_on(member.grid_code):
        raise NotAllowed("这位居民不在您负责的网格。")
    return member


def _check_grid(actor: Actor, grid_code: str, members: Sequence[Member]) -> None:
    if not actor.may_act_on(grid_code):
        raise NotAllowed("这不是您负责的网格。")
    if any(m.grid_code != grid_code for m in members):
        raise Invalid("只能给本网格的成员加分、扣分。")
    if not members:
        raise Invalid("请选择要加分、扣分的居民。")


def _check_caps(
    session: Session,
    settings: Settings,
    member: Member,
    *,
    way: Way,
    amount: int,
    rule: tuple[str, PointsRule] | None,
    now: datetime,
) -> None:
    """Refuse when today's or this month's total, this entry included, is over a cap.

    Corrections count with the kind they move points in, both ways round: `/更正 +50` after
    a day's awards reached the cap is refused, and so is `/加分` after corrections did."""
    assert member.id is not None
    tz = settings.tz
    sign = 1 if way.kind == EntryKind.AWARD else -1
    name, verb = member.display_name, way.verb
    today = day_start(now, tz)
    per_day = caps_of(settings, way.kind).per_day
    day = sign * point_store.total_since(
        session=session, member_id=member.id, since=today, kinds=(way.kind,), corrections=sign
    )
    if day > per_day:
        raise CapExceeded(
            f"{name} 今天已{verb} {day - amount} 分，再{verb} {amount} 分就超过"
            f"每天上限 {per_day} 分，本次未记录。"
        )
    if rule is None:
        return
    code, spec = rule
    for cap, since, when in (
        (spec.daily_cap, today, "今天"),
        (spec.monthly_cap, month_start(now, tz), "本月"),
    ):
        if cap is None:
            continue
        total = sign * point_store.total_since(
            session=session, member_id=member.id, since=since, kinds=(way.kind,), rule_code=code
        )
        if total > cap:
            limit = "每天" if when == "今天" else "每月"
            raise CapExceeded(
                f"{name} {when}按「{spec.name}」已{verb} {total - amount} 分，"
                f"{limit}上限 {cap} 分，本次未记录。"
            )


@dataclass(frozen=True, slots=True)
class Asked:
    """A request to move points: who asks, for which members of which grid, when, and what
    keys its entries (the inbound message, the web form), so the same request records once."""

    actor: Actor
    grid_code: str
    members: Sequence[Member]
    now: datetime
    key: str
    message_id: int | None = None


def _post_all(
    session: Session,
    settings: Settings,
    asked: Asked,
    *,
    way: Way,
    kind: EntryKind,
    amount: int,
    rule: tuple[str, PointsRule] | None,
    reason: str | None,
) -> tuple[Posted, ...]:
    """Each member's entry, then the caps checked with it (the member's balance row locked
    by then); refused as a whole when one member's is."""
    if way is AWARD and any(m.contact_id == asked.actor.contact_id for m in asked.members):
        raise NotAllowed("不能给自己加分，请由其他网格长或管理员操作。")
    delta = amount if way is AWARD else -amount
    rule_code = rule[0] if rule else None
    posted: list[Posted] = []
    # One lock order (by member id) for every command: two commands naming the same people
    # in different orders wait for each other instead of deadlocking.
    for member in sorted(asked.members, key=lambda m: m.id or 0):
        assert member.id is not None
        try:
            balance = point_store.post(
                session=session,
                member_id=member.id,
                grid_code=asked.grid_code,
                delta=delta,
                kind=kind,
                key=f"{asked.key}:{member.id}:{rule_code or kind.value}",
                at=asked.now,
                actor_id=asked.actor.contact_id,
                rule_code=rule_code,
                reason=reason,
                message_id=asked.message_id,
            )
        except point_store.Overdrawn as exc:
            raise NotEnoughPoints(
                f"{member.display_name} 现有 {exc.balance} 分，不够扣 {-delta} 分，本次未记录。"
            ) from None
        if balance is None:
            continue  # this message (this form) recorded it before
        _check_caps(session, settings, member, way=way, amount=amount, rule=rule, now=asked.now)
        posted.append(Posted(member, balance))
    return tuple(posted)


def _awarded(
    session: Session,
    settings: Settings,
    asked: Asked,
    posted: tuple[Posted, ...],
    *,
    delta: int,
    kind: EntryKind,
    rule_code: str | None = None,
    said: Callable[[str, str], str],
) -> Awarded:
    """What to tell: ``said(names, each)`` to the group, @mentioning the people whose points
    changed, in the order they were named; nothing when nothing changed."""
    moved = {p.member.id for p in posted}
    done = [m for m in asked.members if m.id in moved]
    if not done:
        return Awarded((), ALREADY, posted, delta, kind, rule_code)
    names = "、".join(masked_name(m.display_name) for m in done)
    text = said(names, "各" if len(done) > 1 else "")
    mentions = tuple(m.contact_id for m in done)
    told = to_grid(session, settings, asked.grid_code, text, mentions)
    return Awarded((told,), text, posted, delta, kind, rule_code)


def _reason(reason: str | None) -> str | None:
    return (reason or "").strip()[:REASON_CHARS] or None


def award(
    session: Session, settings: Settings, asked: Asked, *, way: Way, word: str, reason: str | None
) -> Awarded:
    """/加分 or /扣分 (``way``): the same points to each member asked for, by the rule ``word``
    names (its name, an alias or its code), or by an amount ``word`` gives, which then needs
    a ``reason``.

    Refused: no rule or amount, a rule of another kind or not of this grid, an amount out of
    1..caps.per_command, points to oneself, a balance that can't pay a deduction, any cap
    passed (for any one member: the whole request)."""
    _check_grid(asked.actor, asked.grid_code, asked.members)
    reason = _reason(reason)
    caps = caps_of(settings, way.kind)
    if not word:
        raise Invalid(f"请写明规则名或分值，例如：{way.command} @张阿姨 {way.example}。")
    rule = settings.points.rule(word)
    if rule is not None:
        code, spec = rule
        # first: told it is a /扣分 rule, a leader would try /扣分, refused again
        if code not in rules_in(settings, asked.grid_code):
            raise Invalid(
                f"「{spec.name}」不是本网格的积分规则，发送「积分规则」查看本网格的规则。"
            )
        if spec.kind != way.kind.value:
            other = "/扣分" if spec.kind == "penalty" else "/加分"
            raise Invalid(f"「{spec.name}」是{other[1]}分规则，请用 {other}。")
        amount = spec.points
    else:
        parsed = parse_amount(word, caps.per_command, way.verb)
        if parsed is None:
            raise Invalid(
                f"没有「{_shown(word)}」这个积分规则。请写规则名（发送「积分规则」查看）"
                f"或 1 到 {caps.per_command} 的整数分值。"
            )
        if reason is None:
            raise Invalid(
                f"按分值{way.verb}分请写明理由，例如：{way.command} @张阿姨 5 帮忙清扫楼道。"
            )
        amount = parsed
    posted = _post_all(
        session, settings, asked, way=way, kind=way.kind, amount=amount, rule=rule, reason=reason
    )
    detail = mask_personal("：".join(x for x in (rule[1].name if rule else None, reason) if x))
    # no str.format: what the leader wrote may hold braces
    if way is AWARD:

        def said(names: str, each: str) -> str:
            return f"已给 {names} {each}加 {amount} 分（{detail}）。"

    else:

        def said(names: str, each: str) -> str:
            return f"已扣 {names} {each}{amount} 分（{detail}）。"

    return _awarded(
        session,
        settings,
        asked,
        posted,
        delta=amount if way is AWARD else -amount,
        kind=way.kind,
        rule_code=rule[0] if rule else None,
        said=said,
    )


def adjust(
    session: Session, settings: Settings, asked: Asked, *, word: str, reason: str | None
) -> Awarded:
    """/更正: a new entry of ``word`` (+N or -N) with its ``reason``, the wrong one left as it
    is (the ledger is append-only). It counts against the caps of the kind it moves points
    in, as an award or a deduction would."""
    _check_grid(asked.actor, asked.grid_code, asked.members)
    reason = _reason(reason)
    example = "例如：/更正 @张阿姨 -5 重复加分。"
    if not word or word[0] not in "+-":
        raise Invalid(f"请写明 +分值 或 -分值，{example}")
    way = AWARD if word[0] == "+" else PENALTY
    amount = parse_amount(word[1:], caps_of(settings, way.kind).per_command, way.verb)
    if amount is None:
        raise Invalid(f"「{_shown(word)}」不是分值，{example}")
    if reason is None:
        raise Invalid(f"更正请写明理由，{example}")
    posted = _post_all(
        session, settings, asked, way=way, kind=EntryKind.ADJUST, amount=amount, rule=None,
        reason=reason,
    )  # fmt: skip
    delta = amount if way is AWARD else -amount
    masked = mask_personal(reason)

    def said(names: str, each: str) -> str:
        return f"已更正 {names} {each}{delta:+d} 分（{masked}）。"

    return _awarded(session, settings, asked, posted, delta=delta, kind=EntryKind.ADJUST, said=said)


# --- who gave the points, as a ledger names them ---


class Givers:
    """Who gave an entry's points, by name and role, never by contact id: the name the
    entry's grid knows them by and what they are there now (网格长, 街道管理员; 原网格长 for
    one who no longer leads it). Asked once per person and grid, for a long 台账."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._session = session
        self._settings = settings
        self._known: dict[tuple[str | None, str], tuple[str, str]] = {}

    def of(self, actor_id: str | None, grid_code: str, kind: str) -> tuple[str, str]:
        """(name, role) of whoever wrote an entry of ``kind`` in ``grid_code``."""
        if actor_id is None:
            # an order's points are held by the resident's own 兑换; anything else the bot's
            return ("居民本人", "兑换") if kind == EntryKind.REDEEM else ("系统", "自动")
        found = self._known.get((actor_id, grid_code))
        if found is None:
            found = self._known[(actor_id, grid_code)] = self._look_up(actor_id, grid_code)
        return found

    def _look_up(self, actor_id: str, grid_code: str) -> tuple[str, str]:
        session, settings = self._session, self._settings
        name = name_in_grid(session, settings, actor_id, grid_code)
        if actor_id in settings.admins:
            return name, "街道管理员"
        if actor_id in leader_ids(session, settings, grid_code):
            return name, "网格长"
        return name, "原网格长"


# --- redemption orders ---

_CLOSED = {
    OrderStatus.CONFIRMED: "已核销",
    OrderStatus.REFUNDED: "已退回",
}


def find_order(
    session: Session, actor: Actor, order_id: int, doing: str, *, in_grid: str | None = None
) -> PointsOrder:
    """Order ``order_id`` if ``actor`` may close it (at whatever stage it is); ``doing`` (核销,
    退回) is what a refusal says could not be done."""
    order = session.get(PointsOrder, order_id) if 0 < order_id <= _MAX_ID else None
    if order is None:
        raise NotFound(f"没有单号 {order_id} 的兑换单。")
    here = f"单号 {order_id} 不是本网格的兑换单，不能{doing}。"
    elsewhere = f"单号 {order_id} 不是您负责的网格的兑换单，不能{doing}。"
    within_reach(actor, order.grid_code, in_grid=in_grid, here=here, elsewhere=elsewhere)
    return order


def _not_pending(order: PointsOrder, doing: str) -> WrongState:
    status = OrderStatus(order.status)
    if doing == "核销" and status == OrderStatus.CONFIRMED:
        return WrongState(f"单号 {order.id} 已核销过了。")
    if doing == "退回" and status == OrderStatus.REFUNDED:
        return WrongState(f"单号 {order.id} 已退回过了。")
    return WrongState(f"单号 {order.id} {_CLOSED.get(status, order.status)}，不能{doing}。")


def _closed(
    session: Session,
    settings: Settings,
    actor: Actor,
    order: PointsOrder,
    *,
    balance: int,
    said: Callable[[str], str],
) -> Closed:
    """The order closed, the group told ``said(owner's name)``, @mentioning the leader who
    did it (when he is a member of the group: in the chat, always) and the resident whose
    order it is."""
    owner = session.get(Member, order.member_id)
    assert owner is not None
    here = point_store.member(
        session=session, grid_code=order.grid_code, contact_id=actor.contact_id
    )
    mentions = tuple(dict.fromkeys([*([actor.contact_id] if here else []), owner.contact_id]))
    text = said(masked_name(owner.display_name))
    told = to_grid(session, settings, order.grid_code, text, mentions)
    return Closed((told,), text, order, owner, balance)


def redeem(
    session: Session,
    settings: Settings,
    actor: Actor,
    order_id: int,
    *,
    now: datetime,
    in_grid: str | None = None,
) -> Closed:
    """核销: the resident took the item of a pending order; its points were held when it was
    placed, so only the order closes. Of two leaders closing it at once, one does and the
    other is told it is closed."""
    order = find_order(session, actor, order_id, "核销", in_grid=in_grid)
    try:
        order = redemption.confirm(
            session=session,
            order_id=order_id,
            grid_code=order.grid_code,
            actor=actor.contact_id,
            at=now,
        )
    except redemption.NotPending as exc:
        raise _not_pending(exc.order, "核销") from None
    balance = point_store.totals(session=session, member_id=order.member_id).balance

    def said(name: str) -> str:
        return f"已核销单号 {order_id}：{name} 领取「{order.item_name}」。"

    return _closed(session, settings, actor, order, balance=balance, said=said)


def refund(
    session: Session,
    settings: Settings,
    actor: Actor,
    order_id: int,
    *,
    reason: str | None,
    now: datetime,
    message_id: int | None = None,
    in_grid: str | None = None,
) -> Closed:
    """退回: a pending order is cancelled (out of stock, say); its points go back to the
    resident and its item back to the month's stock. The group is not told the balance: it
    is the resident's own business."""
    order = find_order(session, actor, order_id, "退回", in_grid=in_grid)
    try:
        order, balance = redemption.refund(
            session=session,
            order_id=order_id,
            grid_code=order.grid_code,
            actor=actor.contact_id,
            at=now,
            reason=_reason(reason),
            message_id=message_id,
        )
    except redemption.NotPending as exc:
        raise _not_pending(exc.order, "退回") from None

    def said(name: str) -> str:
        return f"已退回单号 {order_id}：「{order.item_name}」的 {order.points} 分已退还给 {name}。"

    return _closed(session, settings, actor, order, balance=balance, said=said)
