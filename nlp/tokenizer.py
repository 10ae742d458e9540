"""A private jieba tokenizer whose user dictionary is the configured vocabulary.

Using our own `jieba.Tokenizer` instead of the module-level `jieba.dt` keeps the vocabulary
out of anyone else's segmentation and lets us say where the prefix-dictionary cache goes:
jieba's default is the system temp dir (or a surprise write next to site-packages when
TMPDIR is odd).
"""

from __future__ import annotations

import logging
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

# A vocabulary term must win against the ways jieba could split it in context, not only
# against its own pieces (which is all `suggest_freq` checks); this margin was measured on
# the tuning set (see docs/classification.md).
_FREQ_MARGIN = 5


class Tokenizer:
    """jieba segmentation (dictionary DAG, no HMM) that keeps every vocabulary term whole.

    The HMM step only guesses words that are in no dictionary; every word the classifier
    looks for is in the dictionary, so the HMM would cost time and change nothing we match.
    """

    __slots__ = ("_jieba",)

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

    @staticmethod
    def _add(tok: jieba.Tokenizer, term: str) -> None:
        if not term.strip():
            return
        freq = int(tok.suggest_freq(term, False)) * _FREQ_MARGIN
        freq = max(freq, int(tok.FREQ.get(term, 0)))
        tok.add_word(term, freq=freq)

    def cut(self, text: str) -> list[str]:
        result: list[str] = self._jieba.lcut(text, False, False)
        return result
