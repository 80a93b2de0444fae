"""Subscriptions over REST with the sandbox provider's agreements: signing, the first charge,
renewals, failures with retries through the grace period to a lapse, cancellation at the
period's end, upgrades and downgrades, forged/stale/duplicate webhooks — the ledger checked
after every money step — and the membership benefits (listing cap, search and recommendation
boost, support queue priority)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.ledger import AccountKind, AccountRef
from lago_core.listings import Category, Condition, ListingDraft, ListingKind
from lago_core.payments import SIGNATURE_HEADER
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_core.subscriptions import add_month
from lago_rest.context import CORE
from workers import create_worker

from .conftest import Account

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[Account]]
WEBHOOK = "/api/v1/payments/webhooks/sandbox"
REVENUE = AccountRef(AccountKind.PLATFORM_SUBSCRIPTION_REVENUE)
EXPENSE = AccountRef(AccountKind.PLATFORM_SUBSCRIPTION_EXPENSE)
CLEARING = AccountRef(AccountKind.CLEARING)


async def run_worker(settings: Settings, core: Core) -> None:
    # No cron jobs: the test decides when the renewal job runs (on the test clock).
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


def principal(account: Account) -> Principal:
    return Principal(user_id=account.id, session_id=uuid.uuid4())


async def assert_ledger_sound(core: Core) -> None:
    assert await core.ledger.check() == []
    assert core.sandbox is not None
    totals = await core.sandbox.totals()
    assert await core.ledger.balance(CLEARING) == (
        totals["captured"] - totals["refunded"] - totals["paid_out"] + totals["funded"]
    )


async def subscribe(
    client: Client, account: Account, plan: str, key: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = account.headers | {"Idempotency-Key": key or uuid.uuid4().hex}
    response = await client.post("/api/v1/subscriptions", json={"plan": plan}, headers=headers)
    return response.status, await response.json()


async def sign(client: Client, sub: dict[str, Any]) -> None:
    response = await client.post(
        f"/api/v1/sandbox/agreements/{sub['agreement_id']}/sign",
        json={"client_secret": sub["agreement_secret"]},
    )
    assert response.status == 200, await response.json()


async def mine(client: Client, account: Account) -> dict[str, Any]:
    # Tokens issued before the test clock moved a month are expired: sign in again.
    core: Core = client.app[CORE]
    pair = await core.identity.log_in(account.phone, account.password, "pytest")
    account.access_token = pair.access_token
    response = await client.get("/api/v1/me/subscriptions", headers=account.headers)
    assert response.status == 200
    subs = await response.json()
    return dict(subs[0])


async def active_subscription(
    client: Client, core: Core, settings: Settings, account: Account, plan: str = "member"
) -> dict[str, Any]:
    status, sub = await subscribe(client, account, plan)
    assert status == 201, sub
    assert sub["status"] == "pending"
    assert sub["sign_url"]
    assert sub["agreement_secret"]
    await sign(client, sub)
    await run_worker(settings, core)  # agreement.signed → first charge → its webhook
    got = await mine(client, account)
    assert got["status"] == "active", got
    return got


async def past_due_member(
    client: Client, core: Core, settings: Settings, clock: ManualClock, account: Account
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A member whose first renewal was declined: the subscription (past due) and the answer
    to subscribing (its agreement secret turns the funds back on)."""
    _status, pending = await subscribe(client, account, "member")
    await sign(client, pending)
    await run_worker(settings, core)
    sub = await mine(client, account)
    assert core.sandbox is not None
    await core.sandbox.set_agreement_funds(sub["agreement_id"], pending["agreement_secret"], False)
    clock.advance((add_month(clock.now()) - clock.now()).total_seconds() + 1)
    await core.subscriptions.renew()
    await run_worker(settings, core)
    assert (await mine(client, account))["status"] == "past_due"
    return sub, pending


async def notices(core: Core, user: Account, kind: str) -> int:
    return int(
        await core.pool.fetchval(
            "SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = $2", user.id, kind
        )
    )


async def test_subscribe_sign_first_charge_and_renewal(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: Any,
    webhook_target: None,
) -> None:
    resident = community.residents[0]
    start = clock.now()
    sub = await active_subscription(client, core, settings, resident)
    assert sub["plan_code"] == "member"
    assert sub["period_number"] == 1
    assert sub["member_benefits"] is True
    assert sub["agreement_secret"] is None
    period_end = datetime.fromisoformat(sub["current_period_end"])
    assert add_month(start) <= period_end < add_month(start) + timedelta(seconds=10)
    assert await core.ledger.balance(REVENUE) == 1500
    await assert_ledger_sound(core)
    assert await core.subscriptions.is_member(resident.id)

    # Nothing is due before the period ends; the job run twice changes nothing.
    assert await core.subscriptions.renew() in ({}, {"not_due": 1})
    clock.advance((add_month(start) - start).total_seconds() + 1)
    assert await core.subscriptions.renew() == {"submitted": 1}
    assert await core.subscriptions.renew() == {"waiting": 1}  # in flight: not asked again
    await run_worker(settings, core)
    renewed = await mine(client, resident)
    assert renewed["status"] == "active"
    assert renewed["period_number"] == 2
    assert renewed["current_period_start"] == sub["current_period_end"]  # the anchor stays
    assert await core.ledger.balance(REVENUE) == 3000
    await assert_ledger_sound(core)
    charges = await core.subscriptions.charges(uuid.UUID(sub["id"]))
    assert [(c["period_number"], c["status"]) for c in charges] == [
        (1, "succeeded"),
        (2, "succeeded"),
    ]


async def test_failure_retries_grace_and_lapse(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: Any,
    webhook_target: None,
) -> None:
    resident = community.residents[0]
    _status, pending = await subscribe(client, resident, "member")
    await sign(client, pending)
    await run_worker(settings, core)
    sub = await mine(client, resident)
    assert core.sandbox is not None
    await core.sandbox.set_agreement_funds(sub["agreement_id"], pending["agreement_secret"], False)
    end = sub["current_period_end"]
    period = add_month(clock.now()) - clock.now()
    clock.advance(period.total_seconds() + 1)

    assert await core.subscriptions.renew() == {"submitted": 1}
    await run_worker(settings, core)
    failing = await mine(client, resident)
    assert failing["status"] == "past_due"
    assert failing["failed_attempts"] == 1
    # Benefits hold through the grace period.
    assert failing["member_benefits"] is True
    assert await core.subscriptions.is_member(resident.id)
    assert await notices(core, resident, "subscription_renewal_failed") == 1
    assert await core.ledger.balance(REVENUE) == 1500  # nothing charged
    await assert_ledger_sound(core)

    # Not yet time to retry; then a retry that fails again (one notice per period).
    assert await core.subscriptions.renew() == {"waiting": 1}
    clock.advance(settings.subscription_retry_s)
    assert await core.subscriptions.renew() == {"submitted": 1}
    await run_worker(settings, core)
    assert (await mine(client, resident))["failed_attempts"] == 2
    assert await notices(core, resident, "subscription_renewal_failed") == 1

    # The grace period runs out: lapsed, benefits gone, the subscriber told.
    clock.advance(settings.subscription_grace_s)
    assert await core.subscriptions.renew() == {"lapsed": 1}
    lapsed = await mine(client, resident)
    assert lapsed["status"] == "lapsed"
    assert lapsed["member_benefits"] is False
    assert lapsed["current_period_end"] == end
    assert not await core.subscriptions.is_member(resident.id)
    assert await notices(core, resident, "subscription_lapsed") == 1
    assert await core.subscriptions.renew() == {}
    assert await core.ledger.balance(REVENUE) == 1500
    await assert_ledger_sound(core)
    # Lapsed: a new subscription may start.
    assert (await subscribe(client, resident, "member"))[0] == 201


async def test_failure_then_retry_succeeds_within_grace(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: Any,
    webhook_target: None,
) -> None:
    resident = community.residents[1]
    sub, pending = await past_due_member(client, core, settings, clock, resident)
    assert core.sandbox is not None

    await core.sandbox.set_agreement_funds(sub["agreement_id"], pending["agreement_secret"], True)
    clock.advance(settings.subscription_retry_s)
    assert await core.subscriptions.renew() == {"submitted": 1}
    await run_worker(settings, core)
    back = await mine(client, resident)
    assert back["status"] == "active"
    assert back["period_number"] == 2
    assert back["failed_attempts"] == 0
    assert back["current_period_start"] == sub["current_period_end"]
    assert await core.ledger.balance(REVENUE) == 3000
    # The provider charged the period once: one success under its key, one failure.
    rows = await core.pool.fetch(
        "SELECT status FROM sandbox_agreement_charges WHERE idempotency_key LIKE $1 ORDER BY attempt",
        f"subscription:{sub['id']}:period:2:%",
    )
    assert [r["status"] for r in rows] == ["failed", "succeeded"]
    await assert_ledger_sound(core)


async def test_cancel_at_period_end(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: Any,
    webhook_target: None,
) -> None:
    resident, other = community.residents[0], community.residents[1]
    sub = await active_subscription(client, core, settings, resident)
    url = f"/api/v1/subscriptions/{sub['id']}/cancel"
    assert (await client.post(url, headers=other.headers)).status == 404
    response = await client.post(url, headers=resident.headers)
    assert response.status == 200
    canceled = await response.json()
    assert canceled["status"] == "active"
    assert canceled["cancel_at_period_end"] is True
    assert canceled["member_benefits"] is True
    assert (await client.post(url, headers=resident.headers)).status == 200  # idempotent

    clock.advance((add_month(clock.now()) - clock.now()).total_seconds() + 1)
    assert await core.subscriptions.renew() == {"canceled": 1}
    ended = await mine(client, resident)
    assert ended["status"] == "canceled"
    assert ended["member_benefits"] is False
    assert len(await core.subscriptions.charges(uuid.UUID(sub["id"]))) == 1
    assert await core.ledger.balance(REVENUE) == 1500
    await assert_ledger_sound(core)


async def test_upgrade_now_pro_rata_and_downgrade_at_period_end(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: Any,
    webhook_target: None,
) -> None:
    seller = community.residents[0]
    start = clock.now()
    sub = await active_subscription(client, core, settings, seller, "vn_basic")
    end = add_month(start)
    total = (end - start).total_seconds()
    clock.advance(total / 2)
    await mine(client, seller)  # signs in again
    url = f"/api/v1/subscriptions/{sub['id']}/change"
    headers = seller.headers | {"Idempotency-Key": "upgrade-1"}
    # Another kind is refused.
    bad = await client.post(url, json={"plan": "member"}, headers=headers)
    assert bad.status == 422
    assert (await bad.json())["error"]["code"] == "plan_kind_mismatch"
    response = await client.post(url, json={"plan": "vn_pro"}, headers=headers)
    assert response.status == 200, await response.json()
    changed = await response.json()
    assert changed["upgrade_charge_id"]
    assert changed["plan_code"] == "vn_basic"
    # A retry of the same request charges nothing more.
    again = await client.post(url, json={"plan": "vn_pro"}, headers=headers)
    assert (await again.json())["upgrade_charge_id"] == changed["upgrade_charge_id"]
    await run_worker(settings, core)
    upgraded = await mine(client, seller)
    assert upgraded["plan_code"] == "vn_pro"
    difference = (1990 - 990) * int((end - clock.now()).total_seconds()) // int(total)
    assert await core.ledger.balance(REVENUE) == 990 + difference
    await assert_ledger_sound(core)

    # A downgrade waits for the period's end, and the renewal charges the lower plan.
    down = await client.post(
        url, json={"plan": "vn_basic"}, headers=seller.headers | {"Idempotency-Key": "down-1"}
    )
    assert (await down.json())["next_plan_code"] == "vn_basic"
    assert (await mine(client, seller))["plan_code"] == "vn_pro"
    clock.advance((end - clock.now()).total_seconds() + 1)
    assert await core.subscriptions.renew() == {"submitted": 1}
    await run_worker(settings, core)
    renewed = await mine(client, seller)
    assert renewed["plan_code"] == "vn_basic"
    assert renewed["period_number"] == 2
    assert renewed["next_plan_code"] is None
    assert await core.ledger.balance(REVENUE) == 990 + difference + 990
    await assert_ledger_sound(core)


async def test_webhooks_forged_stale_and_duplicate(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: Any,
) -> None:
    # No webhook_target: the test delivers each event itself.
    resident = community.residents[0]
    _status, pending = await subscribe(client, resident, "member")
    await sign(client, pending)
    assert core.sandbox is not None
    events = [e for e in await core.sandbox.events() if e["type"] == "agreement.signed"]
    assert len(events) == 1
    body, headers = await core.sandbox.signed_delivery(events[0]["id"])

    forged = dict(headers) | {SIGNATURE_HEADER: "t=1,v1=" + "0" * 64}
    response = await client.post(WEBHOOK, data=body, headers=forged)
    assert response.status == 401
    tampered = body.replace(b"signed", b"revoked")
    response = await client.post(WEBHOOK, data=tampered, headers=headers)
    assert response.status == 401

    clock.advance(settings.webhook_tolerance_s + 1)
    response = await client.post(WEBHOOK, data=body, headers=headers)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "stale_webhook"
    clock.advance(-(settings.webhook_tolerance_s + 1))

    first = await client.post(WEBHOOK, data=body, headers=headers)
    second = await client.post(WEBHOOK, data=body, headers=headers)
    assert (await first.json())["duplicate"] is False
    assert (await second.json())["duplicate"] is True
    assert await core.payments.apply_event("sandbox", events[0]["id"]) == "agreement_signed"
    assert await core.payments.apply_event("sandbox", events[0]["id"]) == "already_applied"
    # The signed handler's first charge ran after commit: one charge event, delivered twice.
    charges = [e for e in await core.sandbox.events() if e["type"].startswith("agreement_charge")]
    assert len(charges) == 1
    body, headers = await core.sandbox.signed_delivery(charges[0]["id"])
    for _ in range(2):
        assert (await client.post(WEBHOOK, data=body, headers=headers)).status == 200
    assert await core.payments.apply_event("sandbox", charges[0]["id"]) == "started"
    assert await core.payments.apply_event("sandbox", charges[0]["id"]) == "already_applied"
    assert await core.ledger.balance(REVENUE) == 1500
    await assert_ledger_sound(core)
    # The renewal job does not charge the first period again.
    assert await core.subscriptions.renew() == {}
    assert len(await core.subscriptions.charges(uuid.UUID(pending["id"]))) == 1


async def test_rest_input_permissions_and_idempotency(
    client: Client, core: Core, community: Any, make_account: MakeAccount
) -> None:
    resident = community.residents[0]
    plans = await client.get("/api/v1/plans", headers=resident.headers)
    assert plans.status == 200, await plans.json()
    codes = {p["code"]: p for p in await plans.json()}
    assert codes["vn_basic"]["monthly_price_fen"] == 990
    assert codes["vn_pro"]["monthly_price_fen"] == 1990
    assert codes["vn_basic"]["grants"]["vn_buyers_per_month"] == 30
    assert (await client.get("/api/v1/plans")).status == 401

    response = await client.post(
        "/api/v1/subscriptions", json={"plan": "member"}, headers=resident.headers
    )
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "idempotency_key_required"
    for body, code in (
        ({"plan": "BAD PLAN"}, 422),
        ({"plan": "member\u0000"}, 422),
        ({"plan": "nothing_here"}, 404),
        ({}, 422),
        ({"plan": "member", "extra": 1}, 422),
    ):
        response = await client.post(
            "/api/v1/subscriptions",
            json=body,
            headers=resident.headers | {"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status == code, (body, await response.json())

    status, first = await subscribe(client, resident, "member", key="k1")
    status2, again = await subscribe(client, resident, "member", key="k1")
    assert status == status2 == 201
    assert first["id"] == again["id"]
    status, other = await subscribe(client, resident, "vn_basic", key="k1")
    assert status == 422
    assert other["error"]["code"] == "idempotency_key_reused"
    status, dup = await subscribe(client, resident, "member", key="k2")
    assert status == 409
    assert dup["error"]["code"] == "subscription_exists"
    # Someone else's subscription is not found.
    other_user = community.residents[1]
    got = await client.get(f"/api/v1/subscriptions/{first['id']}", headers=other_user.headers)
    assert got.status == 404
    # The sign page refuses a wrong secret as "not found".
    response = await client.post(
        f"/api/v1/sandbox/agreements/{first['agreement_id']}/sign",
        json={"client_secret": "wrong"},
    )
    assert response.status == 404
    # Only admins grant a first month.
    response = await client.post(
        "/api/v1/subscriptions/grants",
        json={"user_id": str(resident.id), "plan": "vn_basic"},
        headers=resident.headers,
    )
    assert response.status == 403
    # An unsigned agreement is abandoned after its time.
    assert isinstance(core.clock, ManualClock)
    core.clock.advance(core.settings.subscription_sign_ttl_s + 1)
    assert await core.subscriptions.renew() == {"abandoned": 1}


async def test_granted_first_month_is_a_platform_expense(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: Any,
    webhook_target: None,
) -> None:
    seller, admin = community.residents[0], community.admin
    url = "/api/v1/subscriptions/grants"
    bad = await client.post(
        url, json={"user_id": str(seller.id), "plan": "member"}, headers=admin.headers
    )
    assert bad.status == 422
    assert (await bad.json())["error"]["code"] == "plan_not_grantable"
    response = await client.post(
        url, json={"user_id": str(seller.id), "plan": "vn_basic"}, headers=admin.headers
    )
    assert response.status == 201, await response.json()
    granted = await response.json()
    assert granted["status"] == "active"
    assert granted["first_period_granted_by"] == str(admin.id)
    assert await core.ledger.balance(EXPENSE) == 990
    assert await core.ledger.balance(REVENUE) == 990
    await assert_ledger_sound(core)
    again = await client.post(
        url, json={"user_id": str(seller.id), "plan": "vn_pro"}, headers=admin.headers
    )
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "not_first_month"

    # The seller signs an agreement for the same plan: it renews after the granted month.
    status, attached = await subscribe(client, seller, "vn_basic")
    assert status == 201
    assert attached["id"] == granted["id"]
    assert attached["sign_url"]
    await sign(client, attached)
    await run_worker(settings, core)
    sub = await mine(client, seller)
    assert sub["cancel_at_period_end"] is False
    assert sub["agreement_signed_at"]
    clock.advance((add_month(clock.now()) - clock.now()).total_seconds() + 1)
    assert await core.subscriptions.renew() == {"submitted": 1}
    await run_worker(settings, core)
    assert (await mine(client, seller))["period_number"] == 2
    assert await core.ledger.balance(REVENUE) == 990 + 990
    assert await core.ledger.balance(EXPENSE) == 990
    await assert_ledger_sound(core)


# --- membership benefits ----------------------------------------------------------------------

LISTING = {
    "title": "乐高 42115 兰博基尼",
    "description": "九成新",
    "category": "building_blocks",
    "brand": "LEGO",
    "condition": "like_new",
    "kind": "sale",
    "price_fen": 150_000,
}


async def test_listing_cap_for_non_members_lifted_for_members(
    client: Client,
    core: Core,
    settings: Settings,
    community: Any,
    webhook_target: None,
) -> None:
    seller = community.residents[0]
    cap = settings.listing_cap_non_member
    ids = []
    for i in range(cap):
        response = await client.post(
            "/api/v1/listings", json=LISTING | {"title": f"玩具 {i}"}, headers=seller.headers
        )
        assert response.status == 201
        ids.append((await response.json())["id"])
    refused = await client.post("/api/v1/listings", json=LISTING, headers=seller.headers)
    assert refused.status == 409
    error = (await refused.json())["error"]
    assert error["code"] == "listing_cap_reached"
    assert error["details"]["cap"] == cap

    # Withdraw one, publish one: the withdrawn one cannot come back over the cap.
    assert (
        await client.post(f"/api/v1/listings/{ids[0]}/withdraw", headers=seller.headers)
    ).status == 200
    assert (
        await client.post("/api/v1/listings", json=LISTING, headers=seller.headers)
    ).status == 201
    back = await client.post(f"/api/v1/listings/{ids[0]}/reactivate", headers=seller.headers)
    assert back.status == 409
    assert (await back.json())["error"]["code"] == "listing_cap_reached"

    # A member has no cap.
    await active_subscription(client, core, settings, seller)
    back = await client.post(f"/api/v1/listings/{ids[0]}/reactivate", headers=seller.headers)
    assert back.status == 200
    assert (await back.json())["status"] == "active"
    more = await client.post("/api/v1/listings", json=LISTING, headers=seller.headers)
    assert more.status == 201
    active = await core.pool.fetchval(
        "SELECT count(*) FROM listings WHERE seller_id = $1 AND status = 'active'", seller.id
    )
    assert active == cap + 2


async def _member(core: Core, account: Account) -> None:
    """Make ``account`` a member through the database's own rows (the REST path is tested
    above): an active membership whose period runs a month from now."""
    now = core.clock.now()
    await core.pool.execute(
        """INSERT INTO subscriptions (id, user_id, plan_code, kind, status, provider,
               period_number, current_period_start, current_period_end, access_until,
               created_at, updated_at)
           VALUES ($1, $2, 'member', 'membership', 'active', 'sandbox', 1, $3, $4, $4, $3, $3)""",
        uuid.uuid4(),
        account.id,
        now,
        add_month(now),
    )


async def test_member_listings_get_a_documented_boost_in_search_and_recommendations(
    core: Core, community: Any
) -> None:
    from lago_core.ai.recommend import MEMBER_RECOMMEND_BOOST
    from lago_core.ai.search import MEMBER_SEARCH_BOOST

    member, other, reader = community.residents
    draft = ListingDraft(
        title="乐高 积木 城堡",
        description="",
        category=Category.BUILDING_BLOCKS,
        condition=Condition.GOOD,
        kind=ListingKind.SALE,
        brand="LEGO",
        price_fen=10_000,
    )
    # The non-member's listing is newer, so it would rank first without the boost.
    mine_row = await core.listings.create(principal(member), draft)
    assert isinstance(core.clock, ManualClock)
    core.clock.advance(60)
    theirs = await core.listings.create(principal(other), draft)

    async def ranked() -> tuple[list[Any], list[Any]]:
        hits = (await core.ai.search.search(principal(reader), "乐高积木", 10)).hits
        _cold, recs = await core.ai.recommend.for_user(principal(reader), 10)
        return hits, recs

    hits, recs = await ranked()
    assert [h.listing["id"] for h in hits] == [theirs["id"], mine_row["id"]]
    before = {h.listing["id"]: h.score for h in hits}
    before_recs = {r.listing["id"]: r.score for r in recs}

    await _member(core, member)
    hits, recs = await ranked()
    assert [h.listing["id"] for h in hits] == [mine_row["id"], theirs["id"]]
    after = {h.listing["id"]: h.score for h in hits}
    assert after[mine_row["id"]] == pytest.approx(before[mine_row["id"]] + MEMBER_SEARCH_BOOST)
    assert after[theirs["id"]] == before[theirs["id"]]
    assert "会员卖家" in hits[0].reasons
    after_recs = {r.listing["id"]: r.score for r in recs}
    assert after_recs[mine_row["id"]] == pytest.approx(
        before_recs[mine_row["id"]] + MEMBER_RECOMMEND_BOOST
    )
    assert after_recs[theirs["id"]] == before_recs[theirs["id"]]
    assert recs[0].listing["id"] == mine_row["id"]


async def test_members_come_first_in_the_support_queue(
    core: Core, community: Any, make_account: MakeAccount
) -> None:
    from lago_core.security.roles import PlatformRole

    first, member = community.residents[0], community.residents[1]
    agent = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    as_agent = Principal(agent.id, uuid.uuid4(), PlatformRole.CUSTOMER_SERVICE)
    support = core.ai.support
    assert isinstance(core.clock, ManualClock)
    conversations = []
    for account in (first, member):
        conversation, _ = await support.start(principal(account), None)
        await support.request_human(principal(account), conversation["id"])
        conversations.append(conversation["id"])
        core.clock.advance(30)
    queue = await support.queue(as_agent, 10)
    assert [c["id"] for c in queue] == conversations  # oldest first
    await _member(core, member)
    queue = await support.queue(as_agent, 10)
    assert [c["id"] for c in queue] == conversations[::-1]
    assert [c["member"] for c in queue] == [True, False]


async def test_queue_priority_ends_with_the_membership(
    core: Core, community: Any, make_account: MakeAccount
) -> None:
    """A lapsed membership gives no priority (benefits follow access_until on the clock)."""
    from lago_core.security.roles import PlatformRole

    first, member = community.residents[0], community.residents[1]
    agent = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    as_agent = Principal(agent.id, uuid.uuid4(), PlatformRole.CUSTOMER_SERVICE)
    support = core.ai.support
    assert isinstance(core.clock, ManualClock)
    await _member(core, member)
    ids = []
    for account in (first, member):
        conversation, _ = await support.start(principal(account), None)
        await support.request_human(principal(account), conversation["id"])
        ids.append(conversation["id"])
        core.clock.advance(30)
    assert [c["id"] for c in await support.queue(as_agent, 10)] == ids[::-1]
    core.clock.advance(timedelta(days=40).total_seconds())
    assert [c["id"] for c in await support.queue(as_agent, 10)] == ids


async def test_concurrent_renewal_jobs_charge_a_period_once(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: Any,
    webhook_target: None,
) -> None:
    import asyncio

    resident = community.residents[2]
    await active_subscription(client, core, settings, resident)
    clock.advance((add_month(clock.now()) - clock.now()).total_seconds() + 1)
    outcomes = await asyncio.gather(*(core.subscriptions.renew() for _ in range(4)))
    submitted = sum(o.get("submitted", 0) for o in outcomes)
    assert submitted == 1
    await run_worker(settings, core)
    assert (await mine(client, resident))["period_number"] == 2
    assert await core.ledger.balance(REVENUE) == 3000
    charged = await core.pool.fetchval(
        "SELECT count(*) FROM sandbox_agreement_charges WHERE status = 'succeeded'"
    )
    assert charged == 2
    await assert_ledger_sound(core)


async def test_a_charge_in_flight_when_cancelled_gives_its_period_and_no_more(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: Any,
    webhook_target: None,
) -> None:
    resident = community.residents[0]
    sub, pending = await past_due_member(client, core, settings, clock, resident)
    assert core.sandbox is not None

    await core.sandbox.set_agreement_funds(sub["agreement_id"], pending["agreement_secret"], True)
    clock.advance(settings.subscription_retry_s)
    assert await core.subscriptions.renew() == {"submitted": 1}
    # The subscriber cancels before the charge's webhook arrives.
    canceled = await core.subscriptions.cancel(principal(resident), uuid.UUID(sub["id"]))
    assert canceled["status"] == "canceled"
    await run_worker(settings, core)
    after = await mine(client, resident)
    assert after["status"] == "active"
    assert after["period_number"] == 2
    assert after["cancel_at_period_end"] is True
    assert await core.ledger.balance(REVENUE) == 3000
    await assert_ledger_sound(core)
    clock.advance((add_month(clock.now()) - clock.now()).total_seconds() + 1)
    assert await core.subscriptions.renew() == {"canceled": 1}
    assert await core.ledger.balance(REVENUE) == 3000


async def test_concurrent_publishes_stop_at_the_cap(
    client: Client, core: Core, settings: Settings, community: Any
) -> None:
    import asyncio

    seller = community.residents[1]
    cap = settings.listing_cap_non_member
    for i in range(cap - 1):
        response = await client.post(
            "/api/v1/listings", json=LISTING | {"title": f"玩具 {i}"}, headers=seller.headers
        )
        assert response.status == 201
    responses = await asyncio.gather(
        *(client.post("/api/v1/listings", json=LISTING, headers=seller.headers) for _ in range(5))
    )
    assert sorted(r.status for r in responses) == [201, 409, 409, 409, 409]
    active = await core.pool.fetchval(
        "SELECT count(*) FROM listings WHERE seller_id = $1 AND status = 'active'", seller.id
    )
    assert active == cap


async def test_the_ledger_accepts_every_account_kind_the_code_knows(core: Core) -> None:
    """027 extends the kind check in place: whatever order the migrations ran in, every kind
    (coupons', money out's, subscriptions') is allowed."""
    definition = await core.pool.fetchval(
        """SELECT pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conname = 'ledger_accounts_kind_check'"""
    )
    missing = [kind.value for kind in AccountKind if f"'{kind.value}'" not in definition]
    assert missing == []


async def test_processes_starting_together_insert_the_plans_once(core: Core) -> None:
    """Two real-time nodes and a worker starting at the same moment each ensure the plans; a
    failover benchmark's two nodes once raced there and one failed its start-up on the (kind,
    tier) constraint. They take turns now: while one holds the plans' lock, another waits (seen
    in pg_locks), then finds them there; several together all succeed."""
    import asyncio

    from lago_core.subscriptions.plans import PLANS
    from lago_core.subscriptions.store import SubscriptionStore

    from .waiting import until

    await core.pool.execute("DELETE FROM subscription_plans")
    async with core.pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT pg_advisory_xact_lock(hashtext('subscription_plans'))")
        waiting = asyncio.create_task(SubscriptionStore(core.pool).ensure_plans(PLANS))

        async def blocked() -> bool:
            return bool(
                await core.pool.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
            )

        await until(blocked)
        assert not waiting.done()
    await waiting
    stores = [SubscriptionStore(core.pool) for _ in range(8)]
    await core.pool.execute("DELETE FROM subscription_plans")
    await asyncio.gather(*(s.ensure_plans(PLANS) for s in stores))
    codes = {r["code"] for r in await core.pool.fetch("SELECT code FROM subscription_plans")}
    assert codes == {p.code for p in PLANS}
