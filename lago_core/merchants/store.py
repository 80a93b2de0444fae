"""SQL for merchants, their members and the communities they serve, registration and review,
qualification documents, store settings and the catalogue."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

__all__ = ["MerchantStore"]

MERCHANT_COLUMNS = """id, name, created_at, status, legal_name, credit_code,
    legal_representative, contact_phone, contact_email, address, business_scope, rejection_reason,
    submitted_at, decided_at, description, opening_hours, logo_key, updated_at"""
_DOCUMENT_COLUMNS = "id, merchant_id, kind, storage_key, content_type, size_bytes, created_at"
_ITEM_COLUMNS = "id, merchant_id, name, kind, price_fen, stock, active, created_at, updated_at"
# The registration fields an owner fills in; a fixed list, so column names never come from input.
REGISTRATION_FIELDS = (
    "legal_name",
    "credit_code",
    "legal_representative",
    "contact_phone",
    "address",
    "business_scope",
)
# Registration fields a submission does not need (the review decision is also e-mailed there).
OPTIONAL_REGISTRATION_FIELDS = ("contact_email",)
_ITEM_FIELDS = ("name", "price_fen", "active")


class MerchantStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, name: str, owner_id: UUID) -> asyncpg.Record:
        """The merchant and its owner together: a merchant without an owner must never exist."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"INSERT INTO merchants (name) VALUES ($1) RETURNING {MERCHANT_COLUMNS}", name
            )
            assert row is not None
            await conn.execute(
                "INSERT INTO merchant_members (merchant_id, user_id, role) VALUES ($1, $2, 'owner')",
                row["id"],
                owner_id,
            )
        return row

    async def merchant(self, merchant_id: UUID) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"SELECT {MERCHANT_COLUMNS} FROM merchants WHERE id = $1", merchant_id
        )

    async def role_of(self, user_id: UUID, merchant_id: UUID) -> str | None:
        role: str | None = await self._pool.fetchval(
            "SELECT role FROM merchant_members WHERE merchant_id = $1 AND user_id = $2",
            merchant_id,
            user_id,
        )
        return role

    async def add_staff(self, merchant_id: UUID, user_id: UUID) -> None:
        """Idempotent; an existing member (the owner included) keeps the role they have."""
        await self._pool.execute(
            """INSERT INTO merchant_members (merchant_id, user_id, role) VALUES ($1, $2, 'staff')
               ON CONFLICT (merchant_id, user_id) DO NOTHING""",
            merchant_id,
            user_id,
        )

    async def remove_staff(self, merchant_id: UUID, user_id: UUID) -> bool:
        status = await self._pool.execute(
            """DELETE FROM merchant_members
               WHERE merchant_id = $1 AND user_id = $2 AND role = 'staff'""",
            merchant_id,
            user_id,
        )
        return status.endswith(" 1")

    async def members(self, merchant_id: UUID) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """SELECT m.user_id, u.display_name, m.role, m.created_at
               FROM merchant_members m JOIN users u ON u.id = m.user_id
               WHERE m.merchant_id = $1
               ORDER BY m.role = 'staff', m.created_at, m.user_id""",
            merchant_id,
        )

    async def communities(self, merchant_id: UUID) -> list[UUID]:
        rows = await self._pool.fetch(
            """SELECT community_id FROM merchant_communities WHERE merchant_id = $1
               ORDER BY community_id""",
            merchant_id,
        )
        return [r["community_id"] for r in rows]

    async def bind_community(self, merchant_id: UUID, community_id: UUID) -> None:
        await self._pool.execute(
            """INSERT INTO merchant_communities (merchant_id, community_id) VALUES ($1, $2)
               ON CONFLICT DO NOTHING""",
            merchant_id,
            community_id,
        )

    async def unbind_community(self, merchant_id: UUID, community_id: UUID) -> bool:
        status = await self._pool.execute(
            "DELETE FROM merchant_communities WHERE merchant_id = $1 AND community_id = $2",
            merchant_id,
            community_id,
        )
        return status.endswith(" 1")

    async def merchants_of_user(self, user_id: UUID) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """SELECT mc.id, mc.name, mc.created_at, m.role
               FROM merchant_members m JOIN merchants mc ON mc.id = m.merchant_id
               WHERE m.user_id = $1
               ORDER BY mc.name, mc.id""",
            user_id,
        )

    # --- registration and review -----------------------------------------------------------------

    async def update_registration(
        self, merchant_id: UUID, fields: dict[str, Any], editable: Iterable[str], now: datetime
    ) -> asyncpg.Record | None:
        """Set registration fields while the status is one of ``editable``; None otherwise.

        Raises asyncpg.UniqueViolationError when the credit code belongs to another merchant.
        """
        names = [n for n in (*REGISTRATION_FIELDS, *OPTIONAL_REGISTRATION_FIELDS) if n in fields]
        sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=4))
        return await self._pool.fetchrow(
            f"""UPDATE merchants SET {sets + ", " if sets else ""}updated_at = $3
                WHERE id = $1 AND status = ANY($2::text[]) RETURNING {MERCHANT_COLUMNS}""",
            merchant_id,
            list(editable),
            now,
            *(fields[n] for n in names),
        )

    async def transition(
        self,
        merchant_id: UUID,
        allowed_from: Iterable[str],
        to_status: str,
        action: str,
        actor_id: UUID,
        reason: str | None,
        now: datetime,
    ) -> asyncpg.Record | None:
        """Move the merchant to ``to_status`` and log it, if it is in one of ``allowed_from``.

        One transaction with the row locked: two admins deciding at once serialise, the second
        finds the status already changed and gets None, and the log holds exactly the decisions
        that took effect.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            current: str | None = await conn.fetchval(
                "SELECT status FROM merchants WHERE id = $1 FOR UPDATE", merchant_id
            )
            if current is None or current not in set(allowed_from):
                return None
            submitting = action in ("submit", "resubmit")
            row = await conn.fetchrow(
                f"""UPDATE merchants SET status = $2, rejection_reason = $3, updated_at = $4,
                        submitted_at = CASE WHEN $5 THEN $4 ELSE submitted_at END,
                        decided_at = CASE WHEN $5 THEN decided_at ELSE $4 END
                    WHERE id = $1 RETURNING {MERCHANT_COLUMNS}""",
                merchant_id,
                to_status,
                reason if to_status == "rejected" else None,
                now,
                submitting,
            )
            await conn.execute(
                """INSERT INTO merchant_reviews
                       (merchant_id, action, from_status, to_status, actor_id, reason, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                merchant_id,
                action,
                current,
                to_status,
                actor_id,
                reason,
                now,
            )
        return row

    async def status(self, merchant_id: UUID) -> str | None:
        status: str | None = await self._pool.fetchval(
            "SELECT status FROM merchants WHERE id = $1", merchant_id
        )
        return status

    async def reviews(self, merchant_id: UUID) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            """SELECT r.id, r.action, r.from_status, r.to_status, r.actor_id,
                      u.display_name AS actor_name, r.reason, r.created_at
               FROM merchant_reviews r LEFT JOIN users u ON u.id = r.actor_id
               WHERE r.merchant_id = $1 ORDER BY r.id""",
            merchant_id,
        )

    async def merchants_by_status(
        self, statuses: Iterable[str], limit: int
    ) -> list[asyncpg.Record]:
        """Oldest submission first: the review queue is worked in order of arrival."""
        return await self._pool.fetch(
            f"""SELECT {MERCHANT_COLUMNS} FROM merchants WHERE status = ANY($1::text[])
                ORDER BY submitted_at NULLS LAST, created_at, id LIMIT $2""",
            list(statuses),
            limit,
        )

    # --- qualification documents -----------------------------------------------------------------

    async def add_document(
        self,
        merchant_id: UUID,
        kind: str,
        key: str,
        content_type: str,
        size: int,
        uploaded_by: UUID,
        editable: Iterable[str],
        now: datetime,
    ) -> asyncpg.Record | None:
        """Insert only while the merchant is editable, judged in the same statement, so that a
        document cannot slip in after the registration went to review."""
        return await self._pool.fetchrow(
            f"""INSERT INTO merchant_documents
                    (merchant_id, kind, storage_key, content_type, size_bytes, uploaded_by,
                     created_at)
                SELECT $1, $2, $3, $4, $5, $6, $7 FROM merchants
                WHERE id = $1 AND status = ANY($8::text[])
                RETURNING {_DOCUMENT_COLUMNS}""",
            merchant_id,
            kind,
            key,
            content_type,
            size,
            uploaded_by,
            now,
            list(editable),
        )

    async def documents(self, merchant_id: UUID) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            f"""SELECT {_DOCUMENT_COLUMNS} FROM merchant_documents WHERE merchant_id = $1
                ORDER BY created_at, id""",
            merchant_id,
        )

    async def has_document(self, merchant_id: UUID, kind: str) -> bool:
        found: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM merchant_documents WHERE merchant_id = $1 AND kind = $2)",
            merchant_id,
            kind,
        )
        return found

    async def delete_document(
        self, merchant_id: UUID, document_id: UUID, editable: Iterable[str]
    ) -> str | None:
        """The deleted document's storage key; None when there is none or it is not editable."""
        key: str | None = await self._pool.fetchval(
            """DELETE FROM merchant_documents d USING merchants m
               WHERE d.id = $2 AND d.merchant_id = $1 AND m.id = d.merchant_id
                 AND m.status = ANY($3::text[])
               RETURNING d.storage_key""",
            merchant_id,
            document_id,
            list(editable),
        )
        return key

    # --- store settings --------------------------------------------------------------------------

    async def update_settings(
        self,
        merchant_id: UUID,
        description: str | None,
        opening_hours: dict[str, Any] | None,
        community_ids: list[UUID] | None,
        now: datetime,
    ) -> asyncpg.Record | None:
        """Change what is given (None leaves a setting alone), the service area included, at once."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""UPDATE merchants SET description = coalesce($2, description),
                        opening_hours = coalesce($3, opening_hours), updated_at = $4
                    WHERE id = $1 RETURNING {MERCHANT_COLUMNS}""",
                merchant_id,
                description,
                opening_hours,
                now,
            )
            if row is not None and community_ids is not None:
                await conn.execute(
                    """DELETE FROM merchant_communities
                       WHERE merchant_id = $1 AND community_id <> ALL($2::uuid[])""",
                    merchant_id,
                    community_ids,
                )
                await conn.execute(
                    """INSERT INTO merchant_communities (merchant_id, community_id)
                       SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING""",
                    merchant_id,
                    community_ids,
                )
        return row

    async def set_logo(self, merchant_id: UUID, key: str, now: datetime) -> str | None:
        """Point the merchant at a new logo; returns the key it replaced (to delete), if any."""
        old: str | None = await self._pool.fetchval(
            """UPDATE merchants m SET logo_key = $2, updated_at = $3
               FROM (SELECT id, logo_key FROM merchants WHERE id = $1 FOR UPDATE) AS before
               WHERE m.id = before.id RETURNING before.logo_key""",
            merchant_id,
            key,
            now,
        )
        return old

    # --- catalogue -------------------------------------------------------------------------------

    async def create_item(
        self, merchant_id: UUID, name: str, kind: str, price_fen: int, stock: int, now: datetime
    ) -> asyncpg.Record:
        row = await self._pool.fetchrow(
            f"""INSERT INTO merchant_items
                    (merchant_id, name, kind, price_fen, stock, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {_ITEM_COLUMNS}""",
            merchant_id,
            name,
            kind,
            price_fen,
            stock,
            now,
        )
        assert row is not None
        return row

    async def item(self, item_id: UUID) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"SELECT {_ITEM_COLUMNS} FROM merchant_items WHERE id = $1", item_id
        )

    async def items(self, merchant_id: UUID, only_active: bool) -> list[asyncpg.Record]:
        return await self._pool.fetch(
            f"""SELECT {_ITEM_COLUMNS} FROM merchant_items
                WHERE merchant_id = $1 AND (active OR NOT $2)
                ORDER BY created_at, id""",
            merchant_id,
            only_active,
        )

    async def update_item(
        self, item_id: UUID, changes: dict[str, Any], now: datetime
    ) -> asyncpg.Record | None:
        names = [n for n in _ITEM_FIELDS if n in changes]
        sets = "".join(f", {n} = ${i}" for i, n in enumerate(names, start=3))
        return await self._pool.fetchrow(
            f"""UPDATE merchant_items SET updated_at = $2{sets} WHERE id = $1
                RETURNING {_ITEM_COLUMNS}""",
            item_id,
            now,
            *(changes[n] for n in names),
        )

    async def adjust_stock(
        self, item_id: UUID, delta: int, now: datetime, conn: asyncpg.Connection | None = None
    ) -> int | None:
        """Add ``delta`` (negative to take away) in one guarded statement; the new stock, or None
        when the item is missing or the stock would go below zero (nothing changes then).

        The guard in the WHERE clause is what makes concurrent reservations safe: each UPDATE
        waits for the row lock, then re-checks the condition against the committed stock.
        """
        executor = conn if conn is not None else self._pool
        stock: int | None = await executor.fetchval(
            """UPDATE merchant_items SET stock = stock + $2, updated_at = $3
               WHERE id = $1 AND stock + $2 >= 0 RETURNING stock""",
            item_id,
            delta,
            now,
        )
        return stock

    async def reserve_stock(
        self, item_id: UUID, qty: int, now: datetime, conn: asyncpg.Connection | None = None
    ) -> int | None:
        """Take ``qty`` from an active item of an approved merchant; the remaining stock, or None
        when that is not possible (nothing changes then)."""
        executor = conn if conn is not None else self._pool
        stock: int | None = await executor.fetchval(
            """UPDATE merchant_items i SET stock = i.stock - $2, updated_at = $3
               FROM merchants m
               WHERE i.id = $1 AND m.id = i.merchant_id AND m.status = 'approved'
                 AND i.active AND i.stock >= $2
               RETURNING i.stock""",
            item_id,
            qty,
            now,
        )
        return stock

    async def is_approved(self, merchant_id: UUID) -> bool:
        approved: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM merchants WHERE id = $1 AND status = 'approved')",
            merchant_id,
        )
        return approved
