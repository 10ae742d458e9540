"""Routers: where handlers register, with an explicit priority, and commands with their rights.

A feature module makes one :class:`Router` and registers on it; the dispatcher includes the
routers. Handlers are async functions of one :class:`~bot.context.Context`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.context import Context

Handler = Callable[["Context"], Awaitable[None]]
Filter = Callable[["Context"], bool]


class Role(IntEnum):
    """What a sender may do; each role may do all that the roles below it may."""

    RESIDENT = 1
    LEADER = 2  # grid leader or informant of the grid the message is in
    ADMIN = 3  # street-level administrator, anywhere


class Scope(StrEnum):
    GROUP = "group"  # only in a grid's group
    PRIVATE = "private"  # only in a private chat with the bot
    ANY = "any"


class SkipHandler(Exception):  # a signal, not an error
    """Raised by a handler that looked and found the message is not for it."""


class UserError(Exception):
    """A request the bot can't do as asked: the message is the short reply the sender gets.

    Everything the handler wrote in the database is rolled back.
    """

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True, slots=True)
class CommandSpec:
    names: tuple[str, ...]
    role: Role
    scope: Scope
    bare: bool  # also recognised without a `/` (residents type `积分`, not `/积分`)
    usage: str
    summary: str
    unbound_rooms: bool = False  # also in groups that belong to no grid

    @property
    def name(self) -> str:
        return self.names[0]


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    callback: Handler
    priority: int
    block: bool
    filters: tuple[Filter, ...] = ()
    command: CommandSpec | None = None
    router: str = ""
    order: int = field(default=0, compare=False)


class Router:
    """The handlers of one feature."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[HandlerSpec] = []

    @property
    def handlers(self) -> Sequence[HandlerSpec]:
        return tuple(self._handlers)

    def message(
        self, *filters: Filter, priority: int = 0, block: bool = True
    ) -> Callable[[Handler], Handler]:
        """Register a handler for messages all ``filters`` accept.

        Higher priority runs first. A blocking handler that runs (does not raise
        SkipHandler) ends the search; a non-blocking one lets lower ones run too.
        """

        def register(callback: Handler) -> Handler:
            self._handlers.append(
                HandlerSpec(callback, priority, block, tuple(filters), router=self.name)
            )
            return callback

        return register

    def command(
        self,
        *names: str,
        role: Role = Role.RESIDENT,
        scope: Scope = Scope.ANY,
        bare: bool = False,
        usage: str = "",
        summary: str,
        priority: int = 100,
        unbound_rooms: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register a command. The first name is the one `/帮助` shows; the rest are aliases.

        The dispatcher checks ``role`` and ``scope`` before the handler runs, and answers a
        sender without the right with one short refusal.
        """
        if not names:
            raise ValueError("a command needs at least one name")
        spec = CommandSpec(
            tuple(names),
            role,
            scope,
            bare,
            # a command residents type bare is shown bare, as they type it (积分, 我的工单)
            usage or (names[0] if bare else f"/{names[0]}"),
            summary,
            unbound_rooms,
        )

        def register(callback: Handler) -> Handler:
            self._handlers.append(
                HandlerSpec(callback, priority, True, (), command=spec, router=self.name)
            )
            return callback

        return register
