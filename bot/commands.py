"""Reading a command out of a message: `/派单 12 @王师傅`, `#帮助`, `／帮助`, a bare `帮助`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEADING_MENTIONS = re.compile(r"^(?:@\S+(?:\s+|$))+")
_PREFIX = ("/", "#")
_TICKET_NUMBER = re.compile(r"^#?(\d{1,9})$")


def _fold_table() -> dict[int, str]:
    table = {code: chr(code - 0xFEE0) for code in range(0xFF10, 0xFF1A)}  # ０-９
    table |= {code: chr(code - 0xFEE0) for code in range(0xFF21, 0xFF3B)}  # Ａ-Ｚ
    table |= {code: chr(code - 0xFEE0) for code in range(0xFF41, 0xFF5B)}  # ａ-ｚ
    table |= {ord("／"): "/", ord("＃"): "#", ord("＠"): "@"}
    # WeChat ends a mention with U+2005; phones type U+3000 and no-break spaces
    table |= {ord(space): " " for space in "\u2005\u3000\u00a0\u2002\u2003\u2009\u200a"}
    return table


_FOLD = _fold_table()


def command_text(text: str) -> str:
    """The text a command is read from: full-width letters, digits, `／＃＠` and odd spaces
    folded to plain ones, mentions of the bot in front removed, whitespace trimmed.

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

    @property
    def argv(self) -> list[str]:
        return self.args.split()

    def resolved(self, name: str) -> CommandCall:
        args = (self.word[len(name) :] + " " + self.rest).strip()
        return CommandCall(self.word, self.rest, self.prefixed, name, args)


def parse_command(text: str) -> CommandCall | None:
    """A command candidate, or None when the message can't be one.

    A prefixed word must start with a letter or a Chinese character, so WeChat's text
    emoticons (`/::)`, `/:rose`) and hashtags of digits are not taken for commands.
    """
    body = command_text(text)
    if not body:
        return None
    prefixed = body[0] in _PREFIX
    if prefixed:
        body = body[1:]
        if not body or not (body[0].isalpha()):
            return None
    word, _, rest = body.partition(" ")
    return CommandCall(word=word, rest=rest.strip(), prefixed=prefixed)


def parse_ticket_number(token: str) -> int | None:
    """`12` or `#12` → 12; anything else → None."""
    match = _TICKET_NUMBER.match(token)
    return int(match.group(1)) if match else None
