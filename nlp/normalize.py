"""Text normalisation applied to a resident's message before it is tokenised and matched.

`normalize` returns a new string; the caller keeps and stores the original text.
Order matters and is chosen for speed: one `str.translate` pass does the per-character work
(full-width to half-width, deletions, whitespace mapping), then three small regexes, then
OpenCC only when the text holds a character OpenCC would change.
"""

from __future__ import annotations

import re

import opencc

__all__ = ["is_traditional", "normalize"]


def _build_table() -> dict[int, int | None]:
    table: dict[int, int | None] = {}
    # Full-width ASCII block: IMEs on phones emit ，！？１２３ＡＢＣ.
    for cp in range(0xFF01, 0xFF5F):
        table[cp] = cp - 0xFEE0
    # Every kind of space becomes a plain space (U+2005 is what WeChat puts after @mentions),
    # so the mention and whitespace regexes only need to know about " ".
    for cp in (0x3000, 0x2005, 0x00A0, 0x1680, 0x202F, 0x205F, *range(0x2000, 0x200B)):
        table[cp] = 0x20
    for ch in "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029":
        table[ord(ch)] = 0x20
    deleted: list[range | tuple[int, ...]] = [
        range(0x0000, 0x0020),  # C0 controls (the whitespace ones were mapped above)
        range(0x007F, 0x00A0),  # DEL and C1 controls
        (0x00AD, 0x034F, 0x061C, 0x180E, 0xFEFF, 0xFFFC, 0xFFFD),  # soft hyphen, BOM, U+FFFD...
        range(0x200B, 0x2010),  # zero-width space/joiners, LRM/RLM
        range(0x202A, 0x202F),  # bidi embeddings
        range(0x2060, 0x2070),  # word joiner, invisible operators
        range(0xFE00, 0xFE10),  # variation selectors (emoji presentation)
        range(0xD800, 0xE000),  # lone surrogates from surrogateescape decoding: OpenCC
        # encodes to UTF-8 and would raise on them
        range(0xE000, 0xF900),  # private use: WeChat/phone vendor glyphs render as garbage
        range(0x2600, 0x27C0),  # misc symbols and dingbats (☀ ✅ ❤ ✨)
        range(0x2B00, 0x2C00),  # arrows/stars used as emoji (⭐ ⬆)
        range(0x1F000, 0x1FB00),  # emoji, pictographs, flags, skin tones
        range(0xE0000, 0xE0080),  # tag characters (flag sequences)
        range(0xF0000, 0x110000),  # supplementary private use
    ]
    for block in deleted:
        for cp in block:
            if cp not in table:
                table[cp] = None
    for cp in (0x20E3, 0x3030, 0x303D, 0x3297, 0x3299, 0x2122, 0x2139, 0x00A9, 0x00AE):
        table[cp] = None  # keycap, wavy dash, ㊗ ㊙, ™ ℹ © ®: emoji-only usage in chats
    return table


_TABLE = _build_table()

# "@昵称" then the U+2005/space terminator (already mapped to " "). A nickname has no space
# and no second "@"; 30 characters is longer than WeChat allows, so a stray "@" in prose
# followed by a long run is left alone.
_MENTION = re.compile(r"@[^ @]{1,30}(?: |$)")
# WeChat's own emoticons arrive as text codes: [强] [抱拳] [捂脸] [Smile].
_WECHAT_EMOTICON = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,6}\]")
_SPACES = re.compile(r" {2,}")

_T2S = opencc.OpenCC("t2s")


def _traditional_chars() -> frozenset[str]:
    # Derived from OpenCC itself (one call over the CJK blocks, ~5 ms at import), so the
    # gate below agrees with the converter by construction. Phrase-level rules in OpenCC's
    # t2s only fire on phrases that contain one of these characters.
    blocks = [range(0x3400, 0x4DC0), range(0x4E00, 0xA000), range(0xF900, 0xFB00)]
    chars = [chr(cp) for block in blocks for cp in block]
    converted = _T2S.convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # pragma: no cover - OpenCC never merges lines
        return frozenset(chars)
    return frozenset(a for a, b in zip(chars, converted, strict=True) if a != b)


_TRADITIONAL = _traditional_chars()


def normalize(text: str) -> str:
    """Return the matching form of `text`: simplified, half-width, lower-case ASCII, without
    @mentions, emoji, zero-width or control characters, with whitespace collapsed."""
    out = text.translate(_TABLE)
    if "@" in out:
        out = _MENTION.sub(" ", out)
    if "[" in out:
        out = _WECHAT_EMOTICON.sub("", out)
    out = _SPACES.sub(" ", out).strip().lower()
    if not _TRADITIONAL.isdisjoint(out):
        out = _T2S.convert(out)
    return out


def is_traditional(text: str) -> bool:
    """True when `text` holds at least one character that OpenCC converts to simplified."""
    return not _TRADITIONAL.isdisjoint(text)
