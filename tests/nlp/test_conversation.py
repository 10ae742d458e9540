from __future__ import annotations

import pytest

from nlp.conversation import (
    addressed_name,
    already_called,
    calls_for_help,
    drop_hyperbole,
    is_advice,
    is_group_list,
    is_question,
    refers_back,
    remarks,
    says_also,
    speaks_for_oneself,
    without_calls,
    wonders,
)
from nlp.normalize import normalize


@pytest.mark.parametrize(
    ("text", "listed"),
    [
        ("#接龙\n明天团购土鸡蛋\n\n1. 刘姐 2箱\n2. 王哥 1箱", True),
        ("＃接龙 防溺水承诺书", True),
        ("1、张三 已签\n2、李四 已签", True),
        ("3栋1单元楼道灯坏了", False),
        ("1. 路灯坏了", False),  # one numbered line is a sentence, not a list
    ],
)
def test_group_lists(text: str, listed: bool) -> None:
    assert is_group_list(text) is listed


@pytest.mark.parametrize(
    ("text", "advice"),
    [
        ("这种直接打110报警", True),
        ("遇到这种情况记得打119", True),
        ("你们赶紧报警啊", True),
        ("着火了 快打119", False),
        ("3栋有人打架 已经报警了", False),
        ("楼道灯坏了", False),
    ],
)
def test_advice_to_call_for_help(text: str, advice: bool) -> None:
    assert is_advice(text) is advice


def test_calls_for_help_and_what_is_left_without_them() -> None:
    assert calls_for_help("快叫120！")
    assert not calls_for_help("我电话13812012345")
    assert "120" not in without_calls("有人晕倒了 快叫120")
    assert "晕倒" in without_calls("有人晕倒了 快叫120")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("肖老师 1603好像是租出去的", "肖"),
        ("张姐，你家也停水了吗", "张"),
        ("春梅姐 问下 养老认证怎么搞", "春梅"),
        ("罗网格长 我们104号停水了", None),  # the grid's people are addressed otherwise
        ("3栋路灯坏了", None),
    ],
)
def test_a_neighbour_addressed_by_name(text: str, name: str | None) -> None:
    assert addressed_name(text) == name


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("医保在哪里交", True),
        ("养老认证要么样搞", True),
        ("社保卡能补办吗", True),
        ("我去年办的 在派出所户籍窗口", False),
        ("额这医保在哪交 去年是孙子在手机上弄的", True),
        ("听说有尊老金 哪块申请 要带甚呢", True),
        ("想办居住证 要咩材料 去边度办", True),
        ("俺那养老金认证 今年还得弄不 俺不会用手机", True),
        ("今年的医保交了冇", True),
        ("我们这边也冇", False),
        ("水都冇 电也冇", False),
        ("我家的水还没", False),
        ("甚至还骂人", False),
    ],
)
def test_questions(text: str, question: bool) -> None:
    assert is_question(text) is question


@pytest.mark.parametrize(
    "text",
    [
        "我屋里也冇水 昨天晚上还有的",
        "我们这边也是",
        "我家也停电了",
        "确实停了 电梯也不动",
        "俺家也没水",
    ],
)
def test_a_household_saying_me_too(text: str) -> None:
    assert says_also(text)


@pytest.mark.parametrize(
    "text",
    [
        "6栋停电了 冰箱也停了",  # describing one's own matter
        "也许是水管爆了",
        "这样也好",
        "昨天一天我也冇看到他",  # a person: each neighbour may mean another
        "屋里冇得水哒",
    ],
)
def test_not_me_too(text: str) -> None:
    assert not says_also(text)


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("对 我刚把车开出来 坡道口的水已经没过脚背", True),
        ("是的 那根线我都是叫机手低头绕过去的", True),
        ("+1 我们10栋正对到广场", True),
        ("他们刚刚在98号也一家家敲门", True),
        ("我刚从那里过 差点撞到石头上", True),
        ("3栋门口的路灯坏了", False),
        ("对面楼的空调外机在滴水", False),  # 对 inside a word, not a reply
    ],
)
def test_a_reply_to_what_was_just_said(text: str, back: bool) -> None:
    assert refers_back(text) is back


@pytest.mark.parametrize(
    ("text", "called"),
    [
        ("已经打110了", True),
        ("我打了120 马上到", True),
        ("120来了 在楼下", True),
        ("报了警的", True),
        ("快打110", False),
        ("要不要报警哦", False),
    ],
)
def test_a_call_already_made(text: str, called: bool) -> None:
    assert already_called(text) is called


@pytest.mark.parametrize(
    ("text", "wondering"),
    [
        ("广场那边好大的烟 是哪里着火哒？？", True),
        ("小广场那边冒烟了 咋回事", True),
        ("昨晚那边一片红光 是不是哪里着火了", True),
        ("刚才巷口过去好几辆消防车 哪着火了？", True),
        ("谁家冒烟哩 西头那", True),
        ("是不是哪里着火了 救命啊", False),  # someone in it
        ("3栋着火了！快来人", False),
        ("5栋冒黑烟了 赶紧下楼", False),
    ],
)
def test_wondering_whether_something_is_wrong(text: str, wondering: bool) -> None:
    assert wonders(text) is wondering


@pytest.mark.parametrize(
    ("text", "remark"),
    [
        ("前年97號那邊電瓶車在樓道裡燒起來 好嚇人 大家千萬別在樓道充電", True),
        ("去年二组的老人遭骗了好几千 买的理疗床垫", True),
        ("老人身上还是得放个卡片 写上电话地址", True),
        ("一个人住真的要装个那种一键呼叫的", True),
        ("哪个掉了身份证 在小卖部门口捡的 姓张", True),
        ("有人在屯口丢了个手机 黑色的 我放在老板那里了", True),
        ("這年頭偷雞的都有", True),
        ("开车上班的慢点 北二环上刮倒一棵树 堵了一长串", True),
        # what is wrong now, or a question
        ("100号后巷的下水道又堵了 上个月才通过一回", False),
        ("3号楼后头那个堡坎裂了条缝 比上个月宽了好多", False),
        ("我屋宝宝上个月出生的 上户口要准备哪样", False),
        ("我放在大塘边上抽水的水泵被偷了", False),
        ("5栋楼道灯坏了 一定要修一下", False),
    ],
)
def test_remarks_to_the_group(text: str, remark: bool) -> None:
    assert remarks(text) is remark


@pytest.mark.parametrize(
    ("text", "rest"),
    [
        ("热得俺都快着火了 🔥🔥", ""),
        ("电梯又坏了 气得我头上冒烟", "电梯又坏了"),
        ("这个辣椒辣得我嘴巴要喷火", "这个辣椒"),
    ],
)
def test_a_degree_said_with_a_danger(text: str, rest: str) -> None:
    assert drop_hyperbole(normalize(text)).strip() == rest


@pytest.mark.parametrize("text", ["楼下着火了 热得很", "3栋冒烟了 快来人", "急死了 我家着火了"])
def test_a_danger_that_is_no_degree(text: str) -> None:
    assert drop_hyperbole(normalize(text)) == normalize(text)


@pytest.mark.parametrize(
    ("text", "own"),
    [
        ("我们2单元也是的 电梯门口连张纸都冇贴", True),
        ("俺在房顶上也看见了 烟老大了", True),
        ("额家门口也是一滩水", True),
        ("2单元电梯坏了+1", True),
        ("物业这电梯三天两头坏", False),
        ("朱老爹八十三了 一个人住真不放心", False),
        ("额 这个事情不好说", False),
    ],
)
def test_speaking_for_oneself(text: str, own: bool) -> None:
    assert speaks_for_oneself(text) is own
