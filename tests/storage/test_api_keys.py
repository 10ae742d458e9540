from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from storage import api_keys
from storage.api_keys import Refusal
from storage.db import Database
from storage.models import ApiKey

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
BY = "cli:root"


def _create(db: Database, name: str = "12345平台", grids: tuple[str, ...] = ()) -> str:
    with db.session() as session:
        made = api_keys.create(session=session, name=name, grids=grids, created_by=BY, now=NOW)
        session.commit()
    return made.key


def _check(db: Database, key: str, at: datetime = NOW) -> api_keys.Check:
    with db.session() as session:
        found = api_keys.authenticate(session=session, presented=key, now=at)
        session.commit()
        return found


def _row(db: Database, name: str) -> ApiKey:
    with db.session() as session:
        return session.exec(select(ApiKey).where(ApiKey.name == name)).one()


def test_a_key_is_kept_as_its_hash_and_prefix_only(db: Database) -> None:
    key = _create(db, grids=("G04", "G03", "G03"))
    assert key.startswith("gbk_")
    assert len(key) == 47
    row = _row(db, "12345平台")
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.prefix == key[:12]
    assert key not in (row.key_hash, row.prefix, row.pseudonym_secret)
    assert (row.grids, row.created_by, row.created_at) == (["G03", "G04"], BY, NOW)
    assert row.last_used_at is None
    assert row.revoked_at is None


def test_a_good_key_opens_and_its_use_is_noted_once_a_minute(db: Database) -> None:
    key = _create(db)
    found = _check(db, key)
    assert found.refused is None
    assert found.key is not None
    assert found.key.name == "12345平台"
    assert _row(db, "12345平台").last_used_at == NOW
    _check(db, key, NOW + timedelta(seconds=30))  # not written again yet
    assert _row(db, "12345平台").last_used_at == NOW
    _check(db, key, NOW + timedelta(minutes=2))
    assert _row(db, "12345平台").last_used_at == NOW + timedelta(minutes=2)


@pytest.mark.parametrize(
    "presented",
    ["", "gbk_", "Bearer", "x" * 47, "' OR 1=1 --", "gbk_" + "好" * 43, "gbk_" + "A" * 200],
)
def test_what_is_no_key_of_ours_opens_nothing(db: Database, presented: str) -> None:
    _create(db)
    assert _check(db, presented) == api_keys.Check(None, Refusal.UNKNOWN)


def test_a_key_differing_after_its_prefix_opens_nothing(db: Database) -> None:
    key = _create(db)
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert _check(db, forged) == api_keys.Check(None, Refusal.UNKNOWN)
    assert _row(db, "12345平台").last_used_at is None


def test_a_revoked_key_opens_nothing_by_name_or_by_prefix(db: Database) -> None:
    first, second = _create(db, "平安平台"), _create(db, "12345平台")
    with db.session() as session:
        gone = api_keys.revoke(session=session, which="平安平台", by=BY, now=NOW)
        assert gone is not None
        assert gone.prefix == first[:12]
        # by prefix; a text that only starts like it is not the key
        assert api_keys.revoke(session=session, which=second[:12] + "x", by=BY, now=NOW) is None
        assert api_keys.revoke(session=session, which=second[:12], by=BY, now=NOW) is not None
        # nothing live is named so any more
        assert api_keys.revoke(session=session, which="平安平台", by=BY, now=NOW) is None
        session.commit()
    assert _check(db, first).refused is Refusal.REVOKED
    assert _check(db, second).refused is Refusal.REVOKED
    assert _row(db, "平安平台").revoked_by == BY


def test_one_live_key_per_name_and_its_successor_keeps_the_pseudonyms(db: Database) -> None:
    _create(db)
    with pytest.raises(api_keys.NameTaken), db.session() as session:
        api_keys.create(session=session, name="12345平台", grids=(), created_by=BY, now=NOW)
    other = _create(db, "平安平台")
    old = _check(db, other).key
    assert old is not None
    with db.session() as session:
        first = session.exec(select(ApiKey).where(ApiKey.name == "12345平台")).one()
        before = api_keys.pseudonym(first, "wxid_resident_zhang")
        api_keys.revoke(session=session, which="12345平台", by=BY, now=NOW)
        session.commit()
    _create(db, "12345平台")  # the leaked key replaced
    with db.session() as session:
        rows = session.exec(select(ApiKey).where(ApiKey.name == "12345平台")).all()
    assert len(rows) == 2
    assert rows[1].revoked_at is None
    assert api_keys.pseudonym(rows[1], "wxid_resident_zhang") == before
    # another platform knows the same resident by another id
    assert api_keys.pseudonym(old, "wxid_resident_zhang") != before


def test_the_database_refuses_two_live_keys_of_one_name(db: Database) -> None:
    _create(db)
    twin = ApiKey(
        name="12345平台",
        prefix="gbk_00000000",
        key_hash="0" * 64,
        pseudonym_secret="0" * 64,
        created_at=NOW,
        created_by=BY,
    )
    with db.session() as session:
        session.add(twin)
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()


def test_a_pseudonym_is_stable_and_not_the_contact_id(db: Database) -> None:
    _create(db)
    row = _row(db, "12345平台")
    made = api_keys.pseudonym(row, "wxid_resident_zhang")
    assert made == api_keys.pseudonym(row, "wxid_resident_zhang")
    assert made != api_keys.pseudonym(row, "wxid_resident_wang")
    assert "zhang" not in made
    assert made.startswith("p_")
    assert len(made) == 22


@pytest.mark.parametrize("name", ["", " 平台", "a" * 65, "平\n台", "gbk_abc"])
def test_a_bad_name_is_refused(db: Database, name: str) -> None:
    assert api_keys.check_name(name) is not None
    with pytest.raises(ValueError, match="name"), db.session() as session:
        api_keys.create(session=session, name=name, grids=(), created_by=BY, now=NOW)


def test_keys_are_listed_oldest_first_revoked_ones_too(db: Database) -> None:
    _create(db, "一")
    _create(db, "二")
    with db.session() as session:
        api_keys.revoke(session=session, which="一", by=BY, now=NOW)
        session.commit()
        listed = api_keys.list_keys(session=session)
    assert [(k.name, k.revoked_at is not None) for k in listed] == [("一", True), ("二", False)]
