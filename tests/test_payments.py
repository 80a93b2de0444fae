"""Payments over REST with the sandbox provider: intents, signed webhooks, idempotency keys,
refunds, deposits, payouts, crashes between steps — and the ledger balanced after each."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import REGISTRY

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.jobs import APPLY_PAYMENT_EVENT
from lago_core.ledger import AccountKind, AccountRef, Party, PartyKind
from lago_core.payments import SIGNATURE_HEADER
from lago_core.payments.service import EVENT_ATTEMPTS
from lago_core.payments.signing import sign
from lago_core.security.roles import PlatformRole
from lago_core.settings import Settings
from workers import create_worker, queue_name

from .conftest import Account

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[Account]]
WEBHOOK = "/api/v1/payments/webhooks/sandbox"


def _ref(kind: AccountKind, owner: uuid.UUID | None = None) -> AccountRef:
    return AccountRef(kind) if owner is None else AccountRef(kind, owner)


async def run_worker(settings: Settings, core: Core) -> None:
    worker = create_worker(settings, core=core, burst=True, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()


@pytest.fixture
def webhook_target(core: Core, client: Client) -> None:
    """Point the sandbox's deliveries at the test server (its port is known only now)."""
    core.settings = dataclasses.replace(
        core.settings, sandbox_webhook_url=str(client.make_url(WEBHOOK))
    )


async def create(
    client: Client, payer: Account, key: str | None, **overrides: Any
) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {
        # A reference no service owns: owned ones (orders, seats) demand their own payee/amount.
        "reference_type": "invoice",
        "reference_id": str(uuid.UUID(int=1)),
        "amount_fen": 10_000,
        "payee_kind": "user",
    } | overrides
    headers = dict(payer.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    response = await client.post("/api/v1/payments", json=body, headers=headers)
    return response.status, await response.json()


async def pay(client: Client, payment: dict[str, Any], outcome: str = "succeed") -> Any:
    response = await client.post(
        f"/api/v1/sandbox/intents/{payment['provider_intent_id']}/pay",
        json={"client_secret": payment["client_secret"], "outcome": outcome},
    )
    return response


async def paid_payment(
    client: Client,
    core: Core,
    settings: Settings,
    payer: Account,
    seller: Account,
    **overrides: Any,
) -> dict[str, Any]:
    status, payment = await create(
        client, payer, uuid.uuid4().hex, payee_id=str(seller.id), **overrides
    )
    assert status == 201, payment
    assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)  # delivers the webhook, which queues and applies the effect
    got = await client.get(f"/api/v1/payments/{payment['id']}", headers=payer.headers)
    return dict(await got.json())


async def assert_ledger_sound(core: Core) -> None:
    assert await core.ledger.check() == []
    assert core.sandbox is not None
    totals = await core.sandbox.totals()
    # What the provider holds for us is exactly what the clearing account says.
    assert await core.ledger.balance(_ref(AccountKind.CLEARING)) == (
        totals["captured"] - totals["refunded"] - totals["paid_out"] + totals["funded"]
    )


async def test_pay_signed_webhook_capture_and_ledger(
    client: Client,
    core: Core,
    settings: Settings,
    make_account: MakeAccount,
    community: Any,
    webhook_target: None,
) -> None:
    payer, seller = community.residents[0], community.residents[1]
    status, payment = await create(
        client,
        payer,
        "order-1-attempt",
        payee_id=str(seller.id),
        deposit_fen=5_000,
        community_id=community.id,
    )
    assert status == 201, payment
    assert payment["status"] == "requires_payment"
    assert payment["total_fen"] == 15_000
    # 10% commission, a fifth of which is the property company's.
    assert (payment["commission_fen"], payment["property_share_fen"]) == (800, 200)

    paid = await pay(client, payment)
    assert paid.status == 200
    assert (await paid.json())["status"] == "succeeded"
    await run_worker(settings, core)

    got = await (
        await client.get(f"/api/v1/payments/{payment['id']}", headers=payer.headers)
    ).json()
    assert got["status"] == "captured"
    assert got["deposit_status"] == "held"
    assert await core.ledger.balance(_ref(AccountKind.CLEARING)) == 15_000
    assert await core.ledger.balance(_ref(AccountKind.DEPOSIT_ESCROW)) == 5_000
    assert await core.ledger.balance(_ref(AccountKind.SELLER_PAYABLE, seller.id)) == 9_000
    assert await core.ledger.balance(_ref(AccountKind.PLATFORM_COMMISSION)) == 800
    company = (await core.communities.get(uuid.UUID(community.id)))["property_company_id"]
    assert await core.ledger.balance(_ref(AccountKind.PROPERTY_SHARE, company)) == 200
    await assert_ledger_sound(core)

    # The provider delivers the same event again (a lost 2xx): recorded once, applied once.
    assert core.sandbox is not None
    (event,) = await core.sandbox.events()
    body, headers = await core.sandbox.signed_delivery(event["id"])
    again = await client.post(WEBHOOK, data=body, headers=headers)
    assert again.status == 200
    assert (await again.json())["duplicate"] is True
    await run_worker(settings, core)
    assert await core.ledger.balance(_ref(AccountKind.CLEARING)) == 15_000
    assert await core.pool.fetchval("SELECT count(*) FROM payment_events") == 1
    assert (
        await core.pool.fetchval(
            "SELECT count(*) FROM ledger_transactions WHERE key LIKE 'payment:%:capture'"
        )
        == 1
    )
    # Paying twice is refused by the provider.
    assert (await pay(client, payment)).status == 409


async def test_forged_stale_and_malformed_webhooks_are_refused(
    client: Client, core: Core, clock: ManualClock, make_account: MakeAccount
) -> None:
    payer, seller = await make_account("买家"), await make_account("卖家")
    status, payment = await create(client, payer, "k1", payee_id=str(seller.id))
    assert status == 201
    assert (await pay(client, payment)).status == 200
    assert core.sandbox is not None
    (event,) = await core.sandbox.events()
    body, headers = await core.sandbox.signed_delivery(event["id"])
    now = int(clock.now().timestamp())

    async def post(data: bytes, signature: str | None) -> tuple[int, str]:
        hdrs = {"Content-Type": "application/json"}
        if signature is not None:
            hdrs[SIGNATURE_HEADER] = signature
        response = await client.post(WEBHOOK, data=data, headers=hdrs)
        return response.status, (await response.json()).get("error", {}).get("code", "")

    forged = sign(b"not-the-secret-0123456789abcdef0123", now, body)
    assert await post(body, forged) == (401, "invalid_signature")
    assert await post(body, None) == (401, "invalid_signature")
    assert await post(body, "t=abc,v1=00") == (401, "invalid_signature")
    tampered = body.replace(b'"amount_fen":10000', b'"amount_fen":1')
    assert tampered != body
    assert await post(tampered, headers[SIGNATURE_HEADER]) == (401, "invalid_signature")
    assert (await post(b"x" * (65 << 10), headers[SIGNATURE_HEADER]))[0] == 413
    # Correctly signed, but held back past the replay window.
    clock.advance(301)
    assert await post(body, headers[SIGNATURE_HEADER]) == (400, "stale_webhook")
    # And one signed too far in the future.
    future = sign(core.settings.webhook_secret, int(clock.now().timestamp()) + 400, body)
    assert await post(body, future) == (400, "stale_webhook")
    assert await core.pool.fetchval("SELECT count(*) FROM payment_events") == 0
    # Unknown providers are not found.
    response = await client.post("/api/v1/payments/webhooks/paypal", data=body, headers=headers)
    assert response.status == 404
    # A fresh signature inside the window is accepted.
    body, headers = await core.sandbox.signed_delivery(event["id"])
    assert (await client.post(WEBHOOK, data=body, headers=headers)).status == 200


async def test_concurrent_creates_with_one_key_make_one_intent(
    client: Client, core: Core, make_account: MakeAccount
) -> None:
    payer, seller = await make_account("买家"), await make_account("卖家")
    results = await asyncio.gather(
        *(create(client, payer, "same-key", payee_id=str(seller.id)) for _ in range(4))
    )
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    assert all(body == results[0][1] for _, body in results)
    assert await core.pool.fetchval("SELECT count(*) FROM sandbox_intents") == 1
    assert await core.pool.fetchval("SELECT count(*) FROM payments") == 1
    # Later, a retry still gets the same response.
    assert await create(client, payer, "same-key", payee_id=str(seller.id)) == results[0]
    # Another caller's identical key is their own.
    other = await make_account("别人")
    status, body = await create(client, other, "same-key", payee_id=str(seller.id))
    assert status == 201
    assert body["id"] != results[0][1]["id"]


async def test_idempotency_key_rules(client: Client, core: Core, make_account: MakeAccount) -> None:
    payer, seller = await make_account("买家"), await make_account("卖家")
    status, _ = await create(client, payer, "k", payee_id=str(seller.id))
    assert status == 201
    status, body = await create(client, payer, "k", payee_id=str(seller.id), amount_fen=9_999)
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")
    status, body = await create(client, payer, None, payee_id=str(seller.id))
    assert (status, body["error"]["code"]) == (422, "idempotency_key_required")
    status, body = await create(client, payer, "x" * 101, payee_id=str(seller.id))
    assert (status, body["error"]["code"]) == (422, "invalid_idempotency_key")
    # A request that failed stored nothing: the key works once the request is right.
    status, body = await create(client, payer, "k2", payee_id=str(payer.id))
    assert (status, body["error"]["code"]) == (422, "invalid_payee")
    status, _ = await create(client, payer, "k2", payee_id=str(seller.id))
    assert status == 201
    # Money is integer fen, strictly.
    status, body = await create(client, payer, "k3", payee_id=str(seller.id), amount_fen=12.5)
    assert status == 422


async def test_worker_killed_between_recording_and_applying(
    client: Client, core: Core, settings: Settings, make_account: MakeAccount, webhook_target: None
) -> None:
    payer, seller = await make_account("买家"), await make_account("卖家")
    _, payment = await create(client, payer, "k", payee_id=str(seller.id))
    assert (await pay(client, payment)).status == 200
    assert core.sandbox is not None
    (event,) = await core.sandbox.events()
    body, headers = await core.sandbox.signed_delivery(event["id"])
    assert (await client.post(WEBHOOK, data=body, headers=headers)).status == 200

    class Killed(Exception):
        pass

    def kill(point: str) -> None:
        raise Killed(point)

    # The job dies after the effect was written but before it committed with its mark.
    core.payments.crash_hook = kill
    with pytest.raises(Killed):
        await core.payments.apply_event("sandbox", event["id"])
    core.payments.crash_hook = None
    row = await core.payments.get(None, uuid.UUID(payment["id"]))
    assert row.status == "requires_payment"
    assert await core.pool.fetchval("SELECT count(*) FROM ledger_transactions") == 0

    # arq runs it again (and, at least once, maybe twice more).
    await run_worker(settings, core)
    await core.jobs.enqueue(APPLY_PAYMENT_EVENT, "sandbox", event["id"])
    await run_worker(settings, core)
    assert await core.payments.apply_event("sandbox", event["id"]) == "already_applied"
    row = await core.payments.get(None, uuid.UUID(payment["id"]))
    assert row.status == "captured"
    assert await core.pool.fetchval("SELECT count(*) FROM ledger_transactions") == 1
    assert await core.ledger.balance(_ref(AccountKind.CLEARING)) == 10_000
    await assert_ledger_sound(core)


async def test_an_application_postgresql_aborts_as_a_deadlock_victim_runs_again(
    client: Client, core: Core, make_account: MakeAccount, webhook_target: None
) -> None:
    """Two event applications at once can lock ledger accounts in opposite orders across their
    postings (seen in CI: two rejected seat payments' refunds); PostgreSQL aborts one. Its whole
    transaction rolled back, so it runs again — once, with one ledger transaction — and only
    an application aborted every time fails its job (arq's retry and the sweep remain)."""
    payer, seller = await make_account("买家"), await make_account("卖家")
    events = []
    for key in ("k1", "k2"):
        _, payment = await create(client, payer, key, payee_id=str(seller.id))
        assert (await pay(client, payment)).status == 200
    assert core.sandbox is not None
    for event in await core.sandbox.events():
        body, headers = await core.sandbox.signed_delivery(event["id"])
        assert (await client.post(WEBHOOK, data=body, headers=headers)).status == 200
        events.append(event["id"])
    aborts = {"left": 1}

    def deadlock(point: str) -> None:
        if point == "event.effect_applied" and aborts["left"]:
            aborts["left"] -= 1
            raise asyncpg.DeadlockDetectedError("deadlock detected")

    retried = REGISTRY.get_sample_value("lago_payments_event_retries_total") or 0.0
    core.payments.crash_hook = deadlock
    try:
        assert await core.payments.apply_event("sandbox", events[0]) == "captured"
        assert REGISTRY.get_sample_value("lago_payments_event_retries_total") == retried + 1
        assert await core.pool.fetchval("SELECT count(*) FROM ledger_transactions") == 1
        # Aborted every time: the job fails, nothing of it is left applied.
        aborts["left"] = EVENT_ATTEMPTS
        with pytest.raises(asyncpg.DeadlockDetectedError):
            await core.payments.apply_event("sandbox", events[1])
    finally:
        core.payments.crash_hook = None
    assert await core.pool.fetchval("SELECT count(*) FROM ledger_transactions") == 1
    assert await core.payments.apply_event("sandbox", events[1]) == "captured"
    assert await core.payments.apply_event("sandbox", events[0]) == "already_applied"
    assert await core.ledger.balance(_ref(AccountKind.CLEARING)) == 20_000
    await assert_ledger_sound(core)


async def test_partial_refunds_up_to_the_price(
    client: Client, core: Core, settings: Settings, make_account: MakeAccount, webhook_target: None
) -> None:
    payer, seller = await make_account("买家"), await make_account("卖家")
    payment = await paid_payment(client, core, settings, payer, seller, amount_fen=1_001)
    url = f"/api/v1/payments/{payment['id']}/refunds"

    async def refund(key: str, amount: int) -> tuple[int, Any]:
        response = await client.post(
            url,
            json={"amount_fen": amount, "reason": "少了零件"},
            headers=payer.headers | {"Idempotency-Key": key},
        )
        return response.status, await response.json()

    first = await refund("r1", 333)
    assert first[0] == 201
    assert await refund("r1", 333) == first  # replay: same refund, not a second one
    assert (await refund("r2", 600))[0] == 201
    status, body = await refund("r3", 69)
    assert (status, body["error"]["code"]) == (409, "refund_exceeds_captured")
    assert body["error"]["details"] == {"refundable_fen": 68}
    assert (await refund("r3b", 68))[0] == 201
    status, body = await refund("r4", 1)
    assert status == 409

    await run_worker(settings, core)  # submit refunds → provider → webhooks → applied
    refunds = await (await client.get(url, headers=payer.headers)).json()
    assert sorted(r["amount_fen"] for r in refunds) == [68, 333, 600]
    assert {r["status"] for r in refunds} == {"succeeded"}
    # Everything went back: the payee, the platform and the clearing account are at zero.
    assert await core.ledger.balance(_ref(AccountKind.SELLER_PAYABLE, seller.id)) == 0
    assert await core.ledger.balance(_ref(AccountKind.PLATFORM_COMMISSION)) == 0
    assert await core.ledger.balance(_ref(AccountKind.CLEARING)) == 0
    assert await core.ledger.balance(_ref(AccountKind.REFUNDS)) == 0
    await assert_ledger_sound(core)


async def test_payer_only_sees_and_refunds_their_own(
    client: Client, core: Core, settings: Settings, make_account: MakeAccount, webhook_target: None
) -> None:
    payer, seller = await make_account("买家"), await make_account("卖家")
    stranger = await make_account("路人")
    service = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    payment = await paid_payment(client, core, settings, payer, seller)
    url = f"/api/v1/payments/{payment['id']}"
    assert (await client.get(url, headers=stranger.headers)).status == 404
    assert (await client.get(url, headers=seller.headers)).status == 404
    assert (await client.get(url, headers=service.headers)).status == 200
    assert (await client.get(url)).status == 401
    response = await client.post(
        url + "/refunds",
        json={"amount_fen": 1},
        headers=stranger.headers | {"Idempotency-Key": "a"},
    )
    assert response.status == 404
    response = await client.post(
        url + "/refunds",
        json={"amount_fen": 100},
        headers=service.headers | {"Idempotency-Key": "a"},
    )
    assert response.status == 201


async def test_unpaid_and_expired_intents(
    client: Client, core: Core, clock: ManualClock, make_account: MakeAccount
) -> None:
    payer, seller = await make_account("买家"), await make_account("卖家")
    _, payment = await create(client, payer, "k", payee_id=str(seller.id))
    response = await client.post(
        f"/api/v1/payments/{payment['id']}/refunds",
        json={"amount_fen": 1},
        headers=payer.headers | {"Idempotency-Key": "r"},
    )
    assert (response.status, (await response.json())["error"]["code"]) == (409, "not_captured")
    wrong = dict(payment, client_secret="nope")
    assert (await pay(client, wrong)).status == 404
    clock.advance(core.settings.payment_intent_ttl_s + 1)
    response = await pay(client, payment)
    assert (response.status, (await response.json())["error"]["code"]) == (409, "intent_expired")


async def test_failed_payment(
    client: Client, core: Core, settings: Settings, make_account: MakeAccount, webhook_target: None
) -> None:
    payer, seller = await make_account("买家"), await make_account("卖家")
    _, payment = await create(client, payer, "k", payee_id=str(seller.id))
    assert (await pay(client, payment, "fail")).status == 200
    await run_worker(settings, core)
    row = await core.payments.get(None, uuid.UUID(payment["id"]))
    assert row.status == "failed"
    assert await core.pool.fetchval("SELECT count(*) FROM ledger_transactions") == 0


async def test_deposit_release_and_payout(
    client: Client, core: Core, settings: Settings, make_account: MakeAccount, webhook_target: None
) -> None:
    payer, seller = await make_account("租客"), await make_account("出租人")
    payment = await paid_payment(
        client, core, settings, payer, seller, amount_fen=2_000, deposit_fen=30_000
    )
    pid = uuid.UUID(payment["id"])
    release = await core.payments.release_deposit(pid, withheld_fen=1_500, reason="逾期一天")
    assert release.refund is not None
    assert release.refund.amount_fen == 28_500
    assert release.payment.deposit_status == "released"
    # Released once: a retry returns the same release, another amount is refused.
    again = await core.payments.release_deposit(pid, withheld_fen=1_500)
    assert again.refund == release.refund
    with pytest.raises(Exception, match="another amount"):
        await core.payments.release_deposit(pid, withheld_fen=0)
    await run_worker(settings, core)
    assert await core.ledger.balance(_ref(AccountKind.DEPOSIT_ESCROW)) == 0
    seller_payable = _ref(AccountKind.SELLER_PAYABLE, seller.id)
    assert await core.ledger.balance(seller_payable) == 1_800 + 1_500

    party = Party(PartyKind.USER, seller.id)
    payout = await core.payments.pay_out("settlement:test:1", party, 3_300)
    assert (await core.payments.pay_out("settlement:test:1", party, 3_300)).id == payout.id
    await run_worker(settings, core)
    assert await core.ledger.balance(seller_payable) == 0
    assert await core.ledger.balance(_ref(AccountKind.PAYOUTS_IN_TRANSIT)) == 0
    status = await core.pool.fetchval("SELECT status FROM payouts WHERE id = $1", payout.id)
    assert status == "paid"
    # Nothing more is owed, so nothing more is paid out.
    with pytest.raises(Exception, match="overdraw"):
        await core.payments.pay_out("settlement:test:2", party, 1)
    await assert_ledger_sound(core)


async def test_lost_enqueue_is_swept(
    client: Client, core: Core, settings: Settings, clock: ManualClock, make_account: MakeAccount
) -> None:
    """An event recorded whose job never ran (the enqueue was lost) is found by the sweeper."""
    payer, seller = await make_account("买家"), await make_account("卖家")
    _, payment = await create(client, payer, "k", payee_id=str(seller.id))
    assert (await pay(client, payment)).status == 200
    assert core.sandbox is not None
    (event,) = await core.sandbox.events()
    body, headers = await core.sandbox.signed_delivery(event["id"])
    assert (await client.post(WEBHOOK, data=body, headers=headers)).status == 200
    await core.redis.delete(queue_name(settings))  # the queued job is lost
    clock.advance(120)
    assert (await core.payments.sweep())["events"] == 1
    await run_worker(settings, core)
    assert (await core.payments.get(None, uuid.UUID(payment["id"]))).status == "captured"
