"""What every page of the console shares: the services it runs on, rendering, and the
errors a page ends in (each a page in Chinese, never a traceback or JSON)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from bot.clock import Clock
from bot.settings import Settings
from storage.db import Database

__all__ = ["PACKAGE_DIR", "Console", "PageError", "audit", "console_of", "render"]

# Logins, logouts and refusals, beside the chat's privileged commands (bot/dispatcher.py).
audit = logging.getLogger("gridbot.audit")

PACKAGE_DIR = Path(str(files("web")))


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
