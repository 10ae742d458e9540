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
