from __future__ import annotations

import pytest

from nlp.privacy import mask_personal


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我电话13812345678，随时联系", "我电话138****5678，随时联系"),
        ("打138 1234 5678或者139-8765-4321", "打138****5678或者139****4321"),
        ("身份证110105199001011234", "身份证110105********1234"),
        ("身份证11010519900101123X号", "身份证110105********123X号"),
        ("座机010-62345678", "座机010-****5678"),
        ("3栋2单元502室", "3栋2单元502室"),
        ("订单号2026112212345678901", "订单号2026112212345678901"),
        ("", ""),
    ],
)
def test_mask_personal(text: str, masked: str) -> None:
    assert mask_personal(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # a country code in front: the number was not found after another digit
        ("我电话+8613812345678", "我电话+86138****5678"),
        ("电话 +86 138 1234 5678", "电话 +86 138****5678"),
        ("8613812345678", "86138****5678"),
        ("0086-13812345678", "0086-138****5678"),
        ("(+86)13812345678找我", "(+86)138****5678找我"),
        # full-width, as phone keyboards type them
        ("电话１３８１２３４５６７８", "电话138****5678"),
        ("＋８６　１３８１２３４５６７８", "＋８６　138****5678"),
        ("身份证１１０１０５１９９００１０１１２３Ｘ", "身份证110105********123X"),
        # other separators
        ("138.1234.5678", "138****5678"),
        ("138－1234－5678", "138****5678"),
        ("138—1234—5678", "138****5678"),
        ("138 - 1234 - 5678", "138****5678"),
        ("座机0731．81190120", "座机0731-****0120"),
        ("座机(0731)81190120", "座机0731-****0120"),
        # one digit at a time
        ("电话 1 3 8 1 2 3 4 5 6 7 8 谢谢", "电话 138****5678 谢谢"),
        # zero-width and other invisible characters between the digits
        ("138\u200b1234\u200b5678", "138****5678"),
        ("1\u200b3\u200c8\u200d1\u20602\ufeff345678", "138****5678"),
        ("138\u00ad12345678", "138****5678"),
        ("1\ufe0f\u20e33\ufe0f\u20e38\ufe0f\u20e312345678", "138****5678"),
        # other scripts' digits
        (
            "\U0001d7cf\U0001d7d1\U0001d7d6\U0001d7cf\U0001d7d0\U0001d7d1\U0001d7d2"
            "\U0001d7d3\U0001d7d4\U0001d7d5\U0001d7d6",
            "138****5678",
        ),
        # 15-digit ID cards (first generation) and IDs written in groups
        ("身份证110105900101123", "身份证110105******123"),
        ("身份证 110105 19900101 1234", "身份证 110105********1234"),
        ("身份证1101 0519 9001 0112 3X", "身份证110105********123X"),
        ("身份证110105-19900101-1234", "身份证110105********1234"),
        ("身份证11010519900101\u200b1234", "身份证110105********1234"),
        # two numbers in one message
        ("13812345678 110105199001011234", "138****5678 110105********1234"),
        ("数量 12 13812345678", "数量 12 138****5678"),
        # what is not a phone or ID number stays as written
        ("时间 2026-11-22 09:00，3栋 2 单元", "时间 2026-11-22 09:00，3栋 2 单元"),
        ("楼号 1 3 5 6 7 8 9 10 11 12 13", "楼号 1 3 5 6 7 8 9 10 11 12 13"),
        ("编号123456789012345", "编号123456789012345"),  # 15 digits, no birth date
        ("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"),
        ("共13.80元", "共13.80元"),
        ("3栋刘姐\u200b", "3栋刘姐\u200b"),
    ],
)
def test_numbers_are_found_however_they_are_written(text: str, masked: str) -> None:
    """Issue 17 item 3: these appeared unmasked in /工单, the escalation room and the log."""
    assert mask_personal(text) == masked


def test_a_log_line_quoting_with_repr_is_masked() -> None:
    """The audit log writes a command's text with %r: invisible characters become escapes."""
    typed = "/办结 1 已联系138\u200b1234\u200b5678，身份证110105\u3000199001011234"
    logged = repr(typed)
    assert "\\u200b" in logged
    assert "\\u3000" in logged
    assert mask_personal(logged) == "'/办结 1 已联系138****5678，身份证110105********1234'"


def test_display_names_are_masked() -> None:
    assert mask_personal("3栋刘姐13612345678") == "3栋刘姐136****5678"
    assert mask_personal("刘姐 136-1234-5678") == "刘姐 136****5678"
