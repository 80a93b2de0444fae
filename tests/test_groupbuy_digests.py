"""The reconciliation's digest query (``GroupBuyStore.live_group_digests``) on a community with
many live groups: right counts, every group once across the slices, and a slice that costs what
its own groups cost — not a scan of the community's groups and seats (it runs inside the channel
actor, so every join of the channel waits for it)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import orjson

from lago_core.container import Core
from lago_core.groupbuys import store as groupbuy_store

from .conftest import CommunityWorld
from .groupbuy_support import Client, bulk_residents, campaign
from .test_groupbuys import Shop, shop

__all__ = ["shop"]  # the fixture, re-exported so pytest finds it here

GROUPS = 2_000
SLICE = 25


async def _many_groups(
    core: Core, community_id: uuid.UUID, campaign_id: uuid.UUID, users: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, str]]:
    """GROUPS open groups of 10 seats; group i holds i % 4 + 1 reserved seats and one released
    seat; a few are cancelled. Returns (reserved seats, status) per group."""
    now = core.clock.now()
    groups = [uuid.uuid4() for _ in range(GROUPS)]
    status = {gid: ("cancelled" if i % 97 == 0 else "open") for i, gid in enumerate(groups)}
    seats: list[tuple[Any, ...]] = []
    expected: dict[uuid.UUID, tuple[int, str]] = {}
    for i, gid in enumerate(groups):
        held = i % 4 + 1
        expected[gid] = (held, status[gid])
        for n in range(held + 1):
            seats.append(
                (
                    uuid.uuid4(),
                    gid,
                    10,
                    campaign_id,
                    users[n],
                    n + 1,
                    "reserved" if n < held else "released",
                    now + timedelta(seconds=900),
                    now,
                )
            )
    async with core.pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "group_buys",
            columns=[
                "id",
                "campaign_id",
                "community_id",
                "leader_id",
                "min_members",
                "max_members",
                "status",
                "expires_at",
                "created_at",
            ],
            records=[
                (
                    gid,
                    campaign_id,
                    community_id,
                    users[0],
                    2,
                    10,
                    status[gid],
                    now + timedelta(hours=24),
                    now,
                )
                for gid in groups
            ],
        )
        await conn.copy_records_to_table(
            "group_buy_seats",
            columns=[
                "id",
                "group_id",
                "max_members",
                "campaign_id",
                "user_id",
                "seat_no",
                "status",
                "reserved_until",
                "joined_at",
            ],
            records=seats,
        )
    return expected


def _blocks(plan: dict[str, Any]) -> int:
    return int(plan["Shared Hit Blocks"]) + int(plan["Shared Read Blocks"])


async def test_digest_slices_count_right_and_read_only_their_own_groups(
    client: Client, core: Core, shop: Shop, community: CommunityWorld
) -> None:
    offer = await campaign(
        client, shop.owner, shop.merchant_id, shop.item_id, community, max_members=10
    )
    users = [r.id for r in await bulk_residents(core, community.id, 6)]
    cid = uuid.UUID(community.id)
    expected = await _many_groups(core, cid, uuid.UUID(offer["id"]), users)
    live = {gid: held for gid, (held, status) in expected.items() if status == "open"}

    # Every live group once, in id order, with its reserved seats (released ones not counted).
    store = core.groupbuys.store
    seen: list[uuid.UUID] = []
    after = None
    while True:
        rows = await store.live_group_digests(cid, after, SLICE)
        for row in rows:
            assert (row["reserved"], row["paid"], row["status"]) == (live[row["id"]], 0, "open")
        seen += [row["id"] for row in rows]
        if len(rows) < SLICE:
            break
        after = rows[-1]["id"]
    assert seen == sorted(live)

    # A slice from the middle, planned as a prepared statement is after five runs (the generic
    # plan), on tables PostgreSQL has no statistics for yet — as in a rush, where the groups
    # and seats are a few seconds old. It must read about what its own 25 groups and their
    # seats take, whatever the size of the community.
    middle = sorted(live)[GROUPS // 2]
    async with core.pool.acquire() as conn:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        for name, sql in (
            ("after", groupbuy_store._LIVE_DIGESTS_AFTER),
            ("first", groupbuy_store._LIVE_DIGESTS_FIRST),
        ):
            await conn.execute(f"PREPARE digest_{name} AS {sql}")
        plans = {
            "after": await conn.fetchval(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
                f"EXECUTE digest_after('{cid}', {SLICE}, '{middle}')"
            ),
            "first": await conn.fetchval(
                f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE digest_first('{cid}', {SLICE})"
            ),
        }
        await conn.execute("DEALLOCATE ALL")
        await conn.execute("RESET plan_cache_mode")
    for name, raw in plans.items():
        # The pool decodes json itself (lago_core/db.py); a bare connection would give text.
        plan = (orjson.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
        assert plan["Actual Rows"] == SLICE, (name, plan)
        # ≈ 3 blocks per group (index pages, its row, its seats' rows): a scan of the 2,000
        # groups or of every reserved seat reads far more (the query this replaced: ≈ 1,200).
        assert _blocks(plan) < 10 * SLICE, (name, _blocks(plan))
