"""SQL of AI operations: bumping the aggregates, rolling append-only sources up to them, reading."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.insights.rules import HALF_LIFE_DAYS, NO_COMMUNITY
from lago_core.ledger.store import Conn

__all__ = ["InsightStore"]

DB = Conn | asyncpg.Pool

_ACTIVITY = ("views", "favourites", "searches", "orders", "gmv_fen")
_COMMUNITY_HOURS = ("members_joined", "messages")
_RISK = (
    "orders",
    "reports",
    "refunds",
    "cancellations",
    "ratings",
    "low_ratings",
    "reported_messages",
)

# The community an event of a user counts for: the first community they are a verified resident
# of (one for nearly everyone), the nil UUID for none. Used in hooks and in the roll-ups alike.
_HOME = """COALESCE((SELECT cm.community_id FROM community_members cm
                     WHERE cm.user_id = {user} AND cm.status = 'verified'
                     ORDER BY cm.community_id LIMIT 1), '{nil}'::uuid)"""


def _home(user: str) -> str:
    return _HOME.format(user=user, nil=NO_COMMUNITY)


def _bump_sql(table: str, keys: Sequence[str], fields: Sequence[str]) -> str:
    placeholders = ", ".join(f"${i}" for i in range(1, len(keys) + len(fields) + 1))
    updates = ", ".join(f"{f} = t.{f} + EXCLUDED.{f}" for f in fields)
    return (
        f"INSERT INTO {table} AS t ({', '.join([*keys, *fields])}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


async def _roll_up_batch(
    conn: Conn, taken: str, column: str, keep: str, after_id: int, before: datetime, batch: int
) -> tuple[int, int]:
    """Add one batch of an event log (``taken``: id, user_id, happened_at, category, reading
    $1-$3) to ``column`` of the hourly activity, counting only the rows ``keep`` admits: the last
    id taken (``after_id`` when none) and how many were taken (kept or not, so the cursor moves
    on)."""
    assert column in ("views", "searches")
    row = await conn.fetchrow(
        f"""
        WITH taken AS ({taken}), added AS (
            INSERT INTO insight_activity AS t (community_id, hour, category, {column})
            SELECT {_home("taken.user_id")}, date_trunc('hour', happened_at), category, count(*)
            FROM taken WHERE {keep}
            GROUP BY 1, 2, 3
            ON CONFLICT (community_id, hour, category)
            DO UPDATE SET {column} = t.{column} + EXCLUDED.{column}
        )
        SELECT max(id) AS last, count(*) AS n FROM taken
        """,
        after_id,
        before,
        batch,
    )
    assert row is not None
    return (row["last"] if row["last"] is not None else after_id), int(row["n"])


class InsightStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- bumps (inside the caller's transaction) -------------------------------------------------

    async def home_community(self, db: DB, user_id: UUID) -> UUID:
        community: UUID = await db.fetchval(f"SELECT {_home('$1')}", user_id)
        return community

    async def bump_activity(
        self, db: DB, community_id: UUID, category: str, hour: datetime, **counts: int
    ) -> None:
        fields = [f for f in _ACTIVITY if counts.get(f)]
        if not fields:
            return
        await db.execute(
            _bump_sql("insight_activity", ("community_id", "hour", "category"), fields),
            community_id,
            hour,
            category,
            *(counts[f] for f in fields),
        )

    async def bump_community_hour(
        self, db: DB, community_id: UUID, hour: datetime, **counts: int
    ) -> None:
        fields = [f for f in _COMMUNITY_HOURS if counts.get(f)]
        if not fields:
            return
        await db.execute(
            _bump_sql("insight_community_hours", ("community_id", "hour"), fields),
            community_id,
            hour,
            *(counts[f] for f in fields),
        )

    async def bump_risk(
        self, db: DB, kind: str, subject_id: UUID, community_id: UUID, day: date, **counts: int
    ) -> None:
        fields = [f for f in _RISK if counts.get(f)]
        if not fields:
            return
        await db.execute(
            _bump_sql(
                "insight_risk_days", ("subject_kind", "subject_id", "community_id", "day"), fields
            ),
            kind,
            subject_id,
            community_id,
            day,
            *(counts[f] for f in fields),
        )

    async def add_buyer(
        self,
        db: DB,
        merchant_id: UUID,
        buyer_id: UUID,
        community_id: UUID,
        gmv_fen: int,
        at: datetime,
    ) -> None:
        await db.execute(
            """INSERT INTO insight_merchant_buyers AS b
                   (merchant_id, buyer_id, community_id, orders, gmv_fen, first_paid_at,
                    last_paid_at)
               VALUES ($1, $2, $3, 1, $4, $5, $5)
               ON CONFLICT (merchant_id, buyer_id) DO UPDATE SET
                   orders = b.orders + 1, gmv_fen = b.gmv_fen + EXCLUDED.gmv_fen,
                   community_id = EXCLUDED.community_id,
                   last_paid_at = GREATEST(b.last_paid_at, EXCLUDED.last_paid_at)""",
            merchant_id,
            buyer_id,
            community_id,
            gmv_fen,
            at,
        )

    async def group_buy_order_context(self, db: DB, group_id: UUID) -> asyncpg.Record | None:
        """The community a group-buy order was formed in and what it sells (its category)."""
        return await db.fetchrow(
            """SELECT g.community_id, COALESCE(l.category, 'service') AS category,
                      c.listing_id
               FROM group_buys g JOIN group_buy_campaigns c ON c.id = g.campaign_id
               LEFT JOIN listings l ON l.id = c.listing_id
               WHERE g.id = $1""",
            group_id,
        )

    # --- listing reports -------------------------------------------------------------------------

    async def add_listing_report(
        self, conn: Conn, listing_id: UUID, reporter_id: UUID, reason: str, at: datetime
    ) -> UUID | None:
        """The new report's id; None when the reporter had reported the listing before."""
        report_id: UUID | None = await conn.fetchval(
            """INSERT INTO listing_reports (listing_id, reporter_id, reason, created_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (listing_id, reporter_id) DO NOTHING RETURNING id""",
            listing_id,
            reporter_id,
            reason,
            at,
        )
        return report_id

    # --- roll-ups from append-only sources -------------------------------------------------------

    async def lock_mark(self, conn: Conn, source: str) -> asyncpg.Record:
        await conn.execute(
            "INSERT INTO insight_marks (source) VALUES ($1) ON CONFLICT DO NOTHING", source
        )
        row = await conn.fetchrow(
            "SELECT * FROM insight_marks WHERE source = $1 FOR UPDATE", source
        )
        assert row is not None
        return row

    async def set_mark(
        self,
        conn: Conn,
        source: str,
        *,
        last_id: int | None = None,
        last_at: datetime | None = None,
        at: datetime,
    ) -> None:
        await conn.execute(
            """UPDATE insight_marks SET last_id = COALESCE($2, last_id),
                      last_at = COALESCE($3, last_at), updated_at = $4
               WHERE source = $1""",
            source,
            last_id,
            last_at,
            at,
        )

    async def roll_up_views(
        self, conn: Conn, after_id: int, before: datetime, batch: int
    ) -> tuple[int, int]:
        """Add views after ``after_id`` older than ``before`` (at most ``batch``): the last id
        taken (``after_id`` when none) and how many were taken."""
        return await _roll_up_batch(
            conn,
            """SELECT v.id, v.user_id, v.viewed_at AS happened_at, l.category
               FROM listing_views v JOIN listings l ON l.id = v.listing_id
               WHERE v.id > $1 AND v.viewed_at < $2
               ORDER BY v.id LIMIT $3""",
            "views",
            "TRUE",
            after_id,
            before,
            batch,
        )

    async def roll_up_searches(
        self, conn: Conn, after_id: int, before: datetime, batch: int
    ) -> tuple[int, int]:
        """Searches whose parsed intent names a category (the others name no category to heat);
        like :meth:`roll_up_views`."""
        return await _roll_up_batch(
            conn,
            """SELECT s.id, s.user_id, s.created_at AS happened_at,
                      s.intent->>'category' AS category
               FROM search_log s
               WHERE s.id > $1 AND s.created_at < $2
               ORDER BY s.id LIMIT $3""",
            "searches",
            "category IS NOT NULL AND char_length(category) <= 40",
            after_id,
            before,
            batch,
        )

    async def roll_up_favourites(self, conn: Conn, after: datetime, before: datetime) -> None:
        """Favourites made in [after, before). A favourite removed and made again is a new
        favourite (it has a new time); one removed before the roll-up saw it is not counted."""
        await conn.execute(
            f"""
            INSERT INTO insight_activity AS t (community_id, hour, category, favourites)
            SELECT {_home("f.user_id")}, date_trunc('hour', f.created_at), l.category, count(*)
            FROM listing_favourites f JOIN listings l ON l.id = f.listing_id
            WHERE f.created_at >= $1 AND f.created_at < $2
            GROUP BY 1, 2, 3
            ON CONFLICT (community_id, hour, category)
            DO UPDATE SET favourites = t.favourites + EXCLUDED.favourites
            """,
            after,
            before,
        )

    async def roll_up_messages(self, conn: Conn) -> int:
        """Archived chat messages after each community's mark; how many were added. The archive
        writes a community's events in sequence order, so a per-community mark skips none."""
        rows = await conn.fetch(
            """
            WITH marks AS (
                SELECT c.id AS community_id, COALESCE(m.last_seq, 0) AS last_seq
                FROM communities c LEFT JOIN insight_channel_marks m ON m.community_id = c.id
            ), taken AS (
                SELECT e.community_id, e.seq, e.created_at
                FROM marks k JOIN LATERAL (
                    SELECT community_id, seq, created_at FROM channel_events e
                    WHERE e.community_id = k.community_id AND e.type = 'chat.message'
                      AND e.seq > k.last_seq
                ) e ON true
            ), added AS (
                INSERT INTO insight_community_hours AS t (community_id, hour, messages)
                SELECT community_id, date_trunc('hour', created_at), count(*)
                FROM taken GROUP BY 1, 2
                ON CONFLICT (community_id, hour)
                DO UPDATE SET messages = t.messages + EXCLUDED.messages
            )
            SELECT community_id, max(seq) AS last_seq, count(*) AS n
            FROM taken GROUP BY community_id
            """
        )
        if rows:
            await conn.executemany(
                """INSERT INTO insight_channel_marks (community_id, last_seq) VALUES ($1, $2)
                   ON CONFLICT (community_id) DO UPDATE SET last_seq = EXCLUDED.last_seq""",
                [(r["community_id"], r["last_seq"]) for r in rows],
            )
        return sum(int(r["n"]) for r in rows)

    async def roll_up_message_reports(self, conn: Conn, after: datetime, before: datetime) -> None:
        """Reports of chat messages made in [after, before): against the message's author (a
        seller, when they sell) in the message's community. A message not archived yet has no
        known author and counts for nobody."""
        await conn.execute(
            """
            INSERT INTO insight_risk_days AS t
                (subject_kind, subject_id, community_id, day, reported_messages)
            SELECT 'seller', e.user_id, r.community_id,
                   (r.created_at AT TIME ZONE 'Asia/Shanghai')::date, count(*)
            FROM message_reports r
            JOIN channel_events e ON e.community_id = r.community_id AND e.seq = r.seq
            WHERE r.created_at >= $1 AND r.created_at < $2 AND e.user_id IS NOT NULL
            GROUP BY 1, 2, 3, 4
            ON CONFLICT (subject_kind, subject_id, community_id, day)
            DO UPDATE SET reported_messages = t.reported_messages + EXCLUDED.reported_messages
            """,
            after,
            before,
        )

    async def roll_up_conversation_reports(
        self, conn: Conn, after: datetime, before: datetime
    ) -> None:
        """Buyers' reports of private conversations (docs/conversations.md) made in [after,
        before): against the seller, or the merchant behind the listing, in the reporter's
        community. A seller reporting a buyer moves no score: buyers are not scored."""
        await conn.execute(
            f"""
            INSERT INTO insight_risk_days AS t
                (subject_kind, subject_id, community_id, day, reported_messages)
            SELECT CASE WHEN c.merchant_id IS NULL THEN 'seller' ELSE 'merchant' END,
                   COALESCE(c.merchant_id, c.seller_id), {_home("r.opened_by")},
                   (r.created_at AT TIME ZONE 'Asia/Shanghai')::date, count(*)
            FROM conversation_cases r
            JOIN conversations c ON c.id = r.conversation_id
            WHERE r.created_at >= $1 AND r.created_at < $2
              AND r.kind = 'report' AND r.side = 'buyer'
            GROUP BY 1, 2, 3, 4
            ON CONFLICT (subject_kind, subject_id, community_id, day)
            DO UPDATE SET reported_messages = t.reported_messages + EXCLUDED.reported_messages
            """,
            after,
            before,
        )

    # --- reading ---------------------------------------------------------------------------------

    async def hotness(
        self, communities: Sequence[UUID] | None, since: datetime, now: datetime
    ) -> list[asyncpg.Record]:
        """Per category: the decayed score and the plain totals since ``since`` (all
        communities when ``communities`` is None)."""
        return await self.pool.fetch(
            f"""
            SELECT category,
                   sum(power(0.5, extract(epoch FROM ($3 - hour)) / 86400.0 / {HALF_LIFE_DAYS})
                       * (views + 3 * favourites + 2 * searches + 5 * orders)) AS score,
                   sum(views)::bigint AS views, sum(favourites)::bigint AS favourites,
                   sum(searches)::bigint AS searches, sum(orders)::bigint AS orders,
                   sum(gmv_fen)::bigint AS gmv_fen
            FROM insight_activity
            WHERE hour >= $2 AND hour <= $3
              AND ($1::uuid[] IS NULL OR community_id = ANY($1::uuid[]))
            GROUP BY category
            """,
            communities,
            since,
            now,
        )

    async def slots(
        self, communities: Sequence[UUID] | None, categories: Sequence[str] | None, since: datetime
    ) -> list[asyncpg.Record]:
        """Interest by weekday/weekend, three-hour block (Asia/Shanghai) and category."""
        return await self.pool.fetch(
            """
            SELECT extract(isodow FROM hour AT TIME ZONE 'Asia/Shanghai') >= 6 AS weekend,
                   (extract(hour FROM hour AT TIME ZONE 'Asia/Shanghai')::int / 3) * 3 AS block,
                   category,
                   sum(views + 3 * favourites + 2 * searches + 5 * orders)::bigint AS score
            FROM insight_activity
            WHERE hour >= $3
              AND ($1::uuid[] IS NULL OR community_id = ANY($1::uuid[]))
              AND ($2::text[] IS NULL OR category = ANY($2::text[]))
            GROUP BY 1, 2, 3
            ORDER BY score DESC, category
            LIMIT 5
            """,
            communities,
            categories,
            since,
        )

    async def risk(
        self,
        communities: Sequence[UUID] | None,
        subjects: Sequence[tuple[str, UUID]] | None,
        since: date,
        until: date | None = None,
    ) -> list[asyncpg.Record]:
        """Summed risk counters per subject from ``since`` (to ``until``), within
        ``communities`` and/or limited to ``subjects``."""
        kinds = [k for k, _ in subjects] if subjects is not None else None
        ids = [i for _, i in subjects] if subjects is not None else None
        return await self.pool.fetch(
            """
            SELECT subject_kind, subject_id,
                   sum(orders)::int AS orders, sum(reports)::int AS reports,
                   sum(refunds)::int AS refunds, sum(cancellations)::int AS cancellations,
                   sum(ratings)::int AS ratings, sum(low_ratings)::int AS low_ratings,
                   sum(reported_messages)::int AS reported_messages
            FROM insight_risk_days
            WHERE day >= $1 AND ($2::date IS NULL OR day <= $2)
              AND ($3::uuid[] IS NULL OR community_id = ANY($3::uuid[]))
              AND ($4::text[] IS NULL
                   OR (subject_kind, subject_id) IN (SELECT * FROM unnest($4::text[], $5::uuid[])))
            GROUP BY subject_kind, subject_id
            """,
            since,
            until,
            communities,
            kinds,
            ids,
        )

    async def subject_names(self, kind: str, ids: Sequence[UUID]) -> dict[UUID, str]:
        sql = {
            "listing": "SELECT id, title AS name FROM listings WHERE id = ANY($1::uuid[])",
            "seller": "SELECT id, display_name AS name FROM users WHERE id = ANY($1::uuid[])",
            "merchant": "SELECT id, name FROM merchants WHERE id = ANY($1::uuid[])",
        }[kind]
        return {r["id"]: r["name"] for r in await self.pool.fetch(sql, list(ids))}

    async def merchant_listings(self, merchant_id: UUID) -> list[UUID]:
        rows = await self.pool.fetch("SELECT id FROM listings WHERE merchant_id = $1", merchant_id)
        return [r["id"] for r in rows]

    async def merchant_categories(self, merchant_id: UUID) -> list[str]:
        rows = await self.pool.fetch(
            """SELECT DISTINCT category FROM listings WHERE merchant_id = $1
               UNION SELECT 'service' FROM merchant_items WHERE merchant_id = $1""",
            merchant_id,
        )
        return [r["category"] for r in rows]

    async def merchant_communities(self, merchant_id: UUID) -> list[UUID]:
        rows = await self.pool.fetch(
            "SELECT community_id FROM merchant_communities WHERE merchant_id = $1", merchant_id
        )
        return [r["community_id"] for r in rows]

    async def staff_communities(self, user_id: UUID) -> list[UUID]:
        rows = await self.pool.fetch(
            """SELECT c.id FROM communities c
               JOIN property_staff s ON s.company_id = c.property_company_id
               WHERE s.user_id = $1""",
            user_id,
        )
        return [r["id"] for r in rows]

    async def window_sums(
        self, communities: Sequence[UUID], start: datetime, end: datetime
    ) -> dict[str, int]:
        row = await self.pool.fetchrow(
            """
            SELECT
              (SELECT COALESCE(sum(members_joined), 0) FROM insight_community_hours
               WHERE community_id = ANY($1::uuid[]) AND hour >= $2 AND hour < $3)::bigint
                AS members_joined,
              (SELECT COALESCE(sum(messages), 0) FROM insight_community_hours
               WHERE community_id = ANY($1::uuid[]) AND hour >= $2 AND hour < $3)::bigint
                AS messages,
              (SELECT COALESCE(sum(orders), 0) FROM insight_activity
               WHERE community_id = ANY($1::uuid[]) AND hour >= $2 AND hour < $3)::bigint
                AS orders,
              (SELECT COALESCE(sum(gmv_fen), 0) FROM insight_activity
               WHERE community_id = ANY($1::uuid[]) AND hour >= $2 AND hour < $3)::bigint
                AS gmv_fen
            """,
            list(communities),
            start,
            end,
        )
        assert row is not None
        return {k: int(v) for k, v in row.items()}

    async def live_window(self, announcement_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            """SELECT id, community_id, title, starts_at, NULL::uuid AS merchant_id
               FROM live_announcements WHERE id = $1 AND cancelled_at IS NULL""",
            announcement_id,
        )

    async def group_buy_window(self, group_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            """SELECT g.id, g.community_id, c.title, g.created_at AS starts_at,
                      COALESCE(g.ended_at, g.expires_at) AS ends_at, c.merchant_id
               FROM group_buys g JOIN group_buy_campaigns c ON c.id = g.campaign_id
               WHERE g.id = $1""",
            group_id,
        )

    async def event_window(self, event_id: UUID) -> asyncpg.Record | None:
        # Drafts never ran and cancelled events did not happen: neither has an effect to measure.
        return await self.pool.fetchrow(
            """SELECT id, community_id, title, starts_at, ends_at FROM events
               WHERE id = $1 AND status IN ('published', 'finished')""",
            event_id,
        )

    async def active_communities(self, since: datetime) -> list[UUID]:
        rows = await self.pool.fetch(
            """SELECT DISTINCT community_id FROM insight_activity WHERE hour >= $1
               UNION SELECT DISTINCT community_id FROM insight_risk_days
               WHERE day >= ($1 AT TIME ZONE 'Asia/Shanghai')::date""",
            since,
        )
        return [r["community_id"] for r in rows if r["community_id"].int != 0]

    async def active_merchants(self) -> list[UUID]:
        rows = await self.pool.fetch("SELECT id FROM merchants WHERE status = 'approved'")
        return [r["id"] for r in rows]

    async def community_staff(self, community_id: UUID) -> list[UUID]:
        rows = await self.pool.fetch(
            """SELECT s.user_id FROM communities c
               JOIN property_staff s ON s.company_id = c.property_company_id
               WHERE c.id = $1""",
            community_id,
        )
        return [r["user_id"] for r in rows]

    async def merchant_people(self, merchant_id: UUID) -> list[UUID]:
        rows = await self.pool.fetch(
            "SELECT user_id FROM merchant_members WHERE merchant_id = $1", merchant_id
        )
        return [r["user_id"] for r in rows]

    async def save_suggestions(
        self, kind: str, audience_id: UUID, week: date, items: list[dict[str, Any]], at: datetime
    ) -> asyncpg.Record:
        """The week's row: written the first time, returned as it is after that."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO insight_suggestions (audience_kind, audience_id, week, items,
                                                    created_at)
                   VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT DO NOTHING""",
                kind,
                audience_id,
                week,
                items,
                at,
            )
            row = await conn.fetchrow(
                """SELECT * FROM insight_suggestions
                   WHERE audience_kind = $1 AND audience_id = $2 AND week = $3""",
                kind,
                audience_id,
                week,
            )
        assert row is not None
        return row

    async def latest_suggestions(self, kind: str, audience_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            """SELECT * FROM insight_suggestions WHERE audience_kind = $1 AND audience_id = $2
               ORDER BY week DESC LIMIT 1""",
            kind,
            audience_id,
        )

    # --- portrait --------------------------------------------------------------------------------

    async def buyers(self, merchant_id: UUID, since: datetime) -> list[asyncpg.Record]:
        """The merchant's buyers who paid since ``since``, with what the portrait groups by;
        the demographic fields only where the buyer consented to give them."""
        return await self.pool.fetch(
            """
            SELECT b.buyer_id, b.orders, b.first_paid_at, b.community_id,
                   c.name AS community_name, c.address, d.gender, d.birth_year
            FROM insight_merchant_buyers b
            LEFT JOIN communities c ON c.id = b.community_id
            LEFT JOIN user_demographics d ON d.user_id = b.buyer_id
            WHERE b.merchant_id = $1 AND b.last_paid_at >= $2
            """,
            merchant_id,
            since,
        )

    async def demographics(self, user_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            "SELECT * FROM user_demographics WHERE user_id = $1", user_id
        )

    async def set_demographics(
        self, user_id: UUID, gender: str | None, birth_year: int | None, at: datetime
    ) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            """INSERT INTO user_demographics (user_id, gender, birth_year, consented_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (user_id) DO UPDATE SET gender = EXCLUDED.gender,
                   birth_year = EXCLUDED.birth_year, consented_at = EXCLUDED.consented_at
               RETURNING *""",
            user_id,
            gender,
            birth_year,
            at,
        )
        assert row is not None
        return row

    async def delete_demographics(self, user_id: UUID) -> None:
        await self.pool.execute("DELETE FROM user_demographics WHERE user_id = $1", user_id)
