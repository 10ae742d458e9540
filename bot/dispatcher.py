"""The one entry point for inbound messages: store, work out who and where, run handlers.

Every message is committed to the inbox before any handler sees it. A handler's database
writes, the replies it queued and the "handled" mark are committed together, so a crash
leaves either all of them or none, and the message is handled again on restart. A message no
handler would take (their filters say so, reading only the message) is stored already marked
handled, in one transaction: there is nothing to lose between storing and handling it.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections.abc import Iterable
from dataclasses import asdict, replace
from datetime import datetime
from typing import NamedTuple

from sqlmodel import Session

from bot import flood
from bot.commands import CommandCall, parse_command
from bot.context import Context, Services, leads_a_grid
from bot.events import Inbound, MessageType, Outbound, Quote
from bot.outbox import queue_outbound
from bot.routing import CommandSpec, HandlerSpec, Role, Router, Scope, SkipHandler, UserError
from bot.scheduler import Scheduler
from bot.settings import GridSettings
from storage import accounts as account_store
from storage import grids as grid_store
from storage import inbox
from storage.models import Grid, MemberRole, MessageStatus

log = logging.getLogger(__name__)
audit = logging.getLogger("gridbot.audit")

SORRY = "抱歉，处理时出了点问题，请稍后再试。"
# what no database column can hold: NUL (PostgreSQL) and lone surrogates (UTF-8)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# the widths of the inbox's and the member table's columns (storage/models.py)
NAME_CHARS, ROOM_CHARS, ID_CHARS = 100, 200, 128
# On a server database, how long (seconds) this process trusts the room -> grid bindings it
# read: a room bound or moved by another process (an administrator's /绑定) is followed here
# within this time. SQLite serves one process, whose own bindings drop the cache at once.
ROOMS_FRESH = 30.0
# How many members' rows this process remembers writing (about 450 bytes each, 9 MB in all):
# past it, the one written longest ago is forgotten, and its member's next message writes
# the row again.
MEMBERS_KEPT = 20_000


class _Seen(NamedTuple):
    """A member row (of a contact in a grid) as this process committed it."""

    name: str
    at: datetime  # the last_seen written
    role: MemberRole


def _name_of(spec: CommandSpec) -> str:
    return f"/{spec.name}"


def _unbound(ctx: Context) -> bool:
    # A group that is in no grid is only listened to for the commands made for it (an
    # administrator's /绑定); everything else there is stored and not answered.
    return not ctx.event.is_private and ctx.grid is None


def _takes(spec: HandlerSpec, ctx: Context, *, unbound: bool) -> bool:
    """Whether ``spec`` is for this message: its command named (as typed: with "/" or bare
    where allowed), or all its filters accepting it."""
    if spec.command is None:
        return not unbound and all(accepts(ctx) for accepts in spec.filters)
    call = ctx.command
    return (
        (not unbound or spec.command.unbound_rooms)
        and call is not None
        and call.name in spec.command.names
        and (call.prefixed or spec.command.bare)
    )


def _mentionable(contact_id: str) -> bool:
    """Whether an @mention's id can be a contact id. Ids that can't (empty, or wider than
    the columns that hold contact ids) are dropped, not cut: a cut id would be somebody
    else's, and a wide one, stored later (/派单's assignee), fails on PostgreSQL only."""
    return 0 < len(contact_id) <= ID_CHARS and not contact_id.isspace()


def _storable(event: Inbound) -> Inbound:
    """``event`` as the database can hold it: NUL characters and lone surrogates replaced
    by U+FFFD (PostgreSQL's text refuses NUL; no encoding can write a lone surrogate), names,
    rooms and ids cut to their columns' widths (PostgreSQL refuses longer ones; WeChat sends
    no such ids, the replay and console channels may) and @mentions that can't be contact
    ids dropped, so both databases see the same message.

    Anyone can type a NUL or take a 1,000-character name: that must not make their message,
    and the rest of the delivery after it, fail to store."""
    topic, room, msg_id = event.room_topic, event.room_id, event.id
    quote = event.quote
    quoted = (quote.name, quote.text, quote.sender_id or "") if quote else ()
    fields = (event.text, event.sender_name, topic or "", room or "", msg_id or "", *quoted)
    if (
        not any(_UNSTORABLE.search(f) for f in (*fields, event.sender_id, *event.mentions))
        and len(event.sender_name) <= NAME_CHARS
        and max(len(topic or ""), len(room or "")) <= ROOM_CHARS
        and max(len(msg_id or ""), len(event.sender_id)) <= ID_CHARS
        and all(_mentionable(m) for m in event.mentions)
    ):
        return event

    def clean(text: str) -> str:
        return _UNSTORABLE.sub("\ufffd", text)

    return replace(
        event,
        text=clean(event.text),
        sender_name=clean(event.sender_name)[:NAME_CHARS],
        sender_id=clean(event.sender_id)[:ID_CHARS],
        room_id=clean(room)[:ROOM_CHARS] if room is not None else None,
        room_topic=clean(topic)[:ROOM_CHARS] if topic is not None else None,
        id=clean(msg_id)[:ID_CHARS] if msg_id is not None else None,
        mentions=tuple(m for m in map(clean, event.mentions) if _mentionable(m)),
        quote=replace(
            quote,
            name=clean(quote.name)[:NAME_CHARS],
            text=clean(quote.text),
            sender_id=clean(quote.sender_id)[:ID_CHARS] if quote.sender_id else None,
        )
        if quote
        else None,
    )


def _quote_of(stored: dict[str, str | None] | None) -> Quote | None:
    if not stored:
        return None
    return Quote(
        name=stored.get("name") or "",
        text=stored.get("text") or "",
        sender_id=stored.get("sender_id"),
    )


class Dispatcher:
    def __init__(self, services: Services, routers: Iterable[Router] = ()) -> None:
        self.services = services
        # Set by the app once it has one: handlers' one-off jobs are added to it.
        self.scheduler: Scheduler | None = None
        self._routers: list[Router] = []
        self._handlers: list[HandlerSpec] = []
        self._command_names: dict[str, CommandSpec] = {}
        self._commands: tuple[CommandSpec, ...] = ()
        # (account, room or contact id, topic) already recorded by this process
        self._reach_noted: set[tuple[str, str, str | None]] = set()
        # Room id -> grid code, as bound in the database when this process's count of commits
        # to the grid table was ``_rooms_stamp``, read at ``_rooms_read_at`` (monotonic). On
        # a server database another process may bind or move a room: the cache is then
        # also dropped every ROOMS_FRESH seconds.
        self._rooms: dict[str, str] = {}
        self._rooms_stamp = -1
        self._rooms_read_at = 0.0
        self._rooms_shared = services.db.url.get_backend_name() != "sqlite"
        # (contact id, grid code) -> the member row this process last wrote for them. Most
        # messages come from people who spoke earlier that day under the same name: their
        # row is then not written again (its last_seen may lag by up to LAST_SEEN_STEP, which
        # the readers of last_seen make up from the inbox: storage/grids.py).
        self._seen: dict[tuple[str, str], _Seen] = {}
        for router in routers:
            self.include(router)

    def include(self, router: Router) -> None:
        if any(r is router or r.name == router.name for r in self._routers):
            raise ValueError(f"router {router.name!r} is already included")
        for command in (spec.command for spec in router.handlers if spec.command):
            for name in command.names:
                if name in self._command_names:
                    raise ValueError(f"command /{name} is registered twice")
                self._command_names[name] = command
        self._routers.append(router)
        handlers = [*self._handlers, *router.handlers]
        # Stable: equal priorities keep registration order.
        self._handlers = sorted(handlers, key=lambda h: -h.priority)
        seen: dict[str, CommandSpec] = {}
        for spec in self._command_names.values():
            seen.setdefault(spec.name, spec)
        self._commands = tuple(seen.values())

    @property
    def commands(self) -> tuple[CommandSpec, ...]:
        """Every command once (under its first name), in registration order."""
        return self._commands

    async def feed(self, event: Inbound, *, answer: bool = True) -> int | None:
        """Store and handle one message; return its inbox id, or None for a duplicate.

        ``answer=False`` stores the message and runs nothing: for history a platform delivers
        from before the bot started, which must be kept but not acted on as if new.
        """
        event = _storable(event)
        now = self.services.clock.now()
        self.note_reach(event, now)
        with self.services.db.session() as session:
            found = self._store(session, event, now, answer=answer, trust=True)
            if found is None:  # the sender's member row changed meanwhile: rolled back
                found = self._store(session, event, now, answer=answer, trust=False)
            assert found is not None  # not trusting what it knew, it writes the member row
            stored, ctx, quiet = found
            if not stored.inserted and stored.status != MessageStatus.PENDING:
                log.info("duplicate delivery of message %s ignored", ctx.event.idempotency_key())
                return None
            if quiet and stored.inserted:
                return stored.id
            if answer:
                # Stored and committed: handled in the same session, a new transaction.
                ctx.message_id = stored.id
                await self._handle_in(ctx)
                return stored.id
        # history delivered again while its first copy waits unhandled: settled, not answered
        self._finish(stored.id, [])
        return stored.id

    def _store(
        self, session: Session, event: Inbound, now: datetime, *, answer: bool, trust: bool
    ) -> tuple[inbox.Stored, Context, bool] | None:
        """Store ``event`` (committed, or rolled back for a duplicate) with its sender's member
        row; return what was stored, the message's context and whether it was stored handled
        (nothing will run for it).

        The member row is written only when this process has not written it with this name
        within LAST_SEEN_STEP (or ``trust`` is False). Otherwise the role it knows is checked
        by the insert itself; None when the row is not as known: nothing was stored."""
        if event.mentions and event.room_id is not None:
            event = self._without_bot_accounts(session, event)
        grid = self._grid_for(session, event)
        member_role: MemberRole | None = None
        known: _Seen | None = None
        if grid is not None:
            known = self._seen.get((event.sender_id, grid.code)) if trust else None
            if known is not None and (
                known.name != event.sender_name or now - known.at > grid_store.LAST_SEEN_STEP
            ):
                known = None
            if known is not None:
                member_role = known.role
            else:
                member_role = grid_store.member_seen(
                    session=session,
                    contact_id=event.sender_id,
                    grid_code=grid.code,
                    display_name=event.sender_name,
                    at=now,
                )
        ctx = self._context(session, 0, event, grid, member_role, now=now)
        # A message nothing will run for (history not to answer, or no handler would take
        # it: the filters read the message, never the database) is stored already handled:
        # there is nothing to lose between storing and handling it, and most group
        # messages are chatter.
        quiet = not answer or not self._wanted(ctx)
        values = {
            "key": event.idempotency_key(),
            "platform_id": event.id,
            "room_id": event.room_id,
            "room_topic": event.room_topic,
            "grid_code": grid.code if grid else None,
            "sender_id": event.sender_id,
            "sender_name": event.sender_name,
            "type": event.type.value,
            "text": event.text,
            "mentions": list(event.mentions),
            "quote": asdict(event.quote) if event.quote else None,
            "sent_at": event.ts,
            "received_at": now,
            "account": event.account,
            "status": MessageStatus.HANDLED if quiet else MessageStatus.PENDING,
            "handled_at": now if quiet else None,
        }
        if known is not None:
            assert grid is not None
            # the role decided how the message is stored and who may do what with it
            checked = inbox.SeenMember(role=known.role, seen_since=now - grid_store.LAST_SEEN_STEP)
            stored = inbox.store_checking_member(session=session, values=values, member=checked)
            if stored is None:
                self._seen.pop((event.sender_id, grid.code), None)
                return None
        else:
            stored = inbox.store(session=session, values=values)
            if grid is not None and member_role is not None and stored.inserted:
                self._remember(
                    (event.sender_id, grid.code), _Seen(event.sender_name, now, member_role)
                )
        return stored, ctx, quiet

    def _remember(self, key: tuple[str, str], seen: _Seen) -> None:
        """Keep what this process committed to a member row, the latest last; the oldest goes
        beyond MEMBERS_KEPT (its next message writes the row, as without this)."""
        self._seen.pop(key, None)
        self._seen[key] = seen
        if len(self._seen) > MEMBERS_KEPT:
            del self._seen[next(iter(self._seen))]

    async def recover(self) -> int:
        """Handle messages stored but never handled (the process stopped in between)."""
        count = 0
        with self.services.db.session() as session:
            rows = list(inbox.pending(session=session))
        for row in rows:
            assert row.id is not None
            event = Inbound(
                ts=row.sent_at,
                sender_id=row.sender_id,
                sender_name=row.sender_name,
                text=row.text,
                room_id=row.room_id,
                room_topic=row.room_topic,
                id=row.platform_id,
                mentions=tuple(row.mentions),
                type=MessageType(row.type),
                account=row.account,
                quote=_quote_of(row.quote),
            )
            grid = self.services.settings.grid(row.grid_code) if row.grid_code else None
            await self._handle(row.id, event, grid)
            count += 1
        return count

    @staticmethod
    def _without_bot_accounts(session: Session, event: Inbound) -> Inbound:
        """The event without @mentions of the bot accounts in its group. Each account's
        channel drops only itself; "@网格助手A /加分 @张三" handled by account B must not
        award points to A."""
        assert event.room_id is not None
        bots = set(account_store.accounts_in_room(session=session, room_id=event.room_id))
        kept = tuple(m for m in event.mentions if m not in bots)
        return event if kept == event.mentions else replace(event, mentions=kept)

    def note_reach(self, event: Inbound, now: datetime) -> None:
        """Record that the receiving account is in this group (or can write to this
        contact), so the outbox gives it that group's messages. Once per process: in its own
        transaction, since storing a duplicate rolls the inbox's back."""
        if event.account is None:
            return
        target = event.room_id if event.room_id is not None else event.sender_id
        noted = (event.account, target, event.room_topic)
        if noted in self._reach_noted:
            return
        with self.services.db.session() as session:
            if event.room_id is not None:
                account_store.saw_room(
                    session=session,
                    account=event.account,
                    room_id=event.room_id,
                    topic=event.room_topic,
                    at=now,
                )
            else:
                account_store.saw_contact(
                    session=session, account=event.account, contact_id=event.sender_id, at=now
                )
            session.commit()
        self._reach_noted.add(noted)

    def _grid_for(self, session: Session, event: Inbound) -> GridSettings | None:
        """The grid whose group this is: by the room id learned before, else by topic.

        A room is bound to a grid the first time its topic matches. Once bound, another room
        taking the same topic (a look-alike group) is not the grid's group.
        """
        if event.room_id is None:
            return None
        settings = self.services.settings
        bound = self._bound_grid(session, event.room_id)
        if bound is not None:
            return settings.grid(bound)
        grid = settings.grid_by_room(event.room_topic or "")
        if grid is None:
            return None
        row = session.get(Grid, grid.code)
        if row is None:
            return None
        if row.room_id is None:
            grid_store.bind_room(session=session, grid_code=grid.code, room_id=event.room_id)
            log.info("room %r bound to grid %s", event.room_id, grid.code)
            return grid
        log.warning(
            "room %r has the topic of grid %s, which is bound to another room: ignored",
            event.room_id,
            grid.code,
        )
        return None

    def _bound_grid(self, session: Session, room_id: str) -> str | None:
        """The code of the grid bound to ``room_id``: asked for every group message."""
        stamp = self.services.db.commits("grid")
        now = time.monotonic()
        if stamp != self._rooms_stamp or (
            self._rooms_shared and now - self._rooms_read_at > ROOMS_FRESH
        ):
            self._rooms.clear()
            self._rooms_stamp, self._rooms_read_at = stamp, now
        code = self._rooms.get(room_id)
        if code is None:
            code = grid_store.grid_code_by_room_id(session=session, room_id=room_id)
            if code is not None:
                self._rooms[room_id] = code
        return code

    def _role(
        self,
        session: Session,
        event: Inbound,
        grid: GridSettings | None,
        member_role: MemberRole | None,
    ) -> Role:
        settings = self.services.settings
        sender = event.sender_id
        if sender in settings.admins:
            return Role.ADMIN
        if grid is not None:
            if sender in grid.leaders:
                return Role.LEADER
            if member_role is None:
                member_role = grid_store.member_role(
                    session=session, contact_id=sender, grid_code=grid.code
                )
            return Role.LEADER if member_role == MemberRole.LEADER else Role.RESIDENT
        return Role.LEADER if leads_a_grid(session, settings, sender) else Role.RESIDENT

    def _resolve(self, call: CommandCall | None) -> CommandCall | None:
        if call is None:
            return None
        spec = self._command_names.get(call.word)
        if spec is not None and (call.prefixed or spec.bare):
            return call.resolved(call.word)
        if call.prefixed:
            # `/派单12` and `/工单超期`: the longest command name the word starts with.
            names = [n for n in self._command_names if call.word.startswith(n)]
            if names:
                return call.resolved(max(names, key=len))
        return call

    async def _handle(self, message_id: int, event: Inbound, grid: GridSettings | None) -> None:
        with self.services.db.session() as session:
            now = self.services.clock.now()
            await self._handle_in(self._context(session, message_id, event, grid, None, now=now))

    def _context(
        self,
        session: Session,
        message_id: int,
        event: Inbound,
        grid: GridSettings | None,
        member_role: MemberRole | None,
        *,
        now: datetime,
    ) -> Context:
        """What the handlers of ``event`` see. ``member_role``: the sender's role in ``grid``
        as the database has it, when the caller has just read it; None: asked here."""
        call = parse_command(event.text) if event.type == MessageType.TEXT else None
        return Context(
            event=event,
            message_id=message_id,
            now=now,
            session=session,
            services=self.services,
            grid=grid,
            role=self._role(session, event, grid, member_role),
            command=self._resolve(call),
            commands=self.commands,
        )

    async def _handle_in(self, ctx: Context) -> None:
        """Handle a stored message in its context's session (no transaction open)."""
        session, message_id, event, now = ctx.session, ctx.message_id, ctx.event, ctx.now
        if not inbox.take_for_handling(session=session, message_id=message_id):
            log.info("message %d is handled by another process", message_id)
            return
        try:
            await self._run(ctx)
        except UserError as exc:
            session.rollback()
            if not inbox.take_for_handling(session=session, message_id=message_id):
                return  # the rollback let go of it, and another process took it
            ctx.outgoing = []
            ctx.reply(exc.reply)
        except Exception:
            session.rollback()
            log.exception("handling message %d failed", message_id)
            outgoing: list[Outbound] = []
            if ctx.command is not None and ctx.command.name:
                ctx.outgoing = []
                ctx.reply(SORRY)
                outgoing = ctx.outgoing
            self._finish(message_id, outgoing, error=traceback.format_exc(), account=event.account)
            return
        flood.screen_replies(ctx)
        queue_outbound(session, ctx.outgoing, now=now, inbound_id=message_id, account=event.account)
        inbox.mark_handled(session=session, message_id=message_id, at=now)
        session.commit()
        if ctx.jobs and self.scheduler is None:
            log.error("message %d scheduled jobs, but there is no scheduler", message_id)
        elif ctx.jobs and self.scheduler is not None:
            for job in ctx.jobs:
                self.scheduler.add(job)

    def _wanted(self, ctx: Context) -> bool:
        """Whether any handler would take the message (the first that runs may still pass it
        on: that is for :meth:`_run` to find out)."""
        unbound = _unbound(ctx)
        return any(_takes(spec, ctx, unbound=unbound) for spec in self._handlers)

    async def _run(self, ctx: Context) -> None:
        unbound = _unbound(ctx)
        for spec in self._handlers:
            if not _takes(spec, ctx, unbound=unbound):
                continue
            if spec.command is not None:
                assert ctx.command is not None
                refusal = self._refusal(spec.command, ctx)
                if refusal is not None:
                    audit.warning(
                        "refused %s to %s (role %s) in %s",
                        _name_of(spec.command),
                        ctx.event.sender_id,
                        ctx.role.name,
                        ctx.grid.code if ctx.grid else "private",
                    )
                    if not unbound:  # strangers' groups hear nothing from the bot
                        ctx.reply(refusal)
                    return
                if spec.command.role >= Role.LEADER:
                    audit.info(
                        "%s by %s (role %s) in %s: %r",
                        _name_of(spec.command),
                        ctx.event.sender_id,
                        ctx.role.name,
                        ctx.grid.code if ctx.grid else "private",
                        ctx.command.args,
                    )
            try:
                await spec.callback(ctx)
            except SkipHandler:
                continue
            if spec.block:
                return

    @staticmethod
    def _refusal(spec: CommandSpec, ctx: Context) -> str | None:
        name = _name_of(spec)
        # Who may comes before where: a resident asking privately for a leader's command is
        # told it is the leader's, not sent to the group to be refused there.
        if ctx.role < spec.role:
            if spec.role == Role.ADMIN:
                return f"抱歉，{name} 仅限街道管理员使用。"
            return f"抱歉，{name} 仅限本网格的网格长使用。"
        # Leaders act in their own grid's group; administrators anywhere.
        if spec.scope == Scope.GROUP and ctx.grid is None and ctx.role < Role.ADMIN:
            return f"{name} 请在网格群里使用。"
        if spec.scope == Scope.PRIVATE and not ctx.event.is_private:
            return f"{name} 请私聊我使用。"
        return None

    def _finish(
        self,
        message_id: int,
        outgoing: list[Outbound],
        error: str | None = None,
        account: str | None = None,
    ) -> None:
        now = self.services.clock.now()
        with self.services.db.session() as session:
            if not inbox.take_for_handling(session=session, message_id=message_id):
                return  # handled meanwhile by another process (a failed handler let go of it)
            queue_outbound(session, outgoing, now=now, inbound_id=message_id, account=account)
            if error is None:
                inbox.mark_handled(session=session, message_id=message_id, at=now)
            else:
                inbox.mark_failed(session=session, message_id=message_id, at=now, error=error)
            session.commit()
