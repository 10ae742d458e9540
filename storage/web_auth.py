"""The web console's one-time login links and sessions.

Both are kept by the SHA-256 of their secret only: whoever reads the database (a backup, a
copy on a laptop) can open no session with what is there. The secrets themselves are said
once, to their owner: the link to the leader who asked for it, the cookie to the browser.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import CursorResult, delete, or_, update
from sqlmodel import Session, col, select

from storage.models import WebLoginToken, WebSession

__all__ = [
    "KEEP_DAYS",
    "TOKEN_MINUTES",
    "LoginAttempt",
    "NewSession",
    "Refusal",
    "check_login_token",
    "consume_login_token",
    "create_login_token",
    "create_session",
    "end_session",
    "find_session",
    "forget_before",
]

TOKEN_MINUTES = 10
# spent links and finished sessions are deleted this long after they ended (the audit log
# keeps who logged in when)
KEEP_DAYS = 90
# what token_urlsafe makes, with room: anything else is no secret of ours, and not looked up
_SECRET = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


class Refusal(StrEnum):
    """Why a login link opens nothing."""

    UNKNOWN = "unknown"  # no such link (mistyped, cut, or deleted long ago)
    USED = "used"  # opened before: a link works once
    EXPIRED = "expired"  # older than TOKEN_MINUTES


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """A link opened: whose it is (None when unknown) and why it was refused (None: it was
    good, and is now spent)."""

    contact_id: str | None
    refused: Refusal | None


@dataclass(frozen=True, slots=True)
class NewSession:
    secret: str  # the cookie's value
    csrf: str  # what the session's forms carry
    expires_at: datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_login_token(
    *,
    session: Session,
    contact_id: str,
    now: datetime,
    ttl: timedelta = timedelta(minutes=TOKEN_MINUTES),
) -> str:
    """A new one-time login for ``contact_id``: the secret for the link (returned, not kept)."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebLoginToken(
            token_hash=_digest(token), contact_id=contact_id, created_at=now, expires_at=now + ttl
        )
    )
    return token


def check_login_token(*, session: Session, token: str, now: datetime) -> LoginAttempt:
    """Whose login link ``token`` is, and whether it is good now, without spending it: a link
    opened by a link-preview fetcher or a virus scanner must still work for its owner."""
    return _login_token(session, token, now)[0]


def _login_token(
    session: Session, token: str, now: datetime
) -> tuple[LoginAttempt, WebLoginToken | None]:
    if not _SECRET.match(token):
        return LoginAttempt(None, Refusal.UNKNOWN), None
    row = session.exec(
        select(WebLoginToken).where(WebLoginToken.token_hash == _digest(token))
    ).first()
    if row is None:
        return LoginAttempt(None, Refusal.UNKNOWN), None
    if row.used_at is not None:
        return LoginAttempt(row.contact_id, Refusal.USED), row
    if row.expires_at <= now:
        return LoginAttempt(row.contact_id, Refusal.EXPIRED), row
    return LoginAttempt(row.contact_id, None), row


def consume_login_token(*, session: Session, token: str, now: datetime) -> LoginAttempt:
    """Spend the login link ``token``: whose it is, if it is good now. The caller commits."""
    attempt, row = _login_token(session, token, now)
    if attempt.refused is not None or row is None:
        return attempt
    # Spent by whichever request sets used_at first: a link opened twice at once (two tabs,
    # a forwarded copy) opens one session, whatever the other request read above.
    spent = session.execute(
        update(WebLoginToken)
        .where(col(WebLoginToken.id) == row.id, col(WebLoginToken.used_at).is_(None))
        .values(used_at=now)
    )
    assert isinstance(spent, CursorResult)
    if spent.rowcount != 1:
        return LoginAttempt(row.contact_id, Refusal.USED)
    return LoginAttempt(row.contact_id, None)


def create_session(
    *, session: Session, contact_id: str, now: datetime, ttl: timedelta
) -> NewSession:
    """A session for ``contact_id`` (just logged in), lasting ``ttl``. The caller commits."""
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        WebSession(
            session_hash=_digest(secret),
            contact_id=contact_id,
            csrf_secret=csrf,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return NewSession(secret=secret, csrf=csrf, expires_at=now + ttl)


def find_session(*, session: Session, secret: str, now: datetime) -> WebSession | None:
    """The live session whose cookie is ``secret``: neither ended nor expired."""
    if not _SECRET.match(secret):
        return None
    return session.exec(
        select(WebSession).where(
            WebSession.session_hash == _digest(secret),
            col(WebSession.ended_at).is_(None),
            col(WebSession.expires_at) > now,
        )
    ).first()


def end_session(*, session: Session, secret: str, now: datetime) -> WebSession | None:
    """End the live session whose cookie is ``secret`` (logout); the one ended, if any."""
    found = find_session(session=session, secret=secret, now=now)
    if found is not None:
        found.ended_at = now
        session.add(found)
    return found


def forget_before(*, session: Session, before: datetime) -> int:
    """Delete links that expired and sessions that ended or expired before ``before``; how
    many rows went."""
    tokens = session.execute(delete(WebLoginToken).where(col(WebLoginToken.expires_at) < before))
    sessions = session.execute(
        delete(WebSession).where(
            or_(col(WebSession.expires_at) < before, col(WebSession.ended_at) < before)
        )
    )
    assert isinstance(tokens, CursorResult)
    assert isinstance(sessions, CursorResult)
    return tokens.rowcount + sessions.rowcount
