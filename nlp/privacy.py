"""Masking residents' phone and ID-card numbers in what the bot repeats to others.

People write numbers every way a phone lets them: `+86 138 1234 5678`, `86-13812345678`,
full-width `１３８１２３４５６７８`, `138.1234.5678`, `138－1234－5678`, one digit at a time
with spaces, an old 15-digit ID card, an ID in groups of four. Some paste them with zero-width
characters in between (copied from a web page, or on purpose to get past a filter). So the
text is first read in a normal form (ASCII digits, one kind of separator, invisible characters
gone), the numbers are found there, and the stretch of the original text each one covers is
replaced: what is not a number is left exactly as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = ["mask_personal"]

# Characters that show nothing: zero-width space/joiners, direction marks, word joiner, BOM,
# soft hyphen, variation selectors and the emoji keycap (1️⃣3️⃣8️⃣…), Hangul fillers, tags.
_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u20e3\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f"
)
# A log line quotes arguments with repr(), which writes invisible characters and odd spaces
# as escapes ('138\\u200b1234'): those escapes count as the character they stand for.
_HIDING = re.compile(
    rf"[{_INVISIBLE}]|\\(?:x[0-9a-fA-F]{{2}}|u[0-9a-fA-F]{{4}}|U[0-9a-fA-F]{{8}}|[tnr])"
)
_INVISIBLE_CHAR = re.compile(rf"[{_INVISIBLE}]")
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # any script's decimal digit but ASCII ones


def _table() -> dict[int, str]:
    table = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII
    spaces = [*range(0x09, 0x0E), *range(0x1C, 0x20), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B)]
    for cp in (*spaces, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000):
        table[cp] = " "
    for cp in (*range(0x2010, 0x2016), 0x2212, 0x2E3A, 0x2E3B, 0xFE58, 0xFE63):
        table[cp] = "-"  # hyphens, dashes (— from the Chinese IME's dash key), minus
    for cp in (0x00B7, 0x2022, 0x2027, 0x30FB, 0xFF65):
        table[cp] = "."  # middle dots
    return table


_TABLE = _table()

# Between two digits of one number: nothing, or a short run of spaces, dots or dashes.
_S = r"[ .\-]{0,3}"
# Mainland mobile numbers: 11 digits, 1[3-9]…, after an optional country code
# (+86, 0086, 86, (+86)).
_MOBILE = re.compile(
    rf"(?<![0-9])(?:\(?(?:\+ ?|00)?86\)?{_S})?(?P<number>1{_S}[3-9](?:{_S}[0-9]){{9}})(?![0-9])"
)
# Resident ID cards: 17 digits and a check digit or X; the first generation had 15 digits.
_ID_CARD = re.compile(rf"(?<![0-9Xx])(?P<number>[0-9](?:{_S}[0-9]){{16}}{_S}[0-9Xx])(?![0-9Xx])")
_OLD_ID_CARD = re.compile(rf"(?<![0-9Xx])(?P<number>[0-9](?:{_S}[0-9]){{14}})(?![0-9Xx])")
# Landlines with an area code: 0xx-xxxxxxx(x), (0xx)xxxxxxxx.
_LANDLINE = re.compile(
    rf"(?<![0-9])\(?(?P<area>0[0-9]{{2,3}})\)?{_S}(?P<number>[0-9](?:{_S}[0-9]){{6,7}})(?![0-9])"
)
_ANY_DIGIT = re.compile(r"\d")
_SEPARATORS = re.compile(r"[ .\-]+")
_NOT_DIGITS = re.compile(r"[^0-9Xx]")


def _grouped(number: str) -> bool:
    """Whether the digits are grouped as people write one number: all together, in groups
    (138 1234 5678), or one by one (1 3 8 1 …). A mix of one-digit and longer groups is a
    list of numbers ("1 3 5 6 7 8 9 10 11 12"), not one."""
    lengths = {len(group) == 1 for group in _SEPARATORS.split(number)}
    return len(lengths) == 1


def _plausible_date(year: str, month: str, day: str) -> bool:
    return 1 <= int(month) <= 12 and 1 <= int(day) <= 31 and (not year or 1900 <= int(year) < 2100)


def _id_card(match: re.Match[str], digits: str) -> str | None:
    # Eighteen digits in a row are masked whatever they are (an order number loses nothing);
    # written in groups they must hold a birth date, or a list of numbers would be masked.
    if match.group("number") != digits and not _plausible_date(
        digits[6:10], digits[10:12], digits[12:14]
    ):
        return None
    return f"{digits[:6]}********{digits[14:]}"


def _old_id_card(match: re.Match[str], digits: str) -> str | None:
    # Fifteen digits are common in other numbers: only a birth date (YYMMDD) makes it an ID.
    if not _plausible_date("", digits[8:10], digits[10:12]):
        return None
    return f"{digits[:6]}******{digits[12:]}"


def _mobile(match: re.Match[str], digits: str) -> str:
    return f"{digits[:3]}****{digits[7:]}"


def _landline(match: re.Match[str], digits: str) -> str:
    return f"{match.group('area')}-****{digits[-4:]}"


_Masker = Callable[[re.Match[str], str], str | None]
# IDs first: an ID card holds 11-digit runs that would otherwise be read as phones.
_PASSES: tuple[tuple[re.Pattern[str], _Masker], ...] = (
    (_ID_CARD, _id_card),
    (_OLD_ID_CARD, _old_id_card),
    (_MOBILE, _mobile),
    (_LANDLINE, _landline),
)


def _normal_form(text: str) -> tuple[str, list[int] | None]:
    """``text`` with ASCII digits and separators and no invisible characters, and where each
    of its characters starts in ``text`` (None: in the same place)."""
    starts: list[int] | None = None
    if _INVISIBLE_CHAR.search(text) or "\\" in text:
        pieces: list[str] = []
        starts = []
        at = 0
        for hiding in _HIDING.finditer(text):
            pieces.append(text[at : hiding.start()])
            starts.extend(range(at, hiding.start()))
            at = hiding.end()
            unit = hiding.group()
            if unit.startswith("\\"):
                code = unit[1:]
                char = {"t": "\t", "n": "\n", "r": "\r"}.get(code) or chr(int(code[1:], 16))
                if char.isspace():
                    pieces.append(" ")
                    starts.append(hiding.start())
                elif not _INVISIBLE_CHAR.fullmatch(char):
                    pieces.append(unit)  # an escape of something visible: text as any other
                    starts.extend(range(hiding.start(), hiding.end()))
        pieces.append(text[at:])
        starts.extend(range(at, len(text)))
        text = "".join(pieces)
    text = text.translate(_TABLE)
    text = _OTHER_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), text)
    return text, starts


def mask_personal(text: str) -> str:
    """``text`` with ID-card and phone numbers masked, keeping enough to tell them apart:
    13812345678 → 138****5678, 110105199001011234 → 110105********1234."""
    if not _ANY_DIGIT.search(text):
        return text
    normal, starts = _normal_form(text)
    found: list[tuple[int, int, str]] = []  # (start, end) in the original text, and the mask
    for pattern, masker in _PASSES:
        taken: list[tuple[int, int]] = []
        at = 0
        while (match := pattern.search(normal, at)) is not None:
            number = match.group("number")
            masked = masker(match, _NOT_DIGITS.sub("", number)) if _grouped(number) else None
            if masked is None:  # a number may still start inside what was not one
                at = match.start() + 1
                continue
            at = match.end()
            begin, end = match.start("number"), match.end("number")
            if pattern is _LANDLINE:
                begin = match.start()
            taken.append((begin, end))
            if starts is None:
                found.append((begin, end, masked))
            else:  # a match starts and ends on a character that maps one to one
                found.append((starts[begin], starts[end - 1] + 1, masked))
        if taken:  # blanked, so that later passes can't read into what is masked
            pieces, kept = [], 0
            for begin, end in taken:
                pieces += [normal[kept:begin], "*" * (end - begin)]
                kept = end
            normal = "".join([*pieces, normal[kept:]])
    if not found:
        return text
    out: list[str] = []
    at = 0
    for begin, end, masked in sorted(found):
        out += [text[at:begin], masked]
        at = end
    out.append(text[at:])
    return "".join(out)
