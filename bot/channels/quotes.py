"""WeChat's quoted replies (引用), as their text arrives through a puppet gateway:

    「张阿姨：3栋路灯坏了」
    - - - - - - - - - - - - - - -
    好的 我下午去看

The part after the dashes is what the person wrote now; the rest names whom they answer.
"""

from __future__ import annotations

import re

from bot.events import Quote

_QUOTED = re.compile(
    r"^\s*「(?P<name>[^「」：:\n]{1,100})[：:](?P<text>.*?)」"  # 「name：quoted text」
    r"\s*\n\s*(?:- ?){5,}-?\s*\n"  # the dashes
    r"(?P<reply>.*)\Z",
    re.DOTALL,
)


def split_quote(text: str) -> tuple[Quote | None, str]:
    """(the quoted message, the reply) of a quoted reply; (None, text) for any other text."""
    match = _QUOTED.match(text)
    if match is None:
        return None, text
    quote = Quote(name=match.group("name").strip(), text=match.group("text").strip())
    return quote, match.group("reply").strip()
