"""Helpers that make tests read like a chat: build messages, record what the bot sends."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.app import App
from bot.channels.quotes import split_quote
from bot.clock import ManualClock
from bot.events import Inbound, MessageType, Outbound

ROOM = "幸福社区第3网格"
OTHER_ROOM = "幸福社区第4网格"
RESIDENT = ("wxid_resident_zhang", "张阿姨")
NEIGHBOUR = ("wxid_resident_wang", "王大爷")
LEADER = ("wxid_leader_li", "李网格长")
STAFF_WORKER = ("wxid_louzhang_hu", "胡楼栋长")  # a worker of G03: no leader's rights
OTHER_LEADER = ("wxid_leader_zhao", "赵网格长")
ADMIN = ("wxid_street_admin", "街道办小陈")


class RecordingSender:
    """A channel that keeps what it was asked to send; ``fail_next`` makes sends fail."""

    def __init__(self) -> None:
        self.sent: list[Outbound] = []
        self.fail_next = 0

    async def send(self, message: Outbound) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("gateway unreachable")
        self.sent.append(message)

    def texts(self) -> list[str]:
        return [m.text for m in self.sent]

    def clear(self) -> None:
        self.sent.clear()


class Chat:
    """Say things to an app as people in rooms; each message one second after the last."""

    def __init__(self, app: App, clock: ManualClock, sender: RecordingSender) -> None:
        self.app = app
        self.clock = clock
        self.sender = sender
        self._n = 0

    def message(
        self,
        text: str,
        who: tuple[str, str] = RESIDENT,
        room: str | None = ROOM,
        *,
        mentions: tuple[str, ...] = (),
        type: MessageType = MessageType.TEXT,
        msg_id: str | None = None,
        at: datetime | None = None,
        quote: str = "",
    ) -> Inbound:
        """``quote``: WeChat's quoted-reply head ("「name：text」\\n- - - …\\n"), put before
        ``text`` and read as the channels read it."""
        self._n += 1
        if at is None:
            at = self.clock.now() + timedelta(seconds=1)
        quoted, text = split_quote(quote + text) if quote else (None, text)
        return Inbound(
            ts=at,
            sender_id=who[0],
            sender_name=who[1],
            text=text,
            quote=quoted,
            room_id=room,
            room_topic=room,
            id=msg_id or f"m{self._n}",
            mentions=mentions,
            type=type,
        )

    async def feed(self, event: Inbound) -> list[Outbound]:
        """Deliver ``event``; return what the bot sent in answer."""
        await self.app.advance(self.clock, event.ts)  # as a replay does: due work runs first
        before = len(self.sender.sent)
        self.clock.set(event.ts)
        await self.app.feed(event)
        await self.app.outbox.flush()
        return self.sender.sent[before:]

    async def say(self, text: str, who: tuple[str, str] = RESIDENT, room: str | None = ROOM,
                  **kwargs: object) -> list[Outbound]:  # fmt: skip
        return await self.feed(self.message(text, who, room, **kwargs))  # type: ignore[arg-type]
