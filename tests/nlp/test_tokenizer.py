from __future__ import annotations

import random
import tempfile
from pathlib import Path

import jieba
import pytest

from nlp.tokenizer import JIEBA_VERSION, Tokenizer
from nlp.vocabulary import Vocabulary

TERMS = ["电动车充电", "宅基地", "秸秆", "电诈", "灯黑", "修好了"]


@pytest.fixture(scope="module")
def tokenizer(jieba_cache_dir: Path) -> Tokenizer:
    return Tokenizer(TERMS, cache_dir=jieba_cache_dir)


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("楼道里有人电动车充电", "电动车充电"),
        ("我家宅基地被占了", "宅基地"),
        ("又有人烧秸秆", "秸秆"),
        ("我妈差点遇到电诈", "电诈"),
        ("楼下那个灯黑了", "灯黑"),
        ("路灯修好了", "修好了"),
    ],
)
def test_vocabulary_terms_come_out_whole(tokenizer: Tokenizer, text: str, term: str) -> None:
    assert term in tokenizer.cut(text)


def test_cut_covers_the_text(tokenizer: Tokenizer) -> None:
    text = "3栋 楼道灯坏了,麻烦处理!"
    assert "".join(tokenizer.cut(text)) == text


def test_cache_goes_to_the_given_directory(tokenizer: Tokenizer, jieba_cache_dir: Path) -> None:
    cache = jieba_cache_dir / f"jieba-{JIEBA_VERSION}.cache"
    assert cache.is_file()
    mtime = cache.stat().st_mtime_ns
    Tokenizer(["路灯"], cache_dir=jieba_cache_dir)  # warm start: reads the cache
    assert cache.stat().st_mtime_ns == mtime


def test_cache_directory_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    cache_dir = tmp_path / "deep" / "cache"
    Tokenizer(["路灯"], cache_dir=cache_dir)
    assert [p.name for p in cache_dir.iterdir()] == [f"jieba-{JIEBA_VERSION}.cache"]
    assert list(system_tmp.iterdir()) == []


def test_without_cache_dir_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tok = Tokenizer(["宅基地"], cache_dir=None)
    assert "宅基地" in tok.cut("宅基地纠纷")
    assert list(tmp_path.iterdir()) == []


def test_global_jieba_tokenizer_is_untouched(tokenizer: Tokenizer) -> None:
    assert "电动车充电" not in jieba.dt.FREQ
    assert jieba.dt.tmp_dir is None


@pytest.mark.parametrize("text", ["", " ", "🔥", "\udcff", "a" * 10_000, "樓道燈 mixed 文字 123"])
def test_odd_input_does_not_raise(tokenizer: Tokenizer, text: str) -> None:
    assert isinstance(tokenizer.cut(text), list)


def test_cut_is_exactly_jiebas_cut_without_hmm(
    vocabulary: Vocabulary, jieba_cache_dir: Path
) -> None:
    tokenizer = Tokenizer(vocabulary.dictionary_words(), cache_dir=jieba_cache_dir)
    rng = random.Random(3)
    alphabet = "路灯不亮坏了垃圾臭味楼上漏水着火了快来人的是在有人我家abc123 ,.!?\n\t　"
    texts = ["", "路灯不亮好几天了,麻烦处理", "ＫＴＶ太吵 abc123 3栋2单元", "🔥着火了!!!"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(500)]
    texts += ["".join(chr(rng.randrange(0x20, 0xA000)) for _ in range(30)) for _ in range(200)]
    for text in texts:
        assert tokenizer.cut(text) == tokenizer._jieba.lcut(text, False, False), text
