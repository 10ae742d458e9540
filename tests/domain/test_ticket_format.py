"""How tickets read where others read them: the lists, and the escalation room's summary
that 【上报】, 【紧急】 and 【超期上报】 carry (issue 17 items 3, 4 and 13)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.settings import MAX_MESSAGE_CHARS, Settings
from domain.ticket_format import line, masked_name, quoted, summary
from storage.models import Ticket
from tests.conftest import SETTINGS, TZ

AT = datetime(2026, 11, 22, 9, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings.model_validate(SETTINGS)


def ticket(text: str, name: str = "张阿姨", assignee: str | None = None) -> Ticket:
    return Ticket(
        id=7,
        grid_code="G03",
        reporter_id="wxid_r",
        reporter_name=name,
        text=text,
        category="facility",
        status="assigned" if assignee else "open",
        assignee_id="wxid_w" if assignee else None,
        assignee_name=assignee,
        created_at=AT,
        due_at=AT.replace(day=25),
    )


@pytest.mark.parametrize(
    ("text", "name", "shown"),
    [
        (
            "3栋路灯坏了，电话+86 138 1234 5678",
            "张阿姨",
            "3栋路灯坏了，电话+86 138****5678（张阿姨，",
        ),
        (
            "3栋路灯坏了，电话１３８－１２３４－５６７８",
            "张阿姨",
            "3栋路灯坏了，电话138****5678（张阿姨，",
        ),
        (
            "3栋路灯坏了，身份证1101 0519 9001 0112 34",
            "张阿姨",
            "身份证110105********1234（张阿姨，",
        ),
        ("3栋路灯坏了，身份证110105900101123", "张阿姨", "身份证110105******123（张阿姨，"),
        ("3栋路灯坏了", "3栋刘姐13612345678", "3栋路灯坏了（3栋刘姐136****5678，"),
        ("3栋路灯坏了", "刘姐1\u200b3\u200b6\u200b12345678", "3栋路灯坏了（刘姐136****5678，"),
    ],
)
def test_the_summary_masks_the_words_and_the_name(
    settings: Settings, text: str, name: str, shown: str
) -> None:
    got = summary(ticket(text, name), settings, "幸福社区第3网格")
    assert got.startswith("幸福社区第3网格 #7 设施报修：")
    assert shown in got


def test_the_summary_quotes_a_long_report_up_to_the_one_limit(settings: Settings) -> None:
    got = summary(ticket("路灯坏了" * 1000), settings, "幸福社区第3网格")
    assert len(got) < MAX_MESSAGE_CHARS + 60
    assert "路灯坏了" * 374 + "路灯坏…（张阿姨，" in got


def test_quoted_keeps_what_fits_and_masks_it() -> None:
    assert quoted("好" * MAX_MESSAGE_CHARS) == "好" * MAX_MESSAGE_CHARS
    assert quoted("好" * (MAX_MESSAGE_CHARS + 1)) == "好" * (MAX_MESSAGE_CHARS - 1) + "…"
    assert quoted("已联系 138 1234 5678") == "已联系 138****5678"


def test_a_list_line_masks_the_reporters_and_the_assignees_names(settings: Settings) -> None:
    got = line(ticket("3栋路灯坏了", "刘姐13612345678", "王师傅13900001111"), settings, AT)
    assert got.split("｜") == [
        "#7 设施报修",
        "王师傅139****1111处理中",
        "截止11月25日 09:00",
        "3栋路灯坏了（刘姐136****5678）",
    ]
    assert masked_name("李网格长") == "李网格长"
