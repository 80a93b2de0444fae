"""The lexical side of search: words of Chinese text by jieba, Latin words and numbers as typed.

Listings' words are stored with their embedding (``listing_embeddings.tokens``); a query's words
are matched against them with inverse document frequency weights (lago_core/ai/index.py), so a
rare word (千年隼, 75192) counts for more than a common one (玩具).
"""

from __future__ import annotations

import re
import threading

__all__ = ["tokens"]

_lock = threading.Lock()
_ready = False
# Words that say nothing about the thing wanted (how a query asks, not what for).
_STOP = {
    "我",
    "想",
    "要",
    "想要",
    "我想",
    "有没有",
    "有",
    "没有",
    "的",
    "了",
    "吗",
    "呢",
    "个",
    "一个",
    "租个",
    "出租",
    "出售",
    "租用",
    "按天",
    "按周",
    "一天",
    "一周",
    "周末",
    "买个",
    "借个",
    "一台",
    "一套",
    "谁",
    "谁家",
    "有人",
    "可以",
    "求",
    "买",
    "卖",
    "租",
    "出",
    "借",
    "换",
    "二手",
    "闲置",
    "小区",
    "附近",
    "以内",
    "左右",
    "便宜",
    "一下",
    "给",
    "玩",
    "a",
    "an",
    "the",
    "for",
    "to",
    "and",
    "or",
    "of",
    "my",
    "i",
    "want",
    "buy",
    "rent",
    "sell",
    "used",
    # How an English query asks and for whom, not what (as 我想 and 给 above): "a gift for a 5
    # year old who likes dinosaurs" is about dinosaurs.
    "who",
    "likes",
    "like",
    "loves",
    "love",
    "year",
    "years",
    "old",
    "gift",
    "with",
    "that",
    "is",
    "kid",
    "kids",
    "child",
    "children",
}
_LATIN = re.compile(r"[a-z0-9]+")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _jieba() -> object:
    global _ready
    import jieba

    with _lock:
        if not _ready:
            jieba.setLogLevel(60)
            jieba.initialize()
            _ready = True
    return jieba


def tokens(text: str) -> list[str]:
    """The distinct words of ``text``, lower-cased, in order (Chinese words and their parts as
    jieba's search mode cuts them; Latin words and numbers whole)."""
    import jieba

    _jieba()
    out: list[str] = []
    seen: set[str] = set()
    for word in jieba.lcut_for_search(text.lower()):
        word = word.strip()
        if not word or word in _STOP:
            continue
        if not (_HAN.search(word) or _LATIN.fullmatch(word)):
            continue
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out
