"""Virtual numbers (虚拟号): guidance without a plan, numbers bound to a buyer–seller pair from
the sandbox pool, the basic plan's 30 distinct buyers a month (also under concurrent asks),
the pro plan's unlimited, expiry unbinding, and call records as signed callbacks applied once."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.errors import NotFound
from lago_core.payments import SIGNATURE_HEADER
from lago_core.security.roles import MemberStatus, Principal
from lago_core.settings import Settings
from workers import create_worker

from .conftest import Account

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[Account]]
WEBHOOK = "/api/v1/payments/webhooks/sandbox"
CALLS = "/api/v1/virtual-numbers/webhooks/sandbox"
LISTING = {
    "title": "任天堂 Switch",
    "description": "九成新",
    "category": "game_console",
    "condition": "like_new",
    "kind": "sale",
    "price_fen": 120_000,
}


def principal(account: Account) -> Principal:
    return Principal(user_id=account.id, session_id=uuid.uuid4())


async def run_worker(settings: Settings, core: Core) -> None:
    worker = create_worker(settings, core=core, burst=True, handle_signals=False, cron_jobs=[])
    try:
        await worker.main()
    finally:
        await worker.close()


@pytest.fixture
def webhook_target(core: Core, client: Client) -> None:
    core.settings = dataclasses.replace(
        core.settings, sandbox_webhook_url=str(client.make_url(WEBHOOK))
    )


async def listing_of(client: Client, seller: Account) -> str:
    response = await client.post("/api/v1/listings", json=LISTING, headers=seller.headers)
    assert response.status == 201
    return str((await response.json())["id"])


async def grant(client: Client, admin: Account, seller: Account, plan: str) -> None:
    response = await client.post(
        "/api/v1/subscriptions/grants",
        json={"user_id": str(seller.id), "plan": plan},
        headers=admin.headers,
    )
    assert response.status == 201, await response.json()


async def call(client: Client, buyer: Account, listing_id: str) -> tuple[int, dict[str, Any]]:
    response = await client.post(f"/api/v1/listings/{listing_id}/call", headers=buyer.headers)
    return response.status, await response.json()


async def neighbours(
    core: Core, community: Any, make_account: MakeAccount, n: int
) -> list[Account]:
    staff = Principal(community.staff.id, uuid.uuid4())
    made = []
    for i in range(n):
        account = await make_account(f"买家{i}")
        await core.communities.request_to_join(
            principal(account), uuid.UUID(community.id), None, None
        )
        await core.communities.decide(
            staff, uuid.UUID(community.id), account.id, MemberStatus.VERIFIED, None
        )
        made.append(account)
    return made


async def test_guidance_without_a_plan_and_a_number_with_one(
    client: Client, core: Core, community: Any
) -> None:
    seller, buyer, other = community.residents
    listing_id = await listing_of(client, seller)
    status, answer = await call(client, buyer, listing_id)
    assert status == 200
    assert answer["mode"] == "guidance"
    assert answer["reason"] == "no_plan"
    assert answer["number"] is None
    assert any("当面" in line for line in answer["guidance"])

    await grant(client, community.admin, seller, "vn_basic")
    status, answer = await call(client, buyer, listing_id)
    assert status == 200
    assert answer["mode"] == "number"
    assert answer["number"].startswith("+86170")
    # Asked again: the same binding, not a second buyer.
    _, again = await call(client, buyer, listing_id)
    assert again["binding_id"] == answer["binding_id"]
    _, theirs = await call(client, other, listing_id)
    assert theirs["number"] != answer["number"]  # one pair per number at a time

    usage = await (await client.get("/api/v1/me/virtual-number", headers=seller.headers)).json()
    assert usage["plan_code"] == "vn_basic"
    assert usage["buyer_limit"] == 30
    assert usage["buyers"] == 2
    assert usage["open_bindings"] == 2

    status, mine = await call(client, seller, listing_id)
    assert status == 422
    assert mine["error"]["code"] == "cannot_call_yourself"
    status, _ = await call(client, community.outsider, listing_id)
    assert status == 404
    status, _ = await call(client, buyer, str(uuid.uuid4()))
    assert status == 404
    response = await client.post(f"/api/v1/listings/{listing_id}/call")
    assert response.status == 401
    response = await client.post("/api/v1/listings/not-a-uuid/call", headers=buyer.headers)
    assert response.status in (404, 422)


async def test_thirty_distinct_buyers_a_month_and_unlimited_pro(
    client: Client,
    core: Core,
    clock: ManualClock,
    community: Any,
    make_account: MakeAccount,
) -> None:
    seller = community.residents[0]
    listing_id = uuid.UUID(await listing_of(client, seller))
    await grant(client, community.admin, seller, "vn_basic")
    pro = community.residents[1]
    pro_listing = uuid.UUID(await listing_of(client, pro))
    await grant(client, community.admin, pro, "vn_pro")
    buyers = await neighbours(core, community, make_account, 31)
    numbers = core.virtual_numbers
    for buyer in buyers[:28]:
        assert (await numbers.request_call(principal(buyer), listing_id))["mode"] == "number"
    # Three new buyers at once for the last two places: the seller's row lock counts in turn.
    answers = await asyncio.gather(
        *(numbers.request_call(principal(b), listing_id) for b in buyers[28:31])
    )
    assert sorted(a["mode"] for a in answers) == ["guidance", "number", "number"]
    refused = next(a for a in answers if a["mode"] == "guidance")
    assert refused["reason"] == "seller_quota_reached"
    counted = await core.pool.fetchval(
        "SELECT count(*) FROM virtual_number_buyers WHERE seller_id = $1", seller.id
    )
    assert counted == 30
    # A buyer counted this month gets a number again after the first expired.
    clock.advance(core.settings.virtual_number_ttl_s + 1)
    assert await numbers.expire() == 30
    assert await numbers.expire() == 0
    first = await numbers.request_call(principal(buyers[0]), listing_id)
    assert first["mode"] == "number"

    # A pro seller reaches any number of buyers.
    modes = [(await numbers.request_call(principal(b), pro_listing))["mode"] for b in buyers[1:32]]
    assert modes == ["number"] * 30
    usage = await numbers.usage(principal(pro))
    assert usage["buyer_limit"] is None
    assert usage["buyers"] == 30


async def test_expiry_unbinds_and_call_records_apply_once(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: Any,
    webhook_target: None,
) -> None:
    seller, buyer, _ = community.residents
    listing_id = await listing_of(client, seller)
    await grant(client, community.admin, seller, "vn_pro")
    _, answer = await call(client, buyer, listing_id)
    assert core.sandbox_numbers is not None
    # A stranger's phone does not connect.
    with pytest.raises(NotFound):
        await core.sandbox_numbers.call(answer["number"], "+8613800000000", 10)
    response = await client.post(
        "/api/v1/sandbox/virtual-numbers/calls",
        json={"number": answer["number"], "from_number": buyer.phone, "duration_s": 42},
    )
    assert response.status == 200
    await run_worker(settings, core)  # delivers the signed call record to the callback URL
    rows = await core.pool.fetch("SELECT binding_id, duration_s FROM virtual_number_calls")
    assert [(str(r["binding_id"]), r["duration_s"]) for r in rows] == [(answer["binding_id"], 42)]

    assert core.sandbox is not None
    event = next(e for e in await core.sandbox.events() if e["type"] == "call.completed")
    body, headers = await core.sandbox.signed_delivery(event["id"])
    again = await client.post(CALLS, data=body, headers=headers)
    assert again.status == 200
    assert (await again.json())["duplicate"] is True
    forged = await client.post(
        CALLS, data=body, headers=dict(headers) | {SIGNATURE_HEADER: "t=1,v1=" + "0" * 64}
    )
    assert forged.status == 401
    tampered = await client.post(CALLS, data=body.replace(b"42", b"4200"), headers=headers)
    assert tampered.status == 401
    clock.advance(settings.webhook_tolerance_s + 1)
    stale = await client.post(CALLS, data=body, headers=headers)
    assert stale.status == 400
    assert await core.pool.fetchval("SELECT count(*) FROM virtual_number_calls") == 1
    usage = await core.virtual_numbers.usage(principal(seller))
    assert usage["calls"] == 1
    assert usage["call_seconds"] == 42

    # Expiry: unbound here and at the provider; the number no longer connects.
    clock.advance(settings.virtual_number_ttl_s)
    assert await core.virtual_numbers.expire() == 1
    row = await core.pool.fetchrow(
        "SELECT unbound_at FROM virtual_number_bindings WHERE id = $1",
        uuid.UUID(answer["binding_id"]),
    )
    assert row["unbound_at"] is not None
    with pytest.raises(NotFound):
        await core.sandbox_numbers.call(answer["number"], buyer.phone, 10)


async def test_unbind_on_demand(client: Client, core: Core, community: Any) -> None:
    seller, buyer, other = community.residents
    listing_id = await listing_of(client, seller)
    await grant(client, community.admin, seller, "vn_basic")
    _, answer = await call(client, buyer, listing_id)
    url = f"/api/v1/virtual-numbers/{answer['binding_id']}/unbind"
    assert (await client.post(url, headers=other.headers)).status == 404
    response = await client.post(url, headers=buyer.headers)
    assert response.status == 200
    assert (await response.json())["unbound"] is True
    assert (await client.post(url, headers=seller.headers)).status == 200  # idempotent
    assert core.sandbox_numbers is not None
    with pytest.raises(NotFound):
        await core.sandbox_numbers.call(answer["number"], buyer.phone, 10)
    # A new ask binds again (the buyer is counted once this month).
    _, fresh = await call(client, buyer, listing_id)
    assert fresh["mode"] == "number"
    assert fresh["binding_id"] != answer["binding_id"]
    usage = await core.virtual_numbers.usage(principal(seller))
    assert usage["buyers"] == 1


async def test_malformed_and_oversized_call_records_are_refused(
    client: Client, core: Core, settings: Settings, clock: ManualClock
) -> None:
    import orjson

    from lago_core.payments.signing import sign

    def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = orjson.dumps(payload)
        stamp = int(clock.now().timestamp())
        return body, {
            SIGNATURE_HEADER: sign(settings.webhook_secret, stamp, body),
            "Content-Type": "application/json",
        }

    record = {
        "object": "call_record",
        "id": "call_1",
        "binding_id": "vb_1",
        "number": "+8617000000001",
        "from_number": "+8613800000000",
        "to_number": "+8613800000001",
        "duration_s": 10,
        "started_at": int(clock.now().timestamp()),
    }

    async def post(obj: dict[str, Any]) -> tuple[int, Any]:
        payload = {"id": "evt_x", "type": "call.completed", "created": 1, "data": {"object": obj}}
        body, headers = signed(payload)
        response = await client.post(CALLS, data=body, headers=headers)
        return response.status, await response.json()

    for bad in (
        {k: v for k, v in record.items() if k != "duration_s"},
        record | {"duration_s": -1},
        record | {"duration_s": 10**12},
        record | {"started_at": 10**15},
        record | {"from_number": "+86\u0000138"},
    ):
        status, answer = await post(bad)
        assert status == 422, (bad, answer)
    body, headers = signed({"not": "an event"})
    response = await client.post(CALLS, data=body, headers=headers)
    assert response.status == 422
    huge = b"{" + b" " * (70 << 10) + b"}"
    response = await client.post(CALLS, data=huge, headers=signed({})[1])
    assert response.status == 413
    # A call record of a binding we do not know is still recorded once (the carrier billed it).
    status, answer = await post(record)
    assert status == 200
    assert answer["duplicate"] is False
    status, answer = await post(record)
    assert answer["duplicate"] is True
    assert await core.pool.fetchval("SELECT count(*) FROM virtual_number_calls") == 1
    response = await client.post(
        "/api/v1/virtual-numbers/webhooks/other", data=signed(record)[0], headers=signed(record)[1]
    )
    assert response.status == 404
