"""What every page of the console shares: the services it runs on, rendering, and the
errors a page ends in (each a page in Chinese, never a traceback or JSON)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlmodel import Session
from starlette.responses import Response

from bot.clock import Clock
from bot.events import Outbound
from bot.outbox import queue_outbound
from bot.settings import Settings
from domain.errors import DomainError, Invalid, NotAllowed, NotFound, WrongState
from storage.db import Database

__all__ = [
    "PACKAGE_DIR",
    "STATUS_OF",
    "Console",
    "PageError",
    "audit",
    "committed",
    "console_of",
    "download",
    "known_grid",
    "page_number",
    "render",
    "settled",
    "status_of",
]

# Logins, logouts and refusals, beside the chat's privileged commands (bot/dispatcher.py).
audit = logging.getLogger("gridbot.audit")

PACKAGE_DIR = Path(str(files("web")))

# How a refusal answers (domain/errors.py says which is which).
STATUS_OF: dict[type[DomainError], int] = {
    NotFound: 404,
    NotAllowed: 403,
    WrongState: 409,
    Invalid: 422,
}


@dataclass(frozen=True, slots=True)
class Console:
    """The services the console runs on: the bot's, when it runs beside the bot."""

    settings: Settings
    db: Database
    clock: Clock
    templates: Jinja2Templates

    @property
    def root(self) -> str:
        """The path the console is served under: that of ``web.base_url`` (behind a reverse
        proxy at https://jiedao.example.cn/gridbot, "/gridbot"), else ""."""
        return urlsplit(self.settings.web.url).path.rstrip("/")


class PageError(Exception):
    """A request that ends in an error page: its status, title and what to do now."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(f"{status} {title}")
        self.status = status
        self.title = title
        self.message = message


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def render(
    request: Request, template: str, context: dict[str, Any], *, status: int = 200
) -> Response:
    console = console_of(request)
    return console.templates.TemplateResponse(
        request, template, {"root": console.root, **context}, status_code=status
    )


def download(content: bytes, media_type: str, name: str, *, fallback: str) -> Response:
    """A file the browser saves as ``name`` (a Chinese name, UTF-8 encoded in the header),
    or as ``fallback`` (ASCII) where it can't read that."""
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
            )
        },
    )


# a page number past this is read as this: no list is that long, and it stays an integer
MAX_PAGE = 100_000


def page_number(text: str) -> int:
    """A list's ``page`` parameter: 1 for what is not a number."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    return MAX_PAGE if len(text) > 9 else min(max(int(text), 1), MAX_PAGE)


def known_grid(text: str, settings: Settings, problems: list[str]) -> str | None:
    """A list's ``grid`` parameter, if the config has that grid; else None, said in
    ``problems``."""
    grid = text.strip() or None
    if grid is not None and settings.grid(grid) is None:
        problems.append(f"没有这个网格「{grid[:20]}」，已忽略")
        return None
    return grid


def status_of(exc: DomainError) -> int:
    return next((code for kind, code in STATUS_OF.items() if isinstance(exc, kind)), 400)


class _Told(Protocol):
    @property
    def messages(self) -> tuple[Outbound, ...]: ...


_T = TypeVar("_T", bound=_Told)
_R = TypeVar("_R")


def settled(session: Session, operation: Callable[[], _R]) -> _R | DomainError:
    """Run a domain operation in ``session``: all it wrote committed; or its refusal, all it
    wrote rolled back."""
    try:
        done = operation()
    except DomainError as exc:
        session.rollback()
        return exc
    session.commit()
    return done


def committed(session: Session, now: datetime, operation: Callable[[], _T]) -> _T | DomainError:
    """:func:`settled`, with the operation's messages queued into the outbox and committed
    with the rest (the bot sends them)."""

    def told() -> _T:
        done = operation()
        queue_outbound(session, done.messages, now=now)
        return done

    return settled(session, told)
