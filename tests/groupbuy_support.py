"""Helpers for the group-buy tests: a merchant with a campaign, many residents at once, paying."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from lago_core.container import Core
from lago_core.security.roles import PlatformRole, Principal

from .conftest import Account, CommunityWorld

Client = TestClient[Any, Any]
API = "/api/v1"


@dataclass
class Resident:
    id: uuid.UUID
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def bulk_residents(core: Core, community_id: str, count: int) -> list[Resident]:
    """``count`` verified residents with live sessions, inserted in bulk (no password hashing:
    nobody logs in with a password here)."""
    now = core.clock.now()
    users = [uuid.uuid4() for _ in range(count)]
    sessions = [uuid.uuid4() for _ in range(count)]
    tag = uuid.uuid4().int % 1_000_000
    async with core.pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "users",
            columns=["id", "phone", "password_hash", "display_name", "phone_verified_at"],
            records=[
                (uid, f"+8615{tag:06d}{i:04d}", "!", f"邻居{i}", now) for i, uid in enumerate(users)
            ],
        )
        await conn.copy_records_to_table(
            "community_members",
            columns=["community_id", "user_id", "status", "decided_at"],
            records=[(uuid.UUID(community_id), uid, "verified", now) for uid in users],
        )
        await conn.copy_records_to_table(
            "sessions",
            columns=["id", "user_id", "created_at", "expires_at", "user_agent"],
            records=[
                (sid, uid, now, now.replace(year=now.year + 1), "pytest")
                for sid, uid in zip(sessions, users, strict=True)
            ],
        )
    return [
        Resident(uid, core.tokens.issue_access(uid, sid, now)[0])
        for uid, sid in zip(users, sessions, strict=True)
    ]


async def call(
    client: Client,
    who: Any,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    response = await client.request(
        method, API + path, json=body, headers={**who.headers, **(headers or {})}
    )
    return response.status, await response.json()


async def merchant_with_item(
    core: Core, approve: Any, owner: Account, community: CommunityWorld
) -> tuple[uuid.UUID, uuid.UUID]:
    """An approved merchant serving the community, with a catalogue item; (merchant, item)."""
    principal = Principal(owner.id, uuid.uuid4())
    admin = Principal(community.admin.id, uuid.uuid4(), PlatformRole.ADMIN)
    row = await core.merchants.create(principal, f"亲子乐园{uuid.uuid4().hex[:6]}")
    await approve(owner, row["id"])
    await core.merchants.bind_community(admin, row["id"], uuid.UUID(community.id))
    item = await core.merchants.create_item(principal, row["id"], "乐高课程", "service", 20_000, 50)
    return row["id"], item["id"]


async def campaign(
    client: Client,
    owner: Account,
    merchant_id: uuid.UUID,
    item_id: uuid.UUID,
    community: CommunityWorld,
    **overrides: Any,
) -> dict[str, Any]:
    body = {
        "merchant_id": str(merchant_id),
        "item_id": str(item_id),
        "title": "乐高课三人团",
        "group_price_fen": 9_900,
        "original_price_fen": 15_000,
        "min_members": 3,
        "max_members": 5,
        "community_ids": [community.id],
    } | overrides
    status, data = await call(client, owner, "POST", "/group-buy-campaigns", body)
    assert status == 201, data
    return dict(data)
