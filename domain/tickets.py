"""处置 → 反馈 → 上报: what grid leaders and administrators do to tickets, asked in a group or
on the web console alike, and the status machine these operations obey.

Each operation takes the session, the settings, who acts (an :class:`~domain.actor.Actor`),
the ticket's number, its own arguments and ``now``. It checks that the actor may act on the
ticket's grid and that the ticket is at a stage the operation applies to, then writes the
ticket, its event rows (the audit trail: who, from which status to which, the note, when)
and any training example, in the caller's transaction, and returns an :class:`Outcome`: the
messages to send and the sentence that confirms it to the actor. It neither commits nor
sends: the caller commits the writes together with the messages it queues (the dispatcher
for a chat command; a web route through ``bot.outbox.queue_outbound``). A refusal is a
:class:`~domain.errors.DomainError`, raised before anything is written.

``in_grid`` is the grid whose group a chat command was sent in: there only that grid's
tickets may be named, even by someone who leads several. The web leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session

from bot.events import Outbound
from bot.settings import MAX_MESSAGE_CHARS, Settings
from domain.actor import Actor, within_reach
from domain.errors import Invalid, NotFound, WrongState
from domain.grids import grid_name, name_in_grid, to_escalation_room, to_grid
from domain.ticket_format import (
    category_code,
    category_name,
    masked_name,
    quoted,
    summary,
    time_limit,
    unknown_category,
    when,
)
from storage import examples
from storage import grids as grid_store
from storage import tickets as ticket_store
from storage.models import ExampleSource, MemberRole, Ticket, TicketStatus
from storage.tickets import ACTIVE

__all__ = [
    "NOT_A_REQUEST",
    "Action",
    "Assignee",
    "Outcome",
    "actions",
    "assign",
    "assignees",
    "check",
    "dismiss",
    "escalate",
    "find",
    "merge",
    "merge_target",
    "reclassify",
    "refusal",
    "reporter_ids",
    "resolve",
    "to_reporters",
]

# A dismissal whose reason starts so says the message was no request at all (chatter taken
# for one): kept as an example of what not to take. Any other reason dismisses a request.
NOT_A_REQUEST = ("不是诉求", "非诉求", "闲聊", "不是反映问题")
# Ticket ids are the database's 32-bit integers: a larger number names no ticket, and asking
# PostgreSQL for it fails instead of finding nothing.
_MAX_TICKET_ID = 2**31 - 1
_CONTACT_ID_CHARS = 128  # Ticket.assignee_id
# the group members a page offers to assign to, past the grid's staff and earlier assignees
_MEMBERS_OFFERED = 200
_EARLIER_ASSIGNEES = 30


class Action(StrEnum):
    """An operation on a ticket, by the word leaders know it by."""

    ASSIGN = "派单"
    RESOLVE = "办结"
    ESCALATE = "上报"
    DISMISS = "驳回"
    RECLASSIFY = "改类"
    MERGE = "合并"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an operation did and what to tell whom.

    ``messages``: to queue as they are (group messages @mentioning the reporters, the
    escalation room). ``confirmation``: the actor's answer. The chat replies it only where
    no group message already shows the leader what happened (/改类, /合并); the web shows
    it always, its user being in no group.
    """

    ticket: Ticket
    messages: tuple[Outbound, ...]
    confirmation: str


@dataclass(frozen=True, slots=True)
class Assignee:
    """Someone a ticket of a grid can be given to, as a page offers them."""

    contact_id: str
    name: str
    # the grid's own people (its leaders and workers, those given its tickets before), listed
    # first; the others are residents of its group
    staff: bool


def find(session: Session, actor: Actor, ticket_id: int, *, in_grid: str | None = None) -> Ticket:
    """Ticket ``ticket_id`` if ``actor`` may act on it (at whatever stage it is)."""
    ticket = _get(session, ticket_id)
    if ticket is None:
        raise NotFound(f"没有找到工单 #{ticket_id}。")
    here, elsewhere = f"#{ticket_id} 不是本网格的工单。", f"#{ticket_id} 不是您负责的网格的工单。"
    within_reach(actor, ticket.grid_code, in_grid=in_grid, here=here, elsewhere=elsewhere)
    return ticket


def refusal(ticket: Ticket, action: Action) -> WrongState | None:
    """Why ``action`` can't be done to ``ticket`` at its stage, None when it can: the status
    machine. OPEN, ASSIGNED and ESCALATED tickets are being worked on and take every action
    (but a second 上报 or 办结); RESOLVED, ARCHIVED, DISMISSED and MERGED ones take none but
    改类 (not a merged one's: its matter is its target's)."""
    status = ticket.status
    if action is Action.RESOLVE and status == TicketStatus.RESOLVED:
        return WrongState(f"#{ticket.id} 已经办结过了，正在等居民评价。")
    if action is Action.ESCALATE and status == TicketStatus.ESCALATED:
        return WrongState(f"#{ticket.id} 已经上报过了。")
    if action is Action.RECLASSIFY and status != TicketStatus.MERGED:
        # a closed ticket's category still counts: in the statistics, and as an example
        return None
    return _not_working(ticket, action.value)


def _not_working(ticket: Ticket, doing: str) -> WrongState | None:
    if ticket.status in ACTIVE:
        return None
    if ticket.status in (TicketStatus.RESOLVED, TicketStatus.ARCHIVED):
        return WrongState(f"#{ticket.id} 已办结，不能再{doing}。")
    if ticket.status == TicketStatus.DISMISSED:
        return WrongState(f"#{ticket.id} 已驳回，不能再{doing}。")
    target = ticket.merged_into_id
    return WrongState(f"#{ticket.id} 已合并到 #{target}，请对 #{target} 操作。")


def check(
    session: Session, actor: Actor, ticket_id: int, action: Action, *, in_grid: str | None = None
) -> Ticket:
    """Ticket ``ticket_id`` if ``actor`` may do ``action`` to it now.

    The operations check this themselves; the chat asks it first so that a leader hears
    "already resolved" before being told what the command lacks.
    """
    ticket = find(session, actor, ticket_id, in_grid=in_grid)
    refused = refusal(ticket, action)
    if refused is not None:
        raise refused
    return ticket


def actions(actor: Actor, ticket: Ticket) -> tuple[Action, ...]:
    """What ``actor`` may do to ``ticket`` now (the buttons a page shows)."""
    if not actor.may_act_on(ticket.grid_code):
        return ()
    return tuple(action for action in Action if refusal(ticket, action) is None)


def assignees(session: Session, settings: Settings, grid_code: str) -> list[Assignee]:
    """Whom a ticket of ``grid_code`` can be given to: the grid's leaders and workers (named in
    the config or by role in the database) and those given its tickets before, then the
    members of its group who spoke there last (a few hundred at most)."""
    grid = settings.grid(grid_code)
    seen = grid_store.members(session=session, grid_code=grid_code, limit=_MEMBERS_OFFERED)
    earlier = ticket_store.recent_assignees(
        session=session, grid_code=grid_code, limit=_EARLIER_ASSIGNEES
    )
    # the name the group knows them by wins: it is what the group message will say
    names = _configured_names(settings, grid_code)
    names |= {c: name for c, name in earlier if name} | {c: name for c, name, _r in seen}
    staff_ids = dict.fromkeys(
        [
            *(grid.leaders if grid is not None else ()),
            *(grid.workers if grid is not None else ()),
            *(c for c, _name, role in seen if role == MemberRole.LEADER),
            *(c for c, _name in earlier),
        ]
    )
    staff = [Assignee(c, names.get(c) or _known(session, c, grid_code), True) for c in staff_ids]
    others = [Assignee(c, name, False) for c, name, _r in seen if c not in staff_ids]
    return staff + others


def _configured_names(settings: Settings, grid_code: str) -> dict[str, str]:
    """The names the config gives the grid's leaders and workers."""
    grid = settings.grid(grid_code)
    return {**grid.worker_names, **grid.leader_names} if grid is not None else {}


def _known(session: Session, contact_id: str, grid_code: str) -> str:
    return (
        grid_store.display_name(session=session, contact_id=contact_id, grid_code=grid_code)
        or contact_id
    )


def _in_grid(session: Session, settings: Settings, grid_code: str, contact_id: str) -> bool:
    """Whether ``contact_id`` is someone :func:`assignees` could offer for ``grid_code``
    (however far down its list)."""
    grid = settings.grid(grid_code)
    if grid is not None and contact_id in (*grid.leaders, *grid.workers):
        return True
    if grid_store.display_name(session=session, contact_id=contact_id, grid_code=grid_code):
        return True
    return ticket_store.was_assigned_in_grid(
        session=session, contact_id=contact_id, grid_code=grid_code
    )


def assign(
    session: Session,
    settings: Settings,
    actor: Actor,
    ticket_id: int,
    assignee_id: str,
    *,
    now: datetime,
    assignee_name: str | None = None,
    message_id: int | None = None,
    in_grid: str | None = None,
    listed_only: bool = False,
) -> Outcome:
    """派单: give the ticket to ``assignee_id`` (a worker, a 楼栋长, a contractor in the group).
    They are named as the group knows them, else ``assignee_name`` (the name typed after
    the @), else by their contact id. An escalated ticket stays escalated.

    ``listed_only``: ``assignee_id`` was chosen from :func:`assignees` (the web's list), and
    anyone else is refused. The chat needs no such check: WeChat's @ names a member of the
    group, and a page's form can be sent with any contact id in it.
    """
    ticket = check(session, actor, ticket_id, Action.ASSIGN, in_grid=in_grid)
    if not assignee_id.strip() or len(assignee_id) > _CONTACT_ID_CHARS:
        raise Invalid("请选择处理人。")
    if listed_only and not _in_grid(session, settings, ticket.grid_code, assignee_id):
        raise Invalid("这个人不在本网格的群里，请从列表中选择处理人。")
    name = (
        grid_store.display_name(session=session, contact_id=assignee_id, grid_code=ticket.grid_code)
        or assignee_name
        or _configured_names(settings, ticket.grid_code).get(assignee_id)
        or assignee_id
    )
    previous = ticket.assignee_name
    ticket.assignee_id = assignee_id
    ticket.assignee_name = name[:100]
    to_status = (
        TicketStatus.ESCALATED if ticket.status == TicketStatus.ESCALATED else TicketStatus.ASSIGNED
    )
    ticket_store.record(
        session=session,
        ticket=ticket,
        action="assigned",
        at=now,
        actor_id=actor.contact_id,
        to_status=to_status,
        note=f"{previous} → {name}" if previous else name,
        message_id=message_id,
    )
    deadline = when(ticket.due_at, settings.tz)
    text = (
        f"工单 #{ticket.id}（{category_name(settings, ticket.category)}）"
        f"已派给{masked_name(name)}，"
        f"请于{deadline}前处理。反映人会收到处理结果。"
    )
    # an assignee who reported it too is @mentioned once
    mentioned = tuple(dict.fromkeys((assignee_id, *reporter_ids(session, ticket))))
    return Outcome(
        ticket,
        (to_grid(session, settings, ticket.grid_code, text, mentioned),),
        f"已将 #{ticket.id} 派给{masked_name(name)}，群里已通知处理人和反映人。",
    )


def resolve(
    session: Session,
    settings: Settings,
    actor: Actor,
    ticket_id: int,
    feedback: str,
    *,
    now: datetime,
    message_id: int | None = None,
    in_grid: str | None = None,
) -> Outcome:
    """办结: the ticket is resolved with ``feedback``, which every reporter hears; the first
    reporter is asked to rate it within the rating window."""
    ticket = check(session, actor, ticket_id, Action.RESOLVE, in_grid=in_grid)
    feedback = _written(feedback, "处理结果")
    ticket.feedback = feedback
    ticket.resolved_at = now
    ticket.rating = None
    ticket.rating_due_at = now + timedelta(hours=settings.tickets.rating_window_hours)
    ticket_store.record(
        session=session,
        ticket=ticket,
        action="resolved",
        at=now,
        actor_id=actor.contact_id,
        to_status=TicketStatus.RESOLVED,
        note=feedback,
        message_id=message_id,
    )
    # Everyone who reported it hears the result; the first reporter, whose ticket it is, is
    # the one asked to rate (a ticket has one rating): others were told "nothing to rate".
    told = to_reporters(
        session,
        settings,
        ticket,
        f"您反映的问题（#{ticket.id}）已办结：{quoted(feedback)}\n"
        f"请{masked_name(ticket.reporter_name)[:20]}回复“满意”“基本满意”或“不满意”"
        "（也可回复 1、2、3）评价。",
    )
    return Outcome(ticket, (told,), f"#{ticket.id} 已办结，群里已请反映人评价。")


def escalate(
    session: Session,
    settings: Settings,
    actor: Actor,
    ticket_id: int,
    reason: str,
    *,
    now: datetime,
    actor_name: str | None = None,
    message_id: int | None = None,
    in_grid: str | None = None,
) -> Outcome:
    """上报: the escalation room gets the matter, the reason and who sent it up (``actor_name``,
    the name they go by where they asked; else as the ticket's group knows them)."""
    ticket = check(session, actor, ticket_id, Action.ESCALATE, in_grid=in_grid)
    reason = _written(reason, "上报原因")
    if actor_name is None:
        actor_name = name_in_grid(session, settings, actor.contact_id, ticket.grid_code)
    room = to_escalation_room(
        settings,
        f"【上报】{summary(ticket, settings, grid_name(settings, ticket.grid_code))}。"
        f"原因：{quoted(reason)}。上报人：{masked_name(actor_name)}。",
    )
    if room is None:
        raise WrongState("还没有配置上报的群（escalation.room），请联系街道管理员。")
    ticket.escalated_at = now
    ticket_store.record(
        session=session,
        ticket=ticket,
        action="escalated",
        at=now,
        actor_id=actor.contact_id,
        to_status=TicketStatus.ESCALATED,
        note=reason,
        message_id=message_id,
    )
    told = to_reporters(
        session,
        settings,
        ticket,
        f"您反映的问题（#{ticket.id}）已上报{room.room_topic}协调处理，有进展会告诉您。",
    )
    return Outcome(ticket, (room, told), f"#{ticket.id} 已上报{room.room_topic}，已告知反映人。")


def dismiss(
    session: Session,
    settings: Settings,
    actor: Actor,
    ticket_id: int,
    reason: str,
    *,
    now: datetime,
    message_id: int | None = None,
    in_grid: str | None = None,
) -> Outcome:
    """驳回: the ticket is closed unhandled and its reporters told why. A reason starting with
    one of :data:`NOT_A_REQUEST` keeps the report as an example of what is no request."""
    ticket = check(session, actor, ticket_id, Action.DISMISS, in_grid=in_grid)
    reason = _written(reason, "驳回原因")
    ticket.closed_at = now
    ticket_store.record(
        session=session,
        ticket=ticket,
        action="dismissed",
        at=now,
        actor_id=actor.contact_id,
        to_status=TicketStatus.DISMISSED,
        note=reason,
        message_id=message_id,
    )
    if reason.startswith(NOT_A_REQUEST):
        _keep_example(session, actor, ticket, ExampleSource.DISMISS, None, now=now)
    told = to_reporters(
        session,
        settings,
        ticket,
        f"您反映的问题（#{ticket.id}）未予受理：{quoted(reason)}。如有疑问请联系网格长。",
    )
    return Outcome(ticket, (told,), f"#{ticket.id} 已驳回，已告知反映人。")


def reclassify(
    session: Session,
    settings: Settings,
    actor: Actor,
    ticket_id: int,
    category: str,
    *,
    now: datetime,
    message_id: int | None = None,
    in_grid: str | None = None,
) -> Outcome:
    """改类: ``category`` (its Chinese name or its code) replaces the ticket's; an open ticket's
    deadline follows the new category's time limit. The correction is kept twice: for the
    statistics of the classifier's mistakes and as a training example."""
    ticket = check(session, actor, ticket_id, Action.RECLASSIFY, in_grid=in_grid)
    wanted = category.strip()
    code = category_code(settings, wanted)
    if code is None:
        raise Invalid(unknown_category(settings, wanted))
    if code == ticket.category:
        raise WrongState(f"#{ticket.id} 已经是「{category_name(settings, code)}」。")
    old = ticket.category
    ticket_store.correct_category(
        session=session, ticket=ticket, to_category=code, actor_id=actor.contact_id, at=now
    )
    if ticket.status in ACTIVE:
        ticket.due_at = ticket.created_at + time_limit(settings, code, urgent=ticket.urgent)
    ticket_store.record(
        session=session,
        ticket=ticket,
        action="reclassified",
        at=now,
        actor_id=actor.contact_id,
        note=f"{old} → {code}",
        message_id=message_id,
    )
    _keep_example(session, actor, ticket, ExampleSource.RECLASSIFY, code, now=now)
    deadline = when(ticket.due_at, settings.tz)
    return Outcome(
        ticket,
        (),
        f"已将 #{ticket.id} 改为「{category_name(settings, code)}」，处理时限改为{deadline}。",
    )


def merge(
    session: Session,
    settings: Settings,
    actor: Actor,
    ticket_id: int,
    into_id: int,
    *,
    now: datetime,
    message_id: int | None = None,
    in_grid: str | None = None,
) -> Outcome:
    """合并: ticket ``ticket_id`` is the same matter as ``into_id`` of the same grid: it is
    closed into it, and its reporters become the target's, to hear the outcome with its
    own. Both must still be worked on."""
    ticket, target = merge_target(session, actor, ticket_id, into_id, in_grid=in_grid)
    assert ticket.id is not None
    assert target.id is not None
    for reporter in ticket_store.reporters(session=session, ticket_id=ticket.id):
        if ticket_store.add_reporter(
            session=session,
            ticket_id=target.id,
            contact_id=reporter.contact_id,
            name=reporter.name,
            at=now,
        ):
            target.same_count += 1
    ticket.merged_into_id = target.id
    ticket.closed_at = now
    ticket_store.record(
        session=session,
        ticket=ticket,
        action="merged",
        at=now,
        actor_id=actor.contact_id,
        to_status=TicketStatus.MERGED,
        note=f"→ #{target.id}",
        message_id=message_id,
    )
    ticket_store.record(
        session=session,
        ticket=target,
        action="merged_in",
        at=now,
        actor_id=actor.contact_id,
        note=f"#{ticket.id} →",
        message_id=message_id,
    )
    told = to_reporters(
        session,
        settings,
        ticket,
        f"工单 #{ticket.id} 已并入 #{target.id} 一并处理，结果会一起告诉您。",
    )
    # The reporters' message is not the actor's answer: a merge done privately, or of a
    # ticket whose reporters the leader doesn't know, would go unconfirmed.
    return Outcome(
        ticket,
        (told,),
        f"已将 #{ticket.id} 并入 #{target.id}（{category_name(settings, target.category)}），"
        f"办结 #{target.id} 时两件的反映人都会收到结果。",
    )


def merge_target(
    session: Session, actor: Actor, ticket_id: int, into_id: int, *, in_grid: str | None = None
) -> tuple[Ticket, Ticket]:
    """Tickets ``ticket_id`` and ``into_id`` if ``actor`` may merge the one into the other now,
    writing nothing: what :func:`merge` checks first, and what a page asks before it shows
    "merge #5 into #3?" to be confirmed."""
    ticket = find(session, actor, ticket_id, in_grid=in_grid)
    target = _get(session, into_id)
    if target is None or target.id is None:
        raise NotFound(f"没有找到工单 #{into_id}。")
    if target.id == ticket.id:
        raise Invalid("不能把工单并入它自己。")
    if target.grid_code != ticket.grid_code:
        raise Invalid(f"#{target.id} 不是同一个网格的工单，不能合并。")
    for refused in (refusal(ticket, Action.MERGE), _not_working(target, "并入")):
        if refused is not None:
            raise refused
    return ticket, target


def reporter_ids(session: Session, ticket: Ticket) -> tuple[str, ...]:
    """Everyone who reported the ticket's matter, the first reporter first."""
    assert ticket.id is not None
    return tuple(r.contact_id for r in ticket_store.reporters(session=session, ticket_id=ticket.id))


def to_reporters(session: Session, settings: Settings, ticket: Ticket, text: str) -> Outbound:
    """``text`` to the ticket's grid group, @mentioning everyone who reported it."""
    return to_grid(session, settings, ticket.grid_code, text, reporter_ids(session, ticket))


def _get(session: Session, ticket_id: int) -> Ticket | None:
    if not 0 <= ticket_id <= _MAX_TICKET_ID:
        return None
    ticket = ticket_store.get(session=session, ticket_id=ticket_id)
    return ticket if ticket is not None and ticket.id is not None else None


def _written(text: str, what: str) -> str:
    """What the actor wrote for the bot to repeat into a group (a result, a reason).

    Over the limit every notice has, it is refused rather than cut: a result or reason cut
    short says something else. It is masked where it is repeated; the ticket keeps it as
    written.
    """
    text = text.strip()
    if not text:
        raise Invalid(f"请写上{what}。")
    if len(text) > MAX_MESSAGE_CHARS:
        raise Invalid(
            f"{what}最长 {MAX_MESSAGE_CHARS} 字，这条有 {len(text)} 字，工单没有改动，"
            "请精简后再发。"
        )
    return text


def _keep_example(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    source: ExampleSource,
    category: str | None,
    *,
    now: datetime,
) -> None:
    """The ticket's report, labelled by the leader's correction, for the classifier to
    learn from (storage/examples.py)."""
    examples.add(
        session=session,
        text=ticket.text,
        is_request=category is not None,
        category=category,
        source=source,
        grid_code=ticket.grid_code,
        contact_id=actor.contact_id,
        at=now,
        ticket_id=ticket.id,
    )
