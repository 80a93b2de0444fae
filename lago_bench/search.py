"""``lago bench search``: search latency with 100,000 listings in one neighbourhood.

A fresh database gets sellers in one community and ``--listings`` active listings made from the
labelled corpus (tests/ai_search_corpus.jsonl) with a few wordings each; the embeddings of the
distinct texts are computed once and stored for every listing that shares a text (as the cron
job would have). Then residents of that community search with the labelled queries through
``SearchService.search`` — parse, query embedding, the in-memory index over all listings, the
SQL that checks what the resident may see, ranking — and the latency of each call is measured:
each labelled query once for the first time (checked absent from the embedding cache; the
headline), then again with its vector cached. The first search loads the index (reported apart:
a process pays it once, then reads only changes). Target (issue 21): p95 ≤ 50 ms for first-seen
queries.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from lago_bench.fanout import service_urls
from lago_bench.scenario import Check, Progress, Scenario, check
from lago_bench.world import create_world, drop_world, remove_workdir

__all__ = ["SCENARIO"]

P95_TARGET_MS = 50.0
_PREFIXES = ("", "九成新 ", "闲置 ", "二手 ", "全新 ")
ROOT = Path(__file__).resolve().parent.parent


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listings", type=int, default=100_000, help="active listings (100000)")
    p.add_argument("--sellers", type=int, default=500, help="sellers in the community (500)")
    p.add_argument("--searches", type=int, default=300, help="timed searches (300)")


def _corpus() -> tuple[list[dict[str, Any]], list[str]]:
    tests = ROOT / "tests"
    rows = [
        orjson.loads(line)
        for line in (tests / "ai_search_corpus.jsonl").read_text().splitlines()
        if line
    ]
    queries = [
        orjson.loads(line)["q"]
        for line in (tests / "ai_search_queries.jsonl").read_text().splitlines()
        if line
    ]
    return rows, queries


async def run_search(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    from lago_bench.report import machine
    from lago_core.ai.embeddings import LOCAL_MODEL, cached_local, embed_local
    from lago_core.ai.index import content_hash, listing_text
    from lago_core.ai.lexical import tokens
    from lago_core.container import build_core
    from lago_core.security.roles import Principal
    from lago_core.settings import Settings

    if not 1 <= args.listings <= 1_000_000 or not 1 <= args.searches <= 100_000:
        raise ValueError("--listings 1..1000000 and --searches 1..100000")
    admin_dsn, redis_url = service_urls()
    workdir = Path(tempfile.mkdtemp(prefix="lago-bench-search-"))
    progress(f"search: {args.sellers} sellers in a fresh database ...")
    world = await create_world(admin_dsn, redis_url, args.sellers, workdir)
    started = time.monotonic()
    core = None
    try:
        corpus, queries = _corpus()
        templates = [(prefix, row) for row in corpus for prefix in _PREFIXES]
        texts = [
            listing_text({**row, "title": (prefix + row["title"])[:60]})
            for prefix, row in templates
        ]
        progress(f"search: embedding {len(texts)} distinct listing texts ...")
        t0 = time.monotonic()
        vectors = embed_local(texts, query=False)
        embed_s = time.monotonic() - t0
        words = [tokens(t) for t in texts]
        now = datetime.now(UTC)
        rng = random.Random(21)
        listings, embeddings = [], []
        for i in range(args.listings):
            which = rng.randrange(len(templates))
            prefix, row = templates[which]
            listing_id = uuid.uuid4()
            created = now - timedelta(minutes=i)
            rent = row["kind"] == "rent"
            listings.append(
                (
                    listing_id,
                    world.user_ids[i % len(world.user_ids)],
                    (prefix + row["title"])[:60],
                    row["description"],
                    row["category"],
                    row["brand"],
                    row["condition"],
                    row["kind"],
                    None if rent else row["price_fen"],
                    row["rent_per_day_fen"] if rent else None,
                    50_000 if rent else None,
                    created,
                    created,
                )
            )
            embeddings.append(
                (
                    listing_id,
                    LOCAL_MODEL,
                    int(vectors.shape[1]),
                    content_hash(LOCAL_MODEL, texts[which]),
                    np.asarray(vectors[which], dtype="<f4").tobytes(),
                    words[which],
                    now,
                )
            )
        progress(f"search: inserting {args.listings} listings and their embeddings ...")
        import asyncpg

        conn = await asyncpg.connect(world.dsn)
        try:
            await conn.copy_records_to_table(
                "listings",
                columns=[
                    "id",
                    "seller_id",
                    "title",
                    "description",
                    "category",
                    "brand",
                    "condition",
                    "kind",
                    "price_fen",
                    "rent_per_day_fen",
                    "deposit_fen",
                    "created_at",
                    "updated_at",
                ],
                records=listings,
            )
            await conn.copy_records_to_table(
                "listing_embeddings",
                columns=[
                    "listing_id",
                    "model",
                    "dim",
                    "content_hash",
                    "vector",
                    "tokens",
                    "embedded_at",
                ],
                records=embeddings,
            )
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
        settings = replace(
            Settings.from_env(),
            database_url=world.dsn,
            redis_url=redis_url,
            redis_prefix=world.redis_prefix,
            ai_base_url="",
        )
        core = await build_core(settings)
        readers = [Principal(uid, uuid.uuid4(), None) for uid in world.user_ids]
        t0 = time.monotonic()
        await core.ai.search.search(readers[0], "switch", 20)
        first_ms = (time.monotonic() - t0) * 1000
        progress(f"search: first search (loads the index) {first_ms:.0f} ms")
        # 1. Each query searched for the first time (its embedding computed in the call): the
        # labelled queries are distinct once whitespace is normalised, and each is checked to
        # be absent from the embedder's cache before it is timed.
        cold: list[float] = []
        for i, query in enumerate(queries[: args.searches]):
            if cached_local(" ".join(query.split()), query=True):
                raise RuntimeError(f"query {query!r} was embedded before its first-seen search")
            t0 = time.monotonic()
            result = await core.ai.search.search(readers[(i + 1) % len(readers)], query, 20)
            cold.append((time.monotonic() - t0) * 1000)
        # 2. The same queries again (their vectors cached), as many searches as asked.
        warm: list[float] = []
        for i in range(args.searches):
            query = queries[i % len(queries)]
            t0 = time.monotonic()
            result = await core.ai.search.search(readers[(i + 7) % len(readers)], query, 20)
            warm.append((time.monotonic() - t0) * 1000)
        # 3. The parts: embedding a query alone, and the in-memory index's scoring alone.
        embed_ms: list[float] = []
        for query in queries:
            t0 = time.monotonic()
            embed_local([f"{query} "], query=True)  # a new text: not from the cache
            embed_ms.append((time.monotonic() - t0) * 1000)
        index = core.ai.search.embeddings.index
        community = [uuid.UUID(world.community_id)]
        index_ms: list[float] = []
        exact_ms: list[float] = []
        # What the sketch's first pass costs in quality: the share of its top 60 that score
        # as well as the exact top 60's last (rows share texts here, so ids tie; scores do not).
        kept: list[float] = []
        for query in queries:
            vector = embed_local([query], query=True)[0]
            said = tokens(query)
            t0 = time.monotonic()
            fast = index.search(vector, said, community, 60, 0.5)
            index_ms.append((time.monotonic() - t0) * 1000)
            t0 = time.monotonic()
            exact = index.search(vector, said, community, 60, 0.5, exact=True)
            exact_ms.append((time.monotonic() - t0) * 1000)
            floor = min(h.similarity + 0.5 * h.lexical for h in exact) - 1e-5
            good = sum(h.similarity + 0.5 * h.lexical >= floor for h in fast)
            kept.append(good / max(len(exact), 1))
        del result
        result_doc: dict[str, Any] = {
            "benchmark": "search",
            "machine": machine(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "threads": {"openblas": _openblas_threads(), "omp": os.environ.get("OMP_NUM_THREADS")},
            "settings": {
                "listings": args.listings,
                "sellers": args.sellers,
                "searches": args.searches,
                "distinct_texts": len(texts),
            },
            "embed_ms_per_text": round(embed_s * 1000 / len(texts), 1),
            "first_search_ms": round(first_ms, 1),
            "first_pass": _summary(cold),
            "repeated": _summary(warm),
            "query_embedding": _summary(embed_ms),
            "index_only": _summary(index_ms),
            "index_exact": _summary(exact_ms),
            "sketch_top60_kept": round(float(np.mean(kept)), 4),
            "sketch_top60_kept_min": round(float(np.min(kept)), 4),
        }
    finally:
        if core is not None:
            await core.close()
        await drop_world(world)
        remove_workdir(workdir)
    result_doc["wall_s"] = round(time.monotonic() - started, 1)
    return result_doc


def _openblas_threads() -> int | None:
    """How many threads numpy's OpenBLAS uses (lago_core/__init__.py sets one), or None when it
    cannot be asked (not Linux, another BLAS)."""
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            path = next(line.split()[-1] for line in maps if "openblas" in line)
        lib = ctypes.CDLL(path)
    except (OSError, StopIteration):
        return None
    for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads"):
        getter = getattr(lib, name, None)
        if getter is not None:
            return int(getter())
    return None


def _summary(values: list[float]) -> dict[str, float]:
    data = np.asarray(values)
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(data, 50)), 1),
        "p95_ms": round(float(np.percentile(data, 95)), 1),
        "p99_ms": round(float(np.percentile(data, 99)), 1),
        "max_ms": round(float(data.max()), 1),
    }


def table(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [
        f"{s['listings']} listings ({s['distinct_texts']} distinct texts) in one community, "
        f"{s['sellers']} sellers; first search (index load) {result['first_search_ms']:.0f} ms; "
        f"embedding {result['embed_ms_per_text']} ms per text",
        "",
        f"{'searches':<34} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}",
    ]
    for name, key in (
        ("search, first-seen query", "first_pass"),
        ("search, repeated query (cached)", "repeated"),
        ("embedding a query alone", "query_embedding"),
        ("in-memory index scoring alone", "index_only"),
        ("index scoring, exact (no sketch)", "index_exact"),
    ):
        row = result.get(key)
        if row:
            lines.append(
                f"{name:<34} {row['n']:>5} {row['p50_ms']:>8} {row['p95_ms']:>8} "
                f"{row['p99_ms']:>8} {row['max_ms']:>8}"
            )
    if "sketch_top60_kept" in result:
        lines.append(
            f"sketch first pass: {result['sketch_top60_kept']:.2%} of the exact top 60 kept "
            f"(worst query {result['sketch_top60_kept_min']:.2%})"
        )
    lines.append(f"load average during the run: {result.get('load_average')}")
    if "threads" in result:
        t = result["threads"]
        lines.append(f"threads: OpenBLAS {t['openblas']}, OpenMP (embedding model) {t['omp']}")
    return "\n".join(lines)


def checks(result: dict[str, Any]) -> list[Check]:
    label = f"search: p95 ≤ {P95_TARGET_MS:g} ms with {result['settings']['listings']} listings"
    if "error" in result:
        return [check(label, None, "ms", None, str(result["error"]))]
    p95 = result["first_pass"]["p95_ms"]
    note = "first-seen queries: each embedded in the call"
    return [check(label, p95, "ms", p95 <= P95_TARGET_MS, note)]


SCENARIO = Scenario(
    name="search",
    help="search latency with 100,000 listings (issue 21)",
    description=__doc__ or "",
    configure=configure,
    run=run_search,
    table=table,
    checks=checks,
    quick=("--listings", "2000", "--sellers", "20", "--searches", "40"),
)
