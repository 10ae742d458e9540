"""The console channel: chat with the bot in a terminal, as anyone, in any grid's group.

Lines starting with ``:`` steer the console (``:as 李网格长``, ``:room G04``, ``:private``,
``:who``, ``:help``, ``:quit``); every other line is a message from the current speaker.
Works the same when stdin is a pipe, which is how the tests drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from bot.app import App
from bot.events import Inbound, Outbound
from bot.settings import Settings

HELP = """\
控制台命令（其余输入都作为当前身份发出的消息）:
  :as <联系人ID或名字> [显示名]   切换说话人，例如 :as 李网格长 或 :as wxid_new 新居民
  :room <网格编码或群名>          切换到某个群，例如 :room G04
  :private                       切换到与机器人的私聊
  :who                           当前身份与所在群，以及可切换的人和群
  :quit                          退出"""


@dataclass
class _Speaker:
    contact_id: str
    name: str


class ConsoleChannel:
    def __init__(self, settings: Settings, stdin: TextIO, stdout: TextIO) -> None:
        self._settings = settings
        self._in = stdin
        self._out = stdout
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
        self._out.write(line + "\n")
        self._out.flush()

    def _prompt(self) -> None:
        if self._in.isatty():
            self._out.write(f"{self._speaker.name}@{self._room or '私聊'}> ")
            self._out.flush()

    async def run(self, app: App) -> None:
        """Chat until :quit or the end of input. ``app`` must send through this channel."""
        self._print(
            f"{self._settings.bot.name} 控制台。你现在是 {self._speaker.name}，"
            f"在「{self._room}」。输入 :help 查看控制台命令，:quit 退出。"
        )
        # Replies the throttle holds back go out from here while the next line is typed.
        serving = asyncio.create_task(app.outbox.serve(idle=1.0))
        try:
            await self._chat(app)
            await self._drain(app)
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving

    async def _chat(self, app: App) -> None:
        lines = self._start_reader()
        while True:
            self._prompt()
            line = await lines.get()
            if not line:
                if self._in.isatty():
                    self._out.write("\n")
                return
            text = line.rstrip("\n")
            if text.startswith(":"):
                if not self._steer(text):
                    return
                continue
            if not text.strip():
                continue
            await app.feed(self._event(text, app.services.clock.now()))
            await app.outbox.flush()

    @staticmethod
    async def _drain(app: App) -> None:
        """Wait for the replies still held by the throttle before leaving."""
        await app.outbox.wait_until_empty()

    def _start_reader(self) -> asyncio.Queue[str]:
        """Lines from stdin, read by a daemon thread: a thread blocked in readline() must not
        keep the process alive after Ctrl-C, as an executor thread would."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str] = asyncio.Queue()

        def read() -> None:
            while True:
                line = self._in.readline()
                loop.call_soon_threadsafe(queue.put_nowait, line)
                if not line:
                    return

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        return queue

    def _event(self, text: str, now: datetime) -> Inbound:
        return Inbound(
            ts=now,
            sender_id=self._speaker.contact_id,
            sender_name=self._speaker.name,
            text=text,
            room_id=self._room,
            room_topic=self._room,
            id=f"console-{uuid.uuid4().hex}",
        )

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
        return f"你是 {me}，在「{self._room or '私聊'}」。\n可切换的人：{people}\n网格群：{rooms}"
