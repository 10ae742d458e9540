from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Any

import pytest

from nlp.classifier import Classification, Classifier
from nlp.vocabulary import CATEGORY_CODES, Vocabulary


def _check_valid(result: Classification) -> None:
    assert isinstance(result.is_request, bool)
    assert result.category is None or result.category in CATEGORY_CODES
    assert 0.0 <= result.confidence <= 1.0
    assert all(isinstance(k, str) and k for k in result.keywords)
    assert result.is_request or (result.category is None and not result.urgent)
    assert result.is_request == (result.category is not None)
    # an emergency the keywords name has its number; one only the model suspects has none
    assert result.emergency_number is None or result.urgent
    assert result.urgent == (result.emergency_number is not None or result.decided_by == "model")


def test_as_dict_has_exactly_the_public_fields(classifier: Classifier) -> None:
    result = classifier.classify("路灯不亮了,麻烦处理一下")
    data = result.as_dict()
    assert data == {
        "is_request": True,
        "category": "facility",
        "urgent": False,
        "confidence": result.confidence,
        "keywords": list(result.keywords),
        "decided_by": "keywords",
        "p_request": None,
    }
    assert isinstance(data["keywords"], list)


def test_classification_is_frozen(classifier: Classifier) -> None:
    result = classifier.classify("收到")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.is_request = True  # type: ignore[misc]


def _garbage(seed: int) -> str:
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x110000)) for _ in range(300))


BAD_INPUT = {
    "empty": "",
    "spaces": " \t\n\u3000 ",
    "emoji only": "👍👍🙏🔥😭",
    "wechat emoticons only": "[强][抱拳]",
    "100k characters": "路灯不亮" + "啊" * 100_000,
    "100k emoji": "🔥" * 100_000,
    "utf-8 garbage, replaced": os.urandom(500).decode("utf-8", errors="replace"),
    "utf-8 garbage, surrogateescape": os.urandom(500).decode("utf-8", errors="surrogateescape"),
    "latin-1 mojibake": "路灯坏了".encode().decode("latin-1"),
    "random code points": _garbage(1),
    "control characters": "".join(chr(c) for c in range(32)) + "\x7f\x9f",
    "mixed scripts": "樓道燈坏了 the light is broken 電梯も壊れた 123 ①②",
    "only punctuation": "???!!!。。。,,,",
    "only mention": "@张网格\u2005",
}


@pytest.mark.parametrize("text", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_gives_a_valid_result(classifier: Classifier, text: str) -> None:
    _check_valid(classifier.classify(text))


@pytest.mark.parametrize("text", ["", "   ", "👍👍🙏", "[强][强]", "@所有人"])
def test_nothing_to_read_is_not_a_request(classifier: Classifier, text: str) -> None:
    result = classifier.classify(text)
    assert result == Classification(False, None, False, 1.0, ())


def test_long_text_is_cut_to_max_chars(classifier: Classifier, vocabulary: Vocabulary) -> None:
    padding = "今天天气不错" * (vocabulary.max_chars // 6 + 1)
    assert not classifier.classify(padding + "着火了快来人").is_request
    assert classifier.classify("着火了快来人" + padding).urgent


HARD_NEGATIVES = [
    "路灯修好了,谢谢!",
    "收到",
    "好的谢谢",
    "今天垃圾车来得早",
    "谢谢网格员,辛苦了",
    "防溺水宣传收到了",
    "【停电通知】明天上午8点至下午6点线路检修,一组至五组停电,请提前做好准备,敬请谅解。",
    "温馨提示:天干物燥,小心火烛,上山祭祀不要烧纸放鞭炮。",
    "昨天那个火已经灭了 没人受伤 大家放心",
    "電梯修好了,謝謝師傅",
    "今晚广场舞几点开始?",
    "【安全提示】冬季取暖注意防范一氧化碳中毒,使用炭火请保持通风。",
    "刚才那个烟是人家烧稻草 不是着火 大家别紧张",
    "谁有修电动车的电话 我车胎扎了",
    "电视剧里那场大火拍得真吓人",
    "我家电视机坏了 明天去买个新的",
    "今天贼冷 大家多穿点",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negatives_are_not_requests(classifier: Classifier, text: str) -> None:
    result = classifier.classify(text)
    assert not result.is_request, result
    assert not result.urgent


HARD_POSITIVES = [
    ("灯坏了", "facility"),
    ("楼下那个灯黑了好几天了", "facility"),
    ("垃圾三天没人收了 臭得要命", "environment"),
    ("楼上漏水漏到我家天花板 说了也不听", "dispute"),
    ("楼道里有人给电动车充电 拉的飞线", "safety"),
    ("我家电动车电瓶被偷了", "security"),
    ("独居的刘奶奶好几天没出门了 能不能去看看", "assistance"),
    ("请问新农合什么时候截止", "consult"),
    ("樓道燈壞了好幾天了,麻煩處理一下", "facility"),
    # a problem told by what it does to people, no "broken" word
    ("巷子里的路灯一到晚上就黑乎乎的 走路看不见", "facility"),
    ("工地晚上十二点还在打桩 孩子睡不着", "environment"),
    # the source of a noise decides: a neighbour's home is a dispute
    ("楼上天天半夜蹦迪 敲门也不开", "dispute"),
    # a one-character morpheme catches a compound nobody listed
    ("我妈被人骗走了两万块", "security"),
    ("莫得人扫 垃圾一层一层的", "environment"),
]


@pytest.mark.parametrize(("text", "category"), HARD_POSITIVES)
def test_hard_positives_are_filed(classifier: Classifier, text: str, category: str) -> None:
    result = classifier.classify(text)
    assert result.is_request, result
    assert result.category == category, result
    assert not result.urgent


URGENT = [
    ("着火了!!!5栋三楼冒烟了 快打119", "safety", "119"),
    ("楼道里煤气味好重 不知道哪家漏气了", "safety", "119"),
    ("有小孩掉到塘里了 快来人啊", "safety", "120"),
    ("快报警 楼下有人打起来了 头都打破了", "security", "110"),
    ("独居的李奶奶在家里摔倒了起不来 快来人", "assistance", "120"),
    ("水已经进屋了 一楼全淹了 老人还在屋里出不来", "safety", "119"),
    # indirect descriptions: nobody says "emergency"
    ("三楼那户窗户在冒黑烟", "safety", "119"),
    ("楼道里一股煤气味 好冲", "safety", "119"),
    ("孩子掉塘里了", "safety", "120"),
    ("楼下两个人打起来了", "security", "110"),
    ("我爸手上划了个大口子 血流不止", "assistance", "120"),
    ("村口那堵墙塌了 下面有人", "safety", "119"),
    ("我被困电梯里了 3号楼", "facility", "119"),
    ("水漫进屋了 一楼的东西全泡了", "safety", "119"),
    ("有人触电了 倒在配电箱旁边", "safety", "120"),
    # an emergency broadcast to the group: addressing it doesn't calm it
    ("大家注意 5栋着火了 赶紧下楼", "safety", "119"),
    # a fight in progress is security, even inside a family
    ("隔壁男的在打他老婆 打得很凶", "security", "110"),
]


@pytest.mark.parametrize(("text", "category", "number"), URGENT)
def test_emergencies_are_flagged(
    classifier: Classifier, text: str, category: str, number: str
) -> None:
    result = classifier.classify(text)
    assert result.urgent, result
    assert result.category == category
    assert result.emergency_number == number


@pytest.mark.parametrize(
    "text",
    [
        "防溺水宣传收到了",
        "昨天那个火已经灭了 没人受伤",
        "消防通道被车堵死了 万一起火怎么办",
        "塘边没有护栏 怕小孩掉下去",
        "昨天晚上烧烤摊那边有人打架 今天地上还有血",
        "我闻着好像有点煤气味 又不太确定 要不要找人看看",
        "3号楼楼道又有人拉线充电动车 插排就撂在地上 这要着火咋弄",  # a worry
        "热得俺都快着火了",  # a degree
        "炭给杨奶奶搬过去了 炉子也捅旺了",  # a stove poked
        "我也抢了一盒",  # a deal grabbed
        "村东头那条水泥路让拉麦的大车压塌了一块 坑老深",  # a road crushed
    ],
)
def test_danger_words_said_calmly_are_not_urgent(classifier: Classifier, text: str) -> None:
    assert not classifier.classify(text).urgent


@pytest.mark.parametrize(
    "text",
    ["塘边没有护栏 怕小孩掉下去", "消防通道被车堵死了 万一起火怎么办"],
)
def test_a_risk_is_still_a_request(classifier: Classifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.is_request, result
    assert result.category == "safety"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("感谢师傅修好了路灯 不过隔壁那条街的灯也不亮 麻烦也看看", "facility"),
        ("谢谢网格员 可是我们单元的水压还是很小 楼上几层都上不去", "facility"),
    ],
)
def test_thanks_or_settled_before_a_but_dont_cancel_what_follows(
    classifier: Classifier, text: str, category: str
) -> None:
    result = classifier.classify(text)
    assert result.is_request, result
    assert result.category == category
    # the thanks and the "fixed" before the "but" did not count, so they are not shown
    assert "修好了" not in result.keywords
    assert not {"谢谢", "感谢"} & set(result.keywords)


def test_a_worry_after_a_reassurance_passed_on_keeps_the_report_open(
    classifier: Classifier,
) -> None:
    told = ("我妈刚打电话来 说屋后头那个坎子在往下掉泥巴 沟里的水一下子变浑了 她说莫得事 "
            "我心里慌得很 哪个帮我去看一哈")  # fmt: skip
    assert classifier.keywords_only(told).is_request
    assert not classifier.keywords_only("师傅来看了 说没事了 谢谢").is_request


def test_a_but_only_drops_the_cues_before_it(
    vocabulary_data: dict[str, Any], jieba_cache_dir: Path
) -> None:
    vocabulary_data["contrast"] = {"keywords": {"不过": 1}}
    classifier = Classifier(Vocabulary.model_validate(vocabulary_data), cache_dir=jieba_cache_dir)
    # settled after the "but": still settled
    assert not classifier.classify("师傅来过了 不过路灯已经修好了 谢谢").is_request
    assert classifier.classify("路灯修好了 谢谢 不过还是不亮").is_request
    # without a contrast section the same message is read as settled
    del vocabulary_data["contrast"]
    plain = Classifier(Vocabulary.model_validate(vocabulary_data), cache_dir=jieba_cache_dir)
    assert not plain.classify("路灯修好了 谢谢 不过还是不亮").is_request


def test_keywords_explain_the_decision(classifier: Classifier) -> None:
    result = classifier.classify("路灯不亮好几天了,麻烦处理")
    assert result.keywords[:2] == ("路灯", "不亮")
    assert "麻烦" in result.keywords
    settled = classifier.classify("路灯修好了,谢谢")
    assert settled.keywords == ("路灯", "修好了", "谢谢")


def test_keywords_show_every_cue_that_counted(classifier: Classifier) -> None:
    result = classifier.classify("大家注意 5栋着火了 赶紧下楼")
    assert result.keywords == ("大家注意", "着火", "赶紧")
    settled = classifier.classify("路灯修好了,谢谢")
    assert "谢谢" in settled.keywords  # a courtesy cue: shown, and subtracted


def test_traditional_and_simplified_agree(classifier: Classifier) -> None:
    pairs = [
        ("樓上漏水漏到我家,找了好幾次都不理", "楼上漏水漏到我家,找了好几次都不理"),
        ("有人打電話說要匯錢,這是不是騙子", "有人打电话说要汇钱,这是不是骗子"),
    ]
    for traditional, simplified in pairs:
        assert classifier.classify(traditional) == classifier.classify(simplified)


def test_confidence_grows_with_evidence(classifier: Classifier) -> None:
    weak = classifier.classify("路灯不亮")
    strong = classifier.classify("路灯不亮好几天了 晚上黑漆漆的 没人管吗 麻烦处理")
    assert weak.is_request
    assert strong.is_request
    assert strong.confidence > weak.confidence


def test_tuning_the_yaml_changes_the_decision(
    vocabulary_data: dict[str, Any], jieba_cache_dir: Path
) -> None:
    text = "小区的充电桩又扫不了码了"
    vocabulary_data["categories"]["facility"]["keywords"]["扫不了码"] = 1.5
    tuned = Classifier(Vocabulary.model_validate(vocabulary_data), cache_dir=jieba_cache_dir)
    result = tuned.classify(text)
    assert result.is_request
    assert result.category == "facility"
    assert "扫不了码" in result.keywords


def _danger_vocabulary(**thresholds: float) -> Vocabulary:
    """A small vocabulary whose fire kind has one weak cue of its own (冒火, 1) and danger
    elements (烟 1.5, 焦味 1, 火苗 1), and whose medical kind has one element (晕 1.5)."""
    categories = {
        code: {"name": code, "time_limit_hours": 24, "urgent_time_limit_hours": 2,
               "keywords": {f"{code}词": 1}}
        for code in CATEGORY_CODES
    }  # fmt: skip
    return Vocabulary.model_validate(
        {
            "thresholds": thresholds,
            "categories": categories,
            "ask": {"keywords": {"怎么办": 1}},
            "no_ask": {"phrases": {"灭了": 3}},
            "calm": {"keywords": {"昨天": 2}},
            "urgency_boost": {"keywords": {"快": 0.5, "救命": 1}},
            "urgency": {
                "fire": {"emergency_number": "119", "category": "safety", "keywords": {"冒火": 1}},
                "medical": {
                    "emergency_number": "120",
                    "category": "assistance",
                    "keywords": {"抽搐": 2},
                },
            },
            "danger": {
                "fire": {"phrases": {"烟": 1.5, "焦味": 1, "火苗": 1}},
                "medical": {"phrases": {"晕": 1.5}},
            },
        }
    )


def test_a_danger_element_alone_is_no_alarm(jieba_cache_dir: Path) -> None:
    classifier = Classifier(_danger_vocabulary(), cache_dir=jieba_cache_dir)
    assert not classifier.classify("楼道里有烟").urgent
    assert not classifier.classify("我有点晕").urgent


def test_a_danger_element_with_an_immediacy_cue_is_an_alarm(jieba_cache_dir: Path) -> None:
    classifier = Classifier(_danger_vocabulary(), cache_dir=jieba_cache_dir)
    fire = classifier.classify("楼道里有烟 快")
    assert fire.urgent, fire
    assert (fire.category, fire.emergency_number) == ("safety", "119")
    assert fire.keywords == ("烟", "快")
    # the element decides the kind: 晕 is medical
    faint = classifier.classify("他晕了 救命")
    assert faint.urgent, faint
    assert (faint.category, faint.emergency_number) == ("assistance", "120")
    assert faint.keywords == ("晕", "救命")


def test_two_danger_elements_of_one_kind_are_an_alarm(jieba_cache_dir: Path) -> None:
    classifier = Classifier(_danger_vocabulary(), cache_dir=jieba_cache_dir)
    assert classifier.classify("有烟 一股焦味").urgent
    # 焦味 and 火苗 (1 + 1) reach the threshold together; 焦味 alone doesn't
    assert classifier.classify("一股焦味 有火苗").urgent
    assert not classifier.classify("一股焦味").urgent


def test_a_cue_of_the_kind_backs_its_danger_elements(jieba_cache_dir: Path) -> None:
    classifier = Classifier(_danger_vocabulary(), cache_dir=jieba_cache_dir)
    assert not classifier.classify("那边冒火").urgent  # the cue alone is too weak (1)
    result = classifier.classify("那边冒火 一股焦味")
    assert result.urgent, result
    assert result.keywords == ("冒火", "焦味")
    # an element of another kind doesn't back it
    assert not classifier.classify("那边冒火 我晕").urgent


def test_calm_and_settled_cues_still_hold_a_combined_alarm_back(jieba_cache_dir: Path) -> None:
    classifier = Classifier(_danger_vocabulary(), cache_dir=jieba_cache_dir)
    assert classifier.classify("楼道里有烟 快").urgent
    assert not classifier.classify("昨天楼道里有烟 快").urgent
    assert not classifier.classify("楼道里有烟 快 已经灭了").urgent


def test_the_immediacy_threshold_is_configurable(jieba_cache_dir: Path) -> None:
    strict = Classifier(_danger_vocabulary(immediacy=1.0), cache_dir=jieba_cache_dir)
    assert not strict.classify("楼道里有烟 快").urgent  # 快 is 0.5
    assert strict.classify("楼道里有烟 救命").urgent  # 救命 is 1


@pytest.mark.parametrize(
    ("text", "number"),
    [("楼道里全是白烟 快下楼", "119"), ("我奶奶头昏 站不住了 快来人", "120")],
)
def test_shipped_danger_elements_combine_with_immediacy(
    classifier: Classifier, text: str, number: str
) -> None:
    result = classifier.classify(text)
    assert result.urgent, result
    assert result.emergency_number == number


@pytest.mark.parametrize("text", ["楼道里全是白烟", "我奶奶头昏好几天了", "烟花真好看"])
def test_shipped_danger_elements_alone_are_not_urgent(classifier: Classifier, text: str) -> None:
    assert not classifier.classify(text).urgent


@pytest.mark.parametrize(
    "text",
    [
        "楼道灯坏了，我电话13811012345",
        "1号楼110室门口的垃圾没人清",
        "120号门口的垃圾桶满了",
        "119栋的路灯不亮",
        "电话0731-81190120 楼道灯坏了",
        "楼道灯坏了 电话138 1101 2345",
        "身份证110105199001011234 补办社保卡要带什么",
        "哪个的白色大众停在我地库B-119车位上 我停不进去",  # a parking space's code
        "停在119车位上的车 挪一下",
        "A120的快递柜打不开",
        "今天超市菜籽油搞活动 5升的120一桶 买两桶送一袋面",  # a price
        "我屋伢说作业写完了 结果一看才写了一半 血压120往上冲",  # a reading
        "有冇人想清洗空调 我搵咗个师傅 120蚊一台 三台起可以上门",  # Cantonese yuan
        "集上碰着王大爷了 说是买化肥 化肥一袋120又涨了",  # a price before the number
        "河边那家民宿一晚120 还包早饭",
        "中午吃啥子 楼下火锅店今天搞活动 双人套餐119",
        "物业费2块8一平 我家120平一年四千多 暖气不热电梯三天两头坏",  # an area
        "镇上粮站一百斤120 烘干了的 湿谷便宜点",  # a price for a weight
    ],
)
def test_emergency_numbers_inside_other_numbers_raise_no_alarm(
    classifier: Classifier, text: str
) -> None:
    result = classifier.classify(text)
    assert not result.urgent
    assert not {"110", "119", "120"} & set(result.keywords)


@pytest.mark.parametrize(
    "text",
    [
        "3栋着火了 快打119",
        "有人打架 快报110",
        "老人晕倒了 快叫120",
        "快打120人晕倒了",
        "快叫一辆120来",
    ],
)
def test_emergency_numbers_on_their_own_still_count(classifier: Classifier, text: str) -> None:
    assert classifier.classify(text).urgent


def test_an_unseen_neighbour_is_a_possible_emergency(classifier: Classifier) -> None:
    result = classifier.classify("3栋的王奶奶一个人住 两天没看到她下楼了 敲门没人应")
    assert (result.urgent, result.possible, result.urgency_kind) == (True, True, "unseen")
    fire = classifier.classify("着火了！3栋2单元冒黑烟了，快来人")
    assert (fire.possible, fire.urgency_kind) == (False, "fire")
    assert classifier.classify("好几天没看到你发朋友圈了").urgent is False


def test_a_stopped_lift_with_nobody_inside_is_a_repair(classifier: Classifier) -> None:
    said = "8栋1号电梯又坏了 停在12楼不动 按了半天没反应 门也打不开 里面没人 灯是黑的"
    assert not classifier.keywords_only(said).urgent
    assert classifier.keywords_only("电梯卡住了 门打不开 里面有人在喊 快来").urgent


@pytest.mark.parametrize(
    ("text", "settled"),
    [
        ("有水了有水了", True),
        ("路灯修好了 谢谢", True),
        ("没事了 是楼下在烧纸", True),
        # a notice is no-ask, but not news that a matter is over
        ("物业贴通知要交停车费 说好了免费的 凭么事", False),
        ("3栋路灯坏了", False),
    ],
)
def test_a_matter_told_as_over_is_settled(classifier: Classifier, text: str, settled: bool) -> None:
    assert classifier.classify(text).settled is settled


@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        # burning on purpose is smoke to complain of; turning the stove off is no fire
        ("河坝边上哪个在烧油菜杆杆 烟子一股一股冲到我们院坝来了", False),
        ("出门一定要关火啊", False),
        # an electric box arcing: burning plastic, the hiss, hot to the touch
        ("6幢楼梯口一股烧塑料的味道 电表箱那块还嗞嗞的响 箱子门是烫的", True),
        # not seen all day and not answering, in 西南官话
        ("隔壁何孃孃今天一天都没开门 喊她没得人应", True),
    ],
)
def test_what_is_and_is_not_an_emergency(classifier: Classifier, text: str, urgent: bool) -> None:
    assert classifier.classify(text).urgent is urgent


def test_a_torch_is_no_live_wire(classifier: Classifier) -> None:
    assert not classifier.classify("我带电筒来").is_request
