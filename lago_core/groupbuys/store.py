"""SQL of group buys. Functions that take ``conn`` run inside the caller's transaction.

Lock order, the same on every path so that no two transactions deadlock: the group rows (in id
order), then the seat rows, then the campaign row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["GroupBuyStore"]

ACTIVE = ("reserved", "paid")


# GroupBuyStore.live_group_digests: a slice of live groups by id, then its seats counted.
_LIVE_DIGESTS = (
    "SELECT g.id, g.status, g.leader_id, c.reserved, c.paid "
    "FROM (SELECT id, status, leader_id FROM group_buys "
    "      WHERE community_id = $1 AND status IN ('open', 'succeeded') {after}"
    "      ORDER BY id LIMIT $2) g "
    "CROSS JOIN LATERAL ("
    "  SELECT count(*) FILTER (WHERE s.status = 'reserved') AS reserved, "
    "         count(*) FILTER (WHERE s.status = 'paid') AS paid "
    "  FROM group_buy_seats s "
    "  WHERE s.group_id = g.id AND s.status IN ('reserved', 'paid')) c "
    "ORDER BY g.id"
)
_LIVE_DIGESTS_FIRST = _LIVE_DIGESTS.format(after="")
_LIVE_DIGESTS_AFTER = _LIVE_DIGESTS.format(after="AND id > $3")


class GroupBuyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- campaigns -------------------------------------------------------------------------------

    async def insert_campaign(
        self, conn: Conn, fields: dict[str, Any], communities: list[UUID]
    ) -> asyncpg.Record:
        columns = list(fields)
        row = await conn.fetchrow(
            f"INSERT INTO group_buy_campaigns ({', '.join(columns)}) "
            f"VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))}) RETURNING *",
            *fields.values(),
        )
        await conn.executemany(
            "INSERT INTO group_buy_campaign_communities (campaign_id, community_id) "
            "VALUES ($1, $2)",
            [(fields["id"], c) for c in communities],
        )
        assert row is not None
        return row

    async def campaign(self, conn: Conn | None, campaign_id: UUID) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            "SELECT * FROM group_buy_campaigns WHERE id = $1", campaign_id
        )

    async def campaign_communities(self, campaign_id: UUID) -> list[UUID]:
        rows = await self.pool.fetch(
            "SELECT community_id FROM group_buy_campaign_communities WHERE campaign_id = $1 "
            "ORDER BY community_id",
            campaign_id,
        )
        return [r["community_id"] for r in rows]

    async def offered_in(self, campaign_id: UUID, community_id: UUID) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM group_buy_campaign_communities "
                "WHERE campaign_id = $1 AND community_id = $2)",
                campaign_id,
                community_id,
            )
        )

    async def campaigns_in(
        self, community_id: UUID, now: datetime, after: tuple[Any, ...] | None, limit: int
    ) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """
            SELECT c.* FROM group_buy_campaigns c
            JOIN group_buy_campaign_communities cc ON cc.campaign_id = c.id
            WHERE cc.community_id = $1 AND c.status = 'active'
              AND (c.ends_at IS NULL OR c.ends_at > $2)
              AND ($3::timestamptz IS NULL OR (c.created_at, c.id) < ($3, $4))
            ORDER BY c.created_at DESC, c.id DESC LIMIT $5
            """,
            community_id,
            now,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    async def campaigns_of(self, merchant_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM group_buy_campaigns WHERE merchant_id = $1 "
            "ORDER BY created_at DESC, id DESC LIMIT 200",
            merchant_id,
        )

    async def end_campaign(self, campaign_id: UUID, now: datetime) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "UPDATE group_buy_campaigns SET status = 'ended', updated_at = $2 "
            "WHERE id = $1 RETURNING *",
            campaign_id,
            now,
        )

    async def take_stock(self, conn: Conn, campaign_id: UUID, seats: int) -> bool:
        """Count ``seats`` more against the campaign's stock; False when it has too few left."""
        taken = await conn.fetchval(
            "UPDATE group_buy_campaigns SET seats_taken = seats_taken + $2 "
            "WHERE id = $1 AND (stock IS NULL OR seats_taken + $2 <= stock) RETURNING seats_taken",
            campaign_id,
            seats,
        )
        return taken is not None

    async def return_stock(self, conn: Conn, campaign_id: UUID, seats: int) -> None:
        if seats:
            await conn.execute(
                "UPDATE group_buy_campaigns SET seats_taken = seats_taken - $2 WHERE id = $1",
                campaign_id,
                seats,
            )

    # --- groups and seats (the channel actor's writes) -------------------------------------------

    async def live_groups(
        self, community_id: UUID, group_ids: list[UUID] | None = None
    ) -> list[asyncpg.Record]:
        """The community's open and succeeded groups (or those of ``group_ids``), oldest first."""
        select = (
            "SELECT g.*, c.title, c.group_price_fen, c.original_price_fen, c.per_user_limit, "
            "c.payment_window_s, c.merchant_id FROM group_buys g "
            "JOIN group_buy_campaigns c ON c.id = g.campaign_id "
            "WHERE g.community_id = $1 AND g.status IN ('open', 'succeeded') "
        )
        if group_ids is None:
            return await self.pool.fetch(select + "ORDER BY g.created_at, g.id", community_id)
        # Two statements, not one with "$2 IS NULL OR ...": a prepared statement's generic plan
        # would then scan every group of the community to reload one.
        return await self.pool.fetch(
            select + "AND g.id = ANY($2::uuid[]) ORDER BY g.created_at, g.id",
            community_id,
            group_ids,
        )

    async def live_group_digests(
        self, community_id: UUID, after: UUID | None, limit: int
    ) -> list[asyncpg.Record]:
        """Per live group of the community, by id after ``after``: status, leader and its
        reserved and paid seats (at most ``limit`` groups).

        What the channel actor compares with its memory to find groups changed elsewhere,
        without reading every seat. The slice is cut first, by the live-groups index from
        ``after`` on, and only its groups' seats are counted: written as one query with the
        counts beside the filter (``$2 IS NULL OR id > $2``), PostgreSQL's plan for the prepared
        statement counted the seats of every live group of the community before the limit —
        0.6–0.9 s at 20,000 groups, with every join of the channel waiting behind it.
        """
        if after is None:
            return await self.pool.fetch(_LIVE_DIGESTS_FIRST, community_id, limit)
        return await self.pool.fetch(_LIVE_DIGESTS_AFTER, community_id, limit, after)

    async def group(self, conn: Conn | None, group_id: UUID) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            "SELECT g.*, c.title, c.group_price_fen, c.original_price_fen, c.merchant_id, "
            "c.auto_fill FROM group_buys g JOIN group_buy_campaigns c ON c.id = g.campaign_id "
            "WHERE g.id = $1",
            group_id,
        )

    async def active_seats(self, conn: Conn | None, group_ids: list[UUID]) -> list[asyncpg.Record]:
        return await (conn or self.pool).fetch(
            "SELECT s.*, u.display_name AS name FROM group_buy_seats s "
            "JOIN users u ON u.id = s.user_id WHERE s.group_id = ANY($1::uuid[]) "
            "AND s.status IN ('reserved', 'paid') ORDER BY s.group_id, s.seat_no",
            group_ids,
        )

    async def seats_of_group(self, group_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT s.*, u.display_name AS name FROM group_buy_seats s "
            "JOIN users u ON u.id = s.user_id WHERE s.group_id = $1 ORDER BY s.joined_at, s.id",
            group_id,
        )

    async def share_groups(self, conn: Conn, group_ids: list[UUID]) -> dict[UUID, str]:
        """Lock the groups against ending while seats are added or released; their statuses."""
        rows = await conn.fetch(
            "SELECT id, status FROM group_buys WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE",
            group_ids,
        )
        return {r["id"]: r["status"] for r in rows}

    async def insert_group(self, conn: Conn, fields: dict[str, Any]) -> None:
        await conn.execute(
            "INSERT INTO group_buys (id, campaign_id, community_id, leader_id, min_members, "
            "max_members, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            fields["id"],
            fields["campaign_id"],
            fields["community_id"],
            fields["leader_id"],
            fields["min_members"],
            fields["max_members"],
            fields["expires_at"],
            fields["created_at"],
        )

    async def held_by_users(
        self, conn: Conn, campaign_id: UUID, user_ids: list[UUID]
    ) -> dict[UUID, int]:
        """Active seats each user holds in the campaign, across every community."""
        rows = await conn.fetch(
            "SELECT user_id, count(*) AS n FROM group_buy_seats WHERE campaign_id = $1 "
            "AND user_id = ANY($2::uuid[]) AND status IN ('reserved', 'paid') GROUP BY user_id",
            campaign_id,
            user_ids,
        )
        return {r["user_id"]: int(r["n"]) for r in rows}

    async def insert_seats(self, conn: Conn, seats: list[dict[str, Any]]) -> None:
        await conn.execute(
            """
            INSERT INTO group_buy_seats
                (id, group_id, max_members, campaign_id, user_id, seat_no, reserved_until,
                 joined_at)
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::uuid[], $5::uuid[],
                                 $6::int[], $7::timestamptz[], $8::timestamptz[])
            """,
            [s["id"] for s in seats],
            [s["group_id"] for s in seats],
            [s["max_members"] for s in seats],
            [s["campaign_id"] for s in seats],
            [s["user_id"] for s in seats],
            [s["seat_no"] for s in seats],
            [s["reserved_until"] for s in seats],
            [s["joined_at"] for s in seats],
        )

    async def take_seats(
        self,
        executor: asyncpg.Pool | Conn,
        kind: str,
        key: str,
        epoch: int,
        seats: list[dict[str, Any]],
        now: datetime,
    ) -> list[str | None] | None:
        """Seat a channel actor's batch in one statement (``sql/015_group_buy_take_seats.sql``).

        (``kind``, ``key``, ``epoch``) is the actor's fence. Returns None when a newer owner holds
        the actor (nothing written), else per seat None (taken) or the code it was refused with.
        """
        codes: list[str | None] | None = await executor.fetchval(
            "SELECT group_buy_take_seats($1, $2, $3, $4::uuid[], $5::uuid[], $6::uuid[], "
            "$7::int[], $8::timestamptz[], $9)",
            kind,
            key,
            epoch,
            [s["id"] for s in seats],
            [s["group_id"] for s in seats],
            [s["user_id"] for s in seats],
            [s["seat_no"] for s in seats],
            [s["reserved_until"] for s in seats],
            now,
        )
        return codes

    async def release_seats(
        self, conn: Conn, seat_ids: list[UUID], now: datetime, *, due_before: datetime | None = None
    ) -> list[asyncpg.Record]:
        """Release reserved (unpaid) seats; a seat paid meanwhile is left alone."""
        return await conn.fetch(
            "UPDATE group_buy_seats SET status = 'released', ended_at = $2 "
            "WHERE id = ANY($1::uuid[]) AND status = 'reserved' "
            "AND ($3::timestamptz IS NULL OR reserved_until <= $3) RETURNING *",
            seat_ids,
            now,
            due_before,
        )

    async def set_leader(self, conn: Conn, group_id: UUID, leader_id: UUID | None) -> None:
        await conn.execute(
            "UPDATE group_buys SET leader_id = $2 WHERE id = $1", group_id, leader_id
        )

    # --- payments, outcome (the capture hook and the expiry job) ---------------------------------

    async def seat(self, conn: Conn | None, seat_id: UUID) -> asyncpg.Record | None:
        return await (conn or self.pool).fetchrow(
            "SELECT * FROM group_buy_seats WHERE id = $1", seat_id
        )

    async def my_active_seat(self, group_id: UUID, user_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT * FROM group_buy_seats WHERE group_id = $1 AND user_id = $2 "
            "AND status IN ('reserved', 'paid')",
            group_id,
            user_id,
        )

    async def lock_group(self, conn: Conn, group_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT g.*, c.auto_fill, c.merchant_id, c.group_price_fen FROM group_buys g "
            "JOIN group_buy_campaigns c ON c.id = g.campaign_id WHERE g.id = $1 FOR UPDATE OF g",
            group_id,
        )

    async def lock_seat(self, conn: Conn, seat_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT * FROM group_buy_seats WHERE id = $1 FOR UPDATE", seat_id
        )

    async def insert_payment_link(
        self, conn: Conn, payment_id: UUID, seat_id: UUID, now: datetime
    ) -> None:
        await conn.execute(
            "INSERT INTO group_buy_payments (payment_id, seat_id, created_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (payment_id) DO NOTHING",
            payment_id,
            seat_id,
            now,
        )

    async def payment_link(self, conn: Conn, payment_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT * FROM group_buy_payments WHERE payment_id = $1", payment_id
        )

    async def mark_paid(
        self, conn: Conn, seat_id: UUID, payment_id: UUID, now: datetime
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "UPDATE group_buy_seats SET status = 'paid', payment_id = $2, paid_at = $3 "
            "WHERE id = $1 AND status = 'reserved' RETURNING *",
            seat_id,
            payment_id,
            now,
        )

    async def owe_refund(self, conn: Conn, payment_id: UUID, reason: str, now: datetime) -> None:
        await conn.execute(
            "UPDATE group_buy_payments SET refund_reason = $2, refund_owed_at = $3 "
            "WHERE payment_id = $1 AND refund_owed_at IS NULL",
            payment_id,
            reason,
            now,
        )

    async def refunds_owed(self) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT gp.*, p.amount_fen FROM group_buy_payments gp "
            "JOIN payments p ON p.id = gp.payment_id "
            "WHERE gp.refund_owed_at IS NOT NULL AND gp.refund_requested_at IS NULL "
            "ORDER BY gp.refund_owed_at LIMIT 500"
        )

    async def refund_requested(self, payment_id: UUID, now: datetime) -> None:
        await self.pool.execute(
            "UPDATE group_buy_payments SET refund_requested_at = $2 WHERE payment_id = $1",
            payment_id,
            now,
        )

    async def paid_count(self, conn: Conn, group_id: UUID) -> int:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM group_buy_seats WHERE group_id = $1 AND status = 'paid'",
                group_id,
            )
        )

    async def set_group_status(
        self, conn: Conn, group_id: UUID, status: str, now: datetime
    ) -> None:
        column = "succeeded_at" if status == "succeeded" else "ended_at"
        await conn.execute(
            f"UPDATE group_buys SET status = $2, {column} = $3 WHERE id = $1",
            group_id,
            status,
            now,
        )

    async def end_seats(
        self, conn: Conn, group_id: UUID, now: datetime, *, refund_paid: bool
    ) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
        """Release the group's reserved seats and, if ``refund_paid``, mark its paid seats
        refunded; returns (released, refunded)."""
        released = await conn.fetch(
            "UPDATE group_buy_seats SET status = 'released', ended_at = $2 "
            "WHERE group_id = $1 AND status = 'reserved' RETURNING *",
            group_id,
            now,
        )
        refunded: list[asyncpg.Record] = []
        if refund_paid:
            refunded = await conn.fetch(
                "UPDATE group_buy_seats SET status = 'refunded', ended_at = $2 "
                "WHERE group_id = $1 AND status = 'paid' RETURNING *",
                group_id,
                now,
            )
        return released, refunded

    async def payment_amount(self, conn: Conn, payment_id: UUID) -> int:
        """What the buyer paid for a seat's price (the group price less its coupons)."""
        return int(await conn.fetchval("SELECT amount_fen FROM payments WHERE id = $1", payment_id))

    async def payment_amounts(self, conn: Conn, payment_id: UUID) -> tuple[int, int]:
        """A seat payment's (amount, platform discount)."""
        row = await conn.fetchrow(
            "SELECT amount_fen, platform_discount_fen FROM payments WHERE id = $1", payment_id
        )
        assert row is not None
        return int(row["amount_fen"]), int(row["platform_discount_fen"])

    async def goods_scope(self, campaign_id: UUID) -> tuple[UUID | None, str]:
        """The campaign's listing and its category (a catalogue item has no category: "")."""
        row = await self.pool.fetchrow(
            "SELECT c.listing_id, COALESCE(l.category, '') AS category "
            "FROM group_buy_campaigns c LEFT JOIN listings l ON l.id = c.listing_id "
            "WHERE c.id = $1",
            campaign_id,
        )
        assert row is not None
        return row["listing_id"], row["category"]

    async def refund_seat(self, conn: Conn, seat_id: UUID, now: datetime) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "UPDATE group_buy_seats SET status = 'refunded', ended_at = $2 "
            "WHERE id = $1 AND status = 'paid' RETURNING *",
            seat_id,
            now,
        )

    async def create_orders(
        self, conn: Conn, group: asyncpg.Record, now: datetime
    ) -> list[asyncpg.Record]:
        """One order per paid seat of the group that has none yet."""
        return await conn.fetch(
            """
            INSERT INTO group_buy_orders
                (id, seat_id, group_id, campaign_id, merchant_id, buyer_id, payment_id, price_fen,
                 merchant_discount_fen, created_at, updated_at)
            SELECT gen_random_uuid(), s.id, s.group_id, s.campaign_id, $2, s.user_id,
                   s.payment_id, $3, p.merchant_discount_fen, $4, $4
            FROM group_buy_seats s JOIN payments p ON p.id = s.payment_id
            WHERE s.group_id = $1 AND s.status = 'paid'
            ON CONFLICT (seat_id) DO NOTHING
            RETURNING *
            """,
            group["id"],
            group["merchant_id"],
            group["group_price_fen"],
            now,
        )

    async def due_groups(self, now: datetime, limit: int = 200) -> list[UUID]:
        rows = await self.pool.fetch(
            "SELECT id FROM group_buys WHERE status IN ('open', 'succeeded') AND expires_at <= $1 "
            "ORDER BY expires_at LIMIT $2",
            now,
            limit,
        )
        return [r["id"] for r in rows]

    # --- reading ---------------------------------------------------------------------------------

    async def groups_in(
        self, community_id: UUID, after: tuple[Any, ...] | None, limit: int
    ) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """
            SELECT g.*, c.title, c.group_price_fen, c.original_price_fen, c.merchant_id,
                   (SELECT count(*) FROM group_buy_seats s
                     WHERE s.group_id = g.id AND s.status IN ('reserved', 'paid')) AS members,
                   (SELECT count(*) FROM group_buy_seats s
                     WHERE s.group_id = g.id AND s.status = 'paid') AS paid
            FROM group_buys g JOIN group_buy_campaigns c ON c.id = g.campaign_id
            WHERE g.community_id = $1
              AND ($2::timestamptz IS NULL OR (g.created_at, g.id) < ($2, $3))
            ORDER BY g.created_at DESC, g.id DESC LIMIT $4
            """,
            community_id,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )

    async def orders_of_merchant(
        self, merchant_id: UUID, after: tuple[Any, ...] | None, limit: int, status: str | None
    ) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM group_buy_orders WHERE merchant_id = $1 "
            "AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) "
            "AND ($5::text IS NULL OR status = $5) "
            "ORDER BY created_at DESC, id DESC LIMIT $4",
            merchant_id,
            after[0] if after else None,
            after[1] if after else None,
            limit,
            status,
        )

    async def order(self, order_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow("SELECT * FROM group_buy_orders WHERE id = $1", order_id)

    async def advance_order(
        self, conn: Conn, order_id: UUID, from_status: str, to_status: str, now: datetime
    ) -> asyncpg.Record | None:
        """Move the order on if it is in ``from_status``; completing it starts its T+7."""
        return await conn.fetchrow(
            "UPDATE group_buy_orders SET status = $3, updated_at = $4, "
            "completed_at = CASE WHEN $3 = 'completed' THEN $4 ELSE completed_at END "
            "WHERE id = $1 AND status = $2 RETURNING *",
            order_id,
            from_status,
            to_status,
            now,
        )

    async def lock_order(self, conn: Conn, order_id: UUID) -> asyncpg.Record | None:
        return await conn.fetchrow(
            "SELECT * FROM group_buy_orders WHERE id = $1 FOR UPDATE", order_id
        )

    async def mark_order_refunded(
        self, conn: Conn, order_id: UUID, reason: str, now: datetime
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            "UPDATE group_buy_orders SET status = 'refunded', refunded_at = $3, "
            "refund_reason = $2, updated_at = $3 WHERE id = $1 RETURNING *",
            order_id,
            reason,
            now,
        )
        assert row is not None
        return row

    async def my_latest_seat(self, user_id: UUID, group_id: UUID | None) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            """
            SELECT s.status AS seat_status, s.seat_no, s.reserved_until, s.group_id,
                   g.status, g.min_members, g.max_members, g.expires_at,
                   c.title, c.group_price_fen,
                   (SELECT count(*) FROM group_buy_seats o
                     WHERE o.group_id = g.id AND o.status IN ('reserved', 'paid')) AS members,
                   (SELECT count(*) FROM group_buy_seats o
                     WHERE o.group_id = g.id AND o.status = 'paid') AS paid
            FROM group_buy_seats s
            JOIN group_buys g ON g.id = s.group_id
            JOIN group_buy_campaigns c ON c.id = g.campaign_id
            WHERE s.user_id = $1 AND ($2::uuid IS NULL OR s.group_id = $2)
            ORDER BY s.joined_at DESC, s.id DESC LIMIT 1
            """,
            user_id,
            group_id,
        )

    async def orders_of_buyer(self, buyer_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM group_buy_orders WHERE buyer_id = $1 ORDER BY created_at DESC LIMIT 100",
            buyer_id,
        )
