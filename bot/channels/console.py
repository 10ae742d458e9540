"""The console channel: chat with the bot in a terminal, as anyone, in any grid's group.

Lines starting with ``:`` steer the console (``:as 李网格长``, ``:room G04``, ``:private``,
``:who``, ``:help``, ``:quit``); every other line is a message from the current speaker, in
which ``@name`` of a known person is a real @mention, as picking them in WeChat makes it.
Works the same when stdin is a pipe, which is how the tests drive it.

In a terminal, lines are edited with readline (cursor keys, history), and what the bot sends
while a line is being typed is printed above it. Escape sequences and control characters
typed (an arrow key without line editing, Ctrl-L) never reach the bot. The console is not a
WeChat account: it sends without WeChat's throttle (:func:`unthrottled`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import shutil
import sys
import threading
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from bot.app import App
from bot.events import Inbound, Outbound
from bot.settings import Settings
from storage import grids as grid_store
from storage import outbox as outbox_store
from storage.db import Database

HELP = """\
控制台命令（其余输入都作为当前身份发出的消息）:
  :as <联系人ID或名字> [显示名]   切换说话人，例如 :as 李网格长 或 :as wxid_new 新居民
  :room <网格编码或群名>          切换到某个群，例如 :room G04
  :private                       切换到与机器人的私聊
  :who                           当前身份与所在群，以及可切换、可 @ 的人和群
  :quit                          退出
消息里的「@名字」算作真正的 @（如同在微信里从群成员中选人），只要名字是 :who 列出的人
或在本群说过话的人，例如先以张阿姨说句话，再 :as 李网格长 发 /加分 @张阿姨 志愿服务。
控制台不是微信：回复立即显示，不按微信的发送间隔限速（gridbot run --throttle 则照常限速）。"""

# Escape sequences a terminal sends (an arrow key is ESC [ A when nothing edits the line):
# CSI and SS3 sequences, and ESC with one character (Alt+key).
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O[ -~]|[ -~])?")
# An @ that starts a word: "a@b.com" mentions nobody.
_AT = re.compile(r"(?:^|(?<=\s))[@＠]")
_WORD = re.compile(r"\S+")


def clean_line(line: str) -> str:
    """What a typed line says as text: its line end, escape sequences and control characters
    dropped (Ctrl-L is U+000C, and would be stored in a ticket), a tab made a space."""
    text = _ESCAPE.sub("", line.rstrip("\r\n")).replace("\t", " ")
    return "".join(c for c in text if unicodedata.category(c) != "Cc")


def unthrottled(settings: Settings) -> Settings:
    """``settings`` for the console: its replies go at once. The throttle spaces what the bot
    sends because WeChat restricts accounts that send in bursts; a terminal restricts nothing,
    and a reply 3-5 s late lands in the middle of the next line being typed."""
    sending = settings.sending.model_copy(
        update={"interval_seconds": 0.0, "jitter_seconds": 0.0, "per_minute": 600}
    )
    return settings.model_copy(update={"sending": sending})


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (Chinese characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _ends_name(rest: str) -> bool:
    """Whether a name typed after @ ends where ``rest`` begins: WeChat ends a mention with a
    space; people also end one with punctuation ("@张阿姨，").
    """
    return not rest or rest[0].isspace() or unicodedata.category(rest[0]).startswith("P")


class _Terminal:
    """Line editing when the console is this process's terminal: GNU readline (cursor keys,
    history, Ctrl-L clears the screen), and a message the bot sends while a line is being
    typed printed above it, the prompt and the half-typed line redrawn below.

    The line is read in another thread (see ConsoleChannel._start_reader); messages are
    printed from the event loop's. readline's own functions for this (the ones bash uses for
    job notices) are called through ctypes; where they can't be (libedit), the line is
    cleared and redrawn with ANSI codes, assuming the cursor at its end.
    """

    def __init__(self, out: TextIO, fd: int) -> None:
        # Imported only here: importing readline changes input() for the whole process.
        import readline  # noqa: PLC0415
        import termios  # noqa: PLC0415

        self._out = out
        self._line_buffer = readline.get_line_buffer
        saved = termios.tcgetattr(fd)
        # A Ctrl-C ends the process while the reading thread is inside readline, with the
        # terminal in readline's mode (no echo): restore() puts the settings back.
        self._restore: Callable[[], None] = lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        self._redisplay = _readline_redisplay(readline.__file__)
        self._lock = threading.Lock()
        self._prompt = ""
        self._editing = False
        # called once readline has shown the prompt: from then on a message is printed above
        readline.set_pre_input_hook(self._started)

    @classmethod
    def open(cls, stdin: TextIO, stdout: TextIO) -> _Terminal | None:
        """Line editing when stdin and stdout are this process's terminal (input() edits only
        those), else None: a pipe, a test's StringIO, a platform without readline."""
        if stdin is not sys.stdin or stdout is not sys.stdout:
            return None
        if not (stdin.isatty() and stdout.isatty()):
            return None
        try:
            return cls(stdout, stdin.fileno())
        except (ImportError, OSError):
            return None

    def _started(self) -> None:
        with self._lock:
            self._editing = True

    def read(self, prompt: str) -> str:
        """One line typed after ``prompt``, with its newline; "" at the end of input (Ctrl-D)."""
        self._prompt = prompt
        try:
            return input(prompt) + "\n"
        except EOFError:
            return ""
        finally:
            with self._lock:
                self._editing = False

    def write(self, text: str) -> None:
        with self._lock:
            if not self._editing:
                self._out.write(text + "\n")
            elif self._redisplay is not None:
                clear, redraw = self._redisplay
                clear()
                self._out.write(text + "\n")
                self._out.flush()
                redraw()
            else:
                typed = self._line_buffer()
                columns = max(1, shutil.get_terminal_size().columns)
                rows = _width(self._prompt + typed) // columns
                up = f"\x1b[{rows}A" if rows else ""
                self._out.write(f"\r{up}\x1b[J{text}\n{self._prompt}{typed}")
            self._out.flush()

    def restore(self) -> None:
        with contextlib.suppress(Exception):  # the terminal may be gone (hung up)
            self._restore()


def _readline_redisplay(
    library: str | None,
) -> tuple[Callable[[], None], Callable[[], None]] | None:
    """GNU readline's "clear the line being edited" and "draw it again" (both keep what was
    typed and where the cursor is), or None when this readline has no such functions."""
    import ctypes  # noqa: PLC0415 - only in a terminal

    try:
        lib = ctypes.CDLL(library)
        libc = ctypes.CDLL(None)
        clear_line, redraw = lib.rl_clear_visible_line, lib.rl_forced_update_display
        flush = libc.fflush
    except (OSError, AttributeError):
        return None

    def clear() -> None:
        clear_line()
        flush(None)  # readline writes through C's stdio, buffered: out before our text

    def draw() -> None:
        redraw()
        flush(None)

    return clear, draw


@dataclass
class _Speaker:
    contact_id: str
    name: str


class ConsoleChannel:
    def __init__(
        self, settings: Settings, stdin: TextIO, stdout: TextIO, *, log_file: str | None = None
    ) -> None:
        """``log_file``: where the log goes instead of this terminal, said in the greeting."""
        self._settings = settings
        self._in = stdin
        self._out = stdout
        self._log_file = log_file
        self._terminal = _Terminal.open(stdin, stdout)
        self._people = dict(settings.console.people)
        first_resident = next(
            (
                (cid, name)
                for cid, name in self._people.items()
                if cid not in settings.admins and all(cid not in g.leaders for g in settings.grids)
            ),
            ("wxid_console_resident", "居民"),
        )
        self._speaker = _Speaker(*first_resident)
        self._room: str | None = settings.grids[0].room

    async def send(self, message: Outbound) -> None:
        mentions = "".join(f"@{self._name_of(cid)} " for cid in message.mentions)
        if message.to is not None:
            where = f"私聊 → {self._name_of(message.to)}"
        else:
            where = message.room_topic or message.room_id or ""
        text = (mentions + message.text).replace("\n", "\n    ")
        self._print(f"[{where}] {self._settings.bot.name}：{text}")

    def _name_of(self, contact_id: str) -> str:
        return self._people.get(contact_id, contact_id)

    def _print(self, line: str) -> None:
        if self._terminal is not None:
            self._terminal.write(line)
            return
        self._out.write(line + "\n")
        self._out.flush()

    def _prompt(self) -> str:
        return f"{self._speaker.name}@{self._room or '私聊'}> "

    async def run(self, app: App) -> None:
        """Chat until :quit or the end of input. ``app`` must send through this channel."""
        self._print(
            f"{self._settings.bot.name} 控制台。你现在是 {self._speaker.name}，"
            f"在「{self._room}」。输入 :help 查看控制台命令，:quit 退出。"
        )
        if self._log_file:
            self._print(f"（日志写在 {self._log_file}，不在对话里显示。）")
        # Scheduled notices, and replies a throttle holds back, go out from here while the
        # next line is typed.
        serving = asyncio.create_task(app.outbox.serve(idle=1.0))
        try:
            await self._chat(app)
            await self._drain(app)
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            if self._terminal is not None:
                self._terminal.restore()

    async def _chat(self, app: App) -> None:
        asks, lines = self._start_reader()
        while True:
            # The prompt names the speaker and room as they are once the last line is done.
            asks.put(self._prompt())
            line = await lines.get()
            if not line:
                if self._in.isatty():
                    self._out.write("\n")
                return
            text = clean_line(line)
            if text.startswith(":"):
                if not self._steer(text):
                    return
                continue
            if not text.strip():
                continue
            await app.feed(self._event(text, app.services.clock.now(), app.services.db))
            await app.outbox.flush()

    async def _drain(self, app: App) -> None:
        """Wait for the replies still held by the throttle before leaving; not for messages
        due later (a notice held for the morning by quiet hours): :quit must quit. They stay
        in the database and go out in a later run on it."""
        await app.outbox.wait_until_empty(due_by=app.services.clock.now())
        with app.services.db.session() as session:
            later = outbox_store.pending_count(session=session)
        if later:
            self._print(f"（还有 {later} 条消息定在以后发出，下次用这个数据库运行时照常发出。）")

    def _start_reader(self) -> tuple[queue.Queue[str], asyncio.Queue[str]]:
        """Lines from stdin, each read when asked for with its prompt, by a daemon thread: a
        thread blocked in readline() must not keep the process alive after Ctrl-C, as an
        executor thread would."""
        loop = asyncio.get_running_loop()
        asks: queue.Queue[str] = queue.Queue()
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read() -> None:
            while True:
                line = self._read_line(asks.get())
                try:
                    loop.call_soon_threadsafe(lines.put_nowait, line)
                except RuntimeError:  # the loop is closed: the console has ended
                    return
                if not line:
                    return

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        return asks, lines

    def _read_line(self, prompt: str) -> str:
        if self._terminal is not None:
            return self._terminal.read(prompt)
        if self._in.isatty():
            self._out.write(prompt)
            self._out.flush()
        return self._in.readline()

    def _event(self, text: str, now: datetime, db: Database) -> Inbound:
        mentions, unknown = self._mentions(text, db)
        if unknown:
            names = "、".join(f"「@{n}」" for n in unknown)
            self._print(
                f"（控制台：{names}不是已知的人，按手动输入的文字发出。可以 @ 的人见 :who）"
            )
        return Inbound(
            ts=now,
            sender_id=self._speaker.contact_id,
            sender_name=self._speaker.name,
            text=text,
            room_id=self._room,
            room_topic=self._room,
            id=f"console-{uuid.uuid4().hex}",
            mentions=mentions,
        )

    def _mentions(self, text: str, db: Database) -> tuple[tuple[str, ...], list[str]]:
        """The contact ids that the ``@name``s in ``text`` mention, as WeChat would list them
        had the person been picked from the group, and the names typed after @ that nobody
        known goes by. Known: the console's people (the config's and everyone spoken as) and,
        in a grid's group, everyone who has spoken there, also in earlier runs."""
        by_name: dict[str, str] = {}
        for contact_id, name in self._people.items():
            by_name.setdefault(name, contact_id)
        grid = self._settings.grid_by_room(self._room) if self._room else None
        mentioned: list[str] = []
        unknown: list[str] = []
        for at in _AT.finditer(text):
            after = text[at.end() :]
            # the longest name that fits: "@张阿姨" is not "@张" when both are known
            fits = [n for n in by_name if after.startswith(n) and _ends_name(after[len(n) :])]
            if fits:
                mentioned.append(by_name[max(fits, key=len)])
                continue
            word = _WORD.match(after)
            if word is None or word.group(0) == self._settings.bot.name:
                continue  # a lone @, or the bot addressed (WeChat leaves it out of mentions)
            member = self._member_named(db, grid.code, word.group(0)) if grid else None
            if member is None:
                unknown.append(word.group(0))
            else:
                mentioned.append(member)
        return tuple(dict.fromkeys(mentioned)), unknown

    def _member_named(self, db: Database, grid_code: str, name: str) -> str | None:
        """A member of the grid's group who goes by ``name`` (spoke under it), remembered
        for the console's :who and :as from then on."""
        with db.session() as session:
            found = grid_store.members_named(session=session, grid_code=grid_code, name=name)
        if not found:
            return None
        contact_id = found[0][0]
        self._people.setdefault(contact_id, name)
        return contact_id

    def _steer(self, line: str) -> bool:
        """Handle a `:` line; False means quit."""
        word, _, rest = line[1:].strip().partition(" ")
        rest = rest.strip()
        if word in ("quit", "q", "exit"):
            return False
        if word == "as" and rest:
            self._switch_speaker(rest)
        elif word == "room" and rest:
            self._switch_room(rest)
        elif word == "private":
            self._room = None
            self._print("现在是与机器人的私聊。")
        elif word == "who":
            self._print(self._who())
        else:
            self._print(HELP)
        return True

    def _switch_speaker(self, arg: str) -> None:
        key, _, name = arg.partition(" ")
        by_name = {n: cid for cid, n in self._people.items()}
        contact_id = by_name.get(key, key)
        display = name.strip() or self._people.get(contact_id) or contact_id
        self._people[contact_id] = display
        self._speaker = _Speaker(contact_id, display)
        self._print(f"你现在是 {display}（{contact_id}）。")

    def _switch_room(self, arg: str) -> None:
        grid = self._settings.grid(arg) or self._settings.grid_by_room(arg)
        self._room = grid.room if grid else arg
        note = "" if grid else "（这个群不属于任何网格，机器人不会回复）"
        self._print(f"现在在「{self._room}」。{note}")

    def _who(self) -> str:
        people = "、".join(f"{n}（{cid}）" for cid, n in self._people.items())
        rooms = "、".join(f"{g.code} {g.room}" for g in self._settings.grids)
        me = f"{self._speaker.name}（{self._speaker.contact_id}）"
        return (
            f"你是 {me}，在「{self._room or '私聊'}」。\n"
            f"可切换、可 @ 的人：{people}（在群里说过话的人也可以 @）\n网格群：{rooms}"
        )
