"""Operations alerts, and the escalation room's copy, over a channel that doesn't depend on the
bot's own WeChat account: a 企业微信 group robot (bot/wecom.py), when the config's
``alerts.wecom`` names one. Without it, alerts are log lines only (always written).

* A *problem* (the account logged out, the gateway unreachable, the outbox behind) is said
  once when it starts (after it has lasted ``after``, for those that may pass by themselves)
  and once when it clears, never again in between however often it is noticed.
* A one-off *alert* (a scheduled backup or purge failed) is said each time.
* What the escalation room is sent (【上报】, 【紧急】, 【超期上报】) is copied to the robot
  once the transaction that queued it has committed (``bot.outbox.queued_in``): whichever
  handler, task or web action queued it, and even while the WeChat account can't send.

One :class:`Alerts` per process (the apps of its accounts share it; the web console served
beside the bot commits through the bot's database, so its escalations are copied by the
bot's). `gridbot web`, the console in a process of its own, starts one for the copy alone
(web/serve.py). Its state is in memory: a restart says a problem that goes on again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from sqlmodel import Session

from bot.clock import Clock, ManualClock
from bot.health import backlog
from bot.outbox import queued_in
from bot.settings import Settings
from storage.db import Database

if TYPE_CHECKING:
    from bot.wecom import WecomWebhook

__all__ = ["Alerts"]

log = logging.getLogger(__name__)

CHECK_SECONDS: Final = 30.0  # how often the outbox backlog is looked at (real time)
PREFIX: Final = "【网格助手告警】"
CLEARED: Final = "【网格助手恢复】"


@dataclass
class _Problem:
    text: str
    since: datetime
    after: timedelta
    said: bool = False


class Alerts:
    """What the bot says when something is wrong (see the module's doc)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: Database,
        webhook: WecomWebhook | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._db = db
        self.webhook = webhook
        self._problems: dict[tuple[str, str], _Problem] = {}
        self._users = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._unlisten: list[Callable[[], None]] = []

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        clock: Clock,
        db: Database,
        environ: Mapping[str, str] = os.environ,
    ) -> Alerts:
        """The process's alerts: to the robot the config's ``alerts.wecom`` names, if its
        variable is set (if not, said in the log, and alerts are log lines only)."""
        wecom = settings.alerts.wecom
        if wecom is None:
            return cls(settings, clock, db)
        value = environ.get(wecom.url_env, "").strip()
        if not value:
            log.error("alerts.wecom: %s is not set: alerts go to the log only", wecom.url_env)
            return cls(settings, clock, db)
        # httpx is imported only for a robot: a bot without one starts as fast as before
        from bot.wecom import WecomWebhook, webhook_url  # noqa: PLC0415

        webhook = WecomWebhook(
            webhook_url(value),
            clock=clock,
            mentioned_list=wecom.mentioned_list,
            per_minute=wecom.per_minute,
        )
        return cls(settings, clock, db, webhook)

    # --- saying -----------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        if self.webhook is not None:
            self.webhook.post(text)

    def alert(self, kind: str, text: str) -> None:
        """A one-off operations alert (``kind``: a word for the log, e.g. "backup"; ``text``:
        what people read, in Chinese), said every time."""
        log.error("alert (%s): %s", kind, text)
        self._say(PREFIX + text)

    async def on_failure(self, text: str) -> None:
        """The ``on_failure(text)`` of the scheduled backup and purge (handlers/maintenance.py,
        ``set_failure_alert``): each failure is said, once a day at most as the jobs run.
        ``text`` is their whole line ("【网格助手】数据库备份失败…")."""
        self.alert("maintenance", text.removeprefix("【网格助手】"))

    def problem(
        self, kind: str, text: str, *, key: str = "", after: timedelta = timedelta(0)
    ) -> None:
        """A problem goes on (``key``: which of its kind, e.g. which account). It is said once
        it has lasted ``after`` since first noticed, and not again until it clears; calling
        this again meanwhile only updates the text that will be said."""
        now = self._clock.now()
        found = self._problems.get((kind, key))
        if found is None:
            found = self._problems[(kind, key)] = _Problem(text, now, after)
        elif not found.said:
            found.text, found.after = text, after
        self._promote(kind, key, found, now)

    def _promote(self, kind: str, key: str, found: _Problem, now: datetime) -> None:
        if found.said or now - found.since < found.after:
            return
        found.said = True
        log.error("alert (%s%s): %s", kind, f" {key}" if key else "", found.text)
        self._say(PREFIX + found.text)

    def resolved(self, kind: str, text: str | None = None, *, key: str = "") -> None:
        """The problem is over: said (``text``, or the problem's own words) if it was said."""
        found = self._problems.pop((kind, key), None)
        if found is None or not found.said:
            return
        said = text or f"已恢复：{found.text}"
        log.warning("alert cleared (%s%s): %s", kind, f" {key}" if key else "", said)
        self._say(CLEARED + said)

    def active(self) -> list[tuple[str, str, str]]:
        """The problems said and not cleared: (kind, key, text)."""
        return [(k, key, p.text) for (k, key), p in self._problems.items() if p.said]

    # --- what is checked here ---------------------------------------------------------------------

    def check(self) -> None:
        """Say the problems that have lasted long enough, and look at the outbox."""
        now = self._clock.now()
        for (kind, key), found in list(self._problems.items()):
            self._promote(kind, key, found, now)
        self.check_outbox(now)

    def check_outbox(self, now: datetime | None = None) -> None:
        now = now or self._clock.now()
        settings = self._settings.alerts
        with self._db.session() as session:
            found = backlog(session, now, settings.outbox_late_minutes)
        if found.late >= settings.outbox_backlog:
            self.problem(
                "outbox",
                f"发送队列积压：{found.late} 条消息过了发送时间 {settings.outbox_late_minutes} "
                f"分钟仍未发出（共 {found.pending} 条待发）。请检查机器人账号是否在线、"
                "是否被限制。",
            )
        else:
            self.resolved("outbox", f"发送队列已恢复正常（待发 {found.pending} 条）。")

    async def _check_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                self.check()
            except Exception:  # a database hiccup must not end the checks
                log.exception("alerts: the check failed")

    # --- the escalation room's copy ---------------------------------------------------------------

    def _committed(self, session: Session) -> None:
        room = self._settings.escalation.room
        for message in queued_in(session):
            if message.to is None and room is not None and message.room_topic == room:
                self._say(message.text)

    @staticmethod
    def _rolled_back(session: Session) -> None:
        queued_in(session)  # never sent: forget them

    # --- running ----------------------------------------------------------------------------------

    def start(self, *, checks: bool = True) -> None:
        """Start posting (and, on the real clock, checking); each start needs a :meth:`stop`
        (the WeChat channel starts it before the first login, the app when it starts).
        ``checks=False``: no checking of the outbox (the console in a process of its own:
        the bot's process checks it, and a backlog would be said twice)."""
        self._users += 1
        if self._users > 1:
            return
        if self.webhook is not None:
            self._tasks.append(asyncio.create_task(self.webhook.run(), name="wecom-webhook"))
            wecom = self._settings.alerts.wecom
            if wecom is not None and wecom.escalation and self._settings.escalation.room:
                self._unlisten += [
                    self._db.listen("after_commit", self._committed),
                    self._db.listen("after_rollback", self._rolled_back),
                ]
        # A manual clock (replays, tests) is stepped: its caller runs check() itself.
        if checks and not isinstance(self._clock, ManualClock):
            self._tasks.append(
                asyncio.create_task(self._check_every(CHECK_SECONDS), name="alerts-check")
            )

    def stop(self) -> None:
        """Stop with the last of those that started it; what is not posted yet is lost."""
        if self._users == 0:
            return
        self._users -= 1
        if self._users:
            return
        for unlisten in self._unlisten:
            unlisten()
        self._unlisten.clear()
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        if self.webhook is not None and self.webhook.pending:
            log.warning("alerts: %d message(s) to 企业微信 not posted", self.webhook.pending)
