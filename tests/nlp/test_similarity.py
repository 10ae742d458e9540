from __future__ import annotations

import pytest

from nlp.similarity import (
    names_a_place,
    names_a_thing,
    places_conflict,
    same_matter,
    same_thread,
    tells_apart,
    topic_terms,
)
from nlp.vocabulary import Vocabulary

LAMP = "3栋门口的路灯坏了好几天了，晚上黑漆漆的，麻烦处理一下"


@pytest.mark.parametrize(
    ("other", "same"),
    [
        ("3栋的路灯还是坏的，怎么还没人来修", True),  # paraphrase, same lamp
        ("路灯坏了", True),  # short, nothing against it
        ("3栋路灯坏了，晚上出门很不方便", True),
        ("5栋的路灯也坏了", False),  # another building
        ("3栋的水管爆了", False),  # another thing broken in the same building
        ("楼道灯不亮了", False),  # another light
    ],
)
def test_same_matter(vocabulary: Vocabulary, other: str, same: bool) -> None:
    assert same_matter(LAMP, other, vocabulary, "facility", 0.6) is same


def test_without_a_vocabulary_only_the_wording_counts() -> None:
    assert same_matter("垃圾没人清", "垃圾没人清理", None, "environment", 0.6)
    assert not same_matter("垃圾没人清", "路灯坏了", None, "environment", 0.6)


def test_topic_terms_keep_the_longest_and_leave_out_states(vocabulary: Vocabulary) -> None:
    terms = topic_terms("路灯坏了不亮", vocabulary, "facility")
    assert "路灯" in terms
    assert "灯" not in terms
    assert not terms & {"坏了", "不亮"}
    assert topic_terms("路灯坏了", vocabulary, "no-such-category") == set()


@pytest.mark.parametrize(
    ("a", "b", "category", "same"),
    [
        ("我住5号楼302室，楼道灯坏了", "我住5号楼302室，下水道堵了", "facility", False),
        ("楼道灯坏了 电话13811012345", "水管爆了 电话13811012345", "facility", False),
        ("8栋的路灯坏了", "10栋路灯也不亮", "facility", False),
        ("楼道里有人给电动车充电 太危险了", "楼道里有烟 一股焦糊味", "safety", False),
        ("3栋2单元楼道灯坏了", "3号楼2单元楼道的灯也不亮", "facility", True),  # 3号楼 = 3栋
        ("5栋1单元楼道的灯坏了好几天了", "5栋1单元楼道灯还是不亮", "facility", True),
        ("停水了", "我家也停水了 一上午了", "facility", True),
    ],
)
def test_numbers_are_evidence_only_beside_a_subject(
    vocabulary: Vocabulary, a: str, b: str, category: str, same: bool
) -> None:
    assert same_matter(a, b, vocabulary, category, 0.6) is same


def test_two_neighbours_named_are_two_matters(vocabulary: Vocabulary) -> None:
    qian = "钱奶奶一个人住 屋里灯坏了好几天了 帮帮她"
    gu = "东头顾大爷屋顶漏了 他一个人住 八十多了 能不能帮帮他"
    assert not same_matter(qian, gu, vocabulary, "assistance", 0.6)
    assert same_matter(qian, "钱奶奶一个人住 灯也坏了", vocabulary, "assistance", 0.6)
    # 老奶奶 names nobody
    assert same_matter(qian, "那个老奶奶一个人住 灯坏了", vocabulary, "assistance", 0.6)


def test_one_residents_own_repeat_may_match_more_loosely(vocabulary: Vocabulary) -> None:
    first, again = "门口垃圾堆了三天没人清理", "门口的垃圾还是没人清理"
    assert not same_matter(first, again, vocabulary, "environment", 0.6)
    assert same_matter(first, again, vocabulary, "environment", 0.6, one_reporter=True)


def test_the_same_place_named_lets_the_subject_match_loosely(vocabulary: Vocabulary) -> None:
    # issue #18, item 4: another resident's "6栋门口的垃圾" is the 6栋 垃圾堆 just reported
    first, again = "6栋门口垃圾堆了三天没人清理", "6栋门口的垃圾还是没人清理"
    assert same_matter(first, again, vocabulary, "environment", 0.6)
    assert not same_matter(first, "8栋门口的垃圾还是没人清理", vocabulary, "environment", 0.6)


def test_two_households_robbed_are_two_matters(vocabulary: Vocabulary) -> None:
    assert not same_matter(
        "我家电动车昨晚在车棚被偷了", "我家也被偷了 门锁被撬开 丢了金项链", vocabulary,
        "security", 0.6,
    )  # fmt: skip


def test_names_a_place() -> None:
    assert names_a_place("18栋那边B2东边排水沟堵了")
    assert names_a_place("6号楼1单元 家里暖气片阀门漏水")
    assert not names_a_place("物业这电梯三天两头坏")
    assert not names_a_place("有事打我电话13602251873")  # a phone number is no place


def test_places_conflict() -> None:
    assert places_conflict("5栋2单元漏水", "5号楼3单元漏水")
    assert not places_conflict("5栋漏水", "5号楼2单元漏水")
    assert not places_conflict("楼上漏水", "5栋漏水")


def test_a_bare_lou_after_a_number_is_a_floor() -> None:
    # "我从12楼走下来" in 9栋 is no other building than 12楼 said by a neighbour of 9栋
    assert not places_conflict(
        "9栋2单元的电梯又停了 我从12楼走下来的", "电梯什么时候能好 12楼走不下来"
    )
    assert places_conflict("我住12楼 漏水", "我住15楼 漏水")
    assert places_conflict("5号楼漏水", "6号楼漏水")


@pytest.mark.parametrize(
    ("first", "then", "follows_on", "same"),
    [
        # a neighbour agreeing or pointing back, in words of their own
        (
            "小区北门那棵大榕树断了一大枝 随时会掉",
            "我刚从北门过 差点被砸到 那根枝比人还粗",
            True,
            True,
        ),
        (
            "老街口那个垃圾点好几天没收了",
            "是的 我早上路过臭得很 还有人把烂菜叶子倒在边边上",
            True,
            True,
        ),
        # ... unless another place, or one more matter ("还有…")
        ("3栋门口的路灯坏了", "对 5栋的路灯也坏了", True, False),
        ("3栋门口的路灯坏了", "还有那个垃圾桶也满了", True, False),
        # ... or told apart from it
        ("风雨桥那盏路灯坏了", "篮球场那边两盏灯也是黑的 不是风雨桥那盏", True, False),
        ("二道拐那里蚊子好多", "那条阴沟不光是蚊子 在往上冒臭水", True, False),
        # with nothing tying it back, the same thing named is needed
        ("3栋门口的路灯坏了", "路灯一直不亮 晚上好黑", False, True),
        ("3栋门口的路灯坏了", "电梯又停了", False, False),
        ("3栋门口的路灯坏了", "今天好冷啊", False, False),
    ],
)
def test_what_carries_on_a_matter_just_told(
    vocabulary: Vocabulary, first: str, then: str, follows_on: bool, same: bool
) -> None:
    assert same_thread(first, then, vocabulary, "facility", follows_on=follows_on) is same


def test_names_a_thing(vocabulary: Vocabulary) -> None:
    assert names_a_thing("楼下垃圾也没人清", vocabulary, "environment")
    assert not names_a_thing("我刚才去敲了好一阵门 喊都喊不应", vocabulary, "facility")


@pytest.mark.parametrize(
    ("text", "apart"),
    [
        ("还有3栋的路灯也坏了", True),
        ("不是风雨桥那盏 是篮球场边边那两根杆子", True),
        ("不光是蚊子 阴沟在往上冒臭水", True),
        ("不是我家 是楼上在漏", False),  # who, not which matter
        ("路灯还是不亮", False),
    ],
)
def test_telling_a_matter_apart_from_the_one_just_told(text: str, apart: bool) -> None:
    assert tells_apart(text) is apart


def test_a_matter_told_apart_is_no_repeat(vocabulary: Vocabulary) -> None:
    lamp = "风雨桥那盏路灯坏了 晚上黑得很"
    assert same_matter(lamp, "路灯也是黑的 晚上黑得很", vocabulary, "facility", 0.5)
    apart = "路灯也是黑的 不是风雨桥那盏 晚上黑得很"
    assert not same_matter(lamp, apart, vocabulary, "facility", 0.5)


def test_a_place_may_be_needed_besides_the_subject(vocabulary: Vocabulary) -> None:
    a, b = "电梯又停了 走楼梯上来的", "电梯停了 麻烦找人修"
    assert same_matter(a, b, vocabulary, "facility", 0.6)
    assert not same_matter(a, b, vocabulary, "facility", 0.6, place_needed=True)
    assert same_matter("5栋" + a, "5栋" + b, vocabulary, "facility", 0.6, place_needed=True)
