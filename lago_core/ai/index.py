"""Listings' embeddings: kept in PostgreSQL, searched in memory.

:class:`ListingEmbeddings` embeds what changed — active listings with no embedding of the
current model or an older text — in batches, and stores each with its model, dimension and a hash
of its text (``listing_embeddings``, sql/035). It runs from the arq cron job ``embed_listings``,
``lago ai-backfill``, and before each search for what is still missing (bounded), so a listing is
searchable by meaning as soon as someone looks for it.

:class:`VectorIndex` holds the vectors of one model as a numpy matrix with the words of each
listing (an inverted index) and the communities it is visible in. Each search first reads the
rows whose ``seq`` is past the last one seen (an indexed range scan that is empty when nothing
changed), then scores every row visible to the caller at once: a matrix–vector product for the
meaning, IDF-weighted word matches for the words. Why in memory and not pgvector: docs/ai.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt

from lago_core.ai.embeddings import Embedder, Vector
from lago_core.ai.kinds import listing_kinds
from lago_core.ai.lexical import tokens
from lago_core.ai.pinyin import listing_sounds, query_sounds
from lago_core.ai.store import AiStore
from lago_core.clock import Clock
from lago_core.logging import get_logger

__all__ = [
    "CATEGORY_WORDS",
    "IndexHit",
    "ListingEmbeddings",
    "VectorIndex",
    "content_hash",
    "listing_text",
]

log = get_logger(__name__)

# Category names in words, so a listing's embedding says what kind of thing it is even when its
# title is only a model name ("DualSense" → 游戏机).
CATEGORY_WORDS = {
    "toy": "玩具",
    "building_blocks": "积木",
    "game_console": "游戏机",
    "video_game": "游戏",
    "doll": "娃娃",
    "plush": "毛绒玩具",
    "figure": "手办 模型",
    "outdoor": "户外 运动",
    "educational": "益智 早教",
    "other": "",
}
# How often the whole index is read again: picks up what the seq range cannot see (a seller who
# joined or left a community changes where a listing shows without changing its text).
FULL_RELOAD_S = 300.0
# Above this many rows to score, a first pass runs over a sketch of the vectors (their projection
# on the first SKETCH_DIM principal directions: a third of the bytes a full product reads, and
# reading them is what costs), and only the SHORTLIST best are scored exactly. Below it, every
# row exactly. The bench measures how often the sketch loses an exact top-k row (docs/ai.md,
# "Search latency").
SKETCH_ROWS = 20_000
SKETCH_DIM = 128
SHORTLIST = 1_000
_SAMPLE = 4_096


def listing_text(row: Any) -> str:
    """The text a listing is embedded and indexed from."""
    parts = [
        str(row["title"] or ""),
        str(row["brand"] or ""),
        CATEGORY_WORDS.get(str(row["category"]), ""),
        str(row["description"] or "")[:300],
    ]
    return " ".join(p for p in parts if p)


def content_hash(model: str, text: str) -> str:
    return hashlib.blake2b(f"{model}\n{text}".encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class IndexHit:
    listing_id: UUID
    similarity: float  # cosine of query and listing
    lexical: float  # share of the query's word weight the listing contains, 0–1


class VectorIndex:
    """The vectors of one model in memory, kept fresh from ``listing_embeddings``."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._seq = 0
        self._loaded_at = -math.inf
        self._reset()
        self._refresh_lock = asyncio.Lock()
        # The sketch's basis outlives a reload (same model, same space); its rows are
        # projected in bulk when a search needs them.
        self._basis: Vector | None = None
        self._mean: Vector | None = None

    def _reset(self) -> None:
        self._ids: list[UUID] = []
        self._row_of: dict[UUID, int] = {}
        self._matrix: Vector = np.zeros((0, 0), dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self._postings: dict[str, list[int]] = {}
        self._arrays: dict[str, npt.NDArray[np.int64]] = {}
        # Per community, the rows visible in it (a listing of a seller in two communities is in
        # both): a search scores only the caller's, never the whole matrix behind a mask.
        self._community_rows: dict[UUID, list[int]] = {}
        self._community_arrays: dict[UUID, npt.NDArray[np.int64]] = {}
        self._n = 0
        self._seq = 0
        self._sketch: Vector = np.zeros((0, SKETCH_DIM), dtype=np.float32)
        self._sketched = 0

    @property
    def dim(self) -> int:
        """The vectors' dimension (0 before any)."""
        return int(self._matrix.shape[1])

    def __len__(self) -> int:
        return int(self._alive[: self._n].sum())

    async def refresh(self, store: AiStore, batch: int = 20_000) -> int:
        """Read the embeddings changed since the last refresh; returns how many."""
        async with self._refresh_lock:
            if time.monotonic() - self._loaded_at > FULL_RELOAD_S:
                self._reset()
                self._loaded_at = time.monotonic()
            elif await store.embedding_changes() <= self._seq:
                # Nothing embedded since the last look (one sequence read, no range scan).
                return 0
            read = 0
            while True:
                rows = await store.embeddings_since(self.model, self._seq, batch)
                for row in rows:
                    self._put(row)
                read += len(rows)
                if rows:
                    self._seq = int(rows[-1]["seq"])
                if len(rows) < batch:
                    return read

    def _put(self, row: Any) -> None:
        self.put(
            row["listing_id"],
            np.frombuffer(row["vector"], dtype="<f4"),
            row["tokens"],
            row["community_ids"],
            int(row["seq"]),
        )

    def put(
        self,
        listing_id: UUID,
        vector: Vector,
        words: Sequence[str],
        communities: Iterable[UUID],
        seq: int,
    ) -> None:
        """Add or replace one listing's vector, words and communities. The kinds its words
        name (lago_core/ai/kinds.py) and their sounds (lago_core/ai/pinyin.py) are indexed as
        words too: derived here, not stored, so the kinds table can change without re-embedding
        any listing."""
        self._seq = max(self._seq, seq)
        old = self._row_of.get(listing_id)
        if old is not None:
            self._alive[old] = False
        if self._matrix.shape[1] != vector.shape[0]:
            if self._n:
                # A different dimension is a different model: start again.
                log.warning("ai.index_dimension_changed", model=self.model)
                self._reset()
            self._basis = self._mean = None
            self._matrix = np.zeros((1024, vector.shape[0]), dtype=np.float32)
            self._alive = np.zeros(1024, dtype=bool)
        if self._n == self._matrix.shape[0]:
            grown = np.zeros((self._n * 2, self._matrix.shape[1]), dtype=np.float32)
            grown[: self._n] = self._matrix[: self._n]
            self._matrix = grown
            alive = np.zeros(self._n * 2, dtype=bool)
            alive[: self._n] = self._alive[: self._n]
            self._alive = alive
        at = self._n
        self._n += 1
        self._matrix[at] = vector
        self._alive[at] = True
        self._ids.append(listing_id)
        self._row_of[listing_id] = at
        for word in (*words, *listing_kinds(words), *listing_sounds(words)):
            self._postings.setdefault(word, []).append(at)
            self._arrays.pop(word, None)
        for community in communities:
            self._community_rows.setdefault(community, []).append(at)
            self._community_arrays.pop(community, None)

    def _posting(self, word: str) -> npt.NDArray[np.int64]:
        found = self._arrays.get(word)
        if found is None:
            found = np.asarray(self._postings.get(word, ()), dtype=np.int64)
            self._arrays[word] = found
        return found

    def visible(self, communities: Iterable[UUID]) -> npt.NDArray[np.int64]:
        """The live rows visible in any of ``communities``, ascending."""
        parts = []
        for community in dict.fromkeys(communities):
            rows = self._community_arrays.get(community)
            if rows is None:
                rows = np.asarray(self._community_rows.get(community, ()), dtype=np.int64)
                self._community_arrays[community] = rows
            if len(rows):
                parts.append(rows)
        if not parts:
            return np.zeros(0, dtype=np.int64)
        rows = np.unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]
        live: npt.NDArray[np.int64] = rows[self._alive[rows]]
        return live

    def _sketched_rows(self) -> bool:
        """Bring the sketch up to every row (the basis from a sample on first use); False
        when there are too few rows for a sketch to pay."""
        if self._n < SKETCH_ROWS or self._matrix.shape[1] <= SKETCH_DIM:
            return False
        if self._basis is None or self._mean is None:
            live = np.flatnonzero(self._alive[: self._n])
            step = max(len(live) // _SAMPLE, 1)
            sample = self._matrix[live[::step][:_SAMPLE]]
            self._mean = sample.mean(axis=0).astype(np.float32)
            _, _, vt = np.linalg.svd(sample - self._mean, full_matrices=False)
            self._basis = np.ascontiguousarray(vt[:SKETCH_DIM].T, dtype=np.float32)
            self._sketched = 0
        if self._sketch.shape[0] < self._n:
            grown = np.zeros((self._matrix.shape[0], SKETCH_DIM), dtype=np.float32)
            grown[: self._sketched] = self._sketch[: self._sketched]
            self._sketch = grown
        if self._sketched < self._n:
            todo = slice(self._sketched, self._n)
            self._sketch[todo] = (self._matrix[todo] - self._mean) @ self._basis
            self._sketched = self._n
        return True

    def search(
        self,
        query: Vector,
        words: Sequence[str],
        communities: Iterable[UUID] | None,
        k: int,
        lexical_weight: float,
        *,
        exact: bool = False,
    ) -> list[IndexHit]:
        """The ``k`` rows visible in ``communities`` (all rows for None) with the best
        blend of meaning and words; the caller ranks them further. Over many rows the
        meaning is first estimated from the sketch (``exact``: never; for measuring it)."""
        if not self._n:
            return []
        if query.shape[0] != self._matrix.shape[1]:
            query = np.zeros(self._matrix.shape[1], dtype=np.float32)
        if communities is None:
            rows = np.flatnonzero(self._alive[: self._n])
        else:
            rows = self.visible(communities)
        if not len(rows):
            return []
        # Pinyin, and Chinese words no listing has, are matched by their sound.
        words = query_sounds(words, self._postings.__contains__)
        lexical = np.zeros(len(rows), dtype=np.float32)
        total = 0.0
        alive = max(len(self), 1)
        for word in dict.fromkeys(words):
            posting = self._posting(word)
            weight = math.log(1 + alive / (1 + len(posting)))
            total += weight
            if len(posting):
                # The caller's rows that contain the word (both sorted ascending).
                at = np.searchsorted(rows, posting)
                inside = at < len(rows)
                at, posting = at[inside], posting[inside]
                lexical[at[rows[at] == posting]] += weight
        if total:
            lexical /= total
        blend_weight = np.float32(lexical_weight)
        k = min(k, len(rows))
        if not exact and len(rows) > max(SKETCH_ROWS, SHORTLIST) and self._sketched_rows():
            assert self._basis is not None
            assert self._mean is not None
            # q·v = q·mean + q·(v − mean), the second term estimated in the sketch's space.
            small = query @ self._basis
            estimate = (
                self._sketch[rows] @ small
                if 2 * len(rows) < self._n
                else (self._sketch[: self._n] @ small)[rows]
            )
            estimate += np.float32(query @ self._mean)
            short = _best(estimate + blend_weight * lexical, SHORTLIST)
            similarity = self._matrix[rows[short]] @ query
            best = _best(similarity + blend_weight * lexical[short], k, ordered=True)
            chosen, similarity = short[best], similarity[best]
        else:
            # One BLAS matrix-vector product over the caller's rows only (vectors are stored
            # L2-normalised, so it is the cosine). Gathering a few rows is cheaper than the
            # whole matrix; most of them, not (the gather copies them first).
            if 2 * len(rows) < self._n:
                similarity = self._matrix[rows] @ query
            else:
                similarity = (self._matrix[: self._n] @ query)[rows]
            chosen = _best(similarity + blend_weight * lexical, k, ordered=True)
            similarity = similarity[chosen]
        ids = self._ids
        return [
            IndexHit(ids[r], float(sim), float(lex))
            for r, sim, lex in zip(
                rows[chosen].tolist(), similarity.tolist(), lexical[chosen].tolist(), strict=True
            )
        ]


def _best(scores: Vector, k: int, ordered: bool = False) -> npt.NDArray[np.int64]:
    """The positions of the ``k`` highest scores without sorting them all (argpartition is
    linear); ``ordered``: those k best first (stable, so ties keep row order)."""
    if k < len(scores):
        top: npt.NDArray[np.int64] = np.argpartition(-scores, k - 1)[:k]
    else:
        top = np.arange(len(scores))
    if ordered:
        top = top[np.argsort(-scores[top], kind="stable")]
    return top


class ListingEmbeddings:
    """Embeds listings as they change and serves the index of the configured model."""

    def __init__(self, store: AiStore, embedder: Embedder, clock: Clock) -> None:
        self._store = store
        self.embedder = embedder
        self._clock = clock
        self.index = VectorIndex(embedder.model)
        self._lock = asyncio.Lock()
        # The listing change sequence this process has embedded up to (lago_core/ai/store.py).
        self._seen = 0

    async def _embed(self, rows: list[Any], *, touch: bool) -> int:
        """Embed the rows whose text (or model) changed; returns how many vectors were made.
        ``touch``: mark the others checked (the sweep, so it does not pick them again)."""
        texts = [listing_text(r) for r in rows]
        hashes = [content_hash(self.embedder.model, t) for t in texts]
        todo = [i for i, r in enumerate(rows) if r["content_hash"] != hashes[i]]
        now = self._clock.now()
        if todo:
            vectors = await self.embedder.passages([texts[i] for i in todo])
            words = await asyncio.to_thread(lambda: [tokens(texts[i]) for i in todo])
            for at, i in enumerate(todo):
                await self._store.save_embedding(
                    rows[i]["id"],
                    self.embedder.model,
                    hashes[i],
                    np.asarray(vectors[at], dtype="<f4").tobytes(),
                    int(vectors.shape[1]),
                    words[at],
                    now,
                )
        if touch:
            for i in set(range(len(rows))) - set(todo):
                await self._store.touch_embedding(rows[i]["id"], now)
        return len(todo)

    async def catch_up(self, limit: int) -> int:
        """Before a search: embed what changed since the last look (nothing to read when the
        change sequence has not moved); at most ``limit`` listings a call."""
        async with self._lock:
            latest = await self._store.listing_changes()
            if latest <= self._seen:
                return 0
            rows = await self._store.changed_listings(self.embedder.model, self._seen, limit)
            done = await self._embed(rows, touch=False)
            self._seen = int(rows[-1]["change_seq"]) if len(rows) == limit else latest
            return done

    async def sweep(self, limit: int) -> tuple[int, int]:
        """Embed up to ``limit`` active listings whose embedding is missing or older than their
        last change: (listings looked at, vectors made)."""
        async with self._lock:
            rows = await self._store.stale_embeddings(self.embedder.model, limit)
            return len(rows), (await self._embed(rows, touch=True) if rows else 0)

    async def backfill(self, batch: int = 256, rounds: int = 10_000) -> int:
        """Embed every listing that needs it (``lago ai-backfill``, the cron job)."""
        total = 0
        for _ in range(rounds):
            seen, made = await self.sweep(batch)
            total += made
            if seen < batch:
                break
        return total
