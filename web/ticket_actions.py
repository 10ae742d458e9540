"""派单, 办结, 上报, 驳回, 改类, 合并 on the console: the web face of domain/tickets.py.

Each form is posted with the session's CSRF token to ``/tickets/{number}/{action}``, read
here, and handed to the same domain function the chat command calls: it checks the rights
and the ticket's stage, writes the ticket and its audit trail, and says what to tell whom.
Its group messages are queued into the outbox in the same transaction, as the chat's are,
and the bot sends them. The answer is a redirect to the ticket, which says what was done (a
reload must not post the form again). A refusal is the domain's sentence: another grid's
ticket a 403 page, anything else the ticket again with the sentence beside its form.

合并 is asked first (a GET of ``/tickets/{number}/merge?into=N``, which writes nothing): the
page shows both tickets and is confirmed with a button.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session
from starlette.responses import Response

from bot.commands import long_number, parse_ticket_number
from bot.settings import Settings
from domain import tickets as domain_tickets
from domain.actor import Actor
from domain.errors import DomainError, Invalid, NotAllowed, NotFound
from domain.tickets import Action, Outcome
from storage.models import Ticket
from web import flash
from web.auth import Viewer, check_csrf, current_viewer
from web.base import STATUS_OF, PageError, audit, committed, console_of, render, status_of
from web.labels import STATUSES, category_name, local_time, shown
from web.tickets import ACTION_SLUGS, Failure, detail_page, ticket_number

__all__ = ["STATUS_OF", "router"]

router = APIRouter()

_ACTIONS = {slug: action for action, slug in ACTION_SLUGS.items()}

_INTO_HINT = "请填写要并入的工单编号，例如 8。"


def _findable(session: Session, viewer: Viewer, ticket_id: int, action: Action) -> None:
    """Ticket ``ticket_id`` is one ``viewer`` may see: a 404 or 403 page otherwise, never
    the ticket's page (what another grid's ticket says is none of his business)."""
    try:
        domain_tickets.find(session, viewer.actor, ticket_id)
    except NotFound as exc:
        raise PageError(404, "没有这个工单", exc.reply) from exc
    except NotAllowed as exc:
        audit.warning(
            "web: %s refused %s of ticket #%d: not his grid",
            viewer.actor.contact_id,
            ACTION_SLUGS[action],
            ticket_id,
        )
        raise PageError(403, "无权操作", exc.reply) from exc


def _into(text: str) -> int:
    """The number of the ticket to merge into, as the chat's /合并 reads it."""
    number = parse_ticket_number(text.strip())
    if number is not None:
        return number
    too_long = long_number(text.strip())
    if too_long is not None:  # a number all the same: there is no such ticket
        raise NotFound(f"没有找到工单 #{too_long}。")
    raise Invalid(_INTO_HINT)


def _do(
    session: Session,
    settings: Settings,
    actor: Actor,
    ticket_id: int,
    *,
    action: Action,
    form: dict[str, str],
    now: datetime,
) -> Outcome:
    if action is Action.ASSIGN:
        return domain_tickets.assign(
            session, settings, actor, ticket_id, form["assignee"], now=now, listed_only=True
        )
    if action is Action.RESOLVE:
        return domain_tickets.resolve(session, settings, actor, ticket_id, form["text"], now=now)
    if action is Action.ESCALATE:
        return domain_tickets.escalate(session, settings, actor, ticket_id, form["text"], now=now)
    if action is Action.DISMISS:
        return domain_tickets.dismiss(session, settings, actor, ticket_id, form["text"], now=now)
    if action is Action.RECLASSIFY:
        return domain_tickets.reclassify(
            session, settings, actor, ticket_id, form["category"], now=now
        )
    return domain_tickets.merge(session, settings, actor, ticket_id, _into(form["into"]), now=now)


def _what(action: Action, form: dict[str, str]) -> str:
    """The audit line's account of what was asked (ids and codes: no resident's words)."""
    if action is Action.ASSIGN:
        return f" to {form['assignee'][:128]}"
    if action is Action.RECLASSIFY:
        return f" as {form['category'][:32]}"
    if action is Action.MERGE:
        return f" into #{form['into'][:12]}"
    return ""


@router.post("/tickets/{number}/{slug}")
def act(
    request: Request,
    *,
    number: str,
    slug: str,
    viewer: Annotated[Viewer, Depends(current_viewer)],
    csrf: Annotated[str | None, Form()] = None,
    assignee: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    into: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, viewer, csrf)
    ticket_id = ticket_number(request, number)
    action = _ACTIONS.get(slug)
    if action is None:
        raise PageError(404, "页面不存在", "没有这个操作。请回到工单页面重新操作。")
    form = {"assignee": assignee, "text": text, "category": category, "into": into}
    console = console_of(request)
    settings, now, who = console.settings, console.clock.now(), viewer.actor.contact_id
    with console.db.session() as session:
        _findable(session, viewer, ticket_id, action)
        outcome = committed(
            session,
            now,
            lambda: _do(
                session, settings, viewer.actor, ticket_id, action=action, form=form, now=now
            ),
        )
    if isinstance(outcome, DomainError):
        refused = outcome
        audit.warning(
            "web: %s refused %s of ticket #%d%s: %s",
            who,
            slug,
            ticket_id,
            _what(action, form),
            type(refused).__name__,
        )
        failed = Failure(action=action, message=refused.reply, form=form)
        return detail_page(request, viewer, ticket_id, failed=failed, status=status_of(refused))
    audit.info("web: %s did %s to ticket #%d%s", who, slug, ticket_id, _what(action, form))
    page = f"{console.root}/tickets/{ticket_id}"
    return flash.redirect(request, viewer, page, outcome.confirmation)


@router.get("/tickets/{number}/merge")
def merge_question(
    request: Request,
    number: str,
    viewer: Annotated[Viewer, Depends(current_viewer)],
    into: str = "",
) -> Response:
    """ "Merge #5 into #3?": both tickets side by side, and the button that does it."""
    ticket_id = ticket_number(request, number)
    console = console_of(request)
    settings = console.settings
    refused: DomainError | None = None
    with console.db.session() as session:
        _findable(session, viewer, ticket_id, Action.MERGE)
        try:
            pair = [
                _summary(t, viewer, settings)
                for t in domain_tickets.merge_target(session, viewer.actor, ticket_id, _into(into))
            ]
        except DomainError as exc:
            refused = exc
    if refused is not None:
        failed = Failure(action=Action.MERGE, message=refused.reply, form={"into": into})
        return detail_page(request, viewer, ticket_id, failed=failed, status=status_of(refused))
    return render(
        request,
        "merge.html",
        {
            "title": f"合并工单 #{ticket_id}",
            "viewer": viewer,
            "nav": "tickets",
            "ticket": pair[0],
            "target": pair[1],
        },
    )


def _summary(ticket: Ticket, viewer: Viewer, settings: Settings) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "category": category_name(settings, ticket.category),
        "status": STATUSES.get(ticket.status, ticket.status),
        "text": shown(viewer.actor, ticket.text),
        "reporter": shown(viewer.actor, ticket.reporter_name),
        "same": ticket.same_count,
        "created": local_time(ticket.created_at, settings.tz),
    }
