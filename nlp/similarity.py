"""Whether two residents' messages are about the same matter (for merging duplicates).

Merging wrongly hides a resident's matter inside another's, which is worse than a duplicate a
leader can /合并 by hand, so this errs towards "different". Two messages are one matter when
they are about the same thing (a topic word of the category, or most of their wording) and
name no different place. A shared place (5栋, 1单元) is evidence only beside a shared subject:
a resident who signs every message "我住5号楼302室" has many matters in one flat. Phone, ID
and other long numbers are never evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from nlp.normalize import normalize
from nlp.vocabulary import Vocabulary

_NOT_TEXT = re.compile(r"[^\w]", re.UNICODE)
# A term with one of these describes a state (不亮, 漏水, 堵了) or what befell someone (被偷,
# 被骗), not the thing it is about: two different things can be in the same state, and two
# households robbed the same night are two victims.
_STATE_CHARS = frozenset("不没坏漏堵臭吵乱破断裂满停爆塌偷骗抢撬")
# Phone, ID-card and account numbers, spaced or not, masked or not: 138 1101 2345,
# 0731-84112233, 430102199001011234, 138****5678.
_LONG_NUMBER = re.compile(r"(?:\+?86[ \-]?)?\d(?:[ \-.*]?[\d*xX]){6,}")
# A place in the grid: a building, unit, floor, room or house number, and the words around it
# ("我住5号楼302室", "3栋2单元", "120号"). Building words are told apart from 楼上/楼下/楼道.
_PLACE = re.compile(r"(\d{1,4})\s*(号楼|栋|幢|座|楼(?![上下道梯顶])|单元|层|楼层|室|号|户|组)")
_KIND = {
    "号楼": "building",
    "栋": "building",
    "幢": "building",
    "座": "building",
    # "我从12楼走下来", "住18楼": a bare 楼 after a number is most often the floor; a
    # building is 号楼, 栋 or 幢
    "楼": "floor",
    "单元": "unit",
    "层": "floor",
    "楼层": "floor",
    "室": "room",
    "户": "room",
    "号": "number",
    "组": "group",
}
# "我住/我家在" before a place, and the words around a phone number: a signature, not the
# matter's words (电话 would otherwise read as 电, power).
_SIGNATURE = re.compile(r"我(?:家)?(?:住|在|是)在?|电话|手机|微信|联系方式|联系我|打我")
# Telling one more matter after the last: "还有3栋的路灯也坏了", "另外 …", "顺便说一下".
_ANOTHER = re.compile(r"^\W*(?:还有|另外|另|顺便|再说|再反映|再问)")
# Telling one's matter apart from the one just told: "不是风雨桥那盏 是篮球场边边那两根",
# "不光是蚊子 在往上冒臭水".
_APART = re.compile(
    r"不是[^，。,\s]{1,8}(?:那|这)(?:个|盏|根|条|家|栋|幢|边|里|块|处|件|台|棵)|不光是|不只是|不仅是|不单是"
)


def tells_apart(text: str) -> bool:
    """Whether the message says it is about another matter than one just told."""
    said = normalize(text)
    return bool(_ANOTHER.search(said) or _APART.search(said))


# An old neighbour named by surname and kinship term: 钱奶奶, 顾大爷, 罗娭毑. Two messages
# about differently named people are about two people ("钱奶奶一个人住" is not "顾大爷…他一个
# 人住"); 老奶奶, 那个大爷 name nobody.
_PERSON = re.compile(
    r"([\u4e00-\u9fff])(?:奶奶|爷爷|大爷|大妈|婆婆|阿姨|娭毑|爹爹|老汉|老太|嬢嬢|孃孃|伯伯|老爷子|老奶|老爹|阿婆|阿公)"
)
_NOT_A_SURNAME = frozenset("老小大的个家位对隔我你他她这那有一两几门楼屋是和跟给")

# Context words (weight below this: 楼道里, 门口, 隔壁) say where, not what.
_SUBJECT_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class _Read:
    places: Mapping[str, str]
    wording: str  # the text without places, signatures and long numbers
    persons: frozenset[str]  # surnames of the neighbours it names


# A message is compared with each open ticket of its category, and a ticket's text with
# every message after it: each text is read once.
@lru_cache(maxsize=4096)
def _read(text: str) -> _Read:
    normal = _LONG_NUMBER.sub(" ", normalize(text))
    places: dict[str, str] = {}
    for match in _PLACE.finditer(normal):
        places.setdefault(_KIND[match.group(2)], str(int(match.group(1))))
    wording = _PLACE.sub(" ", normal)
    wording = _SIGNATURE.sub(" ", wording)
    persons = frozenset(
        m.group(1) for m in _PERSON.finditer(normal) if m.group(1) not in _NOT_A_SURNAME
    )
    return _Read(places, wording, persons)


def topic_terms(text: str, vocabulary: Vocabulary, category: str) -> set[str]:
    """The words in ``text`` (already normalised) that name what the matter is about: terms
    of ``category`` that are not state words, longest first (灯 inside 路灯 is not counted)."""
    found_in = vocabulary.categories.get(category)  # type: ignore[call-overload]
    if found_in is None:
        return set()
    problem = set(vocabulary.problem.terms()) if vocabulary.problem is not None else set()
    found = [
        term
        for term, weight in found_in.terms().items()
        if weight >= _SUBJECT_WEIGHT
        and term in text
        and term not in problem
        and not _STATE_CHARS.intersection(term)
    ]
    found.sort(key=len, reverse=True)
    kept: list[str] = []
    for term in found:
        if not any(term in longer for longer in kept):
            kept.append(term)
    return set(kept)


def _same_subject(a: set[str], b: set[str], *, loose: bool, weak: bool) -> bool:
    """A topic word in common, or one the head of the other: a Chinese compound names its
    kind last (楼道灯 is a 灯, 自来水管 a 水管), so 灯 and 楼道灯 are one subject, 水 and
    下水道 are not. ``loose`` also takes a word of two characters or more at the start of the
    other (垃圾 and 垃圾堆, but also 垃圾 and 垃圾房): for one resident's own words only.
    A one-character word is said of too much (开着灯 is no broken lamp) to count unless
    ``weak`` evidence is enough: the same resident, or the same place named."""
    return any(
        (weak or min(len(x), len(y)) > 1)
        and (_one_subject(x, y, loose) or _one_subject(y, x, loose))
        for x in a
        for y in b
    )


def _one_subject(short: str, long: str, loose: bool) -> bool:
    return long.endswith(short) or (loose and len(short) >= 2 and long.startswith(short))


def names_a_place(text: str) -> bool:
    """Whether the text names a building, unit, floor, room or house number."""
    return bool(_read(text).places)


def places_conflict(a: str, b: str) -> bool:
    """Whether the two texts name a different building, unit, floor, room or house."""
    pa, pb = _read(a).places, _read(b).places
    return any(pa[kind] != pb[kind] for kind in pa.keys() & pb.keys())


def names_a_thing(text: str, vocabulary: Vocabulary, category: str) -> bool:
    """Whether ``text`` names what it is about under ``category`` (路灯, 垃圾), rather than
    only carrying on ("里面是个送外卖的小哥", "我刚才去敲了好一阵门")."""
    return bool(topic_terms(_read(text).wording, vocabulary, category))


def same_thread(a: str, b: str, vocabulary: Vocabulary, category: str, *, follows_on: bool) -> bool:
    """Whether ``b``, said just after ``a`` in the group, carries on with its matter: it names
    no other place, and either ``follows_on`` (it agrees with or points back at what was just
    said, and doesn't open with "还有"), or names the same thing as ``a`` (a neighbour's
    words: 垃圾点 and 烂菜叶, 会掉 and 砸到, need the first)."""
    ra, rb = _read(a), _read(b)
    if any(ra.places[kind] != rb.places[kind] for kind in ra.places.keys() & rb.places.keys()):
        return False
    if tells_apart(b):
        return False
    if follows_on:
        return True
    ta = topic_terms(ra.wording, vocabulary, category)
    tb = topic_terms(rb.wording, vocabulary, category)
    return bool(ta and tb) and _same_subject(ta, tb, loose=False, weak=True)


def _pairs(text: str) -> set[str]:
    compact = _NOT_TEXT.sub("", text)
    return {compact[i : i + 2] for i in range(len(compact) - 1)} or {compact}


def same_matter(
    a: str,
    b: str,
    vocabulary: Vocabulary | None,
    category: str,
    threshold: float,
    *,
    one_reporter: bool = False,
    place_needed: bool = False,
) -> bool:
    """True when ``a`` and ``b``, filed under ``category``, are about one matter: they name
    the same thing (a topic word of the category), or share most of their wording, and name
    no different place (3栋 vs 5栋, 2单元 vs 4单元, 302室 vs 501室); with ``place_needed``,
    they also name the same one.

    Places, signatures ("我住5号楼302室") and long numbers (phones, ID numbers) are left out
    of the wording compared: two requests signed alike are not alike. ``one_reporter``: both
    are one resident's, soon after each other, who repeats a matter in other words more often
    than they report a second one of the same kind; the subject may then match more loosely,
    and the same place with some of the same wording is enough.
    """
    ra, rb = _read(a), _read(b)
    if any(ra.places[kind] != rb.places[kind] for kind in ra.places.keys() & rb.places.keys()):
        return False
    if ra.persons and rb.persons and not ra.persons & rb.persons:
        return False  # 钱奶奶 and 顾大爷: two neighbours, two matters
    if tells_apart(b):
        return False
    shared_place = any(ra.places[k] == rb.places[k] for k in ra.places.keys() & rb.places.keys())
    if place_needed and not shared_place:
        return False
    if vocabulary is not None and _same_subject(
        topic_terms(ra.wording, vocabulary, category),
        topic_terms(rb.wording, vocabulary, category),
        loose=one_reporter or shared_place,
        weak=one_reporter or shared_place,
    ):
        return True
    pa, pb = _pairs(ra.wording), _pairs(rb.wording)
    shorter = min(len(pa), len(pb))
    if shorter <= 1:
        return False
    shared = len(pa & pb) / shorter
    if one_reporter and ra.places.keys() & rb.places.keys():
        return shared >= threshold / 2
    return shared >= threshold
