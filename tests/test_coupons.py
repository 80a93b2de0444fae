"""Coupons over REST (issue 18): templates and who may make them, claiming (1,000 concurrent
claims of a 100-count coupon give exactly 100), grants, the new-user coupon, the wallet, the
checkout preview, orders and group-buy seats paid with coupons, and the ledger after each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.errors import Conflict
from lago_core.ledger import AccountKind, AccountRef, Party, PartyKind
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings

from .conftest import Account, CommunityWorld
from .test_orders import Client, act, call, listing, merchant_of, order, pay_order
from .test_payments import assert_ledger_sound, run_worker, webhook_target

MakeAccount = Callable[..., Awaitable[Account]]
__all__ = ["webhook_target"]

EXPENSE = AccountRef(AccountKind.PLATFORM_COUPON_EXPENSE)
COMMISSION = AccountRef(AccountKind.PLATFORM_COMMISSION)


def _principal(account: Account, role: PlatformRole | None = None) -> Principal:
    return Principal(account.id, uuid.uuid4(), role)


async def template(
    client: Client, account: Account, expect: int = 201, **fields: Any
) -> dict[str, Any]:
    body = {
        "name": "满50减5",
        "kind": "amount_off",
        "amount_off_fen": 500,
        "threshold_fen": 5000,
        "valid_days": 30,
    } | fields
    status, data = await call(client, account, "POST", "/coupon-templates", body)
    assert status == expect, data
    return dict(data)


async def claim(client: Client, account: Account, template_id: str) -> tuple[int, Any]:
    return await call(client, account, "POST", f"/coupon-templates/{template_id}/claim")


async def claimed(client: Client, account: Account, template_id: str) -> dict[str, Any]:
    status, data = await claim(client, account, template_id)
    assert status == 201, data
    return dict(data)


# --- templates and permissions -----------------------------------------------------------------


async def test_who_may_make_templates(
    client: Client,
    core: Core,
    community: CommunityWorld,
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    resident = community.residents[0]
    owner, staff = await make_account("店主"), await make_account("店员")
    merchant_id = await merchant_of(core, approve_merchant, owner, staff)
    # Platform coupons: admins only.
    await template(client, resident, expect=403)
    await template(client, owner, expect=403)
    platform = await template(client, community.admin)
    assert (platform["funded_by"], platform["merchant_id"], platform["budget_fen"]) == (
        "platform",
        None,
        None,
    )
    # Merchant coupons: its owner and staff, with a budget.
    body = {"merchant_id": str(merchant_id), "budget_fen": 10_000}
    mine = await template(client, staff, **body)
    assert (mine["funded_by"], mine["merchant_id"]) == ("merchant", str(merchant_id))
    await template(client, resident, expect=403, **body)
    bad = await template(client, owner, expect=422, merchant_id=str(merchant_id))
    assert bad["error"]["code"] == "budget_required"
    status, listed = await call(client, owner, "GET", f"/merchants/{merchant_id}/coupon-templates")
    assert status == 200
    assert [t["id"] for t in listed["items"]] == [mine["id"]]
    status, _ = await call(client, resident, "GET", f"/merchants/{merchant_id}/coupon-templates")
    assert status == 403
    status, listed = await call(
        client, community.admin, "GET", "/coupon-templates?funded_by=platform"
    )
    assert status == 200
    assert [t["id"] for t in listed["items"]] == [platform["id"]]
    status, _ = await call(client, resident, "GET", "/coupon-templates?funded_by=platform")
    assert status == 403
    # Bad input: clear codes, not 500s.
    for body in (
        {"kind": "percent_off", "amount_off_fen": None, "percent_off_bps": 0},
        {"name": "a\x00b"},
        {"categories": ["x"] * 51},
        {"amount_off_fen": 1.5},
    ):
        status, data = await call(
            client,
            community.admin,
            "POST",
            "/coupon-templates",
            {"name": "x", "kind": "amount_off", "amount_off_fen": 500, "valid_days": 3} | body,
        )
        assert status == 422, (body, data)
    status, data = await call(client, resident, "GET", f"/coupon-templates/{uuid.uuid4()}")
    assert status == 404
    # Ending stops issuing; the owner side only.
    status, _ = await call(client, resident, "POST", f"/coupon-templates/{mine['id']}/end")
    assert status == 403
    status, ended = await call(client, owner, "POST", f"/coupon-templates/{mine['id']}/end")
    assert status == 200
    assert ended["status"] == "ended"
    status, data = await claim(client, resident, mine["id"])
    assert (status, data["error"]["code"]) == (409, "coupon_ended")


async def test_claim_centre_limits_and_wallet(
    client: Client, core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    resident, other, _ = community.residents
    t = await template(client, community.admin, total_count=2, per_user_limit=1, valid_days=2)
    hidden = await template(client, community.admin, claimable=False)
    status, centre = await call(client, resident, "GET", "/coupon-templates?claimable=true")
    assert status == 200
    assert [(i["id"], i["claimed_by_me"]) for i in centre["items"]] == [(t["id"], 0)]
    coupon = await claimed(client, resident, t["id"])
    assert (coupon["status"], coupon["source"], coupon["template_id"]) == (
        "available",
        "claim",
        t["id"],
    )
    status, data = await claim(client, resident, t["id"])
    assert (status, data["error"]["code"]) == (409, "coupon_limit_reached")
    status, data = await claim(client, resident, hidden["id"])
    assert (status, data["error"]["code"]) == (409, "coupon_not_claimable")
    await claimed(client, other, t["id"])
    status, data = await claim(client, community.residents[2], t["id"])
    assert (status, data["error"]["code"]) == (409, "coupon_sold_out")
    status, centre = await call(client, resident, "GET", "/coupon-templates?claimable=true")
    assert centre["items"] == []  # exhausted
    status, wallet = await call(client, resident, "GET", "/me/coupons")
    assert [c["id"] for c in wallet["items"]] == [coupon["id"]]
    status, data = await call(client, resident, "GET", "/me/coupons?status=bogus")
    assert status == 422
    # Outsiders (no verified community) do not claim; nobody claims faster than 30 a minute.
    status, data = await claim(client, community.outsider, t["id"])
    assert (status, data["error"]["code"]) == (403, "not_a_resident")
    codes = [(await claim(client, resident, t["id"]))[1]["error"]["code"] for _ in range(30)]
    assert codes[-1] == "rate_limited"
    assert set(codes[:27]) == {"coupon_sold_out"}
    # Expiry is computed: two days on, the coupon reads expired and is not available.
    clock.advance(timedelta(days=2, seconds=1).total_seconds())
    # (The access token has expired too: read the wallet through the service.)
    me = _principal(resident)
    assert await core.coupons.wallet(me, "available") == []
    expired = await core.coupons.wallet(me, "expired")
    assert [str(c["id"]) for c in expired] == [coupon["id"]]
    assert (await core.coupons.sweep())["expired"] == 2  # both holders' coupons
    assert [str(c["id"]) for c in await core.coupons.wallet(me, "expired")] == [coupon["id"]]


async def test_grants_by_phone_and_user_id(
    client: Client, core: Core, community: CommunityWorld, make_account: MakeAccount
) -> None:
    resident, other, _ = community.residents
    t = await template(client, community.admin, claimable=False, per_user_limit=1)
    body = {
        "phones": [resident.phone, "+8613900000000", "not a phone"],
        "user_ids": [str(other.id), str(uuid.uuid4()), str(other.id)],
    }
    status, _ = await call(client, resident, "POST", f"/coupon-templates/{t['id']}/grants", body)
    assert status == 403
    status, result = await call(
        client, community.admin, "POST", f"/coupon-templates/{t['id']}/grants", body
    )
    assert status == 200, result
    assert sorted(c["source"] for c in result["granted"]) == ["grant", "grant"]
    codes = sorted(r["code"] for r in result["refused"])
    assert codes == ["coupon_limit_reached", "user_not_found", "user_not_found", "user_not_found"]
    too_many = {"user_ids": [str(uuid.uuid4()) for _ in range(501)]}
    status, data = await call(
        client, community.admin, "POST", f"/coupon-templates/{t['id']}/grants", too_many
    )
    assert status == 422, data
    status, _ = await call(
        client, community.admin, "POST", f"/coupon-templates/{uuid.uuid4()}/grants", body
    )
    assert status == 404


async def test_new_user_coupon_at_sign_up_once(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    t = await template(
        client,
        community.admin,
        name="新人券",
        threshold_fen=0,
        amount_off_fen=1000,
        new_user=True,
        claimable=False,
    )
    phone = "+8613912345678"
    await core.identity.request_code(phone, "signup")
    code = core.sms.sent[-1][1]  # type: ignore[attr-defined]
    pair = await core.identity.sign_up(phone, code, "correct horse battery", "新人", "pytest")
    user_id = (await core.identity.authenticate(pair.access_token)).user_id
    wallet = await core.coupons.wallet(Principal(user_id, uuid.uuid4()), None)
    assert [(c["template_id"], c["source"]) for c in wallet] == [(uuid.UUID(t["id"]), "signup")]
    # The hook again (a retry) grants nothing twice.
    await core.coupons.grant_new_user(user_id)
    assert len(await core.coupons.wallet(Principal(user_id, uuid.uuid4()), None)) == 1


async def test_issue_in_for_points_is_idempotent_and_rolls_back(
    core: Core, community: CommunityWorld
) -> None:
    admin = _principal(community.admin, PlatformRole.ADMIN)
    resident = community.residents[0]
    from lago_core.coupons import TemplateSpec

    t = await core.coupons.create_template(
        admin,
        TemplateSpec(
            name="9折",
            kind="percent_off",
            percent_off_bps=1000,
            valid_days=7,
            total_count=1,
            claimable=False,
            per_user_limit=5,
        ),
    )
    async with core.pool.acquire() as conn, conn.transaction():
        first = await core.coupons.issue_in(conn, resident.id, t["id"], "redeem:1", "points")
        again = await core.coupons.issue_in(conn, resident.id, t["id"], "redeem:1", "points")
    assert first == again
    with pytest.raises(Conflict) as refused:
        async with core.pool.acquire() as conn, conn.transaction():
            await core.coupons.issue_in(conn, resident.id, t["id"], "redeem:2", "points")
    assert refused.value.code == "coupon_sold_out"
    counts = await core.coupons.store.counts(t["id"])
    assert counts == {"available": 1}
    assert (await core.coupons.template(t["id"]))["issued_count"] == 1


# --- concurrency -------------------------------------------------------------------------------


async def test_thousand_concurrent_claims_of_a_hundred(
    client: Client, core: Core, community: CommunityWorld, make_account: MakeAccount
) -> None:
    """1,000 claims at once — 900 through the service over the pool, 100 over REST — of a
    100-count coupon with a per-user limit of 2: exactly 100 issued, nobody above the limit."""
    from .groupbuy_support import bulk_residents

    t = await template(client, community.admin, total_count=100, per_user_limit=2)
    template_id = uuid.UUID(t["id"])
    users = await bulk_residents(core, community.id, 250)
    principals = [Principal(u.id, uuid.uuid4()) for u in users]

    async def by_service(i: int) -> str:
        try:
            await core.coupons.claim(principals[i % 250], template_id)
        except Conflict as exc:
            return exc.code
        return "ok"

    async def by_rest(i: int) -> str:
        status, data = await claim(client, users[i % 250], t["id"])  # type: ignore[arg-type]
        return "ok" if status == 201 else data["error"]["code"]

    results = await asyncio.gather(
        *(by_service(i) for i in range(900)), *(by_rest(i) for i in range(100))
    )
    assert results.count("ok") == 100
    assert set(results) <= {"ok", "coupon_sold_out", "coupon_limit_reached"}
    row = await core.coupons.template(template_id)
    assert row["issued_count"] == 100
    per_user = await core.pool.fetch(
        "SELECT user_id, count(*) AS n FROM user_coupons WHERE template_id = $1 GROUP BY user_id",
        template_id,
    )
    assert sum(r["n"] for r in per_user) == 100
    assert max(r["n"] for r in per_user) <= 2


# --- checkout ----------------------------------------------------------------------------------


async def test_preview_order_pay_and_ledger_with_two_coupons(
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: MakeAccount,
    approve_merchant: Any,
    webhook_target: None,
) -> None:
    """A merchant sale of ¥100 with the merchant's 满50减5 and the platform's 10 % off: the
    merchant's discount lowers its revenue, the platform pays its own; the ledger balances."""
    buyer = community.residents[0]
    owner = await make_account("店主")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    item = await listing(client, owner, merchant_id=str(merchant_id), price_fen=10_000)
    m = await template(client, owner, merchant_id=str(merchant_id), budget_fen=1_000)
    p = await template(
        client,
        community.admin,
        kind="percent_off",
        amount_off_fen=None,
        percent_off_bps=1000,
        max_discount_fen=2_000,
        threshold_fen=0,
    )
    small = await template(
        client, community.admin, name="满200减20", amount_off_fen=2_000, threshold_fen=20_000
    )
    mc, pc, sc = [await claimed(client, buyer, t["id"]) for t in (m, p, small)]

    body = {"listing_id": item["id"], "coupon_ids": [mc["id"], pc["id"]]}
    status, pv = await call(client, buyer, "POST", "/checkout/preview", body)
    assert status == 200, pv
    # Merchant first: 10000 − 500 = 9500; then 10 % of 9500 = 950.
    assert (pv["price_fen"], pv["merchant_discount_fen"], pv["platform_discount_fen"]) == (
        10_000,
        500,
        950,
    )
    assert (pv["pay_fen"], pv["total_fen"], pv["deposit_fen"]) == (8_550, 8_550, 0)
    assert sorted(pv["best"]) == sorted([mc["id"], pc["id"]])
    assert [u["coupon"]["id"] for u in pv["unusable"]] == [sc["id"]]
    assert pv["unusable"][0]["reason"] == "coupon_threshold_not_met"
    # The preview reserved nothing.
    status, wallet = await call(client, buyer, "GET", "/me/coupons?status=available")
    assert len(wallet["items"]) == 3
    status, data = await call(
        client, buyer, "POST", "/checkout/preview", body | {"coupon_ids": [sc["id"]]}
    )
    assert (status, data["error"]["details"]["reason"]) == (409, "coupon_threshold_not_met")

    placed = await order(client, buyer, item["id"], coupon_ids=[mc["id"], pc["id"]])
    assert (placed["discount_fen"], placed["pay_fen"]) == (1_450, 8_550)
    status, payment = await call(client, buyer, "GET", f"/payments/{placed['payment_id']}")
    assert (payment["amount_fen"], payment["platform_discount_fen"]) == (8_550, 950)
    # Commission (10 %) is of what the merchant sells for: 9500 → 950, property share 20 % of it.
    assert (payment["commission_fen"], payment["property_share_fen"]) == (760, 190)
    status, wallet = await call(client, buyer, "GET", "/me/coupons?status=locked")
    assert sorted(c["id"] for c in wallet["items"]) == sorted([mc["id"], pc["id"]])

    paid = await pay_order(client, core, settings, buyer, placed)
    assert paid["status"] == "paid"
    await assert_ledger_sound(core)
    assert await core.ledger.balance(EXPENSE) == 950
    # The platform funded its discount into the provider account.
    assert await core.ledger.balance(AccountRef(AccountKind.PLATFORM_FUNDING)) == 950
    payable = Party(PartyKind.MERCHANT, merchant_id).payable
    assert await core.ledger.balance(payable) == 9_500 - 950
    status, wallet = await call(client, buyer, "GET", "/me/coupons?status=used")
    assert len(wallet["items"]) == 2
    row = await core.coupons.template(uuid.UUID(m["id"]))
    assert (row["used_count"], row["discount_given_fen"]) == (1, 500)

    # The whole order refunded: the buyer gets 8550 back, the expense is reversed, the coupons
    # return to the wallet and the merchant's budget.
    status, refunded = await act(client, owner, placed, "reject")
    assert status == 200
    assert refunded["status"] == "refunded"
    await run_worker(settings, core)
    await assert_ledger_sound(core)
    assert await core.ledger.balance(EXPENSE) == 0
    assert await core.ledger.balance(payable) == 0
    assert await core.ledger.balance(COMMISSION) == 0
    status, wallet = await call(client, buyer, "GET", "/me/coupons?status=available")
    assert len(wallet["items"]) == 3
    row = await core.coupons.template(uuid.UUID(m["id"]))
    assert (row["used_count"], row["discount_given_fen"]) == (0, 0)


async def test_one_coupon_two_concurrent_orders(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    buyer, seller, _ = community.residents
    first = await listing(client, seller, price_fen=6_000)
    second = await listing(client, seller, price_fen=7_000)
    t = await template(client, community.admin)
    coupon = await claimed(client, buyer, t["id"])
    results = await asyncio.gather(
        *(
            call(
                client,
                buyer,
                "POST",
                "/orders",
                {
                    "listing_id": item["id"],
                    "fulfilment": "face_to_face",
                    "coupon_ids": [coupon["id"]],
                },
            )
            for item in (first, second)
        )
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 409], results
    refused = next(data for status, data in results if status == 409)
    assert refused["error"]["code"] == "coupon_not_usable"
    placed = next(data for status, data in results if status == 201)
    assert placed["discount_fen"] == 500
    # The refused order left nothing behind: its listing is free, one order exists.
    assert await core.pool.fetchval("SELECT count(*) FROM orders") == 1
    # Cancelling the order gives the coupon back; then it spends again.
    status, _ = await act(client, buyer, placed, "cancel")
    assert status == 200
    wallet = await core.coupons.wallet(_principal(buyer), "available")
    assert [str(c["id"]) for c in wallet] == [coupon["id"]]
    other = first if placed["listing_id"] == second["id"] else second
    again = await order(client, buyer, other["id"], coupon_ids=[coupon["id"]])
    assert again["discount_fen"] == 500


async def test_bad_coupon_input_at_checkout(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    buyer, seller, third = community.residents
    item = await listing(client, seller, price_fen=6_000)
    t = await template(client, community.admin)
    p2 = await template(client, community.admin, name="另一张")
    mine, theirs = await claimed(client, buyer, t["id"]), await claimed(client, third, t["id"])
    two = await claimed(client, buyer, p2["id"])
    base = {"listing_id": item["id"], "fulfilment": "face_to_face"}
    cases: list[tuple[list[Any], int, str]] = [
        ([theirs["id"]], 404, "not_found"),
        ([str(uuid.uuid4())], 404, "not_found"),
        ([mine["id"], two["id"]], 409, "coupon_not_usable"),  # two platform coupons
        ([mine["id"], mine["id"]], 409, "coupon_not_usable"),
        ([mine["id"]] * 3, 422, "invalid_input"),
        (["not-a-uuid"], 422, "invalid_input"),
    ]
    for ids, expected, code in cases:
        status, data = await call(client, buyer, "POST", "/orders", base | {"coupon_ids": ids})
        assert (status, data["error"]["code"]) == (expected, code), (ids, data)
    assert await core.pool.fetchval("SELECT count(*) FROM orders") == 0
    status, data = await call(client, buyer, "POST", "/checkout/preview", {"coupon_ids": []})
    assert status == 422


async def test_rental_discounts_rent_not_deposit_and_unpaid_job_returns_coupon(
    client: Client,
    core: Core,
    clock: ManualClock,
    settings: Settings,
    community: CommunityWorld,
) -> None:
    buyer, seller, _ = community.residents
    item = await listing(
        client, seller, kind="rent", price_fen=None, rent_per_day_fen=1_000, deposit_fen=20_000
    )
    t = await template(
        client,
        community.admin,
        kind="percent_off",
        amount_off_fen=None,
        percent_off_bps=5000,
        threshold_fen=0,
    )
    coupon = await claimed(client, buyer, t["id"])
    status, pv = await call(
        client,
        buyer,
        "POST",
        "/checkout/preview",
        {"listing_id": item["id"], "days": 3, "coupon_ids": [coupon["id"]]},
    )
    assert status == 200, pv
    assert (pv["price_fen"], pv["discount_fen"], pv["deposit_fen"], pv["total_fen"]) == (
        3_000,
        1_500,
        20_000,
        21_500,
    )
    placed = await order(client, buyer, item["id"], days=3, coupon_ids=[coupon["id"]])
    assert placed["pay_fen"] == 1_500
    clock.advance(settings.unpaid_order_ttl_s + 1)
    assert await core.orders.cancel_unpaid() == 1
    wallet = await core.coupons.wallet(_principal(buyer), "available")
    assert [str(c["id"]) for c in wallet] == [coupon["id"]]


# --- group-buy seats ---------------------------------------------------------------------------


async def seated_group(
    core: Core, campaign_id: str, community_id: str, users: list[Account], min_members: int
) -> str:
    """A group with a reserved seat for each user, written as the channel actor would (the actor
    is not under test here)."""
    now = core.clock.now()
    group_id = uuid.uuid4()
    async with core.pool.acquire() as conn, conn.transaction():
        await core.groupbuys.store.insert_group(
            conn,
            {
                "id": group_id,
                "campaign_id": uuid.UUID(campaign_id),
                "community_id": uuid.UUID(community_id),
                "leader_id": users[0].id,
                "min_members": min_members,
                "max_members": 5,
                "expires_at": now + timedelta(hours=1),
                "created_at": now,
            },
        )
        await core.groupbuys.store.insert_seats(
            conn,
            [
                {
                    "id": uuid.uuid4(),
                    "group_id": group_id,
                    "max_members": 5,
                    "campaign_id": uuid.UUID(campaign_id),
                    "user_id": u.id,
                    "seat_no": i + 1,
                    "reserved_until": now + timedelta(minutes=50),
                    "joined_at": now,
                }
                for i, u in enumerate(users)
            ],
        )
        await conn.execute(
            "UPDATE group_buy_campaigns SET seats_taken = seats_taken + $2 WHERE id = $1",
            uuid.UUID(campaign_id),
            len(users),
        )
    return str(group_id)


async def seat_payment(
    client: Client, who: Account, group_id: str, key: str, coupon_ids: list[str] | None = None
) -> dict[str, Any]:
    body = None if coupon_ids is None else {"coupon_ids": coupon_ids}
    response = await client.post(
        f"/api/v1/group-buys/{group_id}/pay",
        json=body,
        headers={**who.headers, "Idempotency-Key": key},
    )
    data = await response.json()
    assert response.status == 201, data
    return dict(data)


async def test_group_buy_seats_with_coupons(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    approve_merchant: Any,
    webhook_target: None,
) -> None:
    from .groupbuy_support import campaign, merchant_with_item
    from .test_payments import pay

    owner = await make_account("乐园老板")
    merchant_id, item_id = await merchant_with_item(core, approve_merchant, owner, community)
    offer = await campaign(client, owner, merchant_id, item_id, community, min_members=2)
    a, b, c = community.residents
    m = await template(
        client,
        owner,
        merchant_id=str(merchant_id),
        budget_fen=600,
        amount_off_fen=300,
        threshold_fen=0,
        per_user_limit=3,
    )
    p = await template(client, community.admin, amount_off_fen=1_000, threshold_fen=0)
    mc, pc = await claimed(client, a, m["id"]), await claimed(client, a, p["id"])
    group_id = await seated_group(core, offer["id"], community.id, [a, b, c], 2)

    status, pv = await call(
        client,
        a,
        "POST",
        "/checkout/preview",
        {"group_id": group_id, "coupon_ids": [mc["id"], pc["id"]]},
    )
    assert status == 200, pv
    assert (pv["price_fen"], pv["discount_fen"], pv["pay_fen"]) == (9_900, 1_300, 8_600)
    # Two tabs: the first with both coupons, the second without: the seat's price follows the
    # latest request, so the first payment no longer fits and is refunded at capture.
    first = await seat_payment(client, a, group_id, "tab-1", [mc["id"], pc["id"]])
    assert (first["amount_fen"], first["platform_discount_fen"]) == (8_600, 1_000)
    second = await seat_payment(client, a, group_id, "tab-2")
    assert second["amount_fen"] == 9_900
    assert len(await core.coupons.wallet(_principal(a), "available")) == 2
    for payment in (first, second):
        assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)
    await run_worker(settings, core)
    await assert_ledger_sound(core)
    rejected = await core.payments.get(None, uuid.UUID(first["id"]))
    assert rejected.rejected_reason == "wrong_amount"
    assert await core.ledger.balance(EXPENSE) == 0

    # B pays with the merchant's coupon (its budget: 600, 300 each); the group succeeds.
    mb = await claimed(client, b, m["id"])
    paid_b = await seat_payment(client, b, group_id, "k", [mb["id"]])
    assert paid_b["amount_fen"] == 9_600
    assert (await pay(client, paid_b)).status == 200
    await run_worker(settings, core)
    await assert_ledger_sound(core)
    orders = await core.pool.fetch("SELECT buyer_id, merchant_discount_fen FROM group_buy_orders")
    assert {(r["buyer_id"], r["merchant_discount_fen"]) for r in orders} == {(a.id, 0), (b.id, 300)}
    today = (await core.settlement.dashboard(_principal(owner), merchant_id)).today
    assert (today.orders, today.revenue_fen, today.discount_fen) == (2, 9_900 + 9_600, 300)
    assert [c["status"] for c in await core.coupons.wallet(_principal(b), None)] == ["used"]
    # C pays with a platform coupon; its order is then refunded in whole: money and coupon back.
    cc = await claimed(client, c, p["id"])
    paid_c = await seat_payment(client, c, group_id, "k", [cc["id"]])
    assert (await pay(client, paid_c)).status == 200
    await run_worker(settings, core)
    assert await core.ledger.balance(EXPENSE) == 1_000
    order_c = await core.pool.fetchval("SELECT id FROM group_buy_orders WHERE buyer_id = $1", c.id)
    await core.groupbuys.refund_order(_principal(owner), order_c, "缺货")
    await run_worker(settings, core)
    await assert_ledger_sound(core)
    assert await core.ledger.balance(EXPENSE) == 0
    assert [c["status"] for c in await core.coupons.wallet(_principal(c), None)] == ["available"]
    refunds = await core.payments.refunds(None, uuid.UUID(paid_c["id"]))
    assert [r.amount_fen for r in refunds] == [8_900]
    # The merchant's budget counts B's discount only; a third use would exceed it.
    row = await core.coupons.template(uuid.UUID(m["id"]))
    assert (row["discount_given_fen"], row["used_count"]) == (300, 1)
    counts = await core.coupons.store.counts(uuid.UUID(m["id"]))
    assert sum(counts.values()) == row["issued_count"]


async def test_merchant_budget_never_exceeded_under_concurrent_orders(
    client: Client,
    core: Core,
    community: CommunityWorld,
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    """Ten buyers spend a merchant's ¥5-off coupon at once against a ¥20 budget: four orders
    get the discount, the others are refused; the budget is never exceeded."""
    owner = await make_account("店主")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    buyers = [await make_account(f"买家{i}") for i in range(10)]
    for buyer in buyers:
        await core.communities.request_to_join(
            _principal(buyer), uuid.UUID(community.id), None, None
        )
        from lago_core.security.roles import MemberStatus

        await core.communities.decide(
            _principal(community.staff),
            uuid.UUID(community.id),
            buyer.id,
            MemberStatus.VERIFIED,
            None,
        )
    m = await template(
        client,
        owner,
        merchant_id=str(merchant_id),
        budget_fen=2_000,
        amount_off_fen=500,
        threshold_fen=0,
    )
    items = [
        await listing(client, owner, merchant_id=str(merchant_id), price_fen=6_000) for _ in buyers
    ]
    coupons = [await claimed(client, b, m["id"]) for b in buyers]
    results = await asyncio.gather(
        *(
            call(
                client,
                b,
                "POST",
                "/orders",
                {"listing_id": i["id"], "fulfilment": "face_to_face", "coupon_ids": [cp["id"]]},
            )
            for b, i, cp in zip(buyers, items, coupons, strict=True)
        )
    )
    assert sorted(s for s, _ in results) == [201] * 4 + [409] * 6
    assert {d["error"]["details"]["reason"] for s, d in results if s == 409} <= {
        "coupon_budget_exhausted"
    }
    row = await core.coupons.template(uuid.UUID(m["id"]))
    assert row["discount_given_fen"] == 2_000


async def test_settlement_statement_and_dashboard_show_merchant_discounts(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    approve_merchant: Any,
    webhook_target: None,
) -> None:
    """T+7 pays the merchant exactly what its payable received: the price after its own coupon,
    with the platform's coupon counted in full; the statement and dashboard show its discount."""
    from lago_core.settlement.service import SETTLEMENT_DELAY, business_day

    from .test_settlement import assert_paid_out, settle_by_worker

    buyer = community.residents[0]
    owner = await make_account("店主")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    item = await listing(client, owner, merchant_id=str(merchant_id), price_fen=10_000)
    m = await template(client, owner, merchant_id=str(merchant_id), budget_fen=5_000)
    p = await template(client, community.admin, amount_off_fen=1_000, threshold_fen=0)
    ids = [(await claimed(client, buyer, t["id"]))["id"] for t in (m, p)]
    placed = await order(client, buyer, item["id"], coupon_ids=ids)
    assert placed["pay_fen"] == 8_500
    await pay_order(client, core, settings, buyer, placed)
    status, dashboard = await call(client, owner, "GET", f"/merchants/{merchant_id}/dashboard")
    assert status == 200, dashboard
    assert (dashboard["today"]["revenue_fen"], dashboard["today"]["discount_fen"]) == (9_500, 500)
    for step, who in (("hand-over", owner), ("confirm-receipt", buyer)):
        status, moved = await act(client, who, placed, step)
        assert status == 200, moved
    payable = Party(PartyKind.MERCHANT, merchant_id).payable
    owed = await core.ledger.balance(payable)
    assert owed == 9_500 - 950  # commission 10 % of 9500 (with the property share inside it)
    clock.advance(SETTLEMENT_DELAY.total_seconds() + 1)
    await settle_by_worker(core, settings)
    settled = await core.pool.fetchrow("SELECT * FROM settlements")
    assert (settled["gross_fen"], settled["net_fen"]) == (9_500, owed)
    await assert_paid_out(core, settled)
    assert await core.ledger.balance(payable) == 0
    await assert_ledger_sound(core)
    month = business_day(settled["created_at"]).strftime("%Y-%m")
    statement = await core.settlement.statement(_principal(owner), merchant_id, month)
    (only,) = statement.settlements
    assert only["merchant_discounts"] == [
        {"order_id": uuid.UUID(placed["id"]), "discount_fen": 500}
    ]
    assert statement.totals["merchant_discount_fen"] == 500


async def test_expired_coupons_and_seats_released_elsewhere(
    client: Client,
    core: Core,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    """An expired coupon is refused at checkout whether or not the sweep has run; a coupon held
    by a seat the channel actor released comes back with the coupons sweep."""
    from .groupbuy_support import campaign, merchant_with_item

    buyer, seller, _ = community.residents
    me = _principal(buyer)
    owner = await make_account("乐园老板")
    merchant_id, item_id = await merchant_with_item(core, approve_merchant, owner, community)
    offer = await campaign(client, owner, merchant_id, item_id, community, min_members=2)
    short = await template(client, community.admin, threshold_fen=0, valid_days=1)
    long = await template(client, community.admin, name="长期", threshold_fen=0, valid_days=30)
    expiring = await claimed(client, buyer, short["id"])
    lasting = await claimed(client, buyer, long["id"])
    item = await listing(client, seller, price_fen=6_000)
    group_id = await seated_group(core, offer["id"], community.id, [buyer], 2)
    await core.groupbuys.pay(me, uuid.UUID(group_id), "k", [uuid.UUID(lasting["id"])])
    assert [c["status"] for c in await core.coupons.wallet(me, "locked")] == ["locked"]

    clock.advance(86_401)
    with pytest.raises(Conflict) as refused:
        await core.orders.create(
            me, uuid.UUID(item["id"]), None, "face_to_face", [uuid.UUID(expiring["id"])]
        )
    assert refused.value.details == {"coupon_id": expiring["id"], "reason": "coupon_expired"}
    # The actor releases the unpaid seat (its own path, which does not call the coupons).
    async with core.pool.acquire() as conn, conn.transaction():
        seat = await core.groupbuys.store.my_active_seat(uuid.UUID(group_id), buyer.id)
        assert seat is not None
        await core.groupbuys.store.release_seats(conn, [seat["id"]], core.clock.now())
    assert await core.coupons.sweep() == {"expired": 1, "returned": 1}
    assert await core.coupons.sweep() == {"expired": 0, "returned": 0}
    available = await core.coupons.wallet(me, "available")
    assert [str(c["id"]) for c in available] == [lasting["id"]]
    placed = await core.orders.create(
        me, uuid.UUID(item["id"]), None, "face_to_face", [uuid.UUID(lasting["id"])]
    )
    assert placed["discount_fen"] == 500


async def test_one_resident_claiming_at_once_stays_within_the_limit(
    core: Core, community: CommunityWorld
) -> None:
    from lago_core.coupons import TemplateSpec

    admin = _principal(community.admin, PlatformRole.ADMIN)
    t = await core.coupons.create_template(
        admin,
        TemplateSpec(
            name="限领3张", kind="amount_off", amount_off_fen=300, valid_days=7, per_user_limit=3
        ),
    )
    me = _principal(community.residents[0])

    async def attempt() -> str:
        try:
            await core.coupons.claim(me, t["id"])
        except Conflict as exc:
            return exc.code
        return "ok"

    results = await asyncio.gather(*(attempt() for _ in range(20)))
    assert results.count("ok") == 3
    assert set(results) == {"ok", "coupon_limit_reached"}
    assert len(await core.coupons.wallet(me, None)) == 3


async def test_merchant_coupons_do_not_discount_a_consignment(
    client: Client,
    core: Core,
    community: CommunityWorld,
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    buyer = community.residents[0]
    owner = await make_account("店主")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    item = await listing(
        client,
        owner,
        merchant_id=str(merchant_id),
        kind="consignment",
        category="figure",
        price_fen=19_900,
    )
    m = await template(client, owner, merchant_id=str(merchant_id), budget_fen=5_000)
    p = await template(client, community.admin)
    mc, pc = await claimed(client, buyer, m["id"]), await claimed(client, buyer, p["id"])
    status, pv = await call(client, buyer, "POST", "/checkout/preview", {"listing_id": item["id"]})
    assert status == 200, pv
    assert pv["best"] == [pc["id"]]
    assert [(u["coupon"]["id"], u["reason"]) for u in pv["unusable"]] == [
        (mc["id"], "coupon_other_merchant")
    ]


async def test_claim_centre_shows_a_merchants_coupons_only_where_they_can_be_claimed(
    client: Client, core: Core, community: CommunityWorld, approve_merchant: Any
) -> None:
    """A merchant's coupon appears in a resident's claim centre only when the merchant serves a
    community the resident is verified in (with or without ``community_id``); its budget and
    spend are the owner side's alone."""
    resident, owner = community.residents[0], community.residents[1]
    row = await core.merchants.create(_principal(owner), f"玩具铺{uuid.uuid4().hex[:6]}")
    await approve_merchant(owner, row["id"])
    body = {"merchant_id": str(row["id"]), "budget_fen": 10_000}
    mine = await template(client, owner, **body)

    async def centre(account: Account, query: str = "") -> list[str]:
        status, data = await call(
            client, account, "GET", f"/coupon-templates?claimable=true{query}"
        )
        assert status == 200, data
        return [item["id"] for item in data["items"]]

    assert await centre(resident) == []  # the merchant serves no community yet
    assert await centre(resident, f"&community_id={community.id}") == []
    await core.merchants.bind_community(
        _principal(community.admin, PlatformRole.ADMIN), row["id"], uuid.UUID(community.id)
    )
    assert await centre(resident) == [mine["id"]]
    assert await centre(resident, f"&community_id={community.id}") == [mine["id"]]
    assert await centre(community.outsider) == []
    status, items = await call(client, resident, "GET", "/coupon-templates?claimable=true")
    shown = items["items"][0]
    assert (shown["budget_fen"], shown["discount_given_fen"], shown["merchant_name"]) == (
        None,
        None,
        row["name"],
    )
    status, seen = await call(client, resident, "GET", f"/coupon-templates/{mine['id']}")
    assert (status, seen["budget_fen"], seen["discount_given_fen"]) == (200, None, None)
    status, seen = await call(client, owner, "GET", f"/coupon-templates/{mine['id']}")
    assert (status, seen["budget_fen"], seen["discount_given_fen"]) == (200, 10_000, 0)
