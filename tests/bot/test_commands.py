from __future__ import annotations

import pytest

from bot.commands import command_text, parse_command, parse_ticket_number


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
