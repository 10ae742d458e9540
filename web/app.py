"""The console as one ASGI application: its pages, its files, and its errors as pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from bot import health
from bot.clock import Clock
from bot.settings import Settings
from storage.db import Database
from web import auth, grids, notices, points, stats, ticket_actions, tickets
from web.api import create_api
from web.base import PACKAGE_DIR, Console, PageError, render
from web.open311 import create_open311

__all__ = ["create_app"]

# The pages load nothing from elsewhere (offices run on intranets) and run no script: a
# page's HTML can't be made to, whatever a resident's words hold.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # the login link's secret is in its address: no page sends it on as a referrer
    "Referrer-Policy": "no-referrer",
}

_STATUS_TITLES = {
    400: "请求有误",
    404: "页面不存在",
    405: "不支持的操作",
}


def create_app(settings: Settings, db: Database, clock: Clock) -> FastAPI:
    """The console on ``db``, as ``settings`` say, telling time by ``clock``."""
    templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")
    templates.env.trim_blocks = templates.env.lstrip_blocks = True
    console = Console(settings=settings, db=db, clock=clock, templates=templates)
    # No OpenAPI pages for the pages: the API (web/api.py) has a schema of its own.
    app = FastAPI(title="网格助手 指挥中心后台", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = console
    root = console.root
    app.mount(f"{root}/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    app.include_router(auth.router, prefix=root)
    app.include_router(tickets.router, prefix=root)
    app.include_router(ticket_actions.router, prefix=root)
    app.include_router(stats.router, prefix=root)
    app.include_router(points.router, prefix=root)
    app.include_router(notices.router, prefix=root)
    app.include_router(grids.router, prefix=root)
    app.mount(f"{root}/api/v1", create_api(console))  # JSON, with a schema of its own
    app.mount(f"{root}/open311/v2", create_open311(console))

    @app.get(f"{root}/healthz")
    def healthz() -> Response:
        # For monitoring, without a login: what `gridbot status --json` prints, 503 when
        # unhealthy. It names the bot's own accounts and counts, nothing of residents'.
        report = health.report(settings, db, clock.now())
        return JSONResponse(report, status_code=200 if report["healthy"] else 503)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        response = render(
            request,
            "message.html",
            {
                "title": exc.title,
                "message": exc.message,
                "status": exc.status,
                "viewer": getattr(request.state, "viewer", None),
            },
            status=exc.status,
        )
        if exc.status == 401:  # a cookie of a session that is over: forget it
            response.delete_cookie(auth.COOKIE, path=root or "/")
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        title = _STATUS_TITLES.get(exc.status_code, "出错了")
        message = "请检查地址是否正确，或回到工单列表。"
        return render(
            request,
            "message.html",
            {"title": title, "message": message, "status": exc.status_code},
            status=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return render(
            request,
            "message.html",
            {"title": "请求有误", "message": "请回到工单列表重新操作。", "status": 400},
            status=400,
        )

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith(f"{root}/static/"):
            # residents' words and names: not to be kept by a shared computer's browser
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
