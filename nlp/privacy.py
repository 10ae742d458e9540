"""Masking residents' phone and ID-card numbers in what the bot repeats to others."""

from __future__ import annotations

import re

# Mainland mobile numbers (11 digits, 1[3-9]…), optionally written with spaces or dashes.
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
# Resident ID cards: 17 digits and a check digit or X.
_ID_CARD = re.compile(r"(?<![\dXx])(\d{6})(\d{8})(\d{3}[\dXx])(?![\dXx])")
# Landlines with an area code: 0xx-xxxxxxx(x).
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?(\d{3,4})(\d{4})(?!\d)")


def mask_personal(text: str) -> str:
    """``text`` with ID-card and phone numbers masked, keeping enough to tell them apart:
    13812345678 → 138****5678, 110105199001011234 → 110105********1234."""
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(3)}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)
