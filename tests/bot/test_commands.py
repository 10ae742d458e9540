from __future__ import annotations

import pytest

from bot.commands import command_text, long_number, parse_command, parse_ticket_number


@pytest.mark.parametrize(
    ("text", "word", "rest", "prefixed"),
    [
        ("/帮助", "帮助", "", True),
        ("#帮助", "帮助", "", True),
        ("／帮助", "帮助", "", True),  # full-width slash
        ("  /派单  12 @王师傅 ", "派单", "12 @王师傅", True),
        ("/办结　12　已修好", "办结", "12 已修好", True),  # full-width spaces
        ("@社区小助手\u2005/帮助", "帮助", "", True),
        ("@社区小助手 @李网格长 /状态", "状态", "", True),
        ("帮助", "帮助", "", False),
        ("积分 明细", "积分", "明细", False),
    ],
)
def test_parse_command(text: str, word: str, rest: str, prefixed: bool) -> None:
    call = parse_command(text)
    assert call is not None
    assert (call.word, call.rest, call.prefixed) == (word, rest, prefixed)


@pytest.mark.parametrize("text", ["", "   ", "/", "#", "/::)", "/:rose", "#123", "@小助手\u2005"])
def test_not_a_command(text: str) -> None:
    assert parse_command(text) is None


def test_resolved_splits_a_name_typed_without_space() -> None:
    call = parse_command("/派单12 @王师傅")
    assert call is not None
    resolved = call.resolved("派单")
    assert (resolved.name, resolved.args, resolved.argv) == (
        "派单",
        "12 @王师傅",
        ["12", "@王师傅"],
    )


def test_command_text_folds_full_width_digits() -> None:
    assert command_text("／办结　１２") == "/办结 12"


@pytest.mark.parametrize(
    ("token", "number"), [("12", 12), ("#12", 12), ("＃12", None), ("12a", None), ("", None)]
)
def test_parse_ticket_number(token: str, number: int | None) -> None:
    assert parse_ticket_number(token) == number


@pytest.mark.parametrize(
    ("text", "word", "rest"),
    [
        ("\u200b/帮助", "帮助", ""),  # a zero-width space pasted in front
        ("/帮\u200b助", "帮助", ""),
        ("\ufeff积分", "积分", ""),  # a byte-order mark
        ("\u202e/派单 1", "派单", "1"),  # a right-to-left override
        ("\u00ad查询\u00ad 12", "查询", "12"),  # soft hyphens
        ("查询\n12", "查询", "12"),  # the number on the next line
        ("/办结\t12 已修好", "办结", "12 已修好"),
    ],
)
def test_invisible_marks_and_any_whitespace(text: str, word: str, rest: str) -> None:
    call = parse_command(text)
    assert call is not None
    assert (call.word, call.rest) == (word, rest)


def test_joiners_stay_in_the_text() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert command_text(f"/办结 12 {family}") == f"/办结 12 {family}"


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        ("1234567890", "1234567890"),
        ("#99999999999999999999", "999999999999…"),
        ("123456789", None),  # a number that may be a ticket's
        ("-99999999999", None),
        ("abc", None),
        ("²²²²²²²²²²", None),  # digits to str.isdigit, not to int()
    ],
)
def test_long_number(token: str, shown: str | None) -> None:
    assert long_number(token) == shown
