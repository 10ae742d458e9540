from __future__ import annotations

import pytest

from nlp.similarity import same_matter, topic_terms
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
