"""A property test of points (issue 18, item 7): random sequences of earning under every rule
(with repeated deliveries of the same source), check-ins, spending, redemptions retried with the
same Idempotency-Key, refunds taking back spending points, the clock moving by hours to months,
expiry runs that crash half-way and are retried, and the scan of channel posts — with every
invariant of docs/points.md checked after every step:

- each account's balance equals the points left in its live lots and the sum of its journal,
  and is never negative (also a CHECK in the table);
- no rule's daily cap is exceeded on any local day;
- each source is credited at most once (one journal entry per delivered source key), and each
  Idempotency-Key redeems at most once.

The services are driven directly (as the hooks and jobs call them), so the clock may move a year
without access tokens going stale. A fixed seed and bounded examples keep it short.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.errors import Conflict
from lago_core.points import RuleName
from lago_core.security.roles import Principal

from .conftest import CommunityWorld
from .points_support import assert_points_sound

_RULES = (
    RuleName.ACTIVITY,
    RuleName.PUBLISHING,
    RuleName.INVITATION,
    RuleName.RATING,
    RuleName.SPENDING,
)
_ADVANCES = (3_600, 86_400, 7 * 86_400, 120 * 86_400, 370 * 86_400)

who = st.integers(0, 2)
source = st.integers(0, 5)  # few sources, so deliveries repeat
operations = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), who, st.sampled_from(_RULES), source, st.integers(0, 300)),
        st.tuples(st.just("check_in"), who),
        st.tuples(st.just("spend"), who, st.integers(1, 120)),
        st.tuples(st.just("redeem"), who, st.integers(0, 1), st.integers(0, 2)),
        st.tuples(st.just("refund"), who, source),
        st.tuples(st.just("advance"), st.sampled_from(_ADVANCES)),
        st.tuples(st.just("expire"), st.booleans()),
        st.tuples(st.just("post"), who, st.booleans()),
        st.tuples(
            st.just("scan"),
        ),
        st.tuples(
            st.just("notify"),
        ),
    ),
    min_size=8,
    max_size=30,
)
_runs = itertools.count()


class Sequence:
    def __init__(self, core: Core, clock: ManualClock, community: CommunityWorld) -> None:
        self.core, self.clock = core, clock
        self.users = [resident.id for resident in community.residents]
        self.run = next(_runs)
        self.delivered: set[str] = set()
        self.keys: dict[str, Any] = {}
        self.products: list[uuid.UUID] = []
        self.seq = 0
        self.community_id = uuid.UUID(community.id)
        # The limits are for people at a keyboard; here one "person" acts dozens of times.
        core.points.service._limiter = None
        core.points.catalogue._limiter = None

    async def start(self) -> None:
        now = self.clock.now()
        for kind, cost, stock in (("gift", 40, 3), ("privilege", 15, None)):
            row = await self.core.points.catalogue.store.insert_product(
                {
                    "id": uuid.uuid4(),
                    "kind": kind,
                    "name": f"{kind}-{self.run}",
                    "points_cost": cost,
                    "stock": stock,
                    "pickup": "locker" if kind == "gift" else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            self.products.append(row["id"])

    def me(self, index: int) -> Principal:
        return Principal(self.users[index], uuid.uuid4(), None)

    def key(self, text: str) -> str:
        return f"{text}:run{self.run}"

    async def step(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        points, sources = self.core.points.service, self.core.points.sources
        if kind == "earn":
            _, user, rule, n, yuan = op
            key = self.key(f"{rule.value}:{n}:{user}")
            await points.earn(self.users[user], rule, key, amount=yuan)
            self.delivered.add(key)
        elif kind == "check_in":
            assert await outcome(points.check_in(self.me(op[1]))) in ("ok", "already_checked_in")
        elif kind == "spend":
            _, user, amount = op

            async def spend() -> None:
                async with self.core.pool.acquire() as conn, conn.transaction():
                    await points.spend_in(
                        conn, self.users[user], amount, self.key(uuid.uuid4().hex)
                    )

            assert await outcome(spend()) in ("ok", "insufficient_points")
        elif kind == "redeem":
            _, user, product, attempt = op
            key = self.key(f"redeem:{user}:{product}:{attempt}")
            answers: list[dict[str, Any]] = []

            async def redeem() -> None:
                answers.append(
                    await self.core.points.catalogue.redeem(
                        self.me(user), self.products[product], key
                    )
                )

            result = await outcome(redeem())
            assert result in ("ok", "insufficient_points", "product_sold_out"), result
            if answers:
                # A retry with the same key answers with the first redemption.
                assert self.keys.setdefault(key, answers[0]["id"]) == answers[0]["id"]
        elif kind == "refund":
            _, user, n = op
            earned = self.key(f"{RuleName.SPENDING.value}:{n}:{user}")
            async with self.core.pool.acquire() as conn, conn.transaction():
                await points.take_back_in(conn, self.users[user], earned, f"take_back:{earned}")
        elif kind == "advance":
            self.clock.advance(op[1])
        elif kind == "expire":
            if op[1]:
                # A run that crashes after retiring one user's lots, before committing.
                users = await points.store.users_with_due_lots(self.clock.now(), 10)
                if users:
                    try:
                        async with self.core.pool.acquire() as conn, conn.transaction():
                            await points.store.lock_account(conn, users[0], self.clock.now())
                            await points._expire_due_in(conn, users[0], self.clock.now())
                            raise _Crash
                    except _Crash:
                        pass
            await points.expire_due()
        elif kind == "post":
            _, user, deleted = op
            self.seq += 1
            now = self.clock.now()
            await self.core.pool.execute(
                """INSERT INTO channel_events (community_id, seq, type, user_id, data,
                                              created_at, deleted_at)
                   VALUES ($1, $2, 'chat.message', $3, '{}', $4, $5)""",
                self.community_id,
                await self._next_seq(),
                self.users[user],
                now,
                now if deleted else None,
            )
        elif kind == "scan":
            await sources.scan()
            await sources.scan()  # a retried run credits nothing more
        elif kind == "notify":
            await points.notify_expiring()

    async def _next_seq(self) -> int:
        value = await self.core.pool.fetchval(
            "SELECT COALESCE(max(seq), 0) + 1 FROM channel_events WHERE community_id = $1",
            self.community_id,
        )
        return int(value)

    async def check(self) -> None:
        pool = self.core.pool
        await assert_points_sound(pool)
        if self.delivered:
            credited = await pool.fetchval(
                "SELECT count(*) FROM points_journal WHERE source_key = ANY($1::text[])",
                list(self.delivered),
            )
            assert credited == len(self.delivered)
        # Each post credited at most once (its key is the message), and never a deleted one.
        assert not await pool.fetchval(
            """SELECT count(*) FROM points_journal j JOIN channel_events e
                 ON j.source_key = 'publishing:post:' || e.community_id || ':' || e.seq
               WHERE e.deleted_at IS NOT NULL"""
        )
        # One redemption per Idempotency-Key, and no stock below zero (also a CHECK).
        assert await pool.fetchval(
            "SELECT count(*) FROM idempotency_keys WHERE key LIKE $1", f"%:run{self.run}"
        ) == len(self.keys)
        assert not await pool.fetchval("SELECT count(*) FROM points_products WHERE stock < 0")


class _Crash(Exception):
    pass


async def outcome(action: Awaitable[Any]) -> str:
    """``ok``, or the code of the Conflict the action was refused with."""
    try:
        await action
    except Conflict as refused:
        return refused.code
    return "ok"


@seed(20261218)
@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
async def test_no_sequence_breaks_the_points_invariants(
    core: Core, clock: ManualClock, community: CommunityWorld, ops: list[tuple[Any, ...]]
) -> None:
    run = Sequence(core, clock, community)
    await run.start()
    await run.check()
    for op in ops:
        await run.step(op)
        await run.check()
