"""Reading a command out of a message: `/派单 12 @王师傅`, `#帮助`, `／帮助`, a bare `帮助`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEADING_MENTIONS = re.compile(r"^(?:@\S+(?:\s+|$))+")
_PREFIX = ("/", "#")
_TICKET_NUMBER = re.compile(r"^#?(\d{1,9})$")
_LONG_NUMBER = re.compile(r"^#?(\d{10,})$")
SHOWN_DIGITS = 12


def _fold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {c: chr(c - 0xFEE0) for c in range(0xFF10, 0xFF1A)}  # ０-９
    table |= {code: chr(code - 0xFEE0) for code in range(0xFF21, 0xFF3B)}  # Ａ-Ｚ
    table |= {code: chr(code - 0xFEE0) for code in range(0xFF41, 0xFF5B)}  # ａ-ｚ
    table |= {ord("／"): "/", ord("＃"): "#", ord("＠"): "@"}
    # WeChat ends a mention with U+2005; phones type U+3000 and no-break spaces
    table |= {ord(space): " " for space in "\u2005\u3000\u00a0\u2002\u2003\u2009\u200a"}
    # Invisible marks that pasted text and some keyboards carry (zero-width spaces, the BOM,
    # soft hyphens, bidi controls): `\u200b/帮助` is `/帮助` to the person who typed it. The
    # joiners (U+200C, U+200D) stay: emoji and some scripts need them.
    invisible = "\u00ad\u180e\u200b\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
    invisible += "".join(map(chr, range(0x202A, 0x202F))) + "".join(map(chr, range(0x2066, 0x206A)))
    table |= dict.fromkeys(map(ord, invisible))
    return table


_FOLD = _fold_table()


def command_text(text: str) -> str:
    """The text a command is read from: full-width letters, digits, `／＃＠` and odd spaces
    folded to plain ones, invisible marks dropped, mentions of the bot in front removed,
    whitespace trimmed.

    Chinese punctuation is kept: the free text of `/办结 12 路灯已修好，谢谢` reaches the
    resident as the leader wrote it.
    """
    folded = text.translate(_FOLD).strip()
    return _LEADING_MENTIONS.sub("", folded).strip()


@dataclass(frozen=True, slots=True)
class CommandCall:
    """A command as typed. ``word`` is what followed the prefix up to the first space; the
    dispatcher decides which registered name it is (people type `/派单12` without a space)."""

    word: str
    rest: str
    prefixed: bool
    name: str = ""
    args: str = ""
    # typed with "/" (not "#"): only then is an unknown word a mistyped command; "#接龙" and
    # other hashtags are WeChat's, not ours
    slash: bool = True

    @property
    def argv(self) -> list[str]:
        return self.args.split()

    def resolved(self, name: str) -> CommandCall:
        args = (self.word[len(name) :] + " " + self.rest).strip()
        return CommandCall(self.word, self.rest, self.prefixed, name, args, self.slash)


def parse_command(text: str) -> CommandCall | None:
    """A command candidate, or None when the message can't be one.

    A prefixed word must start with a letter or a Chinese character, so WeChat's text
    emoticons (`/::)`, `/:rose`) and hashtags of digits are not taken for commands.
    """
    body = command_text(text)
    if not body:
        return None
    prefixed = body[0] in _PREFIX
    slash = body[0] == "/"
    if prefixed:
        body = body[1:]
        if not body or not (body[0].isalpha()):
            return None
    # Any whitespace ends the word: residents put the number on the next line (`查询\n12`).
    word, *rest = body.split(None, 1)
    rest_text = rest[0].strip() if rest else ""
    return CommandCall(word=word, rest=rest_text, prefixed=prefixed, slash=slash)


def parse_ticket_number(token: str) -> int | None:
    """`12` or `#12` → 12; anything else → None."""
    match = _TICKET_NUMBER.match(token)
    return int(match.group(1)) if match else None


def long_number(token: str) -> str | None:
    """A number too long to be any ticket's or order's (`#99999999999999999999`), shortened
    for a reply that says there is no such one; None for anything else.

    Such a number is a number all the same: "write the number" would confuse whoever typed it.
    """
    match = _LONG_NUMBER.match(token)
    if match is None:
        return None
    digits = match.group(1)
    return digits if len(digits) <= SHOWN_DIGITS else digits[:SHOWN_DIGITS] + "…"
