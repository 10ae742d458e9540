"""The chat side of calling the domain: the Actor a message's sender is, and the one place
where the domain's refusals (domain/errors.py) become the chat's short replies."""

from __future__ import annotations

import functools

from bot.context import Context
from bot.routing import Handler, UserError
from domain.actor import Actor, actor_for
from domain.errors import DomainError


def actor_of(ctx: Context) -> Actor:
    """Who sent the message, as the domain knows them: rights go by contact id only."""
    actor = actor_for(ctx.session, ctx.settings, ctx.event.sender_id)
    if actor is None:
        # the dispatcher lets only leaders and administrators reach the commands that ask
        raise UserError("抱歉，只有网格长和街道管理员可以这样做。")
    return actor


def replies_to_refusals(handler: Handler) -> Handler:
    """Wrap a handler that calls the domain: a refusal is answered with its sentence, and,
    as for every UserError, the handler's writes are rolled back."""

    @functools.wraps(handler)
    async def wrapped(ctx: Context) -> None:
        try:
            await handler(ctx)
        except DomainError as exc:
            raise UserError(exc.reply) from exc

    return wrapped
