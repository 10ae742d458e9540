from __future__ import annotations

import random

import pytest

from nlp.normalize import is_traditional, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("樓道燈壞了好幾天了", "楼道灯坏了好几天了"),
        ("電梯又停了,老人家上不去", "电梯又停了,老人家上不去"),
        ("我家宅基地被鄰居佔了", "我家宅基地被邻居占了"),
        ("楼道燈坏了", "楼道灯坏了"),  # mixed scripts in one message
        ("路灯不亮", "路灯不亮"),  # simplified stays as it is
    ],
)
def test_traditional_to_simplified(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("３栋２单元，灯不亮！！", "3栋2单元,灯不亮!!"),
        ("ＫＴＶ半夜还在唱", "ktv半夜还在唱"),
        ("请问？", "请问?"),
        ("水\u3000停了", "水 停了"),  # ideographic space
    ],
)
def test_full_width_to_half_width_and_lower_case(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@李网格\u2005小区东门井盖松了", "小区东门井盖松了"),
        ("@李网格 小区东门井盖松了", "小区东门井盖松了"),
        ("你好@张网格\u2005路灯坏了", "你好 路灯坏了"),
        ("路灯坏了 @张网格", "路灯坏了"),
        ("@所有人", ""),
        ("@网格员小张\u2005 @王书记\u2005停水了", "停水了"),
    ],
)
def test_mentions_are_removed(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("收到👌", "收到"),
        ("着火了🔥🔥", "着火了"),
        ("👍🏽好的", "好的"),  # skin tone modifier
        ("👨\u200d👩\u200d👧", ""),  # zero-width-joiner family
        ("❤️谢谢", "谢谢"),  # variation selector
        ("🇨🇳加油", "加油"),  # flag
        ("[强][强][抱拳]", ""),  # WeChat's emoticon codes
        ("☀️早上好", "早上好"),
    ],
)
def test_emoji_are_removed(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("电梯\u200b坏了", "电梯坏了"),
        ("\ufeff停电了", "停电了"),
        ("灯\x00坏\x07了", "灯坏了"),
        ("路灯\u202e坏了", "路灯坏了"),  # bidi override
        ("  垃圾\t\n没人收 \r\n ", "垃圾 没人收"),
        ("a\u00a0\u2003b", "a b"),
    ],
)
def test_invisible_and_control_characters_and_whitespace(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize("seed", range(50))
def test_lone_surrogates_from_garbage_bytes_are_dropped(seed: int) -> None:
    # Seeded, not os.urandom: random bytes sometimes hold an "@" that makes the rest of the
    # run an @mention, which is removed with it; the space keeps 停水了 out of any mention.
    garbage = random.Random(seed).randbytes(64).decode("utf-8", errors="surrogateescape")
    out = normalize(garbage + " 停水了")
    out.encode("utf-8")  # would raise on a lone surrogate
    assert out.endswith("停水了")


def test_returns_new_string_and_leaves_input_alone() -> None:
    original = "樓道燈壞了 @李网格\u2005👍"
    kept = str(original)
    assert normalize(original) == "楼道灯坏了"
    assert original == kept


@pytest.mark.parametrize("text", ["樓道燈壞了,麻煩處理", "@a\u2005ＯＫ 👍 灯", "", "  "])
def test_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


def test_is_traditional() -> None:
    assert is_traditional("樓道燈")
    assert is_traditional("楼道燈坏了")
    assert not is_traditional("楼道灯坏了")
    assert not is_traditional("")
