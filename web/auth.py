"""Login through WeChat, sessions and CSRF.

There are no passwords: `/后台` (or `gridbot web-link`) gives a leader or an administrator a
link that logs in once, within minutes. The session it opens is a cookie (HttpOnly,
SameSite=Lax, Secure over https); who the viewer is and which grids they see is asked of
:func:`domain.actor.actor_for` at every request, so a leader taken out of the config loses
the console at his next click. Every form that writes carries the session's CSRF secret.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session, col, select
from starlette.responses import RedirectResponse, Response

from bot.settings import Settings
from domain.actor import Actor, actor_for
from storage import web_auth
from storage.models import Member
from web.base import PageError, audit, console_of, render

__all__ = ["COOKIE", "Viewer", "check_csrf", "current_viewer", "router"]

COOKIE = "gridbot_session"

router = APIRouter()

_LOGIN_HINT = "请在微信里私聊机器人发送 /后台，用收到的链接登录（链接 10 分钟内有效，只能用一次）。"

_REFUSALS = {
    web_auth.Refusal.USED: (
        "登录链接已用过",
        "每个登录链接只能用一次。请在微信里私聊机器人重新发送 /后台，获取新的链接。",
    ),
    web_auth.Refusal.EXPIRED: (
        "登录链接已过期",
        f"登录链接 {web_auth.TOKEN_MINUTES} 分钟内有效。"
        "请在微信里私聊机器人重新发送 /后台，获取新的链接。",
    ),
    web_auth.Refusal.UNKNOWN: (
        "登录链接无效",
        "这个链接不是有效的登录链接，可能没有复制完整。"
        "请在微信里私聊机器人发送 /后台，获取新的链接。",
    ),
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking, as the rights see them, and what their forms carry."""

    actor: Actor
    name: str
    csrf: str

    @property
    def role_label(self) -> str:
        return "街道管理员" if self.actor.is_admin else "网格长"


def _name(session: Session, settings: Settings, contact_id: str) -> str:
    """The name a viewer is greeted by: the config's, else the one they last had in a group."""
    for grid in settings.grids:
        if contact_id in grid.leader_names:
            return grid.leader_names[contact_id]
    seen = session.exec(
        select(Member.display_name)
        .where(Member.contact_id == contact_id)
        .order_by(col(Member.last_seen).desc())
        .limit(1)
    ).first()
    return seen or settings.console.people.get(contact_id) or contact_id


def current_viewer(request: Request) -> Viewer:
    """The logged-in viewer of ``request``; a 401 page for anyone else, 403 for someone
    whose session is good but who leads and administers nothing any more."""
    console = console_of(request)
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise PageError(401, "请先登录", _LOGIN_HINT)
    now = console.clock.now()
    with console.db.session() as session:
        found = web_auth.find_session(session=session, secret=secret, now=now)
        if found is None:
            raise PageError(401, "登录已失效", "登录已过期或已退出。" + _LOGIN_HINT)
        actor = actor_for(session, console.settings, found.contact_id)
        if actor is None:
            web_auth.end_session(session=session, secret=secret, now=now)
            session.commit()
            audit.warning(
                "web: session of %s ended: no longer a leader or administrator", found.contact_id
            )
            raise PageError(403, "无权使用后台", "后台仅限网格长和街道管理员使用。")
        name = _name(session, console.settings, found.contact_id)
    viewer = Viewer(actor=actor, name=name, csrf=found.csrf_secret)
    request.state.viewer = viewer  # an error page further on still shows who is logged in
    return viewer


def check_csrf(request: Request, viewer: Viewer, token: str | None) -> None:
    """Refuse a form that does not carry the viewer's session's CSRF secret: one posted
    from another site, or from a page of a session that has ended since."""
    if token is not None and secrets.compare_digest(token.encode(), viewer.csrf.encode()):
        return
    audit.warning(
        "web: %s %s by %s refused: CSRF token %s",
        request.method,
        request.url.path,
        viewer.actor.contact_id,
        "missing" if token is None else "wrong",
    )
    raise PageError(403, "请求无效", "页面已过期或来自其他网站。请回到后台重新操作。")


@router.get("/")
def home(request: Request) -> Response:
    console = console_of(request)
    secret = request.cookies.get(COOKIE)
    if secret:
        with console.db.session() as session:
            found = web_auth.find_session(session=session, secret=secret, now=console.clock.now())
        if found is not None:
            return RedirectResponse(f"{console.root}/tickets", status_code=303)
    return render(request, "message.html", {"title": "指挥中心后台", "message": _LOGIN_HINT})


@router.get("/login/{token}")
def login_page(request: Request, token: str) -> Response:
    """The link from the chat opens a page with a button, and only the button spends it:
    chat apps and mail scanners fetch links to preview them, and a link spent by such a
    fetch would greet its owner with "已用过"."""
    console = console_of(request)
    with console.db.session() as session:
        attempt = web_auth.check_login_token(session=session, token=token, now=console.clock.now())
    _refuse(attempt)
    return render(request, "login.html", {"title": "登录指挥中心后台", "action": request.url.path})


def _refuse(attempt: web_auth.LoginAttempt) -> None:
    if attempt.refused is not None:
        audit.warning(
            "web login refused: %s link of %s",
            attempt.refused.value,
            attempt.contact_id or "nobody known",
        )
        title, message = _REFUSALS[attempt.refused]
        raise PageError(403, title, message)


@router.post("/login/{token}")
def login(request: Request, token: str) -> Response:
    console = console_of(request)
    settings, now = console.settings, console.clock.now()
    with console.db.session() as session:
        attempt = web_auth.consume_login_token(session=session, token=token, now=now)
        _refuse(attempt)
        assert attempt.contact_id is not None
        contact_id = attempt.contact_id
        actor = actor_for(session, settings, contact_id)
        if actor is None:
            session.commit()  # the link is spent all the same
            audit.warning("web login refused to %s: not a leader or administrator", contact_id)
            raise PageError(403, "无权使用后台", "后台仅限网格长和街道管理员使用。")
        # a browser logging in again ends its old session: one cookie, one session
        old = request.cookies.get(COOKIE)
        if old:
            web_auth.end_session(session=session, secret=old, now=now)
        hours = settings.web.session_hours
        opened = web_auth.create_session(
            session=session, contact_id=contact_id, now=now, ttl=timedelta(hours=hours)
        )
        web_auth.forget_before(session=session, before=now - timedelta(days=web_auth.KEEP_DAYS))
        session.commit()
    audit.info("web login by %s (role %s)", contact_id, actor.role.name)
    response = RedirectResponse(f"{console.root}/tickets", status_code=303)
    response.set_cookie(
        COOKIE,
        opened.secret,
        max_age=hours * 3600,
        expires=opened.expires_at.astimezone(UTC),
        path=console.root or "/",
        secure=settings.web.secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.post("/logout")
def logout(
    request: Request,
    viewer: Annotated[Viewer, Depends(current_viewer)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, viewer, csrf)
    console = console_of(request)
    with console.db.session() as session:
        web_auth.end_session(
            session=session, secret=request.cookies.get(COOKIE, ""), now=console.clock.now()
        )
        session.commit()
    audit.info("web logout by %s", viewer.actor.contact_id)
    response = RedirectResponse(f"{console.root}/logged-out", status_code=303)
    response.delete_cookie(
        COOKIE, path=console.root or "/", secure=console.settings.web.secure, httponly=True
    )
    return response


@router.get("/logged-out")
def logged_out(request: Request) -> Response:
    return render(
        request,
        "message.html",
        {"title": "已退出登录", "message": "你已退出后台。再次使用时，" + _LOGIN_HINT},
    )
