from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

import storage.models  # noqa: F401  (the tables)
from bot import cli
from storage import api_keys, examples, migrate, points, retention
from storage.db import Database
from storage.models import ExampleSource, Grid, Ticket
from storage.types import UTCDateTime


def test_upgrade_from_empty_reaches_head_and_matches_the_models(db_url: str) -> None:
    db = Database.from_url(db_url)
    assert migrate.current_revision(db.engine) is None
    migrate.upgrade(db.engine)
    assert migrate.current_revision(db.engine) == migrate.head_revision()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        drift = compare_metadata(context, SQLModel.metadata)
    # A model changed without a migration shows up here.
    assert drift == []
    db.dispose()


def test_downgrade_to_nothing_and_up_again(db_url: str) -> None:
    db = Database.from_url(db_url)
    migrate.upgrade(db.engine)
    migrate.downgrade(db.engine, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db.engine)
    assert migrate.is_up_to_date(db.engine)
    db.dispose()


def test_upgrade_twice_is_harmless(db: Database) -> None:
    migrate.upgrade(db.engine)
    assert migrate.is_up_to_date(db.engine)


def test_the_head_known_to_the_code_is_alembics() -> None:
    # A new revision must move migrate.HEAD with it: starts compare the database to HEAD.
    assert migrate.head_revision() == migrate.HEAD


def test_upgrade_if_behind_upgrades_once(db_url: str) -> None:
    db = Database.from_url(db_url)
    assert migrate.upgrade_if_behind(db.engine)
    assert migrate.is_up_to_date(db.engine)
    assert not migrate.upgrade_if_behind(db.engine)
    db.dispose()


def test_a_start_on_a_current_database_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gridbot.db"
    script = (
        "import sys\n"
        "from bot.app import open_database\n"
        f"open_database({url!r}).dispose()\n"
        "print('alembic' in sys.modules)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    # the first start makes the schema (alembic), the second finds it current
    assert [run.stdout.strip() for run in runs] == ["True", "False"]


def test_0012_adds_the_training_examples_to_a_database_with_tickets(db_url: str) -> None:
    db = Database.from_url(db_url)
    migrate.upgrade(db.engine, "0011")
    at = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    # the tables as 0011 left them (grid and ticket have not changed since)
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Grid).values(code="G03", name="三", room_topic="三群"))
        conn.execute(
            sa.insert(Ticket).values(
                id=1, grid_code="G03", reporter_id="wxid_a", reporter_name="A",
                text="路灯坏了", category="facility", keywords=[], created_at=at, due_at=at,
            )
        )  # fmt: skip
    migrate.upgrade(db.engine)
    assert migrate.is_up_to_date(db.engine)
    with db.session() as s:
        examples.add(
            session=s,
            text="路灯坏了",
            is_request=True,
            category="environment",
            source=ExampleSource.RECLASSIFY,
            grid_code="G03",
            contact_id="wxid_leader_li",
            at=at,
            ticket_id=1,
        )
        s.commit()
        assert s.exec(select(Ticket.text)).all() == ["路灯坏了"]
        assert [r["category"] for r in examples.rows(session=s)] == ["environment"]
    migrate.downgrade(db.engine, "0011")
    assert "training_example" not in inspect(db.engine).get_table_names()
    with db.session() as s:
        assert s.exec(select(Ticket.text)).all() == ["路灯坏了"]
    db.dispose()


def test_0014_adds_the_purge_marks_to_a_database_with_tickets_and_back(db_url: str) -> None:
    db = Database.from_url(db_url)
    migrate.upgrade(db.engine, "0013")
    at = datetime(2025, 1, 10, 1, 0, tzinfo=UTC)
    with db.engine.begin() as conn:  # the tables as 0013 left them, rows pointing at a ticket
        conn.execute(sa.insert(Grid).values(code="G03", name="三", room_topic="三群"))
        conn.execute(
            sa.text(
                "INSERT INTO ticket (id, grid_code, reporter_id, reporter_name, text, category,"
                " urgent, keywords, confidence, status, created_at, due_at, closed_at,"
                " same_count, reopen_count) VALUES (1, 'G03', 'wxid_a', 'A', '路灯坏了',"
                " 'facility', false, '[]', 0, 'archived', :at, :at, :at, 0, 0)"
            ).bindparams(sa.bindparam("at", at, type_=UTCDateTime())),
        )
        conn.execute(
            sa.text(
                "INSERT INTO ticket_event (ticket_id, at, action, note) "
                "VALUES (1, :at, 'created', '路灯坏了')"
            ).bindparams(sa.bindparam("at", at, type_=UTCDateTime())),
        )
    migrate.upgrade(db.engine)
    names = {i["name"] for i in inspect(db.engine).get_indexes("ticket")}
    assert "ix_ticket_unpurged_closed" in names
    report = retention.purge(db, now=at + timedelta(days=400), mask_after=None,
                             text_after=timedelta(days=365))  # fmt: skip
    assert (report.replaced["ticket"], report.replaced["ticket_event"]) == (1, 1)
    migrate.downgrade(db.engine, "0013")  # in place: the event still points at its ticket
    assert "retention_progress" not in inspect(db.engine).get_table_names()
    assert "purged_at" not in {c["name"] for c in inspect(db.engine).get_columns("ticket")}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ticket_event")).scalar() == 1
    db.dispose()


def test_0016_adds_the_api_keys_with_one_live_key_per_name_and_back(db_url: str) -> None:
    db = Database.from_url(db_url)
    migrate.upgrade(db.engine, "0015")
    assert "api_key" not in inspect(db.engine).get_table_names()
    migrate.upgrade(db.engine)
    at = datetime(2026, 12, 28, 4, 0, tzinfo=UTC)
    with db.session() as s:
        api_keys.create(session=s, name="12345平台", grids=["G03"], created_by="cli", now=at)
        api_keys.revoke(session=s, which="12345平台", by="cli", now=at)
        api_keys.create(session=s, name="12345平台", grids=[], created_by="cli", now=at)
        s.commit()
    live = sa.text(
        "INSERT INTO api_key (name, prefix, key_hash, pseudonym_secret, grids, created_at,"
        " created_by) VALUES ('12345平台', 'gbk_00000000', '', '', '[]', :at, 'cli')"
    ).bindparams(sa.bindparam("at", at, type_=UTCDateTime()))
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(live)  # a second live key of the name, past the code's own check
    migrate.downgrade(db.engine, "0015")
    assert "api_key" not in inspect(db.engine).get_table_names()
    db.dispose()


# --- a street's database of an earlier release, upgraded (CHANGELOG.md) ----------------------

_T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
_ROOM = "幸福社区第3网格"  # the demo's G03, bound as a replay or console trial leaves it
_ZHANG, _WANG, _LI = "wxid_resident_zhang", "wxid_resident_wang", "wxid_leader_li"
_LAMP = "3栋2单元楼道灯坏了，有事打我电话13812345678"
_ROAD = "小区东门路面塌了一个坑，电动车差点摔了"


def _as_written(conn: sa.Connection, name: str) -> sa.Table:
    """Table ``name`` with the columns the database has now (an older schema), typed as the
    models type them, as the bot of that release wrote them (UTC times, JSON)."""
    there = sa.Table(name, sa.MetaData(), autoload_with=conn)
    model = SQLModel.metadata.tables[name]
    columns = [
        sa.Column(c.name, model.c[c.name].type, primary_key=c.primary_key) for c in there.columns
    ]
    return sa.Table(name, sa.MetaData(), *columns)


class _Street:
    """Writes rows into a database of schema 0011 as the bot of that release did."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, table: str, **values: object) -> int:
        """Insert a row; its id, where the database numbers it."""
        result = self.conn.execute(sa.insert(_as_written(self.conn, table)).values(**values))
        (key, *_) = result.inserted_primary_key or (0,)
        return key if isinstance(key, int) else 0

    def message(self, n: int, sender: str, text: str, **more: object) -> int:
        key = hashlib.sha256(f"m{n}".encode()).hexdigest()
        return self.add(
            "inbound_message", key=key, platform_id=f"m{n}", room_id=_ROOM, room_topic=_ROOM,
            grid_code="G03", sender_id=sender, sender_name=sender, type="text", text=text,
            mentions=more.pop("mentions", []), sent_at=_at(n), received_at=_at(n),
            status="handled", handled_at=_at(n), account="gridbot", **more,
        )  # fmt: skip

    def ticket(self, number: int, source: int, reporter: str, text: str, done: bool) -> None:
        self.add(
            "ticket", id=number, grid_code="G03", reporter_id=reporter, reporter_name=reporter,
            text=text, category="facility", urgent=False, keywords=["坏了"], confidence=0.9,
            source_message_id=source, status="archived" if done else "assigned",
            assignee_id=_LI, assignee_name="李网格长", created_at=_at(number),
            due_at=_at(number + 4320), resolved_at=_at(30) if done else None,
            feedback="已更换灯泡" if done else None, rating="satisfied" if done else None,
            closed_at=_at(35) if done else None, same_count=0, reopen_count=0,
        )  # fmt: skip
        self.add("ticket_reporter", ticket_id=number, contact_id=reporter, name=reporter,
                 at=_at(number))  # fmt: skip
        trail = [("created", None, "open", text), ("assigned", "open", "assigned", None)]
        if done:
            trail += [("resolved", "assigned", "resolved", "已更换灯泡"),
                      ("rated", "resolved", "archived", "satisfied")]  # fmt: skip
        for i, (action, old, new, note) in enumerate(trail):
            self.add("ticket_event", ticket_id=number, at=_at(number + 10 * i), actor_id=_LI,
                     action=action, from_status=old, to_status=new, note=note,
                     message_id=source if action == "created" else None)  # fmt: skip


def _at(minutes: int) -> datetime:
    return _T0 + timedelta(minutes=minutes)


def _street_at_0011(conn: sa.Connection) -> None:
    """What a month of a grid leaves in a database of schema 0011: members, messages (a phone
    number in one, a quoted reply), two tickets with their trails, the ticket counter, points
    given and taken with their balances, a sent reply, an urgent notice, base points coverage."""
    street = _Street(conn)
    street.add("grid", code="G03", name="幸福社区第3网格", room_topic=_ROOM, room_id=_ROOM,
               community="幸福社区", active=True)  # fmt: skip
    member = {}
    for cid, name in ((_ZHANG, "3栋502张阿姨"), (_WANG, "王大爷"), (_LI, "李网格长")):
        member[cid] = street.add("member", contact_id=cid, grid_code="G03", display_name=name,
                                 role="resident", first_seen=_at(0), last_seen=_at(40))  # fmt: skip
    lamp = street.message(1, _ZHANG, _LAMP)
    road = street.message(2, _WANG, _ROAD)
    award = street.message(3, _LI, "/加分 @张阿姨 志愿服务", mentions=[_ZHANG])
    street.message(4, _WANG, "谢谢网格长", quote={"name": "李网格长", "text": "已派人去看了"})
    street.ticket(1, lamp, _ZHANG, _LAMP, done=True)
    street.ticket(2, road, _WANG, _ROAD, done=False)
    # the counter row 0009 made, moved on as each ticket was opened
    conn.execute(sa.text("UPDATE counter SET value = 2 WHERE name = 'ticket'"))
    given = [(_ZHANG, 10, "award", "volunteer"), (_WANG, 5, "award", "hazard_report"),
             (_WANG, -2, "penalty", "litter")]  # fmt: skip
    for n, (cid, delta, kind, rule) in enumerate(given):
        street.add("points_entry", key=f"{kind}:{award}:{cid}:{n}", member_id=member[cid],
                   grid_code="G03", delta=delta, kind=kind, rule_code=rule, reason=None,
                   actor_id=_LI, at=_at(20 + n), message_id=award if n == 0 else None)  # fmt: skip
    for cid, balance, earned, entries in ((_ZHANG, 10, 10, 1), (_WANG, 3, 3, 2)):
        street.add("points_balance", member_id=member[cid], grid_code="G03", balance=balance,
                   earned=earned, entries=entries, updated_at=_at(22))  # fmt: skip
    street.add("outbound_message", inbound_id=lamp, room_id=_ROOM, room_topic=_ROOM, to_id=None,
               text="@张阿姨 已受理，工单 #1（设施报修），由网格长负责。", mentions=[_ZHANG],
               created_at=_at(1), not_before=_at(1), status="sent", attempts=1, sent_at=_at(1),
               priority=0, account="gridbot")  # fmt: skip
    street.add("notice", text="今晚8点起东门停水，请提前储水。", grid_codes=["G03"],
               author_id=_LI, author_grid="G03", created_at=_at(5), send_at=_at(5),
               status="sent", urgent=True)  # fmt: skip
    street.add("base_coverage", grid_code="G03", period="2026", contact_id=_ZHANG, at=_at(6))


def _rows(conn: sa.Connection, tables: list[sa.Table]) -> dict[str, list[tuple[object, ...]]]:
    return {
        t.name: [tuple(row) for row in conn.execute(sa.select(t).order_by(*t.primary_key))]
        for t in tables
    }


def _events(path: Path, *said: tuple[str, str, str]) -> Path:
    lines = [
        {"ts": f"2026-06-01T10:0{i}:00+08:00", "room": _ROOM, "from": who, "name": who, "text": t}
        for i, (who, t, _) in enumerate(said)
    ]
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    return path


@pytest.mark.parametrize("release", ["0011", "0013"])
def test_a_streets_database_of_an_earlier_release_upgrades_with_its_data(
    db_url: str, release: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0011 as the brief of issue 20 calls the previous release, 0013 as CHANGELOG.md does."""
    db = Database.from_url(db_url)
    migrate.upgrade(db.engine, release)
    with db.engine.begin() as conn:
        _street_at_0011(conn)  # 0012 and 0013 left these tables as they were
        tables = inspect(conn).get_table_names()  # the bot's, alembic's and APScheduler's
        old = [_as_written(conn, name) for name in tables if name in SQLModel.metadata.tables]
        before = _rows(conn, old)
    assert sum(map(len, before.values())) >= 25
    migrate.upgrade(db.engine)
    assert migrate.is_up_to_date(db.engine)
    with db.engine.connect() as conn:  # every row of every column it had, as it was
        assert _rows(conn, old) == before
    with db.session() as s:
        verified = points.verify(session=s)
        assert (verified.checked, verified.entries, verified.mismatched) == (2, 3, 0)
    db.dispose()
    # this release's bot on it: `gridbot points verify`, then a resident and a neighbour
    assert cli.main(["points", "verify", "--db", db_url]) == 0
    assert "checked 2 balance(s) against 3 ledger entries: all agree" in capsys.readouterr().out
    said = [
        (_ZHANG, "积分", "您现有积分 10 分"),  # the balance from the old ledger
        (_ZHANG, "5栋门口的垃圾好几天没人清了", "已受理，工单 #3"),  # numbered on from the counter
        (_WANG, "查询 2", "#2 设施报修｜李网格长处理中"),  # an old open ticket, by its reporter
    ]
    assert cli.main(["replay", str(_events(tmp_path / "in.jsonl", *said)), "--db", db_url]) == 0
    replies = [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()]
    for (_, asked, expected), reply in zip(said, replies, strict=True):
        assert expected in reply, (asked, reply)
