from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import build_app
from bot.channels.console import ConsoleChannel, clean_line, unthrottled
from bot.clock import ManualClock
from bot.settings import Settings, load_settings
from handlers.targets import TYPED_MENTION
from nlp.classifier import Classifier
from storage.db import Database
from storage.models import InboundMessage
from tests.auxil.terminal import Terminal

REPO = Path(__file__).resolve().parents[3]


async def run_console(
    script: str, settings: Settings, clock: ManualClock, db: Database, classifier: Classifier
) -> list[str]:
    stdout = io.StringIO()
    console = ConsoleChannel(settings, io.StringIO(script), stdout)
    app = build_app(settings, clock=clock, db=db, sender=console, classifier=classifier)
    await app.start()
    await console.run(app)
    app.stop()
    return stdout.getvalue().splitlines()


async def test_speak_as_people_in_rooms_and_see_the_replies(
    clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    # the demo config, as `gridbot run` uses it (replies at once: no throttle gaps)
    settings = unthrottled(load_settings(None))
    script = "\n".join(
        [
            "/状态",
            ":as 李网格长",
            "/状态",
            ":room G04",
            "/状态",
            ":private",
            "帮助",
            ":room 不存在的群",
            "/帮助",
            ":as wxid_new 新居民",
            ":who",
            ":quit",
            "/帮助",  # after :quit: never read
        ]
    )
    out = await run_console(script + "\n", settings, clock, sqlite_db, classifier)
    assert out[0].startswith("社区小助手 控制台。你现在是 张阿姨，在「幸福社区第3网格」")
    assert out[1] == "[幸福社区第3网格] 社区小助手：@张阿姨 抱歉，/状态 仅限本网格的网格长使用。"
    assert out[2] == "你现在是 李网格长（wxid_leader_li）。"
    assert out[3].startswith("[幸福社区第3网格] 社区小助手：@李网格长 幸福社区第3网格（G03）")
    assert out[4] == "现在在「桃园村网格」。"
    assert out[5] == "[桃园村网格] 社区小助手：@李网格长 抱歉，/状态 仅限本网格的网格长使用。"
    assert out[6] == "现在是与机器人的私聊。"
    assert out[7].startswith("[私聊 → 李网格长] 社区小助手：可用命令：")
    help_end = next(i for i, x in enumerate(out) if x.startswith("现在在「不存在的群」"))
    assert all(x.startswith("    ") for x in out[8:help_end])  # multi-line replies indented
    assert out[help_end] == "现在在「不存在的群」。（这个群不属于任何网格，机器人不会回复）"
    assert out[help_end + 1] == "你现在是 新居民（wxid_new）。"  # no reply in a room of no grid
    assert out[help_end + 2] == "你是 新居民（wxid_new），在「不存在的群」。"
    assert len(out) == help_end + 5


async def test_an_unknown_console_command_shows_the_console_help(
    settings: Settings, clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    out = await run_console(":nonsense\n", settings, clock, sqlite_db, classifier)
    assert out[1] == "控制台命令（其余输入都作为当前身份发出的消息）:"


def test_gridbot_run_chats_through_stdin(tmp_path: Path) -> None:
    """The README's first command ends in `gridbot run`: the console on the demo config."""
    db = tmp_path / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--db", f"sqlite:///{db}"],
        input="/帮助\n:as 李网格长\n/状态\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "GRIDBOT_CONFIG": ""},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "[幸福社区第3网格] 社区小助手：@张阿姨 可用命令："
    assert "[幸福社区第3网格] 社区小助手：@李网格长 幸福社区第3网格（G03）：已登记群成员 2 人" in (
        result.stdout
    )
    assert db.exists()
    assert oct(db.stat().st_mode & 0o777) == "0o600"


async def test_an_at_name_of_a_known_person_is_a_real_mention(
    clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    """Issue 18 item 1: every leader's command that names people by @ works in the console."""
    settings = unthrottled(load_settings(None))
    script = [
        "3栋2单元楼道灯坏了",  # 张阿姨 reports (ticket #1) and so is a member of the group
        ":as 王大爷",
        "我是王大爷",
        ":as 李网格长",
        "/派单 1 @王大爷",
        "/加分 @张阿姨 @王大爷 志愿服务",
        "/扣分 @王大爷 乱扔垃圾",
        "/更正 @张阿姨 -5 重复加分",
        "/户 @张阿姨 @王大爷",
        "/加分 @老刘 志愿服务",  # nobody known: typed text, as in WeChat
        "@社区小助手 /加分 @张阿姨 志愿服务",  # the bot addressed is none of the mentions
        "辛苦了 @王大爷，谢谢",  # punctuation ends a name too
    ]
    out = await run_console("\n".join(script) + "\n", settings, clock, sqlite_db, classifier)
    replies = [line for line in out if line.startswith("[幸福社区第3网格] 社区小助手：@")]
    assert len(replies) == 8, out  # the last line is chatter: no reply
    assert "工单 #1" in replies[0]
    assert "已派给王大爷" in replies[1]
    # /加分, /扣分, /更正, /户 done, not refused for want of a mention
    for reply, done in zip(replies[2:6], ["加 5 分", "扣", "更正", "户"], strict=True):
        assert done in reply
        assert "请 @" not in reply
        assert TYPED_MENTION not in reply
    assert "（控制台：「@老刘」不是已知的人，按手动输入的文字发出。可以 @ 的人见 :who）" in out
    assert replies[6] == f"[幸福社区第3网格] 社区小助手：@李网格长 {TYPED_MENTION}"
    assert "张阿姨" in replies[7]
    assert TYPED_MENTION not in replies[7]

    with sqlite_db.session() as session:
        rows = session.exec(select(InboundMessage.text, InboundMessage.mentions)).all()
    mentions = {text: tuple(m) for text, m in rows}
    assert mentions["/派单 1 @王大爷"] == ("wxid_resident_wang",)
    assert mentions["/加分 @张阿姨 @王大爷 志愿服务"] == (
        "wxid_resident_zhang",
        "wxid_resident_wang",
    )
    assert mentions["/扣分 @王大爷 乱扔垃圾"] == ("wxid_resident_wang",)
    assert mentions["/更正 @张阿姨 -5 重复加分"] == ("wxid_resident_zhang",)
    assert mentions["/户 @张阿姨 @王大爷"] == ("wxid_resident_zhang", "wxid_resident_wang")
    assert mentions["/加分 @老刘 志愿服务"] == ()
    assert mentions["@社区小助手 /加分 @张阿姨 志愿服务"] == ("wxid_resident_zhang",)
    assert mentions["辛苦了 @王大爷，谢谢"] == ("wxid_resident_wang",)


async def test_anyone_who_has_spoken_in_the_group_can_be_mentioned_in_a_later_run(
    clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    settings = unthrottled(load_settings(None))
    await run_console(":as wxid_new 新居民\n我刚搬来\n", settings, clock, sqlite_db, classifier)
    # a new console knows only the config's people; the group's members are in the database
    out = await run_console(
        ":as 李网格长\n/加分 @新居民 志愿服务\n", settings, clock, sqlite_db, classifier
    )
    assert "加 5 分" in out[2], out
    with sqlite_db.session() as session:
        mentions = session.exec(
            select(InboundMessage.mentions).where(InboundMessage.text == "/加分 @新居民 志愿服务")
        ).one()
    assert tuple(mentions) == ("wxid_new",)


async def test_console_help_says_how_to_mention_and_that_it_is_not_throttled(
    settings: Settings, clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    out = await run_console(":help\n", settings, clock, sqlite_db, classifier)
    text = "\n".join(out)
    assert "消息里的「@名字」算作真正的 @" in text
    assert "/加分 @张阿姨 志愿服务" in text
    assert "控制台不是微信：回复立即显示，不按微信的发送间隔限速" in text


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        ("/帮助\n", "/帮助"),
        ("路灯坏了\x0c\n", "路灯坏了"),  # Ctrl-L
        ("\x1b[A\x1b[B/帮助\r\n", "/帮助"),  # arrow keys where nothing edits the line
        ("/加分\t@张阿姨 志愿服务\n", "/加分 @张阿姨 志愿服务"),
        ("\x1bOP\x07\x7f\x1b\x00查询 1\n", "查询 1"),  # F1, bell, delete, lone ESC, NUL
        ("\x1b[200~粘贴的话\x1b[201~\n", "粘贴的话"),  # bracketed paste
        ("\u200b/帮助\n", "\u200b/帮助"),  # not a control character: the bot's to fold
    ],
)
def test_a_typed_line_keeps_only_text(typed: str, text: str) -> None:
    assert clean_line(typed) == text


async def test_control_characters_typed_never_reach_the_bot(
    clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    """Issue 18 item 10: Ctrl-L was stored as \\x0c in ticket #1; an arrow key sent ^[[A."""
    settings = unthrottled(load_settings(None))
    script = "\x1b[A/帮助\x0c\n3栋楼道灯坏了\x0c\n:as\x07 李网格长\n"
    out = await run_console(script, settings, clock, sqlite_db, classifier)
    assert out[1] == "[幸福社区第3网格] 社区小助手：@张阿姨 可用命令："
    assert out[-1] == "你现在是 李网格长（wxid_leader_li）。"
    with sqlite_db.session() as session:
        texts = session.exec(select(InboundMessage.text)).all()
    assert texts == ["/帮助", "3栋楼道灯坏了"]


def _gridbot(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "run", *args]


def test_gridbot_run_replies_at_once_without_the_wechat_throttle(tmp_path: Path) -> None:
    """Issue 18 item 10: replies came 3-5 s late, into the next line being typed. Here the
    reply to /积分 would come after the next line's answer, were the console throttled."""
    result = subprocess.run(
        _gridbot("--db", f"sqlite:///{tmp_path / 'demo.db'}"),
        input="/帮助\n/积分\n:as 李网格长\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "GRIDBOT_CONFIG": "", "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    switched = lines.index("你现在是 李网格长（wxid_leader_li）。")
    replies = [
        x for x in lines[:switched] if x.startswith("[幸福社区第3网格] 社区小助手：@张阿姨 ")
    ]
    assert len(replies) == 2, lines  # to /帮助 and to /积分, both before the switch


def test_gridbot_run_in_a_terminal_edits_lines_and_keeps_the_log_out(tmp_path: Path) -> None:
    """In a terminal: cursor keys edit the line (readline), Ctrl-L clears the screen and is
    not typed, log lines (here INFO ones) go to a file, not into the conversation, and a
    Ctrl-C in the middle of a line leaves the terminal echoing what is typed."""
    env = {**os.environ, "GRIDBOT_CONFIG": "", "GRIDBOT_CACHE_DIR": str(tmp_path / "cache")}
    env["PYTHONPATH"] = str(REPO)
    argv = _gridbot("--db", f"sqlite:///{tmp_path / 'demo.db'}", "--log-level", "INFO")
    with Terminal(argv, env=env, cwd=tmp_path) as term:
        at = term.wait_for("张阿姨@幸福社区第3网格> ")
        term.type("/助\x1b[D帮\r")  # typed "/助", then ← and "帮": "/帮助"
        at = term.wait_for("社区小助手：@张阿姨 可用命令：", after=at)
        at = term.wait_for("张阿姨@幸福社区第3网格> ", after=at)
        term.type("3栋楼道灯坏了\x0c\r")
        at = term.wait_for("已受理", after=at)
        at = term.wait_for("> ", after=at)
        term.type("半句话")
        term.wait_for("半句话", after=at)
        assert not term.cooked()  # readline is editing the line
        term.type("\x03")  # Ctrl-C: the bot stops, and leaves the terminal as it found it
        assert term.process.wait(30) == 130
        assert term.cooked()
    log = tmp_path / "cache" / "console.log"
    assert f"（日志写在 {log}，不在对话里显示。）" in term.output
    assert " INFO " not in term.output
    assert "INFO bot.app: database:" in log.read_text()
    with Database.from_url(f"sqlite:///{tmp_path / 'demo.db'}").session() as session:
        texts = session.exec(select(InboundMessage.text)).all()
    assert texts == ["/帮助", "3栋楼道灯坏了"]


_PRINT_WHILE_TYPING = """
import sys, threading, time
from bot.channels import console
terminal = console._Terminal.open(sys.stdin, sys.stdout)
assert terminal is not None
if sys.argv[1] == "ansi":
    terminal._redisplay = None  # as with libedit: redrawn with ANSI codes
lines = []
reader = threading.Thread(target=lambda: lines.append(terminal.read("我> ")))
reader.start()
while terminal._line_buffer() != "路灯":
    time.sleep(0.05)
terminal.write("[群] 社区小助手：通知")
reader.join()
terminal.restore()
print("LINE=" + repr(lines[0]))
"""


@pytest.mark.parametrize("redraw", ["readline", "ansi"])
def test_a_message_while_a_line_is_typed_goes_above_it(tmp_path: Path, redraw: str) -> None:
    argv = [sys.executable, "-c", _PRINT_WHILE_TYPING, redraw]
    with Terminal(argv, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path) as term:
        at = term.wait_for("我> ")
        term.type("路灯")
        at = term.wait_for("[群] 社区小助手：通知\r\n", after=at)
        # the prompt and what was typed are drawn again below the message, still editable
        term.wait_for("我> 路灯", after=at)
        term.type("坏\x1b[D\x1b[D\x1b[D3栋\r")
        term.wait_for("LINE='3栋路灯坏\\n'")


class _Typist(io.StringIO):
    """Lines typed at a person's pace: each one a minute after the last, on the test's clock
    (a script read at once would be a burst the anti-flood limits hold back)."""

    def __init__(self, text: str, clock: ManualClock) -> None:
        super().__init__(text)
        self._clock = clock

    def readline(self, size: int | None = -1) -> str:
        self._clock.set(self._clock.now() + timedelta(minutes=1))
        return super().readline(size)


# The manual (docs/使用手册.md), command by command, as each of its readers, in the console on
# the demo config: each line, then what the reply to it says (None: no reply expected).
MANUAL: list[tuple[str, str | None]] = [
    # 居民
    ("/帮助", "反映问题不用命令：直接在群里说清楚在哪、什么事"),
    ("大家早上好", None),
    ("3栋门口的路灯坏了好几天了，麻烦处理一下", "已受理，工单 #1（设施报修），由网格长李明负责"),
    ("我的工单", "您有 1 件工单在处理："),
    ("查询 1", "#1 设施报修｜待派单"),
    ("积分", "您现有积分 0 分，本月无变动。"),
    ("积分规则", "志愿服务 +5"),
    ("兑换列表", "可兑换物品："),
    (":as 王大爷", None),
    ("楼下垃圾堆了三天没人清理，臭死了", "已受理，工单 #2（环境卫生）"),
    (":as wxid_liu 刘阿姨", None),
    ("6栋门口垃圾桶满了没人清", "已受理，工单 #3（环境卫生）"),
    (":as wxid_chen 陈阿姨", None),
    ("5栋楼道灯坏了，麻烦修一下", "已受理，工单 #4（设施报修）"),
    # 网格长：工单
    (":as 李网格长", None),
    ("/工单", "本网格未办结工单 4 件，已私信发给您。"),
    ("/工单 超期", "本网格目前没有超期的工单。"),
    ("/派单 1 @王大爷", "已派给王大爷"),
    ("/改类 4 环境卫生", "已将 #4 改为「环境卫生」"),
    ("/合并 3 2", "已将 #3 并入 #2（环境卫生），办结 #2 时两件的反映人都会收到结果。"),
    ("/统计 本周", "幸福社区第3网格本周工单统计"),
    ("/状态", "幸福社区第3网格（G03）：已登记群成员"),
    # 网格长：积分
    (
        "/加分 @张阿姨 @王大爷 志愿服务 清理楼道",
        "已给 张阿姨、王大爷 各加 5 分（志愿服务：清理楼道）。",
    ),
    ("/加分 @张阿姨 8 帮邻居取药", "已给 张阿姨 加 8 分（帮邻居取药）。"),
    ("/扣分 @王大爷 乱扔垃圾", "已扣 王大爷 5 分（乱扔垃圾）。"),
    ("/扣分 @王大爷 焚烧秸秆", "「焚烧秸秆」不是本网格的积分规则"),
    ("/更正 @张阿姨 -5 重复加分", "已更正 张阿姨 -5 分（重复加分）。"),
    ("/户 @张阿姨 @王大爷", "已登记一户：户代表 张阿姨，共 2 人"),
    ("/基础分", "基础分：1 户，共 20 分。"),
    ("/办结 1 路灯已更换", "您反映的问题（#1）已办结：路灯已更换"),
    ("/上报 2 需要环卫所处理", "【上报】幸福社区第3网格 #2"),
    ("/驳回 4 属于物业管理范围", "您反映的问题（#4）未予受理：属于物业管理范围。"),
    # 网格长：公告
    ("/定时公告 2026-12-01 09:00 明天上午停水", "定时公告 #1 已登记"),
    ("/公告列表", "待发的定时公告 1 条"),
    ("/取消公告 1", "已取消定时公告 #1"),
    # 居民：评价、兑换
    (":as 张阿姨", None),
    ("满意", "感谢您的评价！工单 #1 已归档。"),
    ("兑换 肥皂", "已为您预留「肥皂」，扣除 20 分"),
    ("积分明细", "最近 5 条积分记录："),
    ("积分排行", "幸福社区第3网格积分排行"),
    (":as 李网格长", None),
    ("/核销 1", "已核销单号 1：张阿姨 领取「肥皂」。"),
    # 街道管理员
    (":as 街道办小陈", None),
    (":private", None),
    ("/网格列表", "G03 幸福社区第3网格：已接入"),
    ("/成员 G03", "李网格长｜wxid_leader_li｜网格长（配置）｜"),
    ("/统计", "全部网格本月工单统计"),
    ("/工单", "全部网格未办结工单 1 件："),
    # 农村网格
    (":as 赵支书", None),
    (":room G04", None),
    ("积分规则", "焚烧秸秆 -20"),
    (":as 刘大叔", None),
    ("我家门口那段路灯坏了", "由网格长赵建国负责"),
    (":as 赵支书", None),
    ("/加分 @刘大叔 村规民约", "已给 刘大叔 加 5 分（遵守村规民约）。"),
]


async def test_the_manual_works_in_the_console(
    clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    """Issue 18, done when the README's first command shows all of docs/使用手册.md working in
    the console, @-commands included: every reply is the one the manual describes."""
    settings = unthrottled(load_settings(None))
    stdout = io.StringIO()
    script = "".join(f"{line}\n" for line, _ in MANUAL)
    console = ConsoleChannel(settings, _Typist(script, clock), stdout)
    app = build_app(settings, clock=clock, db=sqlite_db, sender=console, classifier=classifier)
    await app.start()
    await console.run(app)
    app.stop()
    out = stdout.getvalue()
    at = 0
    for line, reply in MANUAL:
        if reply is None:
            continue
        found = out.find(reply, at)
        assert found >= 0, f"{line!r}: no {reply!r} in\n{out[at:]}"
        at = found
    assert "请 @" not in out
    assert TYPED_MENTION not in out
    assert "仅限" not in out  # nobody is refused a command the manual gives them


async def test_quit_does_not_wait_for_a_notice_held_until_the_morning(
    clock: ManualClock, sqlite_db: Database, classifier: Classifier
) -> None:
    """Found walking through the manual: a /公告 at 23:00 (held for quiet hours until 07:00)
    kept `:quit` waiting all night for it."""
    clock.set(clock.now().replace(hour=23))
    settings = unthrottled(load_settings(None))
    script = ":as 李网格长\n/公告 明天上午停水\n/帮助\n:quit\n"
    out = await asyncio.wait_for(run_console(script, settings, clock, sqlite_db, classifier), 20)
    assert any("11月23日 07:00才发到本群" in x for x in out), out
    assert out[-1] == "（还有 1 条消息定在以后发出，下次用这个数据库运行时照常发出。）"
