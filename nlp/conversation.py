"""Cues of a message's place in the group's conversation, read from its words alone.

The classifier reads what a message is about; these read what it is doing: a group list
(接龙, 团购) re-sent with one more line, advice to a neighbour ("这种直接打110"), a call for an
emergency number with nothing said of what happened. Pure functions of normalised text.
"""

from __future__ import annotations

import re

from nlp.normalize import normalize

# WeChat's 接龙 starts with "#接龙"; hand-made lists number their lines ("1. 刘姐 2箱").
_LIST_HEAD = re.compile(r"^\s*[#＃]?\s*接龙")
_LIST_LINE = re.compile(r"^\s*\d{1,3}\s*[.、．)）]\s*\S", re.MULTILINE)
# Calling an emergency number or the police: 打110, 快叫120, 拨打119, 报警.
_CALL = re.compile(
    r"(?:直接|赶紧|赶快|快点?|马上|立即|立刻|记得|要|就)?"
    r"(?:打|拨打?|报|叫|call)\s*(?:110|119|120)(?:报警|急救)?|报警|报案"
)
# Words of advice or of a hypothetical: what one should do, not what is happening.
_ADVICE = re.compile(
    r"这种|遇到|碰到|遇上|万一|如果|要是|的话|可以|应该|建议|最好|记得|别忘|下次|以后|一定要|"
    r"你们?(?:就|直接|赶紧|要)|直接"
)


# The call already made: help is on its way ("已经打110了", "打了120", "120来了", "报了警").
_CALLED = re.compile(
    r"已经?(?:打|拨|报|叫)了?\s*(?:110|119|120)|(?:打|拨|叫)了\s*(?:110|119|120)"
    r"|(?:110|119|120)\s*(?:已经|都)?(?:来了|到了)|已经?报(?:了)?警|报了警"
)


def already_called(text: str) -> bool:
    """Whether the message says the emergency number was already called: news, not a call."""
    return bool(_CALLED.search(normalize(text)))


def is_group_list(text: str) -> bool:
    """A 接龙 or another numbered list of names (a head count, a group order)."""
    return bool(_LIST_HEAD.match(text)) or len(_LIST_LINE.findall(text)) >= 2


def without_calls(text: str) -> str:
    """``text`` without its calls for an emergency number ("快打119", "报警"): what is left
    says whether anything is happening."""
    return _CALL.sub(" ", normalize(text))


def calls_for_help(text: str) -> bool:
    return bool(_CALL.search(normalize(text)))


def is_advice(text: str) -> bool:
    """Advice or a hypothetical about calling for help ("这种直接打110", "遇到这种情况记得报警")."""
    normal = normalize(text)
    return bool(_CALL.search(normal)) and bool(_ADVICE.search(normal))


# A neighbour addressed by name and title at the start: "肖老师 1603好像是租出去的",
# "张姐，你家也停水了吗". Titles of the grid's own people (网格长, 书记) are not in it.
_ADDRESSED = re.compile(
    r"^(?P<name>[\u4e00-\u9fff]{1,3})(?:老师|阿姨|叔叔|嬢嬢|娭毑|爹爹|奶奶|爷爷|大爷|大妈|师傅|姐|哥|叔|婶|伯|嫂)"
    r"(?:[\s,，、:：]|您|你)"
)
# A question: a question mark or particle at the end, or a question word.
_QUESTION = re.compile(
    r"[?？]|[吗呢啵嘛么咯]\s*$|怎么|咋|哪里|哪儿|哪个|什么|啥|多少|几时|几点|能不能|可不可以|可以吗|"
    r"要不要|是不是|有没有|有冇|请问|问一下|问下|咨询|想问|如何|么样|么子|咋个|怎样|哪样|"
    # where and what in the dialects: 在哪交, 哪块申请 (江淮), 要带甚 (西北), 咩材料, 边度,
    # 边个, 点样, 几多 (粤); and a verb asked as "V不" or "V没" ending a clause: 还得弄不,
    # 交了冇 (not "我家也没", "水都冇")
    r"在哪|哪块|哪点|[带要做干弄有]甚|咩|边度|边个|点样|几多|"
    r"(?![也都还并从])[\u4e00-\u9fff][不没冇未](?=[\s,，。]|$)"
)


def addressed_name(text: str) -> str | None:
    """The name a message opens by addressing someone with ("肖老师 …" → 肖, "张姐，…" →
    张), or None."""
    match = _ADDRESSED.match(normalize(text))
    return match.group("name") if match else None


def is_question(text: str) -> bool:
    return bool(_QUESTION.search(normalize(text)))


# Wondering whether something is wrong: "是不是哪里着火了", "小广场那边冒烟了 咋回事";
# against telling it is, with the urgency of someone in it: "救命", "快来", "!".
_WONDERS = re.compile(
    r"是不是|是否|咋回事|怎么回事|什么情况|啥情况|啥子情况|"
    r"(?:哪|谁家|哪家)(?:里|块|边)?(?:着火|失火|冒烟|在烧|烧)|"
    r"哪儿|哪来的|不知道是|不晓得"
)
_PRESSING = re.compile(r"救命|快来|快点|赶紧|赶快|[!！]|还在烧|越来越")


def wonders(text: str) -> bool:
    """Whether the message wonders whether something is wrong rather than tells it is."""
    normal = normalize(text)
    return bool(_WONDERS.search(normal)) and not _PRESSING.search(normal)


# "Me too": a household adding itself to a matter just told ("我屋里也冇水", "我们这边也是",
# "确实停了"), not a new one. Only said of oneself: "冰箱也停了" describes one's own matter.
_ALSO = re.compile(
    r"(?:我|俺|阿拉|咱)(?:们|家|屋|屋里|屋头|这边|这里|那边|这儿)?[^，。！？,.!?\s]{0,4}也(?!许|好|行|罢|就|不知)"
    r"|^(?:确实|同样|一样|也是|我也是|我家也是)"
)


# Speaking of oneself: "我家也是", "俺在房顶上也看见了", "额家门口", "+1"; against a bystander's
# comment on a matter told ("物业这电梯三天两头坏", "朱老爹八十三了 一个人住真不放心").
_OWN = re.compile(r"[我俺咱]|阿拉|额(?:家|屋|们|在|也|住)|\+1")


def speaks_for_oneself(text: str) -> bool:
    """Whether the message tells of the sender's own household or experience."""
    return bool(_OWN.search(normalize(text)))


# "我也冇看到他" is "me too" about a person, whom each neighbour may mean differently.
_SOMEONE = re.compile(r"[他她]")


def says_also(text: str) -> bool:
    """Whether the message adds the sender's household to a matter just told ("me too")."""
    said = normalize(text).strip()
    return bool(_ALSO.search(said)) and not _SOMEONE.search(said)


# A reply to what was just said: agreeing with it ("对 我刚把车开出来", "是的 我早上路过",
# "+1", "同感") or pointing back at it ("那根线", "他们刚刚在98号也…", "我刚从那里过").
_FOLLOWS_ON = re.compile(
    r"^(?:对|对的|对头|是的|是啊|就是|确实|同感|同意|没错|真的|\+1|\+\+|嗯)"
    r"[啊呀咯哦嘛哈呢嗯]*(?=[\s,，。.!！~～…]|$)"
    r"|那(?:个|根|棵|块|股|条|里|边|堆|些|家|台)|[他她]们"
)


def refers_back(text: str) -> bool:
    """Whether the message carries on from what was just said in the group, agreeing with
    it or pointing back at it, rather than telling something new."""
    return bool(_FOLLOWS_ON.search(normalize(text).strip()))


# Laughing: "带孩子躲到商场来了 全小区的人都在这😂", "老邹头那张脸 机器都认不得了😂😂".
_LAUGHS = re.compile(r"😂|🤣|😆|😄|😁|哈哈|嘿嘿|笑死")


def laughs(text: str) -> bool:
    """Whether the message laughs: a joke, unless its own words say something is wrong."""
    return bool(_LAUGHS.search(text))


# A degree said with a danger, which tells how hot or angry one is, not what is happening:
# "热得俺都快着火了", "气得我头上冒烟", "辣得嘴巴要喷火". The clause runs from the adjective
# to the danger word.
_HYPERBOLE = re.compile(
    r"(?:热|晒|烫|闷|辣|急|气|馋|烧|燥)得[^，。！？,.!?\s]{0,6}?"
    r"(?:着火|冒烟|冒火|喷火|起火|燃起来|烧起来|爆炸|炸了|炸掉)了?"
)


def drop_hyperbole(normal: str) -> str:
    """The normalised text without a degree said with a danger ("热得俺都快着火了"): what is
    left says whether anything is happening."""
    return _HYPERBOLE.sub(" ", normal)


# Remarks to the group, which tell of nothing wrong now: an anecdote of the past ("前年97号那边
# 电瓶车在楼道里烧起来"), advice to everyone ("老人身上还是得放个卡片"), a thing found ("哪个掉了
# 身份证 在小卖部门口捡的"), an opinion ("这年头偷鸡的都有"). What is happening now keeps a
# message a report: "又", "还在", "今天", "刚才", "比上个月宽了".
_PAST = re.compile(r"上个?月|前年|去年|上回|上次|那时候|那年|前几年|小时候|以前")
# "一定要" alone asks as often as it advises ("一定要修一下"): only what one must watch.
_ADVISES = re.compile(
    r"还是得|还是要|一定要(?:注意|小心|关|锁|看好|记得)|千万(?:别|莫|不要)|真是要|真的要|"
    r"要多操心|要多注意|慢点|离远点|小心点|注意点"
)
_FOUND = re.compile(
    r"捡到|捡的|捡了|放在.{0,6}(?:那里|那儿|这里|这儿)了|帮.{0,3}收着|失主|来领|认领"
)
_OPINION = re.compile(r"这年头|防不胜防|百分百")
_NOW = re.compile(
    r"又|还在|还没|还是没|还是不|现在|今天|今早|今晚|今年|刚才|刚刚|这几天|这两天|这回|这次|"
    r"昨天|昨晚|前天|到现在|一直|正在|比.{0,6}(?:宽|大|多|严重|厉害)"
)


def remarks(text: str) -> bool:
    """Whether the message is a remark to the group (the past, advice, a thing found, an
    opinion) rather than a report or a question of something wrong now."""
    normal = normalize(text)
    if _FOUND.search(normal):
        return True
    if _NOW.search(normal) or is_question(normal):
        return False
    return bool(_PAST.search(normal) or _ADVISES.search(normal) or _OPINION.search(normal))
