"""The configuration: one main YAML file, validated, with the shipped defaults merged under it.

Sections that have shipped defaults (see ``DEFAULT_SECTIONS``) may be left out of the main
file (the defaults apply), given as a mapping (merged over the defaults key by key), or given
as a path to a YAML file of their own (which replaces the defaults).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date, datetime, time, timedelta
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.cron import cron_trigger, fires
from nlp.vocabulary import Vocabulary

DEMO_CONFIG = "demo.yaml"
# section name -> shipped default file in the `config` package
DEFAULT_SECTIONS: dict[str, str] = {
    "categories": "categories.yaml",
    "points": "points.yaml",
    "faq": "faq.yaml",
}

_CONTACT_ID = re.compile(r"^\S{1,128}$")
_GRID_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _contact_id(value: str) -> str:
    if not _CONTACT_ID.match(value):
        raise PydanticCustomError(
            "contact_id",
            "'{value}' is not a contact id (a WeChat id such as wxid_…, no spaces)",
            {"value": value},
        )
    return value


def _list_of_contact_ids(value: Any) -> Any:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PydanticCustomError("contact_ids", "expected a list of contact ids")
    return value


def _cron(value: str) -> str:
    try:
        cron_trigger(value, ZoneInfo("UTC"))
    except ValueError as exc:
        raise PydanticCustomError(
            "cron",
            "'{value}' is not a cron expression (minute hour day month weekday, "
            "e.g. '0 9 * * *' for 9:00 every day): {problem}",
            {"value": value, "problem": str(exc)},
        ) from None
    return value


CronExpr = Annotated[str, AfterValidator(_cron)]
ContactId = Annotated[str, AfterValidator(_contact_id)]
ContactIds = Annotated[list[ContactId], BeforeValidator(_list_of_contact_ids)]
NonEmptyStr = Annotated[str, Field(min_length=1, max_length=200)]

LEADER_NAME_CHARS = 20  # of a leader's or a worker's name in the config
_LEADER_FORM = "a leader is a contact id, or id and name (e.g. {id: wxid_leader_li, name: 李明})"
_WORKER_FORM = "a worker is a contact id, or id and name (e.g. {id: wxid_louzhang_hu, name: 胡军})"


def _leader_name(value: Any) -> str | None:
    """The name residents know a leader (or a worker) by, as written in ``{id, name}``; None
    when there is none or it is not one (which the entry's own validation says)."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    name: str = value["name"].strip()
    return name if 1 <= len(name) <= LEADER_NAME_CHARS and name.isprintable() else None


def _named_id(value: Any, who: str, form: str) -> Any:
    """A person written as ``{id: wxid_…, name: 李明}`` is known by its id; the name is kept
    apart (GridSettings.leader_names, worker_names), so ``grid.leaders`` and ``grid.workers``
    stay lists of contact ids."""
    if not isinstance(value, dict):
        return value
    unknown = [str(key) for key in value if key not in ("id", "name")]
    if unknown:
        raise PydanticCustomError(
            who, "unknown key '{key}': {form}", {"key": unknown[0], "form": form}
        )
    if "id" not in value:
        raise PydanticCustomError(who, "the contact id is missing: {form}", {"form": form})
    if value.get("name") is not None and _leader_name(value) is None:
        raise PydanticCustomError(
            f"{who}_name",
            "name: expected the name residents know the {who} by, 1-{most} characters",
            {"who": who, "most": LEADER_NAME_CHARS},
        )
    return value["id"]


def _leader_id(value: Any) -> Any:
    return _named_id(value, "leader", _LEADER_FORM)


def _worker_id(value: Any) -> Any:
    return _named_id(value, "worker", _WORKER_FORM)


def _list_of_leaders(value: Any) -> Any:
    """A list of leaders or of workers."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, dict)) for v in value):
        # each may also be id and name, said where an entry is a mapping that is wrong
        raise PydanticCustomError("leaders", "expected a list of contact ids")
    return value


LeaderIds = Annotated[
    list[Annotated[ContactId, BeforeValidator(_leader_id)]], BeforeValidator(_list_of_leaders)
]
WorkerIds = Annotated[
    list[Annotated[ContactId, BeforeValidator(_worker_id)]], BeforeValidator(_list_of_leaders)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotSettings(_Strict):
    name: NonEmptyStr = "社区小助手"


class GridSettings(_Strict):
    code: str
    name: NonEmptyStr
    room: NonEmptyStr
    # contact ids; an entry may be written {id: wxid_…, name: 李明} to give the name
    # residents know the leader by (said in replies: "由网格长李明负责")
    leaders: LeaderIds = []
    # contact id -> name, from those entries
    leader_names: dict[str, str] = {}
    # grid workers, 楼栋长, 信息员, property staff: their messages are the grid's own voice
    # (progress, notices), never residents' requests; they have no leader's commands. An
    # entry may be written {id: wxid_…, name: 胡军}, as a leader's may
    workers: WorkerIds = []
    # contact id -> name, from those entries
    worker_names: dict[str, str] = {}
    community: NonEmptyStr | None = None
    tags: list[NonEmptyStr] = []

    @model_validator(mode="before")
    @classmethod
    def _names_of_leaders(cls, data: Any) -> Any:
        """The names given in ``{id, name}`` entries of ``leaders`` and ``workers``."""
        if not isinstance(data, dict):
            return data
        for people, names in (("leaders", "leader_names"), ("workers", "worker_names")):
            if not isinstance(data.get(people), list):
                continue
            named = {
                entry["id"]: name
                for entry in data[people]
                if (name := _leader_name(entry)) is not None and isinstance(entry.get("id"), str)
            }
            if named:
                given = data.get(names)
                data = {**data, names: {**(given if isinstance(given, dict) else {}), **named}}
        return data

    @field_validator("code")
    @classmethod
    def _check_code(cls, value: str) -> str:
        if not _GRID_CODE.match(value):
            raise PydanticCustomError(
                "grid_code", "grid codes are 1-32 letters, digits, '-' or '_' (e.g. G03)"
            )
        return value


class EscalationSettings(_Strict):
    room: NonEmptyStr | None = None


class TicketSettings(_Strict):
    """How the closed loop behaves. Deadlines per category are in the categories section."""

    # the same resident repeating the same matter within this window: merged, no new ticket
    duplicate_window_hours: PositiveInt = 24
    # other residents reporting the same matter within this window: linked (同类诉求 +1)
    same_matter_window_hours: PositiveInt = 72
    # how alike two messages must be (shared character pairs, 0-1) to be the same matter
    similarity: Annotated[float, Field(gt=0, le=1)] = 0.6
    # a photo or voice message this soon after a resident's request is attached to it
    attach_window_minutes: PositiveInt = 5
    # how long the reporter may rate a resolved ticket before it is archived as 未评价
    rating_window_hours: PositiveInt = 48
    # past its deadline by this much, a ticket is escalated automatically (督办 comes first)
    escalate_after_overdue_hours: PositiveInt = 24
    urgent_escalate_after_overdue_hours: PositiveInt = 1
    # when deadlines are checked
    sweep_cron: CronExpr = "*/5 * * * *"
    # at most this many tickets in one /工单 reply
    list_limit: Annotated[int, Field(ge=5, le=50)] = 20
    # /工单 in a group answers the leader privately (the list names reporters and quotes
    # them) and says so in the group; true answers in the group, for a group of staff only
    list_in_group: bool = False


class QuietHours(_Strict):
    start: time = time(22, 0)
    end: time = time(7, 0)

    def holds(self, moment: datetime) -> bool:
        now = moment.time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def end_after(self, moment: datetime) -> datetime:
        """When the quiet hours that hold at ``moment`` end (``moment`` is local time)."""
        end = moment.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > moment else end + timedelta(days=1)


class SendingSettings(_Strict):
    """How fast the bot may talk. WeChat restricts accounts that send in bursts, and every
    message the bot sends (replies and notices) goes through one throttle."""

    # at least this long between two messages, plus a random 0..jitter on top
    interval_seconds: Annotated[float, Field(ge=0, le=600)] = 3.0
    jitter_seconds: Annotated[float, Field(ge=0, le=600)] = 2.0
    # and at most this many in any minute, across all groups
    per_minute: Annotated[int, Field(ge=1, le=600)] = 20
    # non-urgent notices due in these hours wait for their end; null: no quiet hours
    quiet_hours: QuietHours | None = QuietHours()
    # a message a process took for sending and never reported sent (it stopped) goes again
    # after this long: at least once rather than lost
    claim_seconds: Annotated[int, Field(ge=5, le=3600)] = 120


class ReplyLimits(_Strict):
    """How many of one person's messages the bot answers in any `reply_window_minutes`."""

    # answers to repeats (the same question again) and bursts (messages less than
    # `burst_seconds` apart): what a flood is made of; beyond them the person is told once
    # to wait, then hears nothing more until the window frees up
    replies: Annotated[int, Field(ge=1, le=1000)] = 10
    # answers of any kind, distinct questions at human speed included: a ceiling nobody
    # exploring the bot reaches; none: three times `replies`
    max_replies: Annotated[int, Field(ge=1, le=3000)] | None = None

    @model_validator(mode="after")
    def _ceiling_above_floods(self) -> ReplyLimits:
        if self.max_replies is not None and self.max_replies < self.replies:
            raise ValueError(
                f"max_replies ({self.max_replies}) is below replies ({self.replies}): "
                "it counts every reply, repeats and bursts included"
            )
        return self

    @property
    def ceiling(self) -> int:
        return self.max_replies if self.max_replies is not None else 3 * self.replies

    def at_least(self, other: ReplyLimits) -> ReplyLimits:
        """These limits, raised where ``other``'s are higher."""
        return ReplyLimits(
            replies=max(self.replies, other.replies),
            max_replies=max(self.ceiling, other.ceiling),
        )


class LeaderLimits(ReplyLimits):
    """A grid leader's limits, in every grid (in another grid than theirs they speak as a
    resident there, and may open tickets)."""

    replies: Annotated[int, Field(ge=1, le=1000)] = 30
    tickets_per_day: Annotated[int, Field(ge=1, le=1000)] = 30


class AdminLimits(ReplyLimits):
    """An administrator's limits (they open no tickets)."""

    replies: Annotated[int, Field(ge=1, le=1000)] = 60


class LimitSettings(ReplyLimits):
    """Anti-flood, per person: one member must not be able to open a hundred tickets or make
    the bot talk a hundred times in a row, while distinct questions at human speed are always
    answered. The fields at the top are the residents' limits; leaders and administrators have
    their own, never below the residents'. All are counted from the database, so they hold
    across restarts and processes."""

    # new tickets one resident may open in any 24 hours (rolling, so there is no burst at
    # midnight); urgent reports are never refused but count. Merges and +1s don't count.
    tickets_per_day: Annotated[int, Field(ge=1, le=1000)] = 10
    reply_window_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    # two messages of one person less than this apart are a burst: faster than anyone types
    # a question after reading the last answer
    burst_seconds: Annotated[int, Field(ge=0, le=600)] = 5
    leaders: LeaderLimits = LeaderLimits()
    admins: AdminLimits = AdminLimits()

    @property
    def residents(self) -> ReplyLimits:
        return ReplyLimits(replies=self.replies, max_replies=self.max_replies)

    @property
    def leaders_tickets_per_day(self) -> int:
        return max(self.leaders.tickets_per_day, self.tickets_per_day)


# WeChat cuts very long texts; a notice longer than this is refused, never split unasked.
MAX_MESSAGE_CHARS = 1500
_NOTICE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")


class NoticeTargets(_Strict):
    """Which grids' groups get a notice: any grid that matches one of these."""

    all: bool = False
    grids: list[str] = []
    tags: list[NonEmptyStr] = []
    communities: list[NonEmptyStr] = []

    @model_validator(mode="after")
    def _some(self) -> NoticeTargets:
        if not (self.all or self.grids or self.tags or self.communities):
            raise ValueError("say which grids: all: true, or grids, tags or communities")
        return self

    def match(self, grid: GridSettings) -> bool:
        return (
            self.all
            or grid.code in self.grids
            or bool(set(self.tags) & set(grid.tags))
            or (grid.community is not None and grid.community in self.communities)
        )


class NoticeSettings(_Strict):
    """A notice from the street office: sent on a schedule to the grids it targets."""

    id: str
    title: NonEmptyStr
    text: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    targets: NoticeTargets
    cron: CronExpr | None = None  # repeating, in the configured timezone
    at: datetime | None = None  # once (a time without offset is in the configured timezone)
    active_from: date | None = None
    active_until: date | None = None  # inclusive
    urgent: bool = False  # urgent notices ignore quiet hours

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _NOTICE_ID.match(value):
            raise PydanticCustomError(
                "notice_id", "notice ids are lower-case letters, digits, '-' or '_' (max 48)"
            )
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> NoticeSettings:
        if (self.cron is None) == (self.at is None):
            raise ValueError("give either cron (repeating) or at (once)")
        if self.active_from and self.active_until and self.active_from > self.active_until:
            raise ValueError("active_from is after active_until")
        return self


class ConsoleSettings(_Strict):
    """Who one can speak as in the console channel: contact id -> display name."""

    people: dict[ContactId, NonEmptyStr] = {}


_WEB_HOST = re.compile(r"^[A-Za-z0-9._:-]{1,253}$")


def _web_host(value: str) -> str:
    if not _WEB_HOST.match(value):
        raise PydanticCustomError(
            "web_host",
            "'{value}' is not a host name or address (e.g. 127.0.0.1, 0.0.0.0 or ::1)",
            {"value": value},
        )
    return value


def _base_url(value: str) -> str:
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018  (raises on a port that is no number)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or any(ch.isspace() for ch in value.strip())
    ):
        raise PydanticCustomError(
            "base_url",
            "'{value}' is not the console's address as people open it (e.g. "
            "https://jiedao.example.cn or http://10.0.0.5:8080/gridbot)",
            {"value": value},
        )
    # the login links are base_url + /login/…: one slash between them
    return value.strip().rstrip("/")


class WebSettings(_Strict):
    """The web console (指挥中心后台): served by `gridbot run` beside the bot when enabled,
    or by `gridbot web` in a process of its own."""

    # `gridbot run` serves it, and /后台 hands out login links; off: /后台 says so
    enabled: bool = False
    # where it listens; 127.0.0.1 (this machine only) unless the office's network needs more
    host: Annotated[str, AfterValidator(_web_host)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    # the address people open, as the links /后台 sends begin (behind a reverse proxy, its
    # https address); none: http://host:port
    base_url: Annotated[str, AfterValidator(_base_url)] | None = None
    # how long a login lasts
    session_hours: Annotated[int, Field(ge=1, le=720)] = 12

    @property
    def url(self) -> str:
        """The console's address as people open it, without a trailing slash."""
        if self.base_url is not None:
            return self.base_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def secure(self) -> bool:
        """Whether people reach it over https (then its cookie is sent over https only)."""
        return self.url.startswith("https://")

    def login_link(self, token: str) -> str:
        """The one-time login link for ``token`` (storage/web_auth.py)."""
        return f"{self.url}/login/{token}"


def _endpoint(value: str) -> str:
    if not re.match(r"^[^\s:/]+:\d{1,5}$", value):
        raise PydanticCustomError(
            "endpoint", "'{value}' is not host:port (e.g. 127.0.0.1:8788)", {"value": value}
        )
    return value


_ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


class WechatAccount(_Strict):
    """One of several WeChat accounts a process serves. Its token is never in the config:
    ``token_env`` names the environment variable that holds it."""

    name: str  # in the log's lines about this account
    token_env: str
    # host:port of this account's puppet service (default: the channel's endpoint)
    endpoint: Annotated[str, AfterValidator(_endpoint)] | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _ACCOUNT_NAME.match(value):
            raise PydanticCustomError(
                "account_name", "lower-case letters, digits, '-' or '_' (max 32)"
            )
        return value

    @field_validator("token_env")
    @classmethod
    def _check_token_env(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise PydanticCustomError(
                "token_env", "an environment variable's name, e.g. GRIDBOT_TOKEN_1"
            )
        return value


class ModelSettings(_Strict):
    """The learned half of the classifier (docs/classification.md, "The learned layer")."""

    # "current": the version the models folder names current (none there: keywords only);
    # "off": keywords only; or a version such as "v1"
    use: Annotated[str, Field(pattern=r"^(current|off|v[0-9]{1,6})$")] = "current"
    # where the versions are kept (`gridbot train` writes there); default: the shipped
    # config/models. A relative path is relative to the config file.
    dir: Path | None = None


class BackupSettings(_Strict):
    """The daily backup job (`gridbot backup` by hand does the same, whatever ``enabled``)."""

    # off by default: the demo and the console have nothing worth a folder of copies
    enabled: bool = False
    # where backups go (`gridbot backup` without --out too); relative: to the working
    # directory, as a relative SQLite database path is. Put it on another disk than the data.
    dir: Path = Path("backups")
    # when the job runs (cron, in `timezone`)
    cron: CronExpr = "30 3 * * *"
    # the job's backups older than this are deleted after each successful one
    keep_days: Annotated[int, Field(ge=1, le=3650)] = 14


class RetentionSettings(_Strict):
    """How long residents' personal data is kept as typed (个人信息保护法): `gridbot purge`,
    and the daily job on ``cron``."""

    # phone and ID-card numbers in residents' messages and what the bot stored from them are
    # masked (138****5678) once this old; null: never
    mask_numbers_after_days: Annotated[int, Field(ge=1, le=36500)] | None = 180
    # an archived (closed) ticket's free text, its messages' and the bot's sent messages'
    # text, replaced this long after closing (sending); category, dates, status and grid are
    # kept, so statistics stay right; null: never
    archived_text_after_days: Annotated[int, Field(ge=1, le=36500)] | None = 365
    # when the purge runs (cron, in `timezone`); null: only by `gridbot purge`
    cron: CronExpr | None = "15 4 * * *"


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise PydanticCustomError(
            "env_name", "an environment variable's name, e.g. GRIDBOT_WECOM_WEBHOOK"
        )
    return value


class WecomSettings(_Strict):
    """A 企业微信 group robot (群机器人): a second way out that doesn't depend on the bot's own
    WeChat account. Its key is never in the config: ``url_env`` names the environment variable
    that holds the robot's webhook address (or its key alone)."""

    url_env: Annotated[str, AfterValidator(_env_name)]
    # 企业微信 user ids (not WeChat contact ids) the robot @-mentions, or "@all"
    mentioned_list: list[NonEmptyStr] = []
    # what the escalation room is sent goes to the robot too
    escalation: bool = True
    # the robot takes 20 messages a minute at most; lower if others post through it too
    per_minute: Annotated[int, Field(ge=1, le=20)] = 20


class AlertSettings(_Strict):
    """Operations alerts (the account logged out, the gateway unreachable, the outbox behind,
    a backup failed): in the log always, over ``wecom`` when it is configured. The same
    thresholds decide what `gridbot status` and /healthz call unhealthy."""

    wecom: WecomSettings | None = None
    # the puppet service (gateway) unreachable this long is an alert
    gateway_down_minutes: Annotated[int, Field(ge=1, le=1440)] = 5
    # this many messages still unsent `outbox_late_minutes` after they were due
    outbox_backlog: Annotated[int, Field(ge=1, le=100_000)] = 20
    outbox_late_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    # an account whose process has not said it is logged in for this long is offline
    account_stale_minutes: Annotated[int, Field(ge=2, le=1440)] = 3
    # no message handled for this long is unhealthy (quiet groups: leave it null)
    handled_within_hours: Annotated[int, Field(ge=1, le=720)] | None = None


class WechatSettings(_Strict):
    """The real WeChat channel (`gridbot run --channel wechaty`). Tokens are never in the
    config: the one account's comes from WECHATY_PUPPET_SERVICE_TOKEN, and with ``accounts``
    each account's from the variable it names."""

    # host:port of the puppet service; WECHATY_PUPPET_SERVICE_ENDPOINT overrides it
    endpoint: Annotated[str, AfterValidator(_endpoint)] | None = None
    # how often the log gets a health line (connected or not, messages in/out, outbox)
    health_log_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    # Several accounts served by this one process (one classifier, scheduler and database
    # connection pool for all); empty: the one account of WECHATY_PUPPET_SERVICE_TOKEN.
    accounts: list[WechatAccount] = []

    @model_validator(mode="after")
    def _distinct_accounts(self) -> WechatSettings:
        for key in ("name", "token_env"):
            seen: set[str] = set()
            for i, account in enumerate(self.accounts):
                value = getattr(account, key)
                if value in seen:
                    raise _at(("wechat", "accounts", i, key), f"'{value}' is given twice")
                seen.add(value)
        return self


def shipped_vocabulary() -> Vocabulary:
    """The shipped config/categories.yaml, for settings that don't say otherwise."""
    return Vocabulary.model_validate(_read_yaml(_shipped("categories.yaml"), "categories.yaml"))


class FaqEntry(_Strict):
    """One answer to a common policy question (政策咨询)."""

    topic: Annotated[str, Field(min_length=1, max_length=20)]
    words: list[NonEmptyStr] = Field(min_length=1)
    answer: Annotated[str, Field(min_length=1, max_length=300)]


class FaqSettings(_Strict):
    entries: list[FaqEntry] = []


def shipped_faq() -> FaqSettings:
    """The shipped config/faq.yaml, for settings that don't say otherwise."""
    return FaqSettings.model_validate(_read_yaml(_shipped("faq.yaml"), "faq.yaml"))


# --- Points (积分制): rules, caps, the redemption catalogue, households, the monthly 公示 ---

_POINTS_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
PointsAmount = Annotated[int, Field(ge=1, le=10_000)]


def _points_name(value: str) -> str:
    # Names are typed after /加分 and 兑换, which read them up to the first space.
    if any(ch.isspace() for ch in value):
        raise PydanticCustomError("points_name", "'{value}' has a space in it", {"value": value})
    return value


PointsName = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_points_name)]


def _points_code(value: str) -> str:
    if not _POINTS_CODE.match(value):
        raise PydanticCustomError(
            "points_code", "codes are lower-case letters, digits and '_' (e.g. volunteer)"
        )
    return value


def _drop_removed(value: Any) -> Any:
    # `volunteer: null` in a city's config removes a shipped rule, which a merge can't.
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if item is not None}
    return value


PointsCode = Annotated[str, AfterValidator(_points_code)]


class PointsRule(_Strict):
    name: PointsName
    kind: Literal["award", "penalty"]
    points: PointsAmount
    daily_cap: PointsAmount | None = None  # points one person may get by this rule per day
    monthly_cap: PointsAmount | None = None
    aliases: list[PointsName] = []
    # only in grids with one of these tags (`tags: [rural]`: 焚烧秸秆 is no matter in a city
    # community); none: in every grid
    tags: list[NonEmptyStr] = []

    def applies_in(self, grid_tags: Collection[str]) -> bool:
        """Whether the rule is one of a grid with ``grid_tags`` (of any of them, for the tags
        of several grids)."""
        return not self.tags or not set(self.tags).isdisjoint(grid_tags)

    @model_validator(mode="after")
    def _caps_fit(self) -> PointsRule:
        if self.daily_cap is not None and self.daily_cap < self.points:
            raise ValueError("daily_cap is below the rule's points: the rule could never be used")
        if self.monthly_cap is not None and self.monthly_cap < (self.daily_cap or self.points):
            raise ValueError("monthly_cap is below daily_cap (or points)")
        return self


class PointsCaps(_Strict):
    per_command: PointsAmount = 50  # for each person named in one /加分 or /扣分
    per_day: PointsAmount = 100  # for each person, all of one day's entries of the kind

    @model_validator(mode="after")
    def _day_holds_a_command(self) -> PointsCaps:
        if self.per_day < self.per_command:
            raise ValueError("per_day is below per_command")
        return self


class PointsCapsByKind(_Strict):
    award: PointsCaps = PointsCaps()
    penalty: PointsCaps = PointsCaps()


class CatalogueItem(_Strict):
    name: PointsName
    points: PointsAmount
    stock: Annotated[int, Field(ge=0)] | None = None  # per grid per month; none: unlimited


class BasePointsSettings(_Strict):
    """基础分: per household and period, ``per_household + per_person × household size``."""

    per_household: Annotated[int, Field(ge=0, le=10_000)] = 10
    per_person: Annotated[int, Field(ge=0, le=10_000)] = 5
    period: Literal["month", "quarter", "year"] = "year"


class PointsNoticeSettings(_Strict):
    cron: CronExpr | None = "0 9 1 * *"  # none: no monthly 公示
    top: Annotated[int, Field(ge=1, le=20)] = 5


Household = Annotated[list[ContactId], Field(min_length=1, max_length=50)]


class PointsSettings(_Strict):
    replies: Literal["group", "private"] = "group"  # where balance and history answers go
    caps: PointsCapsByKind = PointsCapsByKind()
    rules: Annotated[dict[PointsCode, PointsRule], BeforeValidator(_drop_removed)] = {}
    catalogue: Annotated[dict[PointsCode, CatalogueItem], BeforeValidator(_drop_removed)] = {}
    # grid code -> households, each a list of contact ids, the representative (户代表) first
    households: dict[str, list[Household]] = {}
    base: BasePointsSettings = BasePointsSettings()
    notice: PointsNoticeSettings = PointsNoticeSettings()

    @model_validator(mode="after")
    def _check_names(self) -> PointsSettings:
        seen: dict[str, str] = {}
        for code, rule in self.rules.items():
            caps = self.caps.award if rule.kind == "award" else self.caps.penalty
            if rule.points > caps.per_command:
                raise _at(
                    ("points", "rules", code, "points"),
                    f"{rule.points} is above caps.{rule.kind}.per_command ({caps.per_command})",
                )
            for name in (code, rule.name, *rule.aliases):
                if name.lstrip("+-").isdigit():
                    raise _at(("points", "rules", code), f"{name!r} would be read as an amount")
                if seen.setdefault(name, code) != code:
                    raise _at(
                        ("points", "rules", code),
                        f"{name!r} is already a name of rule {seen[name]!r}",
                    )
        names: dict[str, str] = {}
        for code, item in self.catalogue.items():
            for name in (code, item.name):
                if names.setdefault(name, code) != code:
                    raise _at(
                        ("points", "catalogue", code, "name"),
                        f"{name!r} is already the name of item {names[name]!r}",
                    )
        for grid_code, households in self.households.items():
            placed: set[str] = set()
            for i, household in enumerate(households):
                for contact in household:
                    if contact in placed:
                        raise _at(
                            ("points", "households", grid_code, i),
                            f"{contact} is in two households",
                        )
                    placed.add(contact)
        return self

    def rule(self, word: str) -> tuple[str, PointsRule] | None:
        """The rule a leader named: by code, name or alias."""
        for code, rule in self.rules.items():
            if word in (code, rule.name, *rule.aliases):
                return code, rule
        return None

    def item(self, word: str) -> tuple[str, CatalogueItem] | None:
        for code, item in self.catalogue.items():
            if word in (code, item.name):
                return code, item
        return None


def shipped_points() -> PointsSettings:
    """The shipped config/points.yaml, for settings that don't say otherwise."""
    return PointsSettings.model_validate(_read_yaml(_shipped("points.yaml"), "points.yaml"))


def database_url_problem(value: str) -> str | None:
    """What is wrong with a database URL the bot would be given, or None."""
    examples = "sqlite:///gridbot.db or postgresql+psycopg://user:password@host/dbname"
    try:
        url = make_url(value)
    except ArgumentError:
        return f"not a database URL (e.g. {examples})"
    # The bot's SQL is written for these two (storage.db.insert_for). Anything else, or a
    # driver that isn't installed, would fail only at the first connection, with a
    # traceback, after check-config had said OK.
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend not in ("sqlite", "postgresql"):
        return f"{backend} databases are not supported: use {examples}"
    try:
        dialect = url.get_dialect()
        if dialect.is_async:
            raise ImportError("an asyncio driver")
        dialect.import_dbapi()
    except (ImportError, ArgumentError) as exc:
        return f"the database driver '{driver}' can't be used ({exc}): use {examples}"
    return None


class Settings(_Strict):
    timezone: str = "Asia/Shanghai"
    database: str = "sqlite:///gridbot.db"
    bot: BotSettings = BotSettings()
    admins: ContactIds = []
    grids: list[GridSettings] = Field(min_length=1)
    escalation: EscalationSettings = EscalationSettings()
    console: ConsoleSettings = ConsoleSettings()
    web: WebSettings = WebSettings()
    tickets: TicketSettings = TicketSettings()
    sending: SendingSettings = SendingSettings()
    limits: LimitSettings = LimitSettings()
    notices: list[NoticeSettings] = []
    wechat: WechatSettings = WechatSettings()
    alerts: AlertSettings = AlertSettings()
    categories: Vocabulary = Field(default_factory=shipped_vocabulary)
    model: ModelSettings = ModelSettings()
    backup: BackupSettings = BackupSettings()
    retention: RetentionSettings = RetentionSettings()
    points: PointsSettings = Field(default_factory=shipped_points)
    faq: FaqSettings = Field(default_factory=shipped_faq)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone", "unknown timezone '{value}' (e.g. Asia/Shanghai)", {"value": value}
            ) from None
        return value

    @field_validator("database")
    @classmethod
    def _check_database(cls, value: str) -> str:
        problem = database_url_problem(value)
        if problem is not None:
            raise PydanticCustomError("database_url", "{problem}", {"problem": problem})
        return value

    @model_validator(mode="after")
    def _check_grids_unique(self) -> Settings:
        seen_codes: dict[str, int] = {}
        seen_rooms: dict[str, int] = {}
        for i, grid in enumerate(self.grids):
            if grid.code in seen_codes:
                raise _at(("grids", i, "code"), f"duplicate grid code {grid.code!r}")
            if grid.room in seen_rooms:
                raise _at(
                    ("grids", i, "room"),
                    f"room {grid.room!r} is already the room of grids[{seen_rooms[grid.room]}]",
                )
            if grid.room == self.escalation.room:
                raise _at(("grids", i, "room"), "a grid's room can't be the escalation room")
            seen_codes[grid.code] = i
            seen_rooms[grid.room] = i
        seen_notices: set[str] = set()
        for i, notice in enumerate(self.notices):
            if notice.id in seen_notices:
                raise _at(("notices", i, "id"), f"duplicate notice id {notice.id!r}")
            seen_notices.add(notice.id)
            unknown = [code for code in notice.targets.grids if code not in seen_codes]
            if unknown:
                raise _at(("notices", i, "targets", "grids"), f"no such grid: {unknown[0]!r}")
            if not any(notice.targets.match(grid) for grid in self.grids):
                raise _at(("notices", i, "targets"), "matches no grid")
        return self

    @model_validator(mode="after")
    def _check_points_households(self) -> Settings:
        codes = {grid.code for grid in self.grids}
        for grid_code in self.points.households:
            if grid_code not in codes:
                raise _at(("points", "households", grid_code), "no grid has this code")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _by_code(self) -> dict[str, GridSettings]:
        return {grid.code: grid for grid in self.grids}

    @cached_property
    def _by_room(self) -> dict[str, GridSettings]:
        return {grid.room: grid for grid in self.grids}

    def grid(self, code: str) -> GridSettings | None:
        return self._by_code.get(code)

    def grid_by_room(self, topic: str) -> GridSettings | None:
        return self._by_room.get(topic)


def config_warnings(settings: Settings) -> list[str]:
    """What a config that can be used most likely gets wrong, each as "key: what": said by
    `gridbot check-config`, which refuses the config with --strict."""
    found = [
        f"grids[{i}].leaders: grid {grid.code} ({grid.name}) has no leaders: its emergencies "
        "alert no grid leader, and nobody there can use the leaders' commands"
        for i, grid in enumerate(settings.grids)
        if not grid.leaders
    ]
    grid_tags = {tag for grid in settings.grids for tag in grid.tags}
    shipped = shipped_points().rules
    for code, rule in settings.points.rules.items():
        # A shipped rule as shipped is no mistake: a city without rural grids just has no
        # use for 焚烧秸秆. A tag the city wrote that no grid has is most likely misspelt.
        if rule.tags and not rule.applies_in(grid_tags) and shipped.get(code) != rule:
            which = "the tag" if len(rule.tags) == 1 else "any of the tags"
            found.append(
                f"points.rules.{code}.tags: no grid has {which} {', '.join(rule.tags)}: "
                f"the rule {rule.name} can't be used in any grid"
            )
    tz = settings.tz
    # A valid expression may name no day there is (30 February): nothing would ever run.
    scheduled: list[tuple[str, str | None, str]] = [
        ("tickets.sweep_cron", settings.tickets.sweep_cron, "deadlines would never be checked"),
        ("points.notice.cron", settings.points.notice.cron, "no monthly 公示 would be sent"),
        (
            "backup.cron",
            settings.backup.cron if settings.backup.enabled else None,
            "no daily backup would be made",
        ),
        ("retention.cron", settings.retention.cron, "personal data would never be purged"),
    ]
    for key, expr, effect in scheduled:
        if expr is not None and not fires(expr, tz):
            found.append(f"{key}: {expr!r} never fires (no such day): {effect}")
    for i, notice in enumerate(settings.notices):
        if notice.cron is None:
            continue
        if not fires(notice.cron, tz):
            found.append(f"notices[{i}].cron: {notice.cron!r} never fires (no such day)")
            continue
        first, last = notice.active_from, notice.active_until
        start = datetime.combine(first, time.min, tz) if first else None
        end = datetime.combine(last, time.max, tz) if last else None
        if (first or last) and not fires(notice.cron, tz, start=start, end=end):
            found.append(
                f"notices[{i}].cron: {notice.cron!r} never fires between active_from "
                f"({first or 'any day'}) and active_until ({last or 'any day'})"
            )
    web = settings.web
    if web.enabled and web.base_url is None and web.host in ("0.0.0.0", "::"):
        found.append(
            f"web.base_url: not given, so the login links /后台 sends begin {web.url}, which "
            "no phone can open: give the address people reach the console at"
        )
    return found


class _LocatedError(ValueError):
    """A model-level check that knows which key it is about."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _at(loc: tuple[str | int, ...], message: str) -> _LocatedError:
    return _LocatedError(loc, message)


class ConfigError(Exception):
    """A config that can't be used: which file, which key, what is wrong."""

    def __init__(self, file: str, problems: list[str]) -> None:
        super().__init__(file, problems)
        self.file = file
        self.problems = problems

    def __str__(self) -> str:
        lines = [f"config error in {self.file}:"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


# pydantic's wording for the common cases, said the way a config file's reader needs it
_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown key (check the spelling)",
    "string_type": "expected text",
    "list_type": "expected a list",
    "dict_type": "expected a mapping of keys to values",
    "model_type": "expected a mapping of keys to values",
    "model_attributes_type": "expected a mapping of keys to values",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
}


def format_loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and "[" in p))
        ctx_error = item.get("ctx", {}).get("error")
        if isinstance(ctx_error, _LocatedError):
            problems.append(f"{format_loc(ctx_error.loc)}: {ctx_error.message}")
            continue
        message = _MESSAGES.get(item["type"], item["msg"])
        if item["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        problems.append(f"{format_loc(loc)}: {message}")
    return problems


# libyaml's parser when PyYAML has it: the pure-Python one takes about a second for a config
# of 500 grids, at every start. Same safe constructor, same errors with line and column.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path, shown_as: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(shown_as, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown_as, [f"can't be read: {exc}"]) from None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        # Tabs are the usual cause, and libyaml's words don't name the character.
        if mark is not None and text[mark.index : mark.index + 1] == "\t":
            problem = "a tab character: YAML indents with spaces only (replace the tab)"
        raise ConfigError(shown_as, [f"{where}invalid YAML: {problem}"]) from None


def _shipped(name: str) -> Path:
    return Path(str(resources.files("config").joinpath(name)))


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Path | None = None) -> Settings:
    """Read, merge and validate a config file; ``None`` means the shipped demo config."""
    path = path or _shipped(DEMO_CONFIG)
    shown_as = str(path)
    raw = _read_yaml(path, shown_as)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(shown_as, ["(top level): expected a mapping of keys to values"])
    data: dict[str, Any] = dict(raw)
    model = data.get("model")
    if isinstance(model, dict) and isinstance(model.get("dir"), str):
        data["model"] = {**model, "dir": (path.parent / model["dir"]).resolve()}
    if isinstance(data.get("notices"), str):
        notices_path = (path.parent / data["notices"]).resolve()
        data["notices"] = _read_yaml(notices_path, str(notices_path))
    for section, default_file in DEFAULT_SECTIONS.items():
        given = data.get(section)
        if isinstance(given, str):
            section_path = (path.parent / given).resolve()
            data[section] = _read_yaml(section_path, str(section_path))
        else:
            default = _read_yaml(_shipped(default_file), default_file)
            data[section] = deep_merge(default, given) if isinstance(given, dict) else default
            if given is not None and not isinstance(given, dict):
                data[section] = given  # let validation say what is wrong with it
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(shown_as, _problems(exc)) from None
