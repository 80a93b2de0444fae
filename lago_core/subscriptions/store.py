"""SQL of subscriptions: plans, subscriptions and the charges made for them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn
from lago_core.subscriptions.plans import PlanDef

__all__ = ["SubscriptionStore"]

_PLAN = "code, name, kind, tier, monthly_price_fen, grants, active"
_SUB = """s.id, s.user_id, s.plan_code, s.kind, s.status, s.provider, s.agreement_id,
    s.agreement_secret, s.agreement_signed_at, s.period_number, s.current_period_start,
    s.current_period_end, s.access_until, s.cancel_at_period_end, s.next_plan_code,
    s.failed_attempts, s.next_attempt_at, s.first_period_granted_by, s.created_at, s.updated_at,
    s.ended_at"""
_CHARGE = """id, subscription_id, period_number, purpose, plan_code, amount_fen, status,
    provider_charge_id, attempts, failure_reason, created_at, decided_at"""
LIVE = ("pending", "active", "past_due")


class SubscriptionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- plans -----------------------------------------------------------------------------------

    async def ensure_plans(self, plans: Iterable[PlanDef]) -> None:
        """Insert the plans not there yet. Processes starting together (two real-time nodes,
        a worker) take turns: racing, the second insert of a plan could meet the first one's
        (kind, tier) before its code and fail the process's start-up, while a plan whose code
        is new but whose (kind, tier) is taken must still fail it."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('subscription_plans'))")
            await conn.executemany(
                """INSERT INTO subscription_plans
                       (code, name, kind, tier, monthly_price_fen, grants)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING""",
                [(p.code, p.name, p.kind, p.tier, p.monthly_price_fen, p.grants) for p in plans],
            )

    async def plans(self) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {_PLAN} FROM subscription_plans WHERE active ORDER BY kind, tier"
        )

    async def plan(self, code: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            f"SELECT {_PLAN} FROM subscription_plans WHERE code = $1 AND active", code
        )

    # --- subscriptions ---------------------------------------------------------------------------

    async def insert(self, conn: Conn, values: dict[str, Any]) -> asyncpg.Record:
        columns = list(values)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        row = await conn.fetchrow(
            f"""INSERT INTO subscriptions AS s ({", ".join(columns)}) VALUES ({placeholders})
                RETURNING {_SUB}""",
            *values.values(),
        )
        assert row is not None
        return row

    async def get(self, conn: Conn, subscription_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_SUB} FROM subscriptions s WHERE s.id = $1", subscription_id
        )

    async def lock(self, conn: Conn, subscription_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_SUB} FROM subscriptions s WHERE s.id = $1 FOR UPDATE", subscription_id
        )

    async def live_of(self, conn: Conn, user_id: UUID, kind: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"""SELECT {_SUB} FROM subscriptions s
                WHERE s.user_id = $1 AND s.kind = $2 AND s.status = ANY($3::text[])""",
            user_id,
            kind,
            list(LIVE),
        )

    async def of_user(self, user_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""SELECT {_SUB} FROM subscriptions s WHERE s.user_id = $1
                ORDER BY s.created_at DESC, s.id DESC LIMIT 50""",
            user_id,
        )

    async def update(
        self, conn: Conn, subscription_id: UUID, now: datetime, **fields: Any
    ) -> asyncpg.Record:
        columns = [*fields, "updated_at"]
        assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
        row = await conn.fetchrow(
            f"UPDATE subscriptions AS s SET {assignments} WHERE s.id = $1 RETURNING {_SUB}",
            subscription_id,
            *fields.values(),
            now,
        )
        assert row is not None
        return row

    async def due(self, now: datetime, limit: int = 500) -> list[UUID]:
        """Subscriptions the renewal job has something to do for at ``now``."""
        rows = await self.pool.fetch(
            """SELECT id FROM subscriptions
               WHERE status IN ('pending', 'active', 'past_due')
                 AND (current_period_end <= $1 OR next_attempt_at <= $1
                      OR (status = 'pending' AND agreement_signed_at IS NULL))
               ORDER BY current_period_end NULLS FIRST, id LIMIT $2""",
            now,
            limit,
        )
        return [r["id"] for r in rows]

    async def is_member(self, user_id: UUID, now: datetime) -> bool:
        return bool(await self.pool.fetchval("SELECT lago_is_member($1, $2)", user_id, now))

    async def active_plan(
        self, conn: Conn, user_id: UUID, kind: str, now: datetime, *, lock: bool = True
    ) -> asyncpg.Record | None:
        """The user's subscription of ``kind`` whose benefits hold now, with its plan's grants
        (locked: a binding counts against it in the caller's transaction; ``lock=False`` only
        to show whether there is one)."""
        return await conn.fetchrow(
            f"""SELECT s.id, s.plan_code, p.name, p.grants FROM subscriptions s
               JOIN subscription_plans p ON p.code = s.plan_code
               WHERE s.user_id = $1 AND s.kind = $2 AND s.status IN ('active', 'past_due')
                 AND s.access_until > $3
               {"FOR UPDATE OF s" if lock else ""}""",
            user_id,
            kind,
            now,
        )

    # --- charges ---------------------------------------------------------------------------------

    async def charge_for(
        self,
        conn: Conn,
        charge_id: UUID,
        subscription_id: UUID,
        period_number: int,
        purpose: str,
        plan_code: str,
        amount_fen: int,
        now: datetime,
    ) -> asyncpg.Record:
        """The charge of (subscription, period, purpose), created on first ask."""
        await conn.execute(
            """INSERT INTO subscription_charges (id, subscription_id, period_number, purpose,
                   plan_code, amount_fen, status, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)
               ON CONFLICT (subscription_id, period_number, purpose) DO NOTHING""",
            charge_id,
            subscription_id,
            period_number,
            purpose,
            plan_code,
            amount_fen,
            now,
        )
        row = await conn.fetchrow(
            f"""SELECT {_CHARGE} FROM subscription_charges
                WHERE subscription_id = $1 AND period_number = $2 AND purpose = $3 FOR UPDATE""",
            subscription_id,
            period_number,
            purpose,
        )
        assert row is not None
        return row

    async def lock_charge(self, conn: Conn, charge_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT {_CHARGE} FROM subscription_charges WHERE id = $1 FOR UPDATE", charge_id
        )

    async def set_charge(self, conn: Conn, charge_id: UUID, **fields: Any) -> asyncpg.Record:
        assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(fields, start=2))
        row = await conn.fetchrow(
            f"UPDATE subscription_charges SET {assignments} WHERE id = $1 RETURNING {_CHARGE}",
            charge_id,
            *fields.values(),
        )
        assert row is not None
        return row

    async def charges_of(self, subscription_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"""SELECT {_CHARGE} FROM subscription_charges WHERE subscription_id = $1
                ORDER BY created_at, period_number""",
            subscription_id,
        )

    async def open_charge(self, conn: Conn, subscription_id: UUID) -> asyncpg.Record | None:
        """A charge asked of the provider whose outcome has not arrived yet."""
        return await conn.fetchrow(
            f"""SELECT {_CHARGE} FROM subscription_charges
                WHERE subscription_id = $1 AND status = 'submitted' LIMIT 1""",
            subscription_id,
        )
