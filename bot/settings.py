"""The configuration: one main YAML file, validated, with the shipped defaults merged under it.

Sections that have shipped defaults (see ``DEFAULT_SECTIONS``) may be left out of the main
file (the defaults apply), given as a mapping (merged over the defaults key by key), or given
as a path to a YAML file of their own (which replaces the defaults).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
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

from nlp.vocabulary import Vocabulary

DEMO_CONFIG = "demo.yaml"
# section name -> shipped default file in the `config` package
DEFAULT_SECTIONS: dict[str, str] = {"categories": "categories.yaml"}

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
        CronTrigger.from_crontab(value)
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotSettings(_Strict):
    name: NonEmptyStr = "社区小助手"


class GridSettings(_Strict):
    code: str
    name: NonEmptyStr
    room: NonEmptyStr
    leaders: ContactIds = []
    community: NonEmptyStr | None = None
    tags: list[NonEmptyStr] = []

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


class ConsoleSettings(_Strict):
    """Who one can speak as in the console channel: contact id -> display name."""

    people: dict[ContactId, NonEmptyStr] = {}


def shipped_vocabulary() -> Vocabulary:
    """The shipped config/categories.yaml, for settings that don't say otherwise."""
    return Vocabulary.model_validate(_read_yaml(_shipped("categories.yaml"), "categories.yaml"))


class Settings(_Strict):
    timezone: str = "Asia/Shanghai"
    database: str = "sqlite:///gridbot.db"
    bot: BotSettings = BotSettings()
    admins: ContactIds = []
    grids: list[GridSettings] = Field(min_length=1)
    escalation: EscalationSettings = EscalationSettings()
    console: ConsoleSettings = ConsoleSettings()
    tickets: TicketSettings = TicketSettings()
    categories: Vocabulary = Field(default_factory=shipped_vocabulary)

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
        try:
            make_url(value)
        except ArgumentError:
            raise PydanticCustomError(
                "database_url",
                "not a database URL (e.g. sqlite:///gridbot.db or "
                "postgresql+psycopg://user:password@host/dbname)",
            ) from None
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
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def grid(self, code: str) -> GridSettings | None:
        return next((g for g in self.grids if g.code == code), None)

    def grid_by_room(self, topic: str) -> GridSettings | None:
        return next((g for g in self.grids if g.room == topic), None)


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


def _read_yaml(path: Path, shown_as: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(shown_as, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown_as, [f"can't be read: {exc}"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
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
