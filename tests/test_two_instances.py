"""Two bot processes, each its own WeChat account, on one PostgreSQL database, in groups that
overlap: account A is in 一组群 and 二组群, account B in 二组群 and 三组群. Every message in
二组群 reaches both processes, at about the same moment.

Two real `gridbot replay` processes are fed through pipes in lockstep, each the messages its
account receives; a third, single process on its own database replays everything once as the
baseline. Compared with the baseline: the messages sent (texts, groups, mentions; ticket
numbers aside, which depend on the order of handling), the tickets and the points ledger. And
each process sent only into its own account's groups.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlmodel import col, select

from storage.db import Database
from storage.models import (
    InboundMessage,
    Member,
    MessageStatus,
    OutboundMessage,
    OutboundStatus,
    PointsEntry,
    RoomAccount,
    Ticket,
)
from tests.auxil.postgres import PostgresServer

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
ROOMS = {"G1": "一组群", "G2": "二组群", "G3": "三组群"}
ACCOUNTS = {"A": {"一组群", "二组群"}, "B": {"二组群", "三组群"}}
NOTICE = "【宣传】冬季用火用电安全提醒：出门请关好电源，不要在楼道给电动车充电。"
MORNING = "【通知】今天上午9点起社区开展燃气安全入户检查，请家中留人。"
MORNING_AT = START + timedelta(minutes=5)
REQUESTS = [
    "3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下",
    "楼下垃圾堆了三天没人清理，臭死了，麻烦管一管",
    "5单元电梯又坏了，老人上不去楼",
    "小区东门的下水道堵了，污水漫出来了",
    "广场上的健身器材断了一根，请派人修一下",
    "隔壁装修天天晚上十点还在电钻，吵得睡不着",
    "停车场的减速带被压坏了，麻烦换一个",
    "小区里的自来水这两天发黄，能不能查一下",
]
ROUNDS = 6  # per group: requests, awards and questions, between 08:10 and 10:40
EVENING = START + timedelta(
    hours=3, minutes=30
)  # both clocks are taken this far: past both notices
ROUND_LINES = 5 * len(ROOMS)  # 20 minutes of events, fed to both before they are waited for


def config(path: Path) -> Path:
    data = {
        "timezone": "Asia/Shanghai",
        "admins": ["wxid_street_admin"],
        "grids": [
            {"code": code, "name": f"网格{code}", "room": room, "leaders": [f"wxid_leader_{code}"]}
            for code, room in ROOMS.items()
        ],
        # Each process has its own clock here (the events'), and one may run ahead of the
        # other by up to a round (see ROUND_LINES): a claim must not run out by the other's
        # clock, nor may one process take over the other's replies (that takeover is tested
        # in tests/storage/test_outbox.py).
        "sending": {
            "interval_seconds": 0,
            "jitter_seconds": 0,
            "per_minute": 600,
            "claim_seconds": 3600,
        },
        "notices": [
            {
                "id": "winter-safety",
                "title": "冬季安全",
                "text": NOTICE,
                "targets": {"all": True},
                "cron": "0 9,10 * * *",
            },
            {
                "id": "gas-check",
                "title": "燃气检查",
                "text": MORNING,
                "targets": {"all": True},
                "at": MORNING_AT.strftime("%Y-%m-%d %H:%M:%S"),
            },
        ],
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def line(at: datetime, room: str, who: str, text: str, mentions: list[str] | None = None) -> str:
    event: dict[str, Any] = {"ts": at.isoformat(), "room": room, "from": who, "text": text}
    if mentions:
        event["mentions"] = mentions
    return json.dumps(event, ensure_ascii=False)


def script(code: str, n: int) -> list[tuple[str, str, list[str] | None]]:
    """Round ``n`` in one group: (who, what, mentions) — a request, two residents speaking
    (so they are members), the leader's award to both, one of them asking for the points."""
    awarded = [f"wxid_{code}_v{n}", f"wxid_{code}_w{n}"]
    return [
        (f"wxid_{code}_r{n}", REQUESTS[(n + int(code[1:])) % len(REQUESTS)], None),
        (awarded[0], "收到", None),
        (awarded[1], "好的", None),
        (f"wxid_leader_{code}", f"/加分 @{awarded[0]} @{awarded[1]} 志愿服务 清理楼道", awarded),
        (awarded[0], "积分", None),
    ]


def events() -> Iterator[tuple[datetime, str, str]]:
    """(time, group, line) in time order: the day in the three groups."""
    at = START
    for code, room in ROOMS.items():  # good morning in each group: the accounts are seen there
        at += timedelta(seconds=20)
        yield at, room, line(at, room, f"wxid_{code}_early", "大家早上好")
    at = START + timedelta(minutes=10)
    for n in range(ROUNDS):
        scripts = {code: script(code, n) for code in ROOMS}
        for step in range(len(scripts["G1"])):
            # The groups take turns, the other way round every other step: then now one
            # process, now the other meets a 二组群 message first.
            order = list(ROOMS.items())
            for code, room in order if step % 2 else reversed(order):
                at += timedelta(seconds=80)
                who, text, mentions = scripts[code][step]
                yield at, room, line(at, room, who, text, mentions)


def with_id(text: str, account: str) -> str:
    """The line as ``account`` receives it: each account's platform ids are its own."""
    event = json.loads(text)
    if "tick" in event:
        return text
    event["id"] = f"{account}-{sum(map(ord, text))}-{len(text)}-{event['ts']}"
    return json.dumps(event, ensure_ascii=False)


def tick(at: datetime) -> str:
    return json.dumps({"ts": at.isoformat(), "tick": True})


def start(config_path: Path, db_url: str, account: str | None, out: TextIO, err: TextIO) -> Any:
    command = [
        sys.executable,
        "-m",
        "bot.cli",
        "replay",
        "-",
        "--config",
        str(config_path),
        "--log-level",
        "INFO",
    ]
    command += ["--db", db_url]
    if account is not None:
        command += ["--account", account]
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=out,
        stderr=err,
        text=True,
        env={**os.environ, "GRIDBOT_CONFIG": ""},
    )


def outputs(path: Path) -> list[dict[str, Any]]:
    return [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines()]


def sent(messages: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """What was sent, as a multiset; ticket numbers depend on the order of handling."""
    return Counter(
        (
            m["room"],
            m["to"],
            re.sub(r"#\d+", "#N", m["text"]),
            tuple(m["mentions"]),
        )
        for m in messages
    )


def outcome(db: Database) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    """(tickets, ledger entries), each as a multiset of what identifies it."""
    with db.session() as s:
        tickets = Counter(
            (t.grid_code, t.reporter_id, t.text, t.category, t.status)
            for t in s.exec(select(Ticket)).all()
        )
        ledger = Counter(
            (e.grid_code, m.contact_id, e.delta, e.rule_code, e.actor_id)
            for e, m in s.exec(
                select(PointsEntry, Member).where(col(PointsEntry.member_id) == col(Member.id))
            ).all()
        )
    return tickets, ledger


def wait_for(what: str, condition: Any, procs: list[Any], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for proc in procs:
            assert proc.poll() is None, f"a bot process ended early (code {proc.returncode})"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def memberships(db: Database) -> set[tuple[str, str]]:
    with db.session() as s:
        return {(r.account, r.room_id) for r in s.exec(select(RoomAccount)).all()}


def handled(db: Database) -> int:
    """How many messages are stored, all handled; -1 while one is not handled yet."""
    with db.session() as s:
        rows = s.exec(select(InboundMessage.status)).all()
    return -1 if MessageStatus.PENDING in rows else len(rows)


def sent_texts(db: Database) -> list[str]:
    with db.session() as s:
        return list(
            s.exec(
                select(OutboundMessage.text).where(OutboundMessage.status == OutboundStatus.SENT)
            ).all()
        )


def unsent(db: Database) -> list[tuple[Any, ...]]:
    with db.session() as s:
        waiting = s.exec(
            select(OutboundMessage).where(
                col(OutboundMessage.status).in_([OutboundStatus.PENDING, OutboundStatus.SENDING])
            )
        ).all()
        return [(m.room_topic, m.to_id, m.status, m.account, m.not_before) for m in waiting]


def run_baseline(
    tmp_path: Path, config_path: Path, timeline: list[tuple[datetime, str, str]]
) -> str:
    """One process, every message once; returns its database's URL."""
    url = f"sqlite:///{tmp_path}/baseline.db"
    with (tmp_path / "base.out").open("w") as out, (tmp_path / "base.err").open("w") as err:
        base = start(config_path, url, None, out, err)
        assert base.stdin is not None
        lines = (with_id(text, "lone") + "\n" for _, _, text in timeline)
        base.stdin.write("".join(lines) + tick(EVENING))
        base.stdin.close()
        assert base.wait(timeout=300) == 0, (tmp_path / "base.err").read_text()
    return url


def run_pair(
    tmp_path: Path, config_path: Path, db: Database, timeline: list[tuple[datetime, str, str]]
) -> None:
    """Both accounts' processes on ``db``, each fed what its account receives, in step."""
    procs: dict[str, Any] = {}
    files: list[TextIO] = []
    try:
        for account in ACCOUNTS:
            out = (tmp_path / f"{account}.out").open("w")
            err = (tmp_path / f"{account}.err").open("w")
            files += [out, err]
            procs[account] = start(
                config_path, db.url.render_as_string(hide_password=False), account, out, err
            )
        running = list(procs.values())

        def feed(text: str, room: str | None = None, only: str | None = None) -> None:
            for account, proc in procs.items():
                if only in (None, account) and (room is None or room in ACCOUNTS[account]):
                    proc.stdin.write(with_id(text, account) + "\n")
                    proc.stdin.flush()

        # The morning's messages: each account is seen in its groups before the day starts
        # (on WeChat, its group list at login does that).
        morning = [item for item in timeline if item[0] < START + timedelta(minutes=10)]
        for _, room, text in morning:
            feed(text, room)
        expected = {(account, room) for account, rooms in ACCOUNTS.items() for room in rooms}
        wait_for("both accounts' groups", lambda: memberships(db) == expected, running)

        # B's clock alone reaches the morning notice, while A's process is idle: B queues it
        # for all three groups and sends it into its own two; 一组群's waits for A.
        feed(tick(MORNING_AT), only="B")
        wait_for("B's morning notices", lambda: sent_texts(db).count(MORNING) >= 2, running)
        time.sleep(0.5)  # time enough for B to send into 一组群 too, if it would

        # The day, as it happens: 二组群's messages reach both processes at once. Round by
        # round: the two run concurrently within a round and in step from one to the next.
        day = timeline[len(morning) :]
        for first in range(0, len(day), ROUND_LINES):
            for _, room, text in day[first : first + ROUND_LINES]:
                feed(text, room)
            fed = len(morning) + min(first + ROUND_LINES, len(day))
            wait_for(f"{fed} messages handled", lambda fed=fed: handled(db) >= fed, running)

        # Time goes on in both, to the evening and until everything queued is sent.
        at = timeline[-1][0]
        while at < EVENING or unsent(db) or 0 <= handled(db) < len(timeline):
            assert at < EVENING + timedelta(minutes=30), f"left unsent: {unsent(db)}"
            at += timedelta(minutes=5)
            feed(tick(at))
            time.sleep(0.2)
        for proc in running:
            proc.stdin.close()
        codes = [proc.wait(timeout=300) for proc in running]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for handle in files:
            handle.close()
    errors = {a: (tmp_path / f"{a}.err").read_text() for a in ACCOUNTS}
    assert codes == [0, 0], errors


@pytest.fixture
def pg_db(pg_server: PostgresServer) -> Iterator[Database]:
    """An empty PostgreSQL database, brought up to date as an operator does."""
    name = pg_server.create_database()
    url = pg_server.url(name)
    upgrade = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade", "--db", url],
        capture_output=True,
        text=True,
        env={**os.environ, "GRIDBOT_CONFIG": ""},
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    db = Database.from_url(url)
    yield db
    db.dispose()
    pg_server.drop_database(name)


def test_two_accounts_on_one_database_send_nothing_twice(tmp_path: Path, pg_db: Database) -> None:
    config_path = config(tmp_path / "gridbot.yaml")
    timeline = list(events())
    base_url = run_baseline(tmp_path, config_path, timeline)
    run_pair(tmp_path, config_path, pg_db, timeline)
    baseline = outputs(tmp_path / "base.out")
    by_account = {account: outputs(tmp_path / f"{account}.out") for account in ACCOUNTS}

    # Each process sent only into groups its account is in, and both did send.
    for account, messages in by_account.items():
        assert messages, f"account {account} sent nothing"
        assert {m["room"] for m in messages} <= ACCOUNTS[account], account

    # Every notice occurrence reached every group exactly once: 9:00 and 10:00.
    union_sent = by_account["A"] + by_account["B"]
    notices = Counter(m["room"] for m in union_sent if m["text"] == NOTICE)
    assert notices == dict.fromkeys(ROOMS.values(), 2)
    mornings = Counter(m["room"] for m in union_sent if m["text"] == MORNING)
    assert mornings == dict.fromkeys(ROOMS.values(), 1)

    # Everything the lone process sent, and nothing more: no reply lost or doubled.
    assert sent(baseline), "the baseline sent nothing"
    assert sent(union_sent) == sent(baseline)

    # Each message stored once (二组群's not once per account) and handled.
    with pg_db.session() as s:
        stored = s.exec(select(InboundMessage)).all()
    assert len(stored) == len(timeline)
    assert {m.status for m in stored} == {MessageStatus.HANDLED}
    assert {m.account for m in stored if m.room_id == "二组群"} <= {"A", "B"}

    # One ticket per matter, one ledger entry per person awarded, as the lone process.
    base_db = Database.from_url(base_url)
    try:
        base_tickets, base_ledger = outcome(base_db)
    finally:
        base_db.dispose()
    tickets, ledger = outcome(pg_db)
    assert sum(base_tickets.values()) == ROUNDS * len(ROOMS)
    assert sum(base_ledger.values()) == 2 * ROUNDS * len(ROOMS)
    assert tickets == base_tickets
    assert ledger == base_ledger
