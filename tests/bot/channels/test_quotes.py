from __future__ import annotations

import pytest

from bot.channels.quotes import split_quote
from bot.events import Quote

DASHES = "- - - - - - - - - - - - - - -"


def test_a_quoted_reply_is_split_into_the_quote_and_what_was_written_now() -> None:
    quote, reply = split_quote(f"「张阿姨：3栋路灯坏了」\n{DASHES}\n好的 我下午去看")
    assert quote == Quote(name="张阿姨", text="3栋路灯坏了")
    assert reply == "好的 我下午去看"


def test_quoted_and_reply_text_may_span_lines() -> None:
    quote, reply = split_quote(f"「5栋刘姐: 停水了\n一上午了」\n{DASHES}\n我家也是\n一样")
    assert quote == Quote(name="5栋刘姐", text="停水了\n一上午了")
    assert reply == "我家也是\n一样"


@pytest.mark.parametrize(
    "text",
    ["3栋路灯坏了", "「张阿姨：3栋路灯坏了」 好的", f"「：空名字」\n{DASHES}\n回复", ""],
)
def test_anything_else_is_left_as_it_is(text: str) -> None:
    assert split_quote(text) == (None, text)
