"""A private jieba tokenizer whose user dictionary is the configured vocabulary's words.

Using our own `jieba.Tokenizer` instead of the module-level `jieba.dt` keeps the vocabulary
out of anyone else's segmentation and lets us say where the prefix-dictionary cache goes:
jieba's default is the system temp dir (or a surprise write next to site-packages when
TMPDIR is odd).
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

with warnings.catch_warnings():
    # jieba 0.42.1 has non-raw regex literals ("\." "\s"): when its .pyc is not cached yet,
    # compiling it emits "invalid escape sequence" (DeprecationWarning up to Python 3.11,
    # SyntaxWarning from 3.12), which the test suite's filterwarnings=error turns into an
    # import failure. Its _compat module also imports pkg_resources, which newer setuptools
    # deprecate with a warning at import time.
    for category in (DeprecationWarning, SyntaxWarning):
        warnings.filterwarnings("ignore", message=r"invalid escape sequence", category=category)
    warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated", category=Warning)
    import jieba

__all__ = ["JIEBA_VERSION", "Tokenizer"]

JIEBA_VERSION: str = jieba.__version__
# jieba's own patterns: the blocks it segments, the whitespace it keeps, and the ASCII
# letters and digits it glues together.
_RE_HAN: re.Pattern[str] = jieba.re_han_default
_RE_SKIP: re.Pattern[str] = jieba.re_skip_default
_RE_ENG: re.Pattern[str] = jieba.re_eng

# A vocabulary term must win against the ways jieba could split it in context, not only
# against its own pieces (which is all `suggest_freq` checks); this margin was measured on
# the tuning set (see docs/classification.md).
_FREQ_MARGIN = 5


class Tokenizer:
    """jieba segmentation (dictionary DAG, no HMM) that keeps every vocabulary word whole.

    The HMM step only guesses words that are in no dictionary; every word the classifier
    looks for is in the dictionary, so the HMM would cost time and change nothing we match.
    The classifier gives it the keywords of two or more characters
    (`Vocabulary.dictionary_words`): phrases are found in the text itself. Single characters
    are skipped whatever the caller passes: one is always a possible token, and boosting it
    would make jieba split the words it belongs to (路 out of 路灯).
    """

    __slots__ = ("_freq", "_jieba", "_logtotal")

    def __init__(self, terms: Iterable[str], *, cache_dir: Path | None = None) -> None:
        # jieba logs "Building prefix dict..." at DEBUG on its own stderr handler at every
        # start; INFO keeps its warnings and errors (e.g. a failed cache write) visible.
        logging.getLogger("jieba").setLevel(logging.INFO)
        tok = jieba.Tokenizer()
        if cache_dir is None:
            # No place to write: build the prefix dictionary in memory, as jieba would on a
            # cache miss, but without its fallback write into the temp dir.
            tok.FREQ, tok.total = tok.gen_pfdict(tok.get_dict_file())
            tok.initialized = True
        else:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tok.tmp_dir = str(cache_dir)
            # jieba trusts a cache of its default dictionary whatever its age, so the name
            # carries the version: an upgrade can't load a stale prefix dictionary.
            tok.cache_file = f"jieba-{JIEBA_VERSION}.cache"
            tok.initialize()
        for term in sorted(terms):
            self._add(tok, term)
        self._jieba = tok
        self._freq: dict[str, int] = tok.FREQ
        self._logtotal = math.log(tok.total)

    @staticmethod
    def _add(tok: jieba.Tokenizer, term: str) -> None:
        if len(term.strip()) < 2:
            return
        freq = int(tok.suggest_freq(term, False)) * _FREQ_MARGIN
        freq = max(freq, int(tok.FREQ.get(term, 0)))
        tok.add_word(term, freq=freq)

    def cut(self, text: str) -> list[str]:
        """The words of `text`, exactly as ``jieba.Tokenizer.lcut(text, HMM=False)`` cuts
        them (checked by the tests), computed in one pass per block of text."""
        out: list[str] = []
        for block in _RE_HAN.split(text):
            if not block:
                continue
            if _RE_HAN.match(block):
                self._cut_block(block, out)
            else:
                for piece in _RE_SKIP.split(block):
                    if _RE_SKIP.match(piece):
                        out.append(piece)
                    else:
                        out.extend(piece)
        return out

    def _cut_block(self, text: str, out: list[str]) -> None:
        # jieba's get_DAG and calc fused: for each start, from the end of the text back, the
        # word that starts there on the most probable route (ties to the longer word, as
        # jieba's max over (score, end) does). Without the per-candidate generator and tuple
        # comparisons this is about twice as fast as jieba's own two passes.
        freq = self._freq
        log = math.log
        logtotal = self._logtotal
        n = len(text)
        score = [0.0] * (n + 1)
        ends = [0] * n
        for start in range(n - 1, -1, -1):
            best = -math.inf
            best_end = -1
            i = start
            frag = text[start]
            while frag in freq:
                count = freq[frag]
                if count:
                    value = log(count) - logtotal + score[i + 1]
                    if value >= best:
                        best, best_end = value, i
                i += 1
                if i >= n:
                    break
                frag = text[start : i + 1]
            if best_end < 0:  # in no dictionary word: a character of its own
                best = log(freq.get(text[start]) or 1) - logtotal + score[start + 1]
                best_end = start
            score[start] = best
            ends[start] = best_end
        x = 0
        letters = ""  # runs of single ASCII letters or digits are kept together, as by jieba
        while x < n:
            y = ends[x] + 1
            word = text[x:y]
            if y - x == 1 and _RE_ENG.match(word):
                letters += word
            else:
                if letters:
                    out.append(letters)
                    letters = ""
                out.append(word)
            x = y
        if letters:
            out.append(letters)
