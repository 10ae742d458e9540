from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from storage import web_auth
from storage.db import Database
from storage.models import WebLoginToken, WebSession
from storage.web_auth import Refusal

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
ADMIN = "wxid_street_admin"
HOURS = timedelta(hours=12)


def _token(db: Database, at: datetime = NOW, contact_id: str = ADMIN) -> str:
    with db.session() as session:
        token = web_auth.create_login_token(session=session, contact_id=contact_id, now=at)
        session.commit()
    return token


def _consume(db: Database, token: str, at: datetime) -> web_auth.LoginAttempt:
    with db.session() as session:
        attempt = web_auth.consume_login_token(session=session, token=token, now=at)
        session.commit()
    return attempt


def test_a_link_logs_in_once_and_is_refused_after(db: Database) -> None:
    token = _token(db)
    assert _consume(db, token, NOW + timedelta(minutes=1)) == web_auth.LoginAttempt(ADMIN, None)
    # a replay (the same link from the chat history, or a forwarded copy) is refused
    again = _consume(db, token, NOW + timedelta(minutes=2))
    assert again == web_auth.LoginAttempt(ADMIN, Refusal.USED)


def test_a_link_is_good_for_ten_minutes(db: Database) -> None:
    early, late = _token(db), _token(db)
    in_time = NOW + timedelta(minutes=web_auth.TOKEN_MINUTES) - timedelta(seconds=1)
    assert _consume(db, early, in_time).refused is None
    expired = _consume(db, late, NOW + timedelta(minutes=web_auth.TOKEN_MINUTES))
    assert expired == web_auth.LoginAttempt(ADMIN, Refusal.EXPIRED)
    # and an expired link stays unused: it is not spent by being refused
    with db.session() as session:
        used = session.exec(select(WebLoginToken.used_at).order_by(WebLoginToken.id)).all()
    assert used[1] is None


@pytest.mark.parametrize(
    "token",
    ["", "x", "abc/../../etc/passwd", "a" * 129, "好" * 40, "' OR 1=1 --", "A" * 43],
)
def test_what_is_no_link_of_ours_opens_nothing(db: Database, token: str) -> None:
    _token(db)
    assert _consume(db, token, NOW) == web_auth.LoginAttempt(None, Refusal.UNKNOWN)


def test_only_the_hash_of_a_link_is_stored(db: Database) -> None:
    token = _token(db)
    with db.session() as session:
        row = session.exec(select(WebLoginToken)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.token_hash, row.contact_id)
    assert row.expires_at == NOW + timedelta(minutes=10)


def test_a_session_is_found_by_its_secret_until_it_ends(db: Database) -> None:
    with db.session() as session:
        opened = web_auth.create_session(session=session, contact_id=ADMIN, now=NOW, ttl=HOURS)
        other = web_auth.create_session(session=session, contact_id=ADMIN, now=NOW, ttl=HOURS)
        session.commit()
    assert opened.csrf != other.csrf
    assert opened.expires_at == NOW + HOURS
    with db.session() as session:
        found = web_auth.find_session(session=session, secret=opened.secret, now=NOW)
        assert found is not None
        assert (found.contact_id, found.csrf_secret) == (ADMIN, opened.csrf)
        assert web_auth.find_session(session=session, secret=opened.csrf, now=NOW) is None
        assert web_auth.end_session(session=session, secret=opened.secret, now=NOW) is not None
        session.commit()
    with db.session() as session:
        assert web_auth.find_session(session=session, secret=opened.secret, now=NOW) is None
        assert web_auth.end_session(session=session, secret=opened.secret, now=NOW) is None
        # the other session of the same person is untouched
        assert web_auth.find_session(session=session, secret=other.secret, now=NOW) is not None
        stored = session.exec(select(WebSession.session_hash)).all()
    assert opened.secret not in stored


def test_a_session_expires(db: Database) -> None:
    with db.session() as session:
        opened = web_auth.create_session(session=session, contact_id=ADMIN, now=NOW, ttl=HOURS)
        session.commit()
    with db.session() as session:
        before = NOW + HOURS - timedelta(seconds=1)
        assert web_auth.find_session(session=session, secret=opened.secret, now=before)
        assert web_auth.find_session(session=session, secret=opened.secret, now=NOW + HOURS) is None


def test_old_links_and_sessions_are_forgotten(db: Database) -> None:
    old, new = NOW - timedelta(days=100), NOW
    _token(db, old)
    _token(db, new)
    with db.session() as session:
        web_auth.create_session(session=session, contact_id=ADMIN, now=old, ttl=HOURS)
        ended = web_auth.create_session(
            session=session, contact_id=ADMIN, now=old, ttl=HOURS * 1000
        )
        web_auth.create_session(session=session, contact_id=ADMIN, now=new, ttl=HOURS)
        session.commit()
        web_auth.end_session(session=session, secret=ended.secret, now=old + HOURS)
        session.commit()
        gone = web_auth.forget_before(session=session, before=NOW - timedelta(days=90))
        session.commit()
    assert gone == 3
    with db.session() as session:
        assert len(session.exec(select(WebLoginToken)).all()) == 1
        assert len(session.exec(select(WebSession)).all()) == 1
