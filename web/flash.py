"""What an action did, said on the page it leads back to.

An action's form is posted, and answered with a redirect to the ticket (a reload must not
post it again: a second 派单 would tell the group twice). The sentence to show there rides in
a short-lived cookie, signed with the session's CSRF secret, so that no other site, nor a
link, can make the console say something it did not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from web.auth import Viewer
from web.base import console_of

__all__ = ["COOKIE", "forget", "read", "redirect", "remember", "shown"]

COOKIE = "gridbot_done"
_SECONDS = 120
_SIGNATURE_CHARS = 32


def _signature(viewer: Viewer, payload: str) -> str:
    digest = hmac.new(viewer.csrf.encode(), payload.encode("ascii"), hashlib.sha256)
    return digest.hexdigest()[:_SIGNATURE_CHARS]


def remember(request: Request, response: Response, viewer: Viewer, page: str, text: str) -> None:
    """Have ``page`` (a path) say ``text`` the next time ``viewer`` opens it."""
    console = console_of(request)
    payload = base64.urlsafe_b64encode(f"{page}\n{text}".encode()).decode("ascii")
    response.set_cookie(
        COOKIE,
        f"{payload}.{_signature(viewer, payload)}",
        max_age=_SECONDS,
        path=console.root or "/",
        secure=console.settings.web.secure,
        httponly=True,
        samesite="lax",
    )


def read(request: Request, viewer: Viewer, page: str) -> str | None:
    """The sentence left for ``page`` by ``viewer``'s last action, if any (and good)."""
    value = request.cookies.get(COOKIE, "")
    payload, _dot, signature = value.rpartition(".")
    if not payload or not payload.isascii():
        return None
    if not hmac.compare_digest(
        signature.encode("ascii", "replace"), _signature(viewer, payload).encode()
    ):
        return None
    try:
        meant, _newline, text = base64.urlsafe_b64decode(payload).decode().partition("\n")
    except (ValueError, UnicodeDecodeError):
        return None
    return text if meant == page else None


def forget(request: Request, response: Response) -> None:
    """The sentence was shown: don't show it again on a reload."""
    if COOKIE in request.cookies:
        console = console_of(request)
        response.delete_cookie(
            COOKIE, path=console.root or "/", secure=console.settings.web.secure, httponly=True
        )


def redirect(request: Request, viewer: Viewer, page: str, text: str) -> Response:
    """Back to ``page`` (a path), which says ``text`` once: a reload must not post again."""
    response = RedirectResponse(page, status_code=303)
    remember(request, response, viewer, page, text)
    return response


def shown(
    request: Request, viewer: Viewer, page: str, show: Callable[[str | None], Response]
) -> Response:
    """``show(done)``: ``page`` with what ``viewer``'s last action on it did, said once."""
    done = read(request, viewer, page)
    response = show(done)
    if done is not None:
        forget(request, response)
    return response
