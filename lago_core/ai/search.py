"""Search by meaning with intent: a natural query becomes an intent and a vector, and both rank
listings.

Retrieval is hybrid: the query's embedding against each listing's (meaning: "给三岁娃的益智玩具"
finds a shape sorter), and its words (jieba) against each listing's, weighted by rarity. Only the
caller's neighbourhood is searched (own communities, and neighbouring ones unless the query says
小区里), active listings only: those are the hard filters, with the price range the resident
stated and a product or brand they named. The kind of request (rent or buy), the category and
the condition are soft preferences: a rental is still shown to a buyer, a game or an accessory
to a console query, a 99新 set to "全新 乐高", below the listings that fit. A listing whose
relevance falls under a floor is not a match; when none passes, the answer says "nothing good
found" and shows the few nearest in meaning as such (never the newest listings). Each hit
says why it matched; the parsed intent is returned with the hits ("租 · Switch · 2 天").
See docs/ai.md, "Search by meaning".
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np

from lago_core.ai.embeddings import EmbeddingError, Vector
from lago_core.ai.engine import Engine, EngineError, local_parse
from lago_core.ai.index import IndexHit, ListingEmbeddings
from lago_core.ai.intent import Intent, maker_terms, parse_rules, synonyms_of
from lago_core.ai.kinds import (
    PREFIX,
    accessory_only,
    asks_accessory,
    category_wide,
    mend,
    query_kinds,
    ranked_kinds,
    text_kinds,
)
from lago_core.ai.lexical import tokens
from lago_core.ai.neighbourhood import Neighbourhood, neighbourhood_of
from lago_core.ai.store import AiStore
from lago_core.clock import Clock
from lago_core.errors import InvalidInput
from lago_core.logging import get_logger
from lago_core.ratelimit import RateLimiter
from lago_core.security.roles import Principal

__all__ = [
    "ACCESSORY_PENALTY",
    "CONDITION_RANK",
    "FOR_PARTS_PENALTY",
    "MEMBER_SEARCH_BOOST",
    "MIN_RELEVANCE",
    "NEAREST_SHOWN",
    "RELAXABLE",
    "Hit",
    "SearchResult",
    "SearchService",
    "fitting",
    "freshness",
    "relax",
]

log = get_logger(__name__)

# A member seller's (会员) exposure boost in search, on the score's own scale (a kind match is
# 3, the own community 2, freshness up to 1): half of freshness — it reorders listings of about
# the same fit and place, never lifts a worse match or a farther community over a better one.
# docs/subscriptions.md and docs/ai.md.
MEMBER_SEARCH_BOOST = 0.5

# How many listings the index hands to the ranking (the best blend of meaning and words among
# the neighbourhood's), and how many missing embeddings a search computes before it ranks.
INDEX_CANDIDATES = 60
CATCH_UP = 64
# How many of the neighbourhood's newest listings a recommendation looks at.
CANDIDATES = 1_000
# The blend: e5 puts unrelated short texts at a cosine of about 0.78, near-duplicates above 0.9;
# relevance is the cosine above that floor, scaled to 0–1, plus the words' share (0–1) weighted.
SIMILARITY_FLOOR = 0.78
LEXICAL_WEIGHT = 0.5
RELEVANCE_WEIGHT = 6.0
# Below this relevance a listing is not shown unless it matches a named product, brand or
# category ("nothing good found" rather than noise). Tuned on tests/ai_search_corpus.jsonl.
MIN_RELEVANCE = 0.55
# A listing holding this share of the query's word weight is relevant whatever its vector says.
WORDS_ENOUGH = 0.5
# The classifier's least probability for its category to count as named (a query in another
# language than the listings, "teddy bear", is found through it).
CATEGORY_SURE = 0.6
# Soft preferences, on the score's scale (relevance up to about 6, own community 2, freshness
# up to 1): the kind asked for, the category, what was named.
KIND_BONUS = 0.5
CATEGORY_BONUS = 1.0
# A listing of a kind of item the query names or implies (lago_core/ai/kinds.py): named in its
# title, it is that thing; named only in its description, it may be for that thing (a helmet
# "适合平衡车") — half. Either keeps it above the relevance floor, as a named category does.
ITEM_KIND_BONUS = 1.5
# A listing sold for parts (broken: 坏机, 配件机) ranks below working ones of the same fit unless
# the query asks for parts: a resident who says 游戏机 or 推车 wants one that works, and the
# broken one names the thing as plainly in its title. Search round 2 (docs/ai.md).
FOR_PARTS_PENALTY = 1.5
# A listing whose title names only accessories (a pad, a dock, a case, a helmet) ranks below
# the things themselves when the query names a thing but no accessory: "switch" wants the
# console before its dock, "自行车" the bike before the helmet. Search round 3 (docs/ai.md).
ACCESSORY_PENALTY = 1.0
# A stated condition is a preference, not a limit: each step a listing falls short of it (new →
# like_new → good → fair → for_parts) costs this much, so the ones that meet it come first and a
# 99新 set is still shown to "全新 乐高" when nobody sells a new one — as a hard filter it
# answered nothing (blind corpus v6, search round 4).
CONDITION_SHORTFALL_PENALTY = 1.0
# When nothing passes the relevance floor, the few listings nearest in meaning are shown as
# such ("nothing good found; the nearest:") rather than an empty page: a drone asked for in
# English, a board game, a card binder came back empty while the right listings were the
# nearest (blind corpora v5 and v6, search round 4). No floor separates those from a washing
# machine's nearest toys, so the answer says which it is and the resident judges.
NEAREST_SHOWN = 5
NEAREST_REASON = "相近推荐"
# Per resident: a search may cost a model call.
SEARCHES = "60/minute"
CONDITION_RANK = {"for_parts": 0, "fair": 1, "good": 2, "like_new": 3, "new": 4}
_KINDS = {
    "rent": {"rent"},
    "buy": {"sale", "consignment"},
    # A resident selling is shown what the same things sell for nearby (a price reference).
    "sell": {"sale", "consignment"},
    "swap": {"sale", "consignment", "rent"},
}
HINTS = {
    "sell": "这些是附近同类在售的闲置，可参考定价后发布",
    "swap": "闲置暂不支持直接交换，这些是附近的同类闲置，可联系卖家商量",
}


# What a client may drop from a parsed intent (the user removed its chip), and the fields each
# clears: the search runs again on the same words without that constraint.
RELAXABLE: dict[str, dict[str, Any]] = {
    "category": {"category": None},
    "brand": {"brand": None},
    "product": {"product": None},
    "keywords": {"keywords": []},
    "duration": {"duration_days": None},
    "price": {"price_min_fen": None, "price_max_fen": None, "price_per_day": False},
    "condition": {"condition": None},
    "scope": {"scope": None},
}


def relax(intent: Intent, without: Collection[str]) -> Intent:
    """The intent without the named constraints (keys of :data:`RELAXABLE`)."""
    update: dict[str, Any] = {}
    for slot in without:
        if slot not in RELAXABLE:
            raise InvalidInput(f"cannot drop {slot!r} from a search", code="invalid_without")
        update |= RELAXABLE[slot]
    return intent.model_copy(update=update) if update else intent


@dataclass(frozen=True, slots=True)
class Hit:
    listing: dict[str, Any]
    score: float
    community_id: UUID
    community_name: str
    distance_m: float
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    intent: Intent
    engine: str
    hits: list[Hit]
    hint: str | None
    # Nothing passed the relevance floor: ``hits`` are the nearest few, not matches.
    nearest: bool = False


def freshness(created_at: datetime, now: datetime) -> float:
    """1 for a listing published now, halving every week."""
    age_days = max((now - created_at).total_seconds(), 0) / 86_400
    return float(0.5 ** (age_days / 7))


def _text(row: Any) -> str:
    return " ".join(str(row[k] or "") for k in ("title", "brand", "description")).lower()


def _price_of(row: Any, intent: Intent) -> int:
    if row["kind"] == "rent":
        per_day = int(row["rent_per_day_fen"])
        if intent.duration_days and not intent.price_per_day:
            return per_day * intent.duration_days
        return per_day
    return int(row["price_fen"])


def relevance(hit: IndexHit | None) -> float:
    """How well a listing's meaning and words fit the query, about 0–1.5."""
    if hit is None:
        return 0.0
    meaning = max(0.0, (hit.similarity - SIMILARITY_FLOOR) / (1 - SIMILARITY_FLOOR))
    return meaning + LEXICAL_WEIGHT * hit.lexical


def match(
    row: Any,
    intent: Intent,
    hit: IndexHit | None = None,
    category_sure: bool = True,
    kinds: Collection[str] = (),
    floor: bool = True,
) -> tuple[float, list[str]] | None:
    """How well a listing fits the intent (and the query's meaning and words), and why; None
    when it must not be shown: outside a limit the resident stated, or (with ``floor``) not
    relevant enough. ``category_sure``: the category was named or the classifier is confident
    of it — only then does being of that category alone keep a listing above the relevance
    floor. ``kinds``: the kind tokens of the query's words (:func:`query_words`)."""
    text = _text(row)
    score, why = 0.0, []
    # Only when a thing is named: "小孩户外玩的东西" may well mean a helmet.
    thing = bool(kinds) or intent.product is not None or intent.brand is not None
    only_accessories = accessory_only(str(row["title"] or ""))
    if asks_accessory(kinds):
        # The mirror: asked for a pad or 配件, the consoles themselves come after (配件机, a
        # machine for parts, asks for the broken machine: its condition says so).
        if not only_accessories and intent.condition != "for_parts":
            score -= ACCESSORY_PENALTY
    elif thing and only_accessories:
        score -= ACCESSORY_PENALTY
    if kinds:
        if set(kinds) & set(text_kinds(str(row["title"] or ""))):
            score += ITEM_KIND_BONUS
            why.append("同类物品")
            kind_hit = True
        elif set(kinds) & set(text_kinds(text)):
            score += ITEM_KIND_BONUS / 2
            kind_hit = True
        else:
            kind_hit = False
    else:
        kind_hit = False
    terms = synonyms_of(intent)
    named = False
    if intent.product or intent.brand:
        brand_hit = (
            intent.brand is not None and (row["brand"] or "").lower() == intent.brand.lower()
        )
        term_hit = next((t for t in terms if t.lower() in text), None)
        maker = maker_terms(intent.brand)
        if (
            intent.product
            and term_hit
            and any(t.lower() in text for t in terms if t.lower() not in maker)
        ):
            score += 3
            why.append(f"匹配“{intent.product}”")
        elif intent.product and term_hit:
            # Only the maker's name (a 3DS, a game or a figure by Nintendo to "switch"): the
            # maker's, below the product itself.
            score += 2
            why.append(f"品牌 {intent.brand}")
        elif intent.product:
            return None
        elif brand_hit or term_hit:
            score += 2
            why.append(f"品牌 {intent.brand}")
        else:
            return None
        named = True
    if intent.category and row["category"] == intent.category:
        score += CATEGORY_BONUS
        why.append("同类商品")
        named = named or category_sure
    same_kind = row["kind"] in _KINDS[intent.intent]
    if same_kind:
        score += KIND_BONUS
    else:
        why.append("仅出租" if row["kind"] == "rent" else "可购买")
    keyword_hits = [k for k in intent.keywords if k.lower() in text]
    score += 0.5 * len(keyword_hits)
    if keyword_hits:
        why.append("包含“" + "”“".join(keyword_hits) + "”")
    fit = relevance(hit)
    words = hit is not None and hit.lexical >= WORDS_ENOUGH
    if (
        floor
        and fit < MIN_RELEVANCE
        and not named
        and not keyword_hits
        and not words
        and not kind_hit
    ):
        return None
    score += RELEVANCE_WEIGHT * fit
    if hit is not None and fit >= MIN_RELEVANCE and not named:
        why.append("意思相近")
    # A stated budget or condition limits listings of the kind asked for; another kind's price
    # is of another sort (a daily rent against a purchase budget) and is shown as it is.
    if same_kind:
        price = _price_of(row, intent)
        if intent.price_max_fen is not None and price > intent.price_max_fen:
            return None
        if intent.price_min_fen is not None and price < intent.price_min_fen:
            return None
        if intent.price_max_fen is not None or intent.price_min_fen is not None:
            why.append("价格合适")
    if intent.condition:
        shortfall = CONDITION_RANK.get(intent.condition, 0) - CONDITION_RANK[row["condition"]]
        if shortfall > 0:
            score -= CONDITION_SHORTFALL_PENALTY * shortfall
            why.append("成色略低")
        else:
            why.append("成色符合")
            if intent.condition == "for_parts" and row["condition"] == "for_parts":
                score += FOR_PARTS_PENALTY  # asked for parts: the broken ones first
    elif row["condition"] == "for_parts":
        score -= FOR_PARTS_PENALTY
        why.append("配件/故障")
    return score, why


Fit = tuple[Any, float, list[str]]


def fitting(
    rows: Iterable[Any],
    hits: Mapping[Any, IndexHit],
    intent: Intent,
    sure: bool,
    kinds: Collection[str],
) -> tuple[list[Fit], bool]:
    """``(row, score, reasons)`` of the rows that fit (``hits``: the index's hit of each by its
    ``id``), and False; when none passes the relevance floor, the ``NEAREST_SHOWN`` best of those
    only the floor kept out, each saying so, and True ("nothing good found": shown as the
    nearest, not as matches). The stated limits hold in both."""
    rows = list(rows)
    fits = [
        (row, *found)
        for row in rows
        if (found := match(row, intent, hits.get(row["id"]), sure, kinds)) is not None
    ]
    if fits or not rows:
        return fits, False
    near = [
        (row, *found)
        for row in rows
        if (found := match(row, intent, hits.get(row["id"]), sure, kinds, floor=False)) is not None
    ]
    near.sort(key=lambda f: -f[1])
    return [(row, score, [*why, NEAREST_REASON]) for row, score, why in near[:NEAREST_SHOWN]], True


def category_sure(query: str, intent: Intent) -> bool:
    """Whether the intent's category was named in the query's words (the lexicon) or the
    classifier is confident of it (blocking: it may embed the query; cached after parsing)."""
    from lago_core.ai.classifier import classifier

    if intent.category is None:
        return False
    rules = parse_rules(query)
    if rules.category_found and not rules.category_open:
        return True
    # A kind as broad as the category, named or implied ("girl" → dolls): as sure as its name.
    if category_wide(intent.category) and PREFIX + intent.category in query_kinds(query)[0]:
        return True
    if not rules.subject:
        return False
    # The words the parser classified the category on (the item's, not the price's).
    _, categories = classifier()(rules.subject)
    return categories.get(intent.category, 0.0) >= CATEGORY_SURE


def query_words(query: str, intent: Intent) -> list[str]:
    """The query's words for the lexical side, with the synonyms of what it names and the kinds
    of item it names or implies. A word that named a kind gives way to the kind's token: every
    name of the kind then weighs the same (滑步车 finds 平衡车 as well as 滑步车). Typos of names
    are mended first (:func:`lago_core.ai.kinds.mend`: 芭笔 → 芭比, swich → switch)."""
    query = mend(query)
    kinds, spans = query_kinds(query)
    words = [w for w in tokens(query) if not any(w in span for span in spans)]
    return words + kinds + [t.lower() for t in synonyms_of(intent)]


def _words_and_sureness(query: str, intent: Intent) -> tuple[list[str], bool]:
    return query_words(query, intent), category_sure(query, intent)


class SearchService:
    def __init__(
        self,
        store: AiStore,
        engine: Engine,
        limiter: RateLimiter,
        clock: Clock,
        neighbour_radius_m: int,
        embeddings: ListingEmbeddings,
    ) -> None:
        self._store = store
        self.embeddings = embeddings
        self.engine = engine
        self._limiter = limiter
        self._clock = clock
        self._radius = neighbour_radius_m

    async def understand(self, query: str) -> tuple[Intent, str]:
        """The query's intent and which engine produced it (the local parser if the model fails)."""
        try:
            return await self.engine.parse_intent(query), self.engine.name
        except EngineError as exc:
            log.warning("ai.intent_fallback", engine=self.engine.name, error=str(exc))
            return await local_parse(query), "local-fallback"

    async def search(
        self, actor: Principal, query: str, limit: int, without: Collection[str] = ()
    ) -> SearchResult:
        """Ranked listings for the query; ``without`` drops parts of its intent (removed chips)."""
        # Whitespace normalised: "switch  周末" and "switch 周末" share one cached embedding
        # (lago_core/ai/embeddings.py keys its LRU cache by the text).
        query = " ".join(query.split())
        if not query:
            raise InvalidInput("say what you are looking for", code="empty_query")
        await self._limiter.hit_or_raise(SEARCHES, "ai-search", str(actor.user_id))
        # Everything that does not need the query's embedding runs while the model computes it
        # (tens of milliseconds on the CPU, in a thread): the parse, the neighbourhood, the
        # index's catch-up and refresh. The embedding's task is created first, so its thread
        # is started first and the parser, if it needs the same vector, takes it from the cache.
        vector = asyncio.create_task(self._query_vector(query))
        parsed = asyncio.create_task(self.understand(query))
        place = asyncio.create_task(neighbourhood_of(self._store, actor.user_id, self._radius))
        fresh = asyncio.create_task(self._fresh_index())
        try:
            (intent, engine), hood, _ = await asyncio.gather(parsed, place, fresh)
            intent = relax(intent, without)
            hits, nearest = await self._rank(actor, query, intent, hood, limit, vector)
        finally:
            for task in (vector, parsed, place, fresh):
                if not task.done():
                    task.cancel()
        # Logged as found: the nearest shown when nothing fitted are no matches (insights count
        # searches that found nothing).
        found = 0 if nearest else len(hits)
        await self._store.log_search(
            actor.user_id, query, intent.model_dump(), engine, found, self._clock.now()
        )
        return SearchResult(query, intent, engine, hits, HINTS.get(intent.intent), nearest)

    async def _fresh_index(self) -> None:
        """Embed what changed since this process last looked (bounded), then read the new
        vectors into the index."""
        try:
            await self.embeddings.catch_up(CATCH_UP)
        except EmbeddingError as exc:
            log.warning("ai.embedding_failed", model=self.embeddings.index.model, error=str(exc))
        await self.embeddings.index.refresh(self._store)

    async def _query_vector(self, query: str) -> Vector | None:
        try:
            found: Vector = (await self.embeddings.embedder.queries([query]))[0]
            return found
        except EmbeddingError as exc:
            # The endpoint is down: rank by words alone.
            log.warning("ai.embedding_failed", model=self.embeddings.index.model, error=str(exc))
            return None

    async def _rank(
        self,
        actor: Principal,
        query: str,
        intent: Intent,
        hood: Neighbourhood,
        limit: int,
        vector_task: asyncio.Task[Vector | None],
    ) -> tuple[list[Hit], bool]:
        """The hits, and whether they are only the nearest (see :func:`fitting`)."""
        ids = hood.home_ids if intent.scope == "community" else hood.ids
        if not ids:
            return [], False
        now = self._clock.now()
        # One hop to a thread for both (jieba and the classifier block; each hop costs a
        # scheduling round on a busy machine); started before the vector is awaited, so the
        # words are cut while the model runs (the classifier waits for its vector there).
        words_task = asyncio.create_task(asyncio.to_thread(_words_and_sureness, query, intent))
        try:
            found_vector = await vector_task
        except BaseException:
            words_task.cancel()
            raise
        # No vector (endpoint down): a zero one adds no meaning, words rank alone.
        vector = found_vector if found_vector is not None else np.zeros(1, dtype=np.float32)
        words, sure = await words_task
        kinds = ranked_kinds(words)
        found = self.embeddings.index.search(vector, words, ids, INDEX_CANDIDATES, LEXICAL_WEIGHT)
        by_id = {h.listing_id: h for h in found}
        rows = await self._store.listings_among(list(by_id), ids, now - timedelta(days=30), now)
        # A resident selling is not shown their own listings.
        others = (
            row
            for row in rows
            if not (intent.intent == "sell" and row["seller_id"] == actor.user_id)
        )
        fits, nearest = fitting(others, by_id, intent, sure, kinds)
        hits: list[tuple[float, Hit]] = []
        for row, score, why in fits:
            place = hood.nearest(list(row["community_ids"]))
            assert place is not None
            if place.home:
                score += 2
                why.append(f"本小区（{place.name}）")
            else:
                score += 1 - place.distance_m / max(self._radius, 1)
                why.append(f"邻近小区（{place.name}，{place.distance_m / 1000:.1f} 公里）")
            score += freshness(row["created_at"], now)
            score += 0.1 * math.log1p(row["views"] + 3 * row["favourites"])
            if row["seller_member"]:
                score += MEMBER_SEARCH_BOOST
                why.append("会员卖家")
            hit = Hit(
                dict(row), round(score, 4), place.community_id, place.name, place.distance_m, why
            )
            hits.append((score, hit))
        # By the exact score: rounding would tie listings a minute apart in freshness.
        hits.sort(key=lambda h: (-h[0], h[1].listing["id"]))
        return [hit for _, hit in hits[:limit]], nearest
