"""Reading a command out of a message: `/派单 12 @王师傅`, `#帮助`, `／帮助`, a bare `帮助`."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# WeChat writes a mention as "@name" followed by U+2005, which NFKC turns into a space.
_LEADING_MENTIONS = re.compile(r"^(?:@\S+(?:\s+|$))+")
_PREFIX = ("/", "#")
_TICKET_NUMBER = re.compile(r"^#?(\d{1,9})$")


def command_text(text: str) -> str:
    """The text a command is read from: NFKC (full-width → half-width), mentions of the bot
    in front removed, whitespace trimmed."""
    folded = unicodedata.normalize("NFKC", text).strip()
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
