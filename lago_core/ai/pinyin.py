"""Words by their sound: pinyin typed for a Chinese name, and homophone typos of one.

A resident types "ao te man" or "jianshenhuan" for 奥特曼 and 健身环, or the input method offers
泡泡马特 for 泡泡玛特 and 马利奥塞车 for 马里奥赛车. None of these shares a word with the
listing, and the embedding does not read pinyin or see through a homophone. So the lexical side
also matches sounds: a listing's Chinese words gain a token for each pair of neighbouring
syllables (奥特曼 → ao|te, te|man), and a query's pinyin words, or its Chinese words no listing
has, are read as the same pairs. Pairs rather than whole words because jieba cuts a misspelt
name differently from the right one (马利奥塞车 → 马 / 利奥 / 塞车), but the syllables line up.
Used by lago_core/ai/index.py (listings when indexed; queries against the index's words).
docs/ai.md, "Search by meaning".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from functools import lru_cache

__all__ = ["PREFIX", "listing_sounds", "query_sounds", "syllables_of"]

# Cannot collide with a word (lexical.tokens keeps only Han runs and [a-z0-9]) or a kind token.
PREFIX = "py:"

# The syllables of Mandarin without tones (ü as v), as pypinyin spells them; interjections with
# no vowel (hm, ng) left out, as a Latin word they would be noise.
_SYLLABLE_TEXT = """a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai
    can cang cao ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua
    chuai chuan chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de dei
    den deng di dia dian diao die ding diu dong dou du duan dui dun duo e ei en eng er fa fan
    fang fei fen feng fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan
    guang gui gun guo ha hai han hang hao he hei hen heng hong hou hu hua huai huan huang hui hun
    huo ji jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke kei
    ken keng kong kou ku kua kuai kuan kuang kui kun kuo la lai lan lang lao le lei len leng li
    lia lian liang liao lie lin ling liu lo long lou lu luan lun luo lv lve ma mai man mang mao
    me mei men meng mi mian miao mie min ming miu mo mou mu na nai nan nang nao ne nei nen neng
    ni nian niang niao nie nin ning niu nong nou nu nuan nun nuo nv nve o ou pa pai pan pang pao
    pei pen peng pi pian piao pie pin ping po pou pu qi qia qian qiang qiao qie qin qing qiong
    qiu qu quan que qun ran rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa sai san
    sang sao se sen seng sha shai shan shang shao she shei shen sheng shi shou shu shua shuai
    shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai tan tang tao te tei teng
    ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng wo wu xi xia
    xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo yong
    you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhei zhen
    zheng zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun
    zuo"""
_SYLLABLES = frozenset(_SYLLABLE_TEXT.split())
_LONGEST = max(map(len, _SYLLABLES))
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")


@lru_cache(maxsize=131_072)
def _pinyin(word: str) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin

    # pypinyin reads a word's characters in its context (乐高 → le gao, not yue gao).
    return tuple(lazy_pinyin(word))


@lru_cache(maxsize=4_096)
def syllables_of(word: str) -> tuple[str, ...]:
    """A Latin word read as joined pinyin ("aoteman" → ao, te, man; longest syllable first, as
    pinyin is written), or () when it is not pinyin throughout."""
    out: list[str] = []
    at = 0
    if not word.isalpha():
        return ()
    while at < len(word):
        for size in range(min(_LONGEST, len(word) - at), 0, -1):
            if word[at : at + size] in _SYLLABLES:
                out.append(word[at : at + size])
                at += size
                break
        else:
            return ()
    return tuple(out)


def _pairs(syllables: Sequence[str]) -> list[str]:
    return [f"{PREFIX}{a}|{b}" for a, b in itertools.pairwise(syllables)]


def _whole(words: Sequence[str]) -> list[str]:
    """The Chinese words of a search-mode cut without the parts jieba emits before a longer
    word (奥特, 特曼 before 奥特曼): their syllables would pair across each other. A part is
    followed only by other parts of the same word, then the word."""
    han = [w for w in words if _HAN.match(w)]
    return [
        w
        for i, w in enumerate(han)
        if not any(
            len(han[j]) > len(w) and all(p in han[j] for p in han[i:j])
            for j in range(i + 1, min(i + 5, len(han)))
        )
    ]


def listing_sounds(words: Sequence[str]) -> tuple[str, ...]:
    """The sound tokens of a listing's indexed words: neighbouring syllables of its Chinese
    words, within a word and across to the next."""
    syllables = [s for w in _whole(words) for s in _pinyin(w)]
    return tuple(dict.fromkeys(_pairs(syllables)))


def query_sounds(words: Sequence[str], known: Callable[[str], bool]) -> list[str]:
    """The query's words with pinyin and unknown Chinese words read as sound tokens: a run of
    two or more pinyin words ("ao te man"), a Latin word no listing has that is joined pinyin
    ("jianshenhuan"), a Chinese word of two or more characters no listing has (马特 of
    泡泡马特, paired with its neighbour's last syllable too). Other words stay as they are."""
    out: list[str] = []
    run: list[str] = []

    def close_run() -> None:
        if len(run) >= 2:
            out.extend(_pairs(run))
        else:
            out.extend(run)
        run.clear()

    whole = set(_whole(words))
    han = [w for w in words if _HAN.match(w) and len(w) >= 2]
    previous: tuple[str, ...] = ()
    for word in words:
        if word.isascii() and word in _SYLLABLES:
            run.append(word)
            previous = ()
            continue
        close_run()
        if word.isascii():
            joined = syllables_of(word) if len(word) >= 5 and not known(word) else ()
            out.extend(_pairs(joined) if len(joined) >= 2 else [word])
            previous = ()
            continue
        if not _HAN.match(word):
            out.append(word)
            previous = ()
            continue
        # An unseen compound of known words (小女孩 with 女孩) is not a typo, nor are the parts
        # jieba cut from it: left as they are.
        typo = (
            word in whole
            and len(word) >= 2
            and not known(word)
            and not any(known(o) for o in han if o != word and (o in word or word in o))
        )
        if typo:
            out.extend(_pairs((*previous[-1:], *_pinyin(word))))
        else:
            out.append(word)
        if word in whole:
            previous = _pinyin(word)
    close_run()
    return list(dict.fromkeys(out))
