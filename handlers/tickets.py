"""受理: a resident's request in the group becomes a ticket, answered once; what the grid's own
people say about a matter goes on its ticket's timeline.

Runs below every command and query. Chatter (anything the classifier doesn't call a request)
is not taken and gets no reply. So are, whatever their words: group lists (接龙), messages of
leaders and workers (progress, notices: never a resident's request), and residents talking to
each other (a quoted reply, an @mention of a neighbour, a neighbour named at the start), which
may add to a matter already reported (as a reply to its report) but never open one, unless a
danger is happening now.

Urgency has two levels. A clear, present danger gets the number to call in the group and
alerts the leaders and the escalation room. A possible one (told indirectly: an old neighbour
unseen for days and not answering the door; or a call for help with nothing said of what
happened, "快打120") gets a short caring question in the group and a private word to the
leaders. Advice to call ("这种直接打110") is neither.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot import flood
from bot.context import Context
from bot.events import MessageType, Outbound
from bot.routing import Router, SkipHandler
from handlers.faq import answer_consult
from handlers.ticket_access import escalation_room, leader_ids, leader_title
from handlers.ticket_format import category_name, summary, time_limit, when
from nlp.classifier import Classification
from nlp.conversation import (
    addressed_name,
    already_called,
    calls_for_help,
    is_advice,
    is_group_list,
    is_question,
    laughs,
    refers_back,
    remarks,
    says_also,
    speaks_for_oneself,
    without_calls,
    wonders,
)
from nlp.privacy import mask_personal
from nlp.similarity import (
    names_a_place,
    names_a_thing,
    places_conflict,
    same_matter,
    same_thread,
    tells_apart,
)
from storage import grids as grid_store
from storage import tickets as ticket_store
from storage.models import MemberRole, Ticket

log = logging.getLogger(__name__)

router = Router("tickets")

INTAKE_PRIORITY = 0
# A request is a sentence or a few (the classifier's data sets top out under 100 characters).
# Past this a message is taken for chatter: a ticket holding 100,000 characters helps nobody,
# and the classifier's time grows with the text.
REQUEST_MAX_CHARS = 2000
ATTACH_PRIORITY = 10
MEDIA = {
    MessageType.IMAGE: "图片",
    MessageType.VOICE: "语音",
    MessageType.VIDEO: "视频",
    MessageType.FILE: "文件",
}
# What the grid's people say about a matter is looked for among tickets this recent.
NOTE_WINDOW = timedelta(hours=72)
# An alarm this soon after another of its category is taken for the same emergency.
EMERGENCY_WINDOW = timedelta(minutes=45)
# "Me too" joins the latest matter of its category told this long ago at most, and only for
# what households share (a water main, a lamp, a rubbish point), not for what each has of its
# own (a theft, a quarrel, a family's hardship, a question).
ALSO_WINDOW = timedelta(hours=1)
SHARED = frozenset({"environment", "facility", "safety"})
# A reply in the group comes within minutes of what it answers; past a quarter of an hour
# the talk has moved on, and a report without its thing named is as likely another matter.
THREAD_WINDOW = timedelta(minutes=15)
# A request only the model finds is answered in the group from this probability on; below it
# the leaders are asked privately. On the tune days' messages it found, 46 of 51 from 0.8 on
# were requests, 35 of 62 below it (where the rest were the group's talk).
MODEL_SURE = 0.8
# A request the keywords read that the model finds more likely the group's talk: the two
# halves disagree, and the leaders are asked privately instead of the group being answered.
# Below 0.5, on the 12 tune days the model was not fitted on, 9 of 80 such messages were
# requests; on all 32 tune days it took the chatter answered from 1.5% to 0.9%, and 10 more
# matters (26 in all) reached the leaders only privately.
MODEL_DOUBTS = 0.5


class Urgency(StrEnum):
    NONE = ""
    POSSIBLE = "possible"
    CLEAR = "clear"


def _plain_text_in_a_grid(ctx: Context) -> bool:
    call = ctx.command
    is_command = call is not None and (call.prefixed or bool(call.name))
    text = ctx.event.text
    return (
        ctx.grid is not None
        and ctx.event.type == MessageType.TEXT
        and not is_command
        and len(text) <= REQUEST_MAX_CHARS  # a pasted article or a flood, not a request
        and not is_group_list(text)
    )


def _request_in_a_grid(ctx: Context) -> bool:
    """Plain text of a resident in a grid's group that the classifier reads as a request."""
    if not _plain_text_in_a_grid(ctx) or ctx.is_staff:
        return False
    result = ctx.classified()
    if not result.is_request and result.decided_by == "model" and _asks_the_grid(ctx):
        # A question put to the grid's people by @-mention is theirs to answer: the model,
        # which reads @-mentions as neighbours talking, doesn't get to drop it.
        result = ctx.read_by_keywords()
    return result.is_request and result.category is not None


def _asks_the_grid(ctx: Context) -> bool:
    mentions = ctx.event.mentions
    staff = _staff(ctx)
    return bool(mentions) and all(m in staff for m in mentions) and is_question(ctx.event.text)


def _staff_words_in_a_grid(ctx: Context) -> bool:
    """A leader's or worker's plain words, not a notice to everyone (@所有人, 【通知】)."""
    text = ctx.event.text.lstrip()
    notice = text.startswith(("@所有人", "【"))
    return _plain_text_in_a_grid(ctx) and ctx.is_staff and not notice


def _media_in_a_grid(ctx: Context) -> bool:
    return ctx.grid is not None and ctx.event.type in MEDIA and not ctx.is_staff


def _emergency_line(result: Classification) -> str:
    number = result.emergency_number
    return f"情况紧急，请立即拨打 {number}！" if number else "情况紧急，请立即拨打 110 或 120！"


def _staff(ctx: Context) -> set[str]:
    """The grid's people: its leaders, workers and the administrators."""
    assert ctx.grid is not None
    return {*leader_ids(ctx, ctx.grid.code), *ctx.grid.workers, *ctx.settings.admins}


def _to_a_neighbour(ctx: Context) -> bool:
    """Whether the message answers or addresses another resident: it @mentions someone who
    is not one of the grid's people, opens by naming someone who is not ("肖老师 …"), or
    quotes a resident (not the bot, not the grid's people)."""
    grid = ctx.grid
    assert grid is not None
    staff = _staff(ctx)
    if any(m not in staff for m in ctx.event.mentions):
        return True
    if ctx.event.mentions:
        return False  # "@网格员林晓燕 林姑娘 …": the name after it is the leader's own
    name = addressed_name(ctx.event.text)
    if name is not None:
        staff_names = (
            grid_store.display_name(session=ctx.session, contact_id=c, grid_code=grid.code)
            for c in staff
        )
        return not any(name in known for known in staff_names if known)
    quote = ctx.event.quote
    if quote is None or quote.name == ctx.settings.bot.name:
        return False
    if quote.sender_id is not None:
        return quote.sender_id not in staff
    named = grid_store.members_named(session=ctx.session, grid_code=grid.code, name=quote.name)
    return not any(cid in staff or role == MemberRole.LEADER for cid, role in named)


def _read_urgency(
    ctx: Context, result: Classification, *, to_neighbour: bool
) -> tuple[Urgency, Classification | None]:
    """How urgent the message is, and how to read it: None when it is only advice to call
    for help ("这种直接打110"), which is nothing to act on."""
    text = ctx.event.text
    if not result.urgent or laughs(text):
        return Urgency.NONE, result  # "冷得我都想打119😂": a joke raises no alarm
    if calls_for_help(text):
        rest = ctx.services.classifier.classify(without_calls(text))
        if not rest.urgent:
            # Nothing is said to be happening beyond a call for help: advice to a neighbour
            # is no emergency (what else it says may still be a request); a bare "快叫120"
            # may be one.
            if not (to_neighbour or is_advice(text) or already_called(text)):
                return Urgency.POSSIBLE, result
            return Urgency.NONE, rest if rest.is_request and rest.category else None
    if result.possible or wonders(text):
        # "是不是哪里着火了": the leaders are asked to check, the group is asked with care
        return Urgency.POSSIBLE, result
    return Urgency.CLEAR, result


@router.message(_request_in_a_grid, priority=INTAKE_PRIORITY)
async def intake(ctx: Context) -> None:
    assert ctx.grid is not None
    if ticket_store.is_assignee_in_grid(
        session=ctx.session, contact_id=ctx.event.sender_id, grid_code=ctx.grid.code
    ):
        # The worker a leader sent (/派单) reporting progress on a matter; anything else
        # they say is a resident's.
        ticket = _matter_spoken_of(ctx)
        if ticket is not None:
            _record(ctx, ticket, "noted")
            return
    to_neighbour = _to_a_neighbour(ctx)
    urgency, read = _read_urgency(ctx, ctx.classified(), to_neighbour=to_neighbour)
    if read is None:
        return
    result = read
    assert result.category is not None
    ctx.urgent = urgency is not Urgency.NONE
    ticket = _same_matter(ctx, result, urgency)
    if ticket is not None and to_neighbour and not _quotes(ctx, ticket):
        ticket = None  # talk between neighbours joins a matter only as a reply to its report
    # none of the tune days' 190 laughing messages was a request
    remark = urgency is Urgency.NONE and (laughs(ctx.event.text) or remarks(ctx.event.text))
    quietly = to_neighbour or remark or _unsure(result)
    if ticket is not None and urgency is Urgency.NONE and _a_bystander(ctx, ticket):
        quietly = True  # "物业这电梯三天两头坏": its timeline keeps it; "已记录" to it is noise
    if ticket is not None and _join(ctx, ticket, quietly=quietly):
        return
    if ticket is None and urgency is Urgency.NONE and not to_neighbour:
        # carrying on a thread the group just saw acknowledged: another "已记录" is noise
        ticket = _same_thread(ctx, result.category)
        if ticket is not None and _join(ctx, ticket, quietly=True):
            return
    if to_neighbour and urgency is not Urgency.CLEAR:
        return  # talk between neighbours: it adds to a matter, it doesn't open one
    if remark:
        return  # the group's talk: the past, advice, a thing found, an opinion
    if _unsure(result) and urgency is Urgency.NONE:
        _ask_leaders(ctx, result)
        return
    # A policy question is answered or passed on; anything else about policy (a neighbour's
    # answer, news of a payment) is the group's talk.
    consult = urgency is Urgency.NONE and result.category == "consult"
    if consult and (not is_question(ctx.event.text) or answer_consult(ctx)):
        return
    _open(ctx, result, urgency)


def _same_matter(ctx: Context, result: Classification, urgency: Urgency) -> Ticket | None:
    """The open ticket this message is about, if any: the latest of the grid's recent tickets
    of the same category that is the same matter. An emergency is never folded into an
    ordinary ticket: it would reach nobody in time."""
    assert ctx.grid is not None
    assert result.category is not None
    settings = ctx.settings.tickets
    since = ctx.now - timedelta(
        hours=max(settings.duplicate_window_hours, settings.same_matter_window_hours)
    )
    candidates = ticket_store.active_in_grid(
        session=ctx.session, grid_code=ctx.grid.code, since=since, category=result.category
    )
    vocabulary = ctx.settings.categories
    sender = ctx.event.sender_id
    repeat_window = ctx.now - timedelta(hours=settings.duplicate_window_hours)
    if urgency is not Urgency.NONE and _only_a_call(ctx):
        # "要不要打119？" just after an alarm is about that alarm, whatever its kind or category
        alarms = ticket_store.active_in_grid(
            session=ctx.session, grid_code=ctx.grid.code, since=ctx.now - EMERGENCY_WINDOW
        )
        for candidate in reversed(alarms):
            if _same_emergency(ctx, candidate, None):
                return _ticket(ctx, candidate)
    for candidate in reversed(candidates):
        if urgency is not Urgency.NONE:
            if _same_emergency(ctx, candidate, result.urgency_kind):
                return _ticket(ctx, candidate)
            if not _raised_an_alarm(ctx, candidate):
                continue
        one_reporter = candidate.reporter_id == sender and candidate.created_at >= repeat_window
        if same_matter(
            candidate.text,
            ctx.event.text,
            vocabulary,
            result.category,
            settings.similarity,
            one_reporter=one_reporter,
            # Told by someone else (or later), the same thing is the same matter only at the
            # same place: on the tune days, 13 of 74 joins of another resident's message that
            # shared no number with the ticket went to another matter (none of the 18 that
            # shared one did); "我家也是" and the thread rule below still join the rest.
            place_needed=not one_reporter,
        ):
            return _ticket(ctx, candidate)
    if urgency is Urgency.NONE and result.category in SHARED and says_also(ctx.event.text):
        # "我屋里也冇水" just after "屋里冇得水哒": the same outage or pile, told by one more
        # household, even in other words; unless it names another place.
        text = ctx.event.text
        for candidate in reversed(candidates):
            recent = candidate.created_at >= ctx.now - ALSO_WINDOW
            if recent and not (places_conflict(candidate.text, text) or tells_apart(text)):
                return _ticket(ctx, candidate)
    return None


def _only_a_call(ctx: Context) -> bool:
    """Whether the message says nothing urgent beyond calling for help ("要不要打119？")."""
    text = ctx.event.text
    return calls_for_help(text) and not ctx.services.classifier.classify(without_calls(text)).urgent


def _same_thread(ctx: Context, category: str) -> Ticket | None:
    """The matter a message carries on with, just after it was told in the group: the group
    talks in threads, and a neighbour's "对 我刚把车开出来 坡道口的水已经没过脚背" or the
    reporter's own next line rarely names the thing again. The reporter's own line may be
    read under another category ("里面是个送外卖的小哥" after a stuck lift)."""
    assert ctx.grid is not None
    sender = ctx.event.sender_id
    # "me too" of a theft or a fall is one's own matter: only a shared thing is shared
    follows = refers_back(ctx.event.text) or (category in SHARED and says_also(ctx.event.text))
    recent = ticket_store.active_in_grid(
        session=ctx.session, grid_code=ctx.grid.code, since=ctx.now - THREAD_WINDOW
    )
    vocabulary = ctx.settings.categories
    text = ctx.event.text
    for candidate in reversed(recent):
        # the reporter's own next line that names no new thing: a resident who tells two
        # matters names the second ("楼下垃圾也没人清")
        own = candidate.reporter_id == sender and not any(
            names_a_thing(text, vocabulary, c) for c in {category, candidate.category}
        )
        if candidate.category != category and not own:
            continue
        if same_thread(
            candidate.text, text, vocabulary, candidate.category, follows_on=follows or own
        ):
            return _ticket(ctx, candidate)
    return None


def _ticket(ctx: Context, candidate: ticket_store.Candidate) -> Ticket:
    ticket = ticket_store.get(session=ctx.session, ticket_id=candidate.id)
    assert ticket is not None
    return ticket


def _raised_an_alarm(ctx: Context, ticket: ticket_store.Candidate) -> bool:
    """Whether the ticket was opened as an emergency, clear or possible (a possible one is
    not flagged urgent, but has an urgent ticket's deadline)."""
    urgent_limit = time_limit(ctx.settings, ticket.category, urgent=True)
    return ticket.urgent or ticket.due_at - ticket.created_at <= urgent_limit


def _same_emergency(ctx: Context, ticket: ticket_store.Candidate, kind: str | None) -> bool:
    """An alarm soon after another of its kind in the same grid is most often the same one,
    told by another neighbour in other words ("我屋头也全是烟"): neighbours of a fire or a gas
    leak all see it at once. Unless it names another place."""
    if not _raised_an_alarm(ctx, ticket) or ticket.created_at < ctx.now - EMERGENCY_WINDOW:
        return False
    if places_conflict(ticket.text, ctx.event.text):
        return False
    return kind is None or ctx.services.classifier.classify(ticket.text).urgency_kind == kind


def _a_bystander(ctx: Context, ticket: Ticket) -> bool:
    """Whether the message comments on another resident's matter rather than reporting it
    for oneself: it speaks of no household of its own, names no place and quotes nothing."""
    text = ctx.event.text
    return not (
        ticket.reporter_id == ctx.event.sender_id
        or speaks_for_oneself(text)
        or names_a_place(text)
        or _quotes(ctx, ticket)
    )


def _quotes(ctx: Context, ticket: Ticket) -> bool:
    quote = ctx.event.quote
    return quote is not None and bool(quote.text) and quote.text in ticket.text


def _join(ctx: Context, ticket: Ticket, *, quietly: bool) -> bool:
    """Add the message to the ticket of its matter: a repeat of the reporter's own (quietly:
    they were answered once), or another resident's report of it (同类诉求 +1). False when
    it is the reporter again, long after: a new matter of theirs."""
    assert ticket.id is not None
    settings = ctx.settings.tickets
    sender = ctx.event.sender_id
    reporters = {
        r.contact_id for r in ticket_store.reporters(session=ctx.session, ticket_id=ticket.id)
    }
    repeat_window = ctx.now - timedelta(hours=settings.duplicate_window_hours)
    if sender in reporters and ticket.created_at >= repeat_window:
        _record(ctx, ticket, "repeated")
        return True
    if sender in reporters:
        return False
    _link(ctx, ticket)
    if quietly:
        return True
    if ticket.urgent:
        ctx.reply(f"已收到，已通知{leader_title(ctx, ticket.grid_code)}（#{ticket.id}）。")
    else:
        ctx.reply(f"已记录，和 #{ticket.id} 一并处理。")
    return True


def _link(ctx: Context, ticket: Ticket) -> None:
    assert ticket.id is not None
    ticket_store.add_reporter(
        session=ctx.session,
        ticket_id=ticket.id,
        contact_id=ctx.event.sender_id,
        name=ctx.event.sender_name,
        at=ctx.now,
    )
    ticket.same_count += 1
    ctx.session.add(ticket)
    _record(ctx, ticket, "linked")


@dataclass(frozen=True, slots=True)
class Report:
    """What a ticket is opened from: a resident's words, who wrote them and the message
    they came in (the one being handled, or one a leader files for a resident)."""

    contact_id: str
    name: str
    text: str
    message_id: int


def open_for(ctx: Context, report: Report, result: Classification) -> Ticket | None:
    """Open an ordinary ticket for a resident's ``report`` as their own message would have
    opened it, answered in the group as they would have been: for a leader filing a
    request the bot let pass (/受理, /补录). None: the anti-flood limit held it back."""
    return _open(ctx, result, Urgency.NONE, report)


def _open(
    ctx: Context, result: Classification, urgency: Urgency, report: Report | None = None
) -> Ticket | None:
    grid = ctx.grid
    assert grid is not None
    assert result.category is not None
    if report is None:
        event = ctx.event
        report = Report(event.sender_id, event.sender_name, event.text, ctx.message_id)
    urgent = urgency is Urgency.CLEAR
    if not flood.may_open_ticket(ctx, urgent=urgency is not Urgency.NONE):
        return None
    ticket = ticket_store.create(
        session=ctx.session,
        ticket=Ticket(
            grid_code=grid.code,
            reporter_id=report.contact_id,
            reporter_name=report.name[:100],
            text=report.text,
            category=result.category,
            urgent=urgent,
            keywords=list(result.keywords),
            confidence=result.confidence,
            source_message_id=report.message_id,
            created_at=ctx.now,
            due_at=ctx.now
            + time_limit(ctx.settings, result.category, urgent=urgency is not Urgency.NONE),
        ),
    )
    log.info(
        "ticket #%s opened in %s (%s, urgency=%s, keywords=%s)",
        ticket.id,
        grid.code,
        result.category,
        urgency or "none",
        ",".join(result.keywords),
    )
    name = category_name(ctx.settings, result.category)
    if urgency is Urgency.NONE:
        deadline = when(ticket.due_at, ctx.settings.tz)
        _answer(
            ctx,
            report,
            f"已受理，工单 #{ticket.id}（{name}），由{leader_title(ctx, grid.code)}负责，"
            f"{deadline}前处理。",
        )
        return ticket
    if urgency is Urgency.POSSIBLE:
        number = result.emergency_number or "110 或 120"
        if result.decided_by != "model":
            # An alarm the model alone hears ("日头还木出来 地里已经都是人了"), or one of the
            # keywords' in which it hears no danger at all, is for the leaders to check, not
            # for the group to hear.
            _answer(
                ctx, report, f"请问有人受伤或有危险吗？如有危险请立即拨打 {number}。已告知网格长。"
            )
        _alert_leaders(ctx, ticket, "【请核实】", "可能有紧急情况，请尽快联系核实。")
        return ticket
    escalation = escalation_room(
        ctx,
        f"【紧急】{summary(ticket, ctx.settings, grid.name)}。"
        f"已提示居民拨打 {result.emergency_number or '110/120'}。",
    )
    told = "网格长和指挥中心" if escalation else "网格长"
    line = f"{_emergency_line(result)}已登记紧急工单 #{ticket.id}（{name}），已通知{told}。"
    _answer(ctx, report, line)
    _alert_leaders(ctx, ticket, "【紧急】", "请立即处置。")
    if escalation is not None:
        ctx.send(escalation)
    return ticket


def _answer(ctx: Context, report: Report, text: str) -> None:
    """Answer the resident whose report it is: the sender, or the resident a leader filed
    it for, @mentioned in the group the leader wrote in."""
    if report.contact_id == ctx.event.sender_id:
        ctx.reply(text)
        return
    event = ctx.event
    ctx.send(
        Outbound(
            text=text,
            room_id=event.room_id,
            room_topic=event.room_topic,
            mentions=(report.contact_id,),
        )
    )


def _unsure(result: Classification) -> bool:
    """A request only the model reads into the message, without much certainty or without a
    single word of the vocabulary behind it (on the tune days, 10 of 32 such messages were
    requests; with a word, 68 of 110); or one the keywords read that the model doubts."""
    if not result.model_only:
        # a policy question is answered or passed on in the group whatever the model thinks
        doubted = result.p_request is not None and result.p_request < MODEL_DOUBTS
        return doubted and result.category != "consult"
    return (result.p_request or 0.0) < MODEL_SURE or not result.keywords


def _ask_leaders(ctx: Context, result: Classification) -> None:
    """A request only the model reads into a message: most such messages in a group are its
    talk, and a public "已受理" to talk is a defect the group sees. The leaders see it
    privately and take it with /受理 when it is one (which also teaches the model)."""
    grid = ctx.grid
    assert grid is not None
    assert result.category is not None
    event = ctx.event
    name = category_name(ctx.settings, result.category)
    text = (
        f"【请看一下】{grid.name} {event.sender_name}：{mask_personal(event.text)}"
        f"（{when(ctx.now, ctx.settings.tz)}）。不确定是不是诉求，群里没有回复；"
        f"如要受理，请在群里引用这条消息发送 /受理 {name}"
    )
    log.info("possible request in %s passed to the leaders (%s)", grid.code, result.category)
    for leader in leader_ids(ctx, grid.code):
        ctx.send(Outbound(text=text, to=leader))


def _alert_leaders(ctx: Context, ticket: Ticket, head: str, ask: str) -> None:
    grid = ctx.grid
    assert grid is not None
    name = category_name(ctx.settings, ticket.category)
    alert = (
        f"{head}{grid.name} #{ticket.id} {name}：{mask_personal(ticket.text)}"
        f"（{ticket.reporter_name}，{when(ticket.created_at, ctx.settings.tz)}）。{ask}"
    )
    for leader in leader_ids(ctx, grid.code):
        ctx.send(Outbound(text=alert, to=leader))


@router.message(_staff_words_in_a_grid, priority=INTAKE_PRIORITY)
async def note(ctx: Context) -> None:
    """A leader's or worker's words about an open matter ("师傅到了", "人找到了") go on its
    ticket's timeline, silently. Anything else they say is theirs to say."""
    ticket = _matter_spoken_of(ctx)
    if ticket is None:
        raise SkipHandler
    _record(ctx, ticket, "noted")


def _record(ctx: Context, ticket: Ticket, action: str, note: str | None = None) -> None:
    """The message on the ticket's timeline, as ``action`` by its sender."""
    ticket_store.record(
        session=ctx.session,
        ticket=ticket,
        action=action,
        at=ctx.now,
        actor_id=ctx.event.sender_id,
        note=ctx.event.text if note is None else note,
        message_id=ctx.message_id,
    )


def _matter_spoken_of(ctx: Context) -> Ticket | None:
    """The recent open ticket the message is about: the one whose words it quotes, else the
    latest it is the same matter as."""
    assert ctx.grid is not None
    candidates = ticket_store.active_in_grid(
        session=ctx.session, grid_code=ctx.grid.code, since=ctx.now - NOTE_WINDOW
    )
    quote = ctx.event.quote
    threshold = ctx.settings.tickets.similarity
    for candidate in reversed(candidates):
        if quote is not None and quote.text and quote.text in candidate.text:
            return _ticket(ctx, candidate)
    residents = set(ctx.event.mentions) - _staff(ctx)
    if residents:
        # "@租户小龙 先带身份证到社区登记": an answer to the resident named, about their own
        # matter if they have one here, else about none (a question, a thank-you)
        for candidate in reversed(candidates):
            reporters = {candidate.reporter_id} | {
                r.contact_id
                for r in ticket_store.reporters(session=ctx.session, ticket_id=candidate.id)
            }
            if residents & reporters:
                return _ticket(ctx, candidate)
        return None
    vocabulary = ctx.settings.categories
    said = ctx.event.text if quote is None else f"{quote.text} {ctx.event.text}"
    for candidate in reversed(candidates):
        if same_matter(candidate.text, said, vocabulary, candidate.category, threshold):
            return _ticket(ctx, candidate)
    return None


@router.message(_media_in_a_grid, priority=ATTACH_PRIORITY)
async def attach(ctx: Context) -> None:
    """A photo or voice message right after a resident's request belongs to that ticket;
    the first one is acknowledged, the rest are added quietly."""
    grid = ctx.grid
    assert grid is not None
    window = timedelta(minutes=ctx.settings.tickets.attach_window_minutes)
    ticket = ticket_store.latest_reported_by(
        session=ctx.session,
        contact_id=ctx.event.sender_id,
        grid_code=grid.code,
        since=ctx.now - window,
    )
    if ticket is None or ticket.id is None:
        raise SkipHandler
    kind = MEDIA[ctx.event.type]
    first = not ticket_store.has_attachments(session=ctx.session, ticket_id=ticket.id)
    ticket_store.attach(
        session=ctx.session,
        ticket_id=ticket.id,
        message_id=ctx.message_id,
        type=ctx.event.type,
        at=ctx.now,
    )
    _record(ctx, ticket, "attached", kind)
    if first:
        ctx.reply(f"{kind}已补充到工单 #{ticket.id}。")
