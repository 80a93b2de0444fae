"""SQL for users, sessions and refresh tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.ledger.store import Conn

__all__ = ["IdentityStore"]

_USER_COLUMNS = "id, phone, display_name, platform_role, status, created_at"


class IdentityStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def create_user(
        self,
        phone: str,
        password_hash: str,
        display_name: str,
        verified_at: datetime,
        platform_role: str | None = None,
        *,
        conn: Conn | None = None,
    ) -> asyncpg.Record | None:
        """Insert a user; None when the phone is already registered."""
        return await (conn or self._pool).fetchrow(
            f"""
            INSERT INTO users (phone, password_hash, display_name, phone_verified_at, platform_role)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (phone) DO NOTHING
            RETURNING {_USER_COLUMNS}
            """,
            phone,
            password_hash,
            display_name,
            verified_at,
            platform_role,
        )

    async def user_by_phone(self, phone: str) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE phone = $1", phone
        )

    async def user_by_id(self, user_id: UUID) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id
        )

    async def set_password(self, user_id: UUID, password_hash: str) -> None:
        await self._pool.execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
            user_id,
            password_hash,
        )

    async def set_platform_role(self, user_id: UUID, role: str | None) -> bool:
        status = await self._pool.execute(
            "UPDATE users SET platform_role = $2, updated_at = now() WHERE id = $1", user_id, role
        )
        return status.endswith(" 1")

    async def create_session(
        self,
        user_id: UUID,
        token_hash: str,
        now: datetime,
        expires_at: datetime,
        user_agent: str | None,
    ) -> UUID:
        async with self._pool.acquire() as conn, conn.transaction():
            session_id: UUID = await conn.fetchval(
                """
                INSERT INTO sessions (user_id, created_at, expires_at, user_agent)
                VALUES ($1, $2, $3, $4) RETURNING id
                """,
                user_id,
                now,
                expires_at,
                user_agent,
            )
            await conn.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)",
                token_hash,
                session_id,
                now,
            )
        return session_id

    async def rotate_refresh_token(
        self, old_hash: str, new_hash: str, now: datetime
    ) -> tuple[str, Any]:
        """Swap a refresh token for a new one in the same session.

        Returns ``("ok", row)``, ``("unknown", None)``, ``("expired", row)`` or
        ``("reused", row)``; a reuse revokes the session, because only a copied token can be
        presented after its rotation.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """
                SELECT t.used_at, s.id AS session_id, s.user_id, s.expires_at, s.revoked_at,
                       u.status
                FROM refresh_tokens t
                JOIN sessions s ON s.id = t.session_id
                JOIN users u ON u.id = s.user_id
                WHERE t.token_hash = $1
                FOR UPDATE OF t, s
                """,
                old_hash,
            )
            if row is None:
                return "unknown", None
            if row["revoked_at"] is not None or row["status"] != "active":
                return "revoked", row
            if row["used_at"] is not None:
                await conn.execute(
                    "UPDATE sessions SET revoked_at = $2 WHERE id = $1", row["session_id"], now
                )
                return "reused", row
            if row["expires_at"] <= now:
                return "expired", row
            await conn.execute(
                "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1", old_hash, now
            )
            await conn.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)",
                new_hash,
                row["session_id"],
                now,
            )
            return "ok", row

    async def session_of_refresh_token(self, token_hash: str) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            """
            SELECT s.id, s.user_id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
            WHERE t.token_hash = $1
            """,
            token_hash,
        )

    async def revoke_session(self, session_id: UUID, now: datetime) -> None:
        await self._pool.execute(
            "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            session_id,
            now,
        )

    async def revoke_all_sessions(self, user_id: UUID, now: datetime) -> None:
        await self._pool.execute(
            "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            user_id,
            now,
        )

    async def active_principals(
        self, keys: list[tuple[UUID, UUID]], now: datetime
    ) -> dict[tuple[UUID, UUID], asyncpg.Record]:
        """The users behind live sessions, by (session id, user id): not revoked, not expired,
        the account active. Pairs whose session is not live (or not that user's) are left out."""
        rows = await self._pool.fetch(
            """
            SELECT s.id AS session_id, u.id, u.platform_role
            FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id = ANY($1::uuid[]) AND s.revoked_at IS NULL AND s.expires_at > $2
              AND u.status = 'active'
            """,
            [session_id for session_id, _ in keys],
            now,
        )
        wanted = set(keys)
        found = {(row["session_id"], row["id"]): row for row in rows}
        return {key: row for key, row in found.items() if key in wanted}

    async def active_sessions(self, session_ids: list[UUID], now: datetime) -> set[UUID]:
        """The live sessions among ``session_ids`` (as :meth:`active_principals` decides)."""
        rows = await self._pool.fetch(
            """
            SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id = ANY($1::uuid[]) AND s.revoked_at IS NULL AND s.expires_at > $2
              AND u.status = 'active'
            """,
            session_ids,
            now,
        )
        return {row["id"] for row in rows}

    async def delete_expired_sessions(self, before: datetime) -> int:
        status = await self._pool.execute(
            "DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1", before
        )
        return int(status.split()[-1])
