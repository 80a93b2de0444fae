"""SQL for buyer–seller conversations: the conversations, their messages, blocks and cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["BlockedBy", "ClientIdTaken", "ConversationStore", "ImageNotUploaded", "SendOutcome"]

# A conversation's row with what every view shows: the listing's title and first image, the
# names of both sides, and whether customer service may read it.
_VIEW = """
    SELECT c.*, l.title AS listing_title, l.images[1] AS listing_image,
           l.status AS listing_status, l.kind AS listing_kind,
           COALESCE(l.price_fen, l.rent_per_day_fen) AS listing_price_fen,
           bu.display_name AS buyer_name,
           COALESCE(m.name, su.display_name) AS seller_name,
           EXISTS (SELECT 1 FROM conversation_cases k WHERE k.conversation_id = c.id) AS has_case,
           lm.text AS last_text, lm.image_key AS last_image_key, lm.side AS last_side
    FROM conversations c
    JOIN listings l ON l.id = c.listing_id
    JOIN users bu ON bu.id = c.buyer_id
    JOIN users su ON su.id = c.seller_id
    LEFT JOIN merchants m ON m.id = c.merchant_id
    LEFT JOIN conversation_messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq
"""

_MESSAGE = "conversation_id, seq, sender_id, side, client_msg_id, text, image_key, created_at"


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """A stored message; ``duplicate`` when it was stored by an earlier send of the same id.

    ``first_unread`` says the recipient had read everything before it: the one message of a
    streak that tells them through the notification centre."""

    message: asyncpg.Record
    duplicate: bool
    first_unread: bool = False


class BlockedBy(Exception):
    """A send refused by a block; ``side`` is who blocked."""

    def __init__(self, side: str) -> None:
        super().__init__(side)
        self.side = side


class ClientIdTaken(Exception):
    """The client message id was used in this conversation by the other sender."""


class ImageNotUploaded(Exception):
    """A message's image key is neither a pending upload of this conversation nor an image one
    of its messages carries (never uploaded, or swept after a day unsent)."""


class ConversationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- conversations -----------------------------------------------------------------------------

    async def get_or_create(
        self,
        conversation_id: UUID,
        listing_id: UUID,
        buyer_id: UUID,
        seller_id: UUID,
        merchant_id: UUID | None,
        now: datetime,
    ) -> tuple[UUID, bool]:
        """The id of the (listing, buyer) conversation, and whether this call made it."""
        made: UUID | None = await self.pool.fetchval(
            """
            INSERT INTO conversations (id, listing_id, buyer_id, seller_id, merchant_id, created_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (listing_id, buyer_id) DO NOTHING
            RETURNING id
            """,
            conversation_id,
            listing_id,
            buyer_id,
            seller_id,
            merchant_id,
            now,
        )
        if made is not None:
            return made, True
        found: UUID = await self.pool.fetchval(
            "SELECT id FROM conversations WHERE listing_id = $1 AND buyer_id = $2",
            listing_id,
            buyer_id,
        )
        return found, False

    async def conversation(self, conversation_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(f"{_VIEW} WHERE c.id = $1", conversation_id)

    async def conversation_of(self, listing_id: UUID, buyer_id: UUID) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            f"{_VIEW} WHERE c.listing_id = $1 AND c.buyer_id = $2", listing_id, buyer_id
        )

    async def of_party(
        self,
        user_id: UUID | None,
        merchant_id: UUID | None,
        before: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """A user's conversations as buyer or resident seller (``user_id``), or a merchant's
        (``merchant_id``), most recently active first; never-used ones by their creation."""
        return await self.pool.fetch(
            f"""
            {_VIEW}
            WHERE (($1::uuid IS NOT NULL
                    AND (c.buyer_id = $1 OR (c.merchant_id IS NULL AND c.seller_id = $1)))
                   OR ($2::uuid IS NOT NULL AND c.merchant_id = $2))
              AND ($3::timestamptz IS NULL
                   OR (COALESCE(c.last_message_at, c.created_at), c.id) < ($3, $4::uuid))
            ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC
            LIMIT $5
            """,
            user_id,
            merchant_id,
            before[0] if before else None,
            before[1] if before else None,
            limit,
        )

    async def unread_total(self, user_id: UUID) -> int:
        """Unread messages over a user's conversations as buyer or resident seller."""
        total: int = await self.pool.fetchval(
            """
            SELECT COALESCE(SUM(CASE WHEN buyer_id = $1 THEN last_seq - buyer_read_seq
                                     ELSE last_seq - seller_read_seq END), 0)::bigint
            FROM conversations
            WHERE buyer_id = $1 OR (merchant_id IS NULL AND seller_id = $1)
            """,
            user_id,
        )
        return total

    async def unread_of_merchant(self, merchant_id: UUID) -> int:
        """Unread messages over a merchant's conversations (its side's read positions)."""
        total: int = await self.pool.fetchval(
            """SELECT COALESCE(SUM(last_seq - seller_read_seq), 0)::bigint FROM conversations
               WHERE merchant_id = $1""",
            merchant_id,
        )
        return total

    # --- messages ----------------------------------------------------------------------------------

    async def send(
        self,
        conversation_id: UUID,
        sender_id: UUID,
        side: str,
        client_msg_id: str,
        text: str,
        image_key: str | None,
        now: datetime,
    ) -> SendOutcome:
        """Store a message under the conversation's lock, numbered after the last one.

        Raises :class:`BlockedBy` when either side blocked the other (in any conversation of the
        pair) and :class:`ClientIdTaken` when the other sender used the id."""
        other = "seller" if side == "buyer" else "buyer"
        async with self.pool.acquire() as conn, conn.transaction():
            conv = await conn.fetchrow(
                "SELECT * FROM conversations WHERE id = $1 FOR UPDATE", conversation_id
            )
            assert conv is not None
            earlier = await conn.fetchrow(
                f"""SELECT {_MESSAGE} FROM conversation_messages
                    WHERE conversation_id = $1 AND client_msg_id = $2""",
                conversation_id,
                client_msg_id,
            )
            if earlier is not None:
                if earlier["sender_id"] != sender_id:
                    raise ClientIdTaken(client_msg_id)
                return SendOutcome(earlier, duplicate=True)
            blocks = await conn.fetchrow(
                """
                SELECT bool_or(buyer_blocked_at IS NOT NULL) AS buyer,
                       bool_or(seller_blocked_at IS NOT NULL) AS seller
                FROM conversations
                WHERE buyer_id = $1 AND COALESCE(merchant_id, seller_id) = $2
                """,
                conv["buyer_id"],
                conv["merchant_id"] or conv["seller_id"],
            )
            for blocker in (other, side):
                if blocks is not None and blocks[blocker]:
                    raise BlockedBy(blocker)
            if image_key is not None and not await self._take_image(
                conn, conversation_id, image_key
            ):
                raise ImageNotUploaded(image_key)
            seq = conv["last_seq"] + 1
            first_unread = conv[f"{other}_read_seq"] == conv["last_seq"]
            await conn.execute(
                f"""UPDATE conversations SET last_seq = $2, last_message_at = $3,
                           {side}_read_seq = $2
                    WHERE id = $1""",
                conversation_id,
                seq,
                now,
            )
            message = await conn.fetchrow(
                f"""
                INSERT INTO conversation_messages
                    (conversation_id, seq, sender_id, side, client_msg_id, text, image_key,
                     created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                RETURNING {_MESSAGE}
                """,
                conversation_id,
                seq,
                sender_id,
                side,
                client_msg_id,
                text,
                image_key,
                now,
            )
        assert message is not None
        return SendOutcome(message, duplicate=False, first_unread=first_unread)

    @staticmethod
    async def _take_image(conn: Conn, conversation_id: UUID, image_key: str) -> bool:
        """The pending upload becomes the message's (its row goes, so the sweep keeps the file);
        an image already sent here may be sent again."""
        taken = await conn.fetchval(
            """DELETE FROM conversation_uploads WHERE image_key = $1 AND conversation_id = $2
               RETURNING 1""",
            image_key,
            conversation_id,
        )
        if taken is not None:
            return True
        sent = await conn.fetchval(
            """SELECT 1 FROM conversation_messages WHERE conversation_id = $1 AND image_key = $2
               LIMIT 1""",
            conversation_id,
            image_key,
        )
        return sent is not None

    # --- uploads -----------------------------------------------------------------------------------

    async def record_upload(
        self, image_key: str, conversation_id: UUID, uploaded_by: UUID, now: datetime
    ) -> None:
        await self.pool.execute(
            """INSERT INTO conversation_uploads (image_key, conversation_id, uploaded_by, created_at)
               VALUES ($1, $2, $3, $4)""",
            image_key,
            conversation_id,
            uploaded_by,
            now,
        )

    async def take_unsent_uploads(self, uploaded_before: datetime, limit: int) -> list[str]:
        """Forget up to ``limit`` uploads older than ``uploaded_before`` that no message took;
        their keys, whose files the caller deletes (a send after this is refused)."""
        rows = await self.pool.fetch(
            """DELETE FROM conversation_uploads WHERE image_key IN (
                   SELECT image_key FROM conversation_uploads WHERE created_at < $1
                   ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
               RETURNING image_key""",
            uploaded_before,
            limit,
        )
        return [r["image_key"] for r in rows]

    async def messages_before(
        self, conversation_id: UUID, before: int | None, limit: int
    ) -> list[asyncpg.Record]:
        """Up to ``limit`` messages with ``seq < before`` (all when None), newest first."""
        return await self.pool.fetch(
            f"""SELECT {_MESSAGE} FROM conversation_messages
                WHERE conversation_id = $1 AND ($2::bigint IS NULL OR seq < $2)
                ORDER BY seq DESC LIMIT $3""",
            conversation_id,
            before,
            limit,
        )

    async def messages_after(
        self, conversation_id: UUID, since: int, limit: int
    ) -> list[asyncpg.Record]:
        """Up to ``limit`` messages with ``seq > since``, oldest first (recovery)."""
        return await self.pool.fetch(
            f"""SELECT {_MESSAGE} FROM conversation_messages
                WHERE conversation_id = $1 AND seq > $2
                ORDER BY seq LIMIT $3""",
            conversation_id,
            since,
            limit,
        )

    async def mark_read(self, conversation_id: UUID, side: str, seq: int) -> tuple[int, int]:
        """Move a side's read position forward to ``seq`` (at most the last message).
        (the position after, the last message's seq)"""
        row = await self.pool.fetchrow(
            f"""UPDATE conversations
                SET {side}_read_seq = GREATEST({side}_read_seq, LEAST($2, last_seq))
                WHERE id = $1 RETURNING {side}_read_seq AS read, last_seq""",
            conversation_id,
            seq,
        )
        assert row is not None
        return int(row["read"]), int(row["last_seq"])

    # --- blocks ------------------------------------------------------------------------------------

    async def block(self, conversation_id: UUID, side: str, now: datetime) -> None:
        await self.pool.execute(
            f"""UPDATE conversations SET {side}_blocked_at = COALESCE({side}_blocked_at, $2)
                WHERE id = $1""",
            conversation_id,
            now,
        )

    async def unblock(self, conversation_id: UUID, side: str) -> None:
        """Lift the side's block in every conversation of the pair (a block is of the person)."""
        await self.pool.execute(
            f"""
            UPDATE conversations o SET {side}_blocked_at = NULL
            FROM conversations c
            WHERE c.id = $1 AND o.buyer_id = c.buyer_id
              AND COALESCE(o.merchant_id, o.seller_id) = COALESCE(c.merchant_id, c.seller_id)
            """,
            conversation_id,
        )

    async def blocks_of_pair(self, conversation_id: UUID) -> dict[str, bool]:
        row = await self.pool.fetchrow(
            """
            SELECT COALESCE(bool_or(o.buyer_blocked_at IS NOT NULL), false) AS buyer,
                   COALESCE(bool_or(o.seller_blocked_at IS NOT NULL), false) AS seller
            FROM conversations c
            JOIN conversations o ON o.buyer_id = c.buyer_id
             AND COALESCE(o.merchant_id, o.seller_id) = COALESCE(c.merchant_id, c.seller_id)
            WHERE c.id = $1
            """,
            conversation_id,
        )
        assert row is not None
        return {"buyer": bool(row["buyer"]), "seller": bool(row["seller"])}

    # --- cases (reports and escalations) -----------------------------------------------------------

    async def open_case(self, values: dict[str, Any]) -> tuple[asyncpg.Record, bool] | None:
        """Insert a case, or return the party's open case of the same kind: (row, new); None
        when the case kept changing under us."""
        async with self.pool.acquire() as conn:
            # The open case the insert collided with may be closed by customer service before we
            # read it; then nothing blocks a new one, so insert again (a close needs a person, so
            # this settles in a round or two).
            for _ in range(5):
                row = await conn.fetchrow(
                    """
                    INSERT INTO conversation_cases
                        (id, conversation_id, kind, opened_by, side, reason, seq, created_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    ON CONFLICT (conversation_id, opened_by, kind) WHERE status = 'open' DO NOTHING
                    RETURNING *
                    """,
                    values["id"],
                    values["conversation_id"],
                    values["kind"],
                    values["opened_by"],
                    values["side"],
                    values["reason"],
                    values["seq"],
                    values["created_at"],
                )
                if row is not None:
                    return row, True
                found = await conn.fetchrow(
                    """SELECT * FROM conversation_cases
                       WHERE conversation_id = $1 AND opened_by = $2 AND kind = $3
                         AND status = 'open'""",
                    values["conversation_id"],
                    values["opened_by"],
                    values["kind"],
                )
                if found is not None:
                    return found, False
        return None

    async def cases(
        self,
        status: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
        conversation_id: UUID | None = None,
    ) -> list[asyncpg.Record]:
        """Cases oldest first, with the conversation's listing and parties."""
        return await self.pool.fetch(
            """
            SELECT k.*, c.listing_id, l.title AS listing_title, c.buyer_id, c.seller_id,
                   c.merchant_id, bu.display_name AS buyer_name,
                   COALESCE(m.name, su.display_name) AS seller_name, c.last_seq
            FROM conversation_cases k
            JOIN conversations c ON c.id = k.conversation_id
            JOIN listings l ON l.id = c.listing_id
            JOIN users bu ON bu.id = c.buyer_id
            JOIN users su ON su.id = c.seller_id
            LEFT JOIN merchants m ON m.id = c.merchant_id
            WHERE ($1::text IS NULL OR k.status = $1)
              AND ($4::uuid IS NULL OR k.conversation_id = $4)
              AND ($2::timestamptz IS NULL OR (k.created_at, k.id) > ($2, $5::uuid))
            ORDER BY k.created_at, k.id
            LIMIT $3
            """,
            status,
            after[0] if after else None,
            limit,
            conversation_id,
            after[1] if after else None,
        )

    async def close_case(
        self, case_id: UUID, status: str, handled_by: UUID, note: str | None, now: datetime
    ) -> asyncpg.Record | None:
        """Close an open case; None when there is no such case. An already closed case is
        returned as it is (closing twice is not an error, nor a second decision)."""
        row = await self.pool.fetchrow(
            """UPDATE conversation_cases
               SET status = $2, handled_by = $3, note = $4, handled_at = $5
               WHERE id = $1 AND status = 'open' RETURNING *""",
            case_id,
            status,
            handled_by,
            note,
            now,
        )
        if row is not None:
            return row
        return await self.pool.fetchrow("SELECT * FROM conversation_cases WHERE id = $1", case_id)
