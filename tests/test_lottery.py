"""Lottery draws: the commit-and-reveal core and the public verify endpoint."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lago_core.lottery import (
    canonical_entries,
    commitment_of,
    draw_winners,
    entries_hash,
    new_seed,
    verify,
)

Client = TestClient[Any, Any]
URL = "/api/v1/lottery/verify"


def published_draw(entries: list[str], k: int, seed: str | None = None) -> dict[str, Any]:
    """What an organiser publishes: commitment at opening, list hash at draw, seed afterwards."""
    seed = seed or new_seed()
    return {
        "commitment": commitment_of(seed),
        "seed": seed,
        "entries": entries,
        "entries_hash": entries_hash(entries),
        "winners": draw_winners(seed, entries, k),
        "winner_count": k,
    }


def members(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


# --- the pure core ---------------------------------------------------------------------------


def test_scheme_matches_its_description() -> None:
    """An independent reimplementation from the docstring gives the same values."""
    seed = new_seed()
    entries = ["王阿姨", "b", "a", "b", "10", "9"]
    raw = bytes.fromhex(seed)
    assert commitment_of(seed) == hashlib.sha256(raw).hexdigest()
    canonical = sorted(set(entries), key=lambda s: s.encode("utf-8"))
    assert canonical_entries(entries) == canonical == ["10", "9", "a", "b", "王阿姨"]
    assert entries_hash(entries) == hashlib.sha256("\n".join(canonical).encode()).hexdigest()
    ranked = sorted(canonical, key=lambda e: (hmac.new(raw, e.encode(), "sha256").digest(), e))
    assert draw_winners(seed, entries, 2) == ranked[:2]
    assert draw_winners(seed, entries, 5) == ranked


def test_deterministic_and_order_independent() -> None:
    seed, entries = new_seed(), members(50)
    first = draw_winners(seed, entries, 3)
    assert len(first) == 3
    assert draw_winners(seed, entries, 3) == first
    assert draw_winners(seed, list(reversed(entries)), 3) == first
    assert draw_winners(seed, entries + entries[:5], 3) == first  # duplicates count once
    assert draw_winners(seed, entries, 5)[:3] == first  # more winners extend the ranking
    assert draw_winners(new_seed(), entries, 3) != first  # 1 in ~10^5 chance of a false alarm


def test_everyone_wins_when_k_covers_the_list() -> None:
    seed, entries = new_seed(), members(7)
    for k in (7, 8, 1000):
        winners = draw_winners(seed, entries, k)
        assert sorted(winners) == sorted(entries)
    assert draw_winners(seed, [], 3) == []
    assert draw_winners(seed, entries, 0) == []


def test_verify_names_the_failed_check() -> None:
    entries = members(20)
    draw = published_draw(entries, 3)
    args = (draw["commitment"], draw["seed"], entries, draw["entries_hash"], draw["winners"], 3)
    good = verify(*args)
    assert good.valid
    assert good.recomputed_winners == draw["winners"]

    other_seed = verify(draw["commitment"], new_seed(), *args[2:])
    assert not other_seed.valid
    assert not other_seed.seed_matches_commitment
    assert other_seed.entries_hash_matches
    assert not other_seed.winners_match

    one_more = verify(*args[:2], [*entries, "intruder"], *args[3:])
    assert not one_more.entries_hash_matches
    assert one_more.seed_matches_commitment


def test_malformed_input_is_refused() -> None:
    with pytest.raises(ValueError, match="hex"):
        commitment_of("zz" * 32)
    with pytest.raises(ValueError, match="64"):
        commitment_of("ab")
    with pytest.raises(ValueError, match="newline"):
        entries_hash(["a\nb"])
    with pytest.raises(ValueError, match="empty"):
        entries_hash([""])
    with pytest.raises(ValueError, match="negative"):
        draw_winners(new_seed(), ["a"], -1)


def test_fairness() -> None:
    """2,000 one-winner draws among 10 entrants: each wins 120–280 times (expected 200).

    The bounds sit about 5.6 standard deviations from the mean (σ ≈ 13.4), so a fair draw fails
    this test with probability below 10⁻⁶.
    """
    started = time.perf_counter()
    entries = [f"member-{i}" for i in range(10)]
    wins = Counter(draw_winners(new_seed(), entries, 1)[0] for _ in range(2_000))
    assert set(wins) == set(entries)
    assert all(120 <= n <= 280 for n in wins.values()), wins
    assert time.perf_counter() - started < 2


# --- the public endpoint ---------------------------------------------------------------------


async def test_endpoint_reproduces_the_winners(client: Client) -> None:
    entries = members(200)
    draw = published_draw(entries, 5)
    resp = await client.post(URL, json=draw)  # no Authorization header: the endpoint is public
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body == {
        "valid": True,
        "checks": {
            "seed_matches_commitment": True,
            "entries_hash_matches": True,
            "winners_match": True,
        },
        "recomputed_winners": draw["winners"],
    }
    # The same set in another order, and upper-case hex, still verify.
    shuffled = {
        **draw,
        "entries": sorted(entries, reverse=True),
        "seed": draw["seed"].upper(),
        "commitment": draw["commitment"].upper(),
    }
    again = await (await client.post(URL, json=shuffled)).json()
    assert again["valid"] is True
    assert again["recomputed_winners"] == draw["winners"]


async def _checks(client: Client, payload: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(URL, json=payload)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    assert body["valid"] is False
    return body


async def test_tampering_fails_the_right_check(client: Client) -> None:
    entries = members(30)
    draw = published_draw(entries, 3)
    winner, loser = draw["winners"][0], next(e for e in entries if e not in draw["winners"])

    # An entrant removed — say, the winner — after the list hash was published.
    removed = await _checks(client, {**draw, "entries": [e for e in entries if e != winner]})
    assert removed["checks"] == {
        "seed_matches_commitment": True,
        "entries_hash_matches": False,
        "winners_match": False,
    }
    # An entrant added: the hash no longer matches (the winners may or may not change).
    added = await _checks(client, {**draw, "entries": [*entries, str(uuid.uuid4())]})
    assert added["checks"]["entries_hash_matches"] is False
    assert added["checks"]["seed_matches_commitment"] is True

    # A different seed than the one committed to.
    seeded = await _checks(client, {**draw, "seed": new_seed()})
    assert seeded["checks"]["seed_matches_commitment"] is False
    assert seeded["checks"]["entries_hash_matches"] is True
    assert seeded["checks"]["winners_match"] is False

    # A wrong commitment for the right seed.
    committed = await _checks(client, {**draw, "commitment": commitment_of(new_seed())})
    assert committed["checks"] == {
        "seed_matches_commitment": False,
        "entries_hash_matches": True,
        "winners_match": True,
    }

    # Winners replaced, or listed out of rank order.
    for winners in (
        [loser, *draw["winners"][1:]],
        list(reversed(draw["winners"])),
        draw["winners"][:2],
    ):
        forged = await _checks(client, {**draw, "winners": winners})
        assert forged["checks"] == {
            "seed_matches_commitment": True,
            "entries_hash_matches": True,
            "winners_match": False,
        }
        assert forged["recomputed_winners"] == draw["winners"]


async def test_everyone_wins_through_the_endpoint(client: Client) -> None:
    entries = members(4)
    draw = published_draw(entries, 10)
    assert sorted(draw["winners"]) == sorted(entries)
    body = await (await client.post(URL, json=draw)).json()
    assert body["valid"] is True


async def test_endpoint_limits(client: Client) -> None:
    draw = published_draw(members(3), 1)
    for bad in (
        {"seed": "not hex"},
        {"commitment": "ab"},
        {"entries": ["x" * 65]},
        {"entries": [""]},
        {"entries": ["a\nb"]},
        {"winners": ["y" * 65]},
        {"winner_count": 0},
        {"winner_count": 100_001},
        {"extra": 1},
    ):
        resp = await client.post(URL, json={**draw, **bad})
        assert resp.status == 422, (bad, await resp.text())
        assert (await resp.json())["error"]["code"] == "invalid_input"
    # Ids are taken byte for byte: surrounding spaces are not stripped.
    spaced = {**draw, "entries": [f" {e}" for e in draw["entries"]]}
    body = await (await client.post(URL, json=spaced)).json()
    assert body["checks"]["entries_hash_matches"] is False


async def test_entry_count_limit(client: Client) -> None:
    entries = [str(i) for i in range(100_000)]  # short ids: the body stays under 1 MiB
    draw = published_draw(entries, 3)
    resp = await client.post(URL, json=draw)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["valid"] is True
    resp = await client.post(URL, json={**draw, "entries": [*entries, "100000"]})
    assert resp.status == 422


def test_the_documented_snippet_verifies_draws() -> None:
    """``docs/lottery.md``'s stand-alone verifier agrees with the implementation."""
    import pathlib
    import re

    doc = (pathlib.Path(__file__).parent.parent / "docs" / "lottery.md").read_text("utf-8")
    (snippet,) = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    namespace: dict[str, Any] = {"__name__": "snippet"}
    exec(compile(snippet, "docs/lottery.md", "exec"), namespace)
    check = namespace["verify_draw"]
    entries = members(40)
    draw = published_draw(entries, 4)
    args = [draw[k] for k in ("commitment", "seed", "entries", "entries_hash", "winners")]
    assert check(*args, 4) == {
        "seed_matches_commitment": True,
        "entries_hash_matches": True,
        "winners_match": True,
    }
    tampered = check(draw["commitment"], draw["seed"], entries[1:], *args[3:], 4)
    assert tampered["entries_hash_matches"] is False
    assert check(commitment_of(new_seed()), *args[1:], 4)["seed_matches_commitment"] is False


async def test_the_public_endpoint_is_rate_limited(client: Client) -> None:
    from lago_rest.routes.lottery import VERIFY_LIMIT

    allowed = int(VERIFY_LIMIT.split("/")[0])
    draw = published_draw(members(3), 1)
    for _ in range(allowed):
        assert (await client.post(URL, json=draw)).status == 200
    limited = await client.post(URL, json=draw)
    assert limited.status == 429
    assert (await limited.json())["error"]["code"] == "rate_limited"
