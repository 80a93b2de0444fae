"""Write lago_core/ai/data/english_words.txt.gz: everyday English words, for the intent parser's
rule that a capitalised Latin word that is no English word is a maker's name (Stokke, Bruder).

The words are wordfreq's English list (https://github.com/rspeer/wordfreq, data under CC BY-SA
4.0, attribution in the file's first line) down to a Zipf frequency of 3.0 — about once per
million words, ≈ 28,000 words: "kids", "mini", "uni", "elsa" are in; rare words and most makers'
names (stokke 1.9, strider 2.5) are not. wordfreq is not a dependency of Lago (58 MB of data for
many languages): run this in a scratch environment with it installed,

    python -m venv /tmp/wf && /tmp/wf/bin/pip install wordfreq==3.1.1
    /tmp/wf/bin/python scripts/english_words.py
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from wordfreq import top_n_list, zipf_frequency  # type: ignore[import-not-found]

OUT = Path(__file__).resolve().parent.parent / "lago_core" / "ai" / "data" / "english_words.txt.gz"
MIN_ZIPF = 3.0


def main() -> None:
    words = sorted(
        {
            w
            for w in top_n_list("en", 60_000)
            if re.fullmatch(r"[a-z]+", w) and zipf_frequency(w, "en") >= MIN_ZIPF
        }
    )
    header = (
        f"# {len(words)} English words, wordfreq 3.1.1 (Robyn Speer) Zipf >= {MIN_ZIPF};"
        " data CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)\n"
    )
    # mtime 0: the same words give the same bytes.
    with OUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write((header + "\n".join(words) + "\n").encode())
    print(f"{len(words)} words -> {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
