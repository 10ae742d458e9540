"""API keys: what the city's platform (12345, 平安) reads the grids' tickets with, through
/api/v1/ and Open311 (web/api.py, web/open311.py).

A key is ``gbk_`` and 43 random characters. It is said once, to whoever makes it
(`gridbot api-key create`); the database keeps its SHA-256 and its first 12 characters (the
prefix, shown in lists and logs, and the row is found by). A copy of the database opens
nothing. Keys are revoked, never deleted: the audit log's names and prefixes stay meaningful.

Residents reach a platform under pseudonyms (:func:`pseudonym`), keyed by a secret of the key
that is never shown: a platform can follow one resident's reports, but can't tell his WeChat
id, nor match him with another platform's ids. A new key made under a revoked key's name
keeps that secret, so replacing a leaked key changes no resident's id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from storage.models import ApiKey

__all__ = [
    "KEY_PREFIX",
    "NAME_CHARS",
    "PREFIX_CHARS",
    "Check",
    "NameTaken",
    "NewKey",
    "Refusal",
    "authenticate",
    "check_name",
    "create",
    "list_keys",
    "pseudonym",
    "revoke",
]

KEY_PREFIX = "gbk_"
PREFIX_CHARS = len(KEY_PREFIX) + 8
NAME_CHARS = 64
# what create() makes, with room; anything else is no key of ours and not looked up
_KEY = re.compile(rf"^{KEY_PREFIX}[A-Za-z0-9_-]{{40,64}}$")
# a key's last use is written at most this often: not a write for every request
USED_EVERY = timedelta(minutes=1)
# compared with when the prefix finds no key, so that an unknown key takes as long
_NO_HASH = hashlib.sha256(b"no such key").hexdigest()


class Refusal(StrEnum):
    UNKNOWN = "unknown"  # not a key of ours (mistyped, cut, made up)
    REVOKED = "revoked"


class NameTaken(ValueError):
    """A live key has that name already: revoke it first (its successor keeps its
    pseudonyms)."""


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # the secret: said once, not kept
    row: ApiKey


@dataclass(frozen=True, slots=True)
class Check:
    """A key presented: the key (None when unknown) and why it opens nothing (None: good)."""

    key: ApiKey | None
    refused: Refusal | None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def check_name(name: str) -> str | None:
    """Why ``name`` can't name a key (in English, for the command line), or None."""
    if not name or name != name.strip():
        return "a key's name must not be empty or start or end with a space"
    if len(name) > NAME_CHARS:
        return f"a key's name is at most {NAME_CHARS} characters"
    if not name.isprintable():
        return "a key's name must be printable"
    if name.startswith(KEY_PREFIX):
        return f"a key's name must not start with {KEY_PREFIX} (that is how keys start)"
    return None


def _live(session: Session, name: str) -> ApiKey | None:
    return session.exec(
        select(ApiKey).where(ApiKey.name == name, col(ApiKey.revoked_at).is_(None))
    ).first()


def create(
    *, session: Session, name: str, grids: Collection[str], created_by: str, now: datetime
) -> NewKey:
    """A new key named ``name`` that reads ``grids`` (empty: every grid); the secret is in
    the answer and nowhere else. The caller commits. Raises :class:`NameTaken` when a live
    key has the name, ValueError for a name :func:`check_name` refuses."""
    problem = check_name(name)
    if problem is not None:
        raise ValueError(problem)
    if _live(session, name) is not None:
        raise NameTaken(f"a live key is named {name!r}")
    earlier = session.exec(
        select(ApiKey.pseudonym_secret)
        .where(ApiKey.name == name)
        .order_by(col(ApiKey.id).desc())
        .limit(1)
    ).first()
    while True:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        prefix = key[:PREFIX_CHARS]
        # 48 random bits: a prefix met twice is very rare, and then drawn again
        if session.exec(select(ApiKey.id).where(ApiKey.prefix == prefix)).first() is None:
            break
    row = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=_digest(key),
        pseudonym_secret=earlier or secrets.token_hex(32),
        grids=sorted(set(grids)),
        created_at=now,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return NewKey(key=key, row=row)


def authenticate(*, session: Session, presented: str, now: datetime) -> Check:
    """The key ``presented`` (as a request carries it), and whether it opens the API now. A
    good key's last use is noted (at most once a minute); the caller commits."""
    if not _KEY.match(presented):
        return Check(None, Refusal.UNKNOWN)
    row = session.exec(select(ApiKey).where(ApiKey.prefix == presented[:PREFIX_CHARS])).first()
    # the whole hash compared in constant time: a near miss tells nothing about the key
    same = hmac.compare_digest(_digest(presented), row.key_hash if row else _NO_HASH)
    if row is None or not same:
        return Check(None, Refusal.UNKNOWN)
    if row.revoked_at is not None:
        return Check(row, Refusal.REVOKED)
    if row.last_used_at is None or row.last_used_at <= now - USED_EVERY:
        row.last_used_at = now
        session.add(row)
    return Check(row, None)


def revoke(*, session: Session, which: str, by: str, now: datetime) -> ApiKey | None:
    """Revoke the live key named ``which``, or whose prefix it is (or the whole key); the
    key revoked, None when no live key is so named. The caller commits."""
    row = _live(session, which)
    if row is None and which.startswith(KEY_PREFIX):
        row = session.exec(
            select(ApiKey).where(
                ApiKey.prefix == which[:PREFIX_CHARS], col(ApiKey.revoked_at).is_(None)
            )
        ).first()
        # the prefix itself, or the whole key: not any text that happens to start so
        whole = bool(_KEY.match(which)) and row is not None
        if (
            row is not None
            and which != row.prefix
            and not (whole and hmac.compare_digest(_digest(which), row.key_hash))
        ):
            row = None
    if row is None:
        return None
    row.revoked_at = now
    row.revoked_by = by
    session.add(row)
    session.flush()
    return row


def list_keys(*, session: Session) -> Sequence[ApiKey]:
    """Every key, revoked ones too, oldest first."""
    return session.exec(select(ApiKey).order_by(col(ApiKey.id))).all()


def pseudonym(key: ApiKey, contact_id: str) -> str:
    """The id ``key``'s readers know the person ``contact_id`` by: the same at every call,
    and no way back to the contact id without the key's secret."""
    digest = hmac.new(key.pseudonym_secret.encode("ascii"), contact_id.encode(), hashlib.sha256)
    return "p_" + digest.hexdigest()[:20]
