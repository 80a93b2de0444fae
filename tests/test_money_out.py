"""Money out (issue 19 items 4–6): merchants' encrypted bank accounts, withdrawals from the
available balance that settlement makes (limits, concurrency, a failed payout returned), the
income list, and property companies' statements and payouts — over REST with the sandbox
provider and a burst worker, the ledger checked after every money step."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.errors import InvalidInput
from lago_core.ledger import AccountKind, AccountRef
from lago_core.moneyout import BankCipher
from lago_core.moneyout.crypto import InvalidTag, Sealed
from lago_core.payments.sandbox.provider import FAILING_ACCOUNT_PREFIX
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings
from lago_core.settlement.service import SETTLEMENT_DELAY, business_day

from .conftest import Account, CommunityWorld
from .test_orders import API, Client, call, merchant_of
from .test_payments import assert_ledger_sound, run_worker, webhook_target
from .test_settlement import completed_sale, settle_by_worker

MakeAccount = Callable[..., Awaitable[Account]]
__all__ = ["webhook_target"]

ACCOUNT_NUMBER = "6222 0212 3456 7890 123"
DIGITS = ACCOUNT_NUMBER.replace(" ", "")
NET = 9_000  # a ¥100 sale less 10 % commission (the property share is inside it)


async def withdraw(
    client: Client, account: Account, merchant: uuid.UUID, amount_fen: Any, key: str | None
) -> tuple[int, Any]:
    headers = dict(account.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    response = await client.post(
        f"{API}/merchants/{merchant}/withdrawals", json={"amount_fen": amount_fen}, headers=headers
    )
    return response.status, await response.json()


async def settled_merchant(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    owner: Account,
    merchant: uuid.UUID,
    sales: int = 1,
) -> None:
    """``sales`` ¥100 sales completed and settled (T+7) in one settlement: NET each is made
    available."""
    available = AccountRef(AccountKind.MERCHANT_AVAILABLE, merchant)
    before = await core.ledger.balance(available)
    for _ in range(sales):
        await completed_sale(client, core, settings, community.residents[0], owner, merchant)
    clock.advance(SETTLEMENT_DELAY.total_seconds() + 60)
    await settle_by_worker(core, settings)
    # Back to when the tokens were issued (their iat must not be in the future).
    clock.advance(-(SETTLEMENT_DELAY.total_seconds() + 60))
    assert await core.ledger.balance(available) == before + NET * sales
    await assert_ledger_sound(core)


async def put_account(
    client: Client, owner: Account, merchant: uuid.UUID, number: str = ACCOUNT_NUMBER
) -> dict[str, Any]:
    body = {"holder_name": "王小明", "bank_name": "招商银行成都分行", "account_number": number}
    status, data = await call(client, owner, "PUT", f"/merchants/{merchant}/bank-account", body)
    assert status == 200, data
    return dict(data["account"])


async def test_bank_account_is_encrypted_masked_and_changed_by_the_owner_only(
    approve_merchant: Any,
    client: Client,
    core: Core,
    make_account: MakeAccount,
) -> None:
    owner, staff, other_owner = (
        await make_account("店主"),
        await make_account("店员"),
        await make_account("别家店主"),
    )
    admin = await make_account("管理员", PlatformRole.ADMIN)
    merchant = await merchant_of(core, approve_merchant, owner, staff)
    await merchant_of(core, approve_merchant, other_owner)
    path = f"/merchants/{merchant}/bank-account"

    assert await call(client, owner, "GET", path) == (200, {"account": None})
    shown = await put_account(client, owner, merchant)
    assert shown["account_number"] == "**** " + DIGITS[-4:]
    assert shown["holder_name"] == "王**"
    assert shown["bank_name"] == "招商银行成都分行"

    # At rest: ciphertext only — no digits of the number, no name, in any column.
    row = await core.pool.fetchrow(
        "SELECT * FROM merchant_bank_accounts WHERE merchant_id = $1", merchant
    )
    raw = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in dict(row).values())
    for secret in (DIGITS, DIGITS[:8], "王小明", "招商银行"):
        assert secret.encode() not in raw
    assert row["key_id"] == "dev"

    # Staff and admins see it masked; nobody but the owner changes it; others see nothing.
    for reader in (staff, admin):
        status, data = await call(client, reader, "GET", path)
        assert (status, data["account"]) == (200, shown)
    body = {"holder_name": "李四", "bank_name": "工商银行", "account_number": "6212000011112222"}
    for intruder in (staff, admin, other_owner):
        status, data = await call(client, intruder, "PUT", path, body)
        assert (status, data["error"]["code"]) == (403, "forbidden"), data
    assert (await call(client, other_owner, "GET", path))[0] == 403
    assert (await call(client, owner, "GET", f"/merchants/{uuid.uuid4()}/bank-account"))[0] == 404

    # Bad input: clear codes, nothing stored.
    for bad, code in (
        ({**body, "account_number": "12ab5678"}, "invalid_account_number"),
        ({**body, "account_number": "1234567"}, "invalid_input"),
        ({**body, "holder_name": "王\x00"}, None),
        ({**body, "bank_name": " "}, "invalid_input"),
    ):
        status, data = await call(client, owner, "PUT", path, bad)
        assert status == 422, data
        if code is not None:
            assert data["error"]["code"] == code, data
    assert (await call(client, owner, "GET", path))[1]["account"] == shown

    # The ciphertext is bound to its merchant: read as another merchant's, it does not decrypt.
    sealed = Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"]))
    assert core.moneyout.cipher.open(sealed, merchant.bytes).startswith(b"{")
    with pytest.raises(InvalidTag):
        core.moneyout.cipher.open(sealed, uuid.uuid4().bytes)

    # Rotation: a new first key; rows re-encrypted under it, still readable; the old key can go.
    new_key = base64.b64encode(os.urandom(32)).decode()
    old_spec = core.settings.bank_keys
    core.moneyout.cipher = BankCipher(f"k2:{new_key},{old_spec}")
    assert await core.moneyout.rotate_bank_keys() == 1
    assert await core.moneyout.rotate_bank_keys() == 0
    core.moneyout.cipher = BankCipher(f"k2:{new_key}")
    assert (
        await core.pool.fetchval(
            "SELECT key_id FROM merchant_bank_accounts WHERE merchant_id = $1", merchant
        )
        == "k2"
    )
    assert (await call(client, owner, "GET", path))[1]["account"] == shown


def test_bank_keys_are_checked() -> None:
    good = base64.b64encode(b"k" * 32).decode()
    for spec in (
        "",
        "nokey",
        f"a b:{good}",
        "a:not-base64!",
        f"a:{base64.b64encode(b'x').decode()}",
        f"a:{good},a:{good}",
    ):
        try:
            BankCipher(spec)
        except ValueError:
            continue
        raise AssertionError(f"accepted {spec!r}")
    assert BankCipher(f"a:{good},b:{good}").current == "a"


async def test_withdrawal_of_available_money_is_paid_within_the_limits(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    owner, staff = await make_account("店主"), await make_account("店员")
    merchant = await merchant_of(core, approve_merchant, owner, staff)
    await settled_merchant(client, core, settings, clock, community, owner, merchant, sales=2)
    available = AccountRef(AccountKind.MERCHANT_AVAILABLE, merchant)

    # No account yet: refused before anything moves.
    status, data = await withdraw(client, owner, merchant, 5_000, "w0")
    assert (status, data["error"]["code"]) == (409, "no_bank_account")
    await put_account(client, owner, merchant)

    status, balance = await call(client, staff, "GET", f"/merchants/{merchant}/balance")
    assert status == 200, balance
    assert (balance["available_fen"], balance["unsettled_fen"]) == (2 * NET, 0)

    # Bad and unauthorised requests.
    status, data = await withdraw(client, owner, merchant, 5_000, None)
    assert (status, data["error"]["code"]) == (422, "idempotency_key_required"), data
    status, data = await withdraw(client, staff, merchant, 5_000, "w-staff")
    assert status == 403, data
    status, data = await withdraw(client, owner, merchant, "5000", "w-str")
    assert status == 422, data
    status, data = await withdraw(client, owner, merchant, 50, "w-small")
    assert (status, data["error"]["code"]) == (422, "withdrawal_below_minimum")
    core.moneyout.settings = dataclasses.replace(
        core.moneyout.settings, withdrawal_max_fen=8_000, withdrawal_daily_max_fen=12_000
    )
    status, data = await withdraw(client, owner, merchant, 8_001, "w-big")
    assert (status, data["error"]["code"], data["error"]["details"]) == (
        422,
        "withdrawal_above_maximum",
        {"max_fen": 8_000},
    )

    # A withdrawal, and its replay: one payout.
    status, first = await withdraw(client, owner, merchant, 7_000, "w1")
    assert (status, first["status"], first["account"]) == (201, "requested", "**** " + DIGITS[-4:])
    assert (await withdraw(client, owner, merchant, 7_000, "w1"))[1] == first
    status, data = await withdraw(client, owner, merchant, 6_000, "w1")
    assert (status, data["error"]["code"]) == (422, "idempotency_key_reused")
    assert await core.ledger.balance(available) == 2 * NET - 7_000
    await assert_ledger_sound(core)

    # The daily limit (12,000): 7,000 taken, 6,000 more refused, 5,000 allowed.
    status, data = await withdraw(client, owner, merchant, 6_000, "w2")
    assert (status, data["error"]["code"]) == (409, "withdrawal_daily_limit")
    assert data["error"]["details"] == {"remaining_fen": 5_000}
    # More than is available (11,000 left, 5,000 allowed today → ask 5,000 after lowering).
    await run_worker(settings, core)  # submits the payout, delivers payout.paid, applies it
    status, history = await call(client, staff, "GET", f"/merchants/{merchant}/withdrawals")
    assert status == 200
    assert [(w["id"], w["status"]) for w in history] == [(first["id"], "paid")]
    assert history[0]["paid_at"] is not None
    payout = await core.pool.fetchrow(
        "SELECT status, key, destination FROM payouts WHERE id = $1", uuid.UUID(first["payout_id"])
    )
    assert (payout["status"], payout["key"]) == ("paid", f"withdrawal:{first['id']}")
    assert payout["destination"].startswith("bank_account:")  # no number kept with the payout
    sandboxed = await core.pool.fetchval(
        "SELECT destination FROM sandbox_payouts WHERE amount_fen = 7000"
    )
    assert sandboxed.endswith(DIGITS)  # the provider got the real account
    await assert_ledger_sound(core)
    assert await core.ledger.balance(AccountRef(AccountKind.PAYOUTS_IN_TRANSIT)) == 0

    # Insufficient: 11,000 available; the limits raised, 11,001 refused with what there is.
    core.moneyout.settings = dataclasses.replace(
        core.moneyout.settings, withdrawal_max_fen=50_000, withdrawal_daily_max_fen=50_000
    )
    status, data = await withdraw(client, owner, merchant, 2 * NET - 7_000 + 1, "w3")
    assert (status, data["error"]["code"]) == (409, "insufficient_funds")
    assert data["error"]["details"] == {"available_fen": 2 * NET - 7_000}

    status, balance = await call(client, owner, "GET", f"/merchants/{merchant}/balance")
    assert (balance["available_fen"], balance["withdrawn_fen"], balance["in_transit_fen"]) == (
        2 * NET - 7_000,
        7_000,
        0,
    )
    notices = await core.pool.fetch(
        "SELECT kind FROM notifications WHERE user_id = $1 AND kind LIKE 'withdrawal%'", owner.id
    )
    assert [n["kind"] for n in notices] == ["withdrawal_paid"]
    await assert_ledger_sound(core)


async def test_concurrent_withdrawals_never_exceed_the_available_balance(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    owner = await make_account("店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    await settled_merchant(client, core, settings, clock, community, owner, merchant)
    await put_account(client, owner, merchant)
    results = await asyncio.gather(
        *(withdraw(client, owner, merchant, 2_000, f"c{i}") for i in range(10))
    )
    statuses = sorted(s for s, _ in results)
    assert statuses == [201] * 4 + [409] * 6, results
    assert {d["error"]["code"] for s, d in results if s == 409} == {"insufficient_funds"}
    available = AccountRef(AccountKind.MERCHANT_AVAILABLE, merchant)
    assert await core.ledger.balance(available) == NET - 4 * 2_000
    assert await core.pool.fetchval("SELECT sum(amount_fen) FROM withdrawals") == 8_000
    await assert_ledger_sound(core)
    await run_worker(settings, core)
    assert await core.pool.fetchval("SELECT count(*) FROM withdrawals WHERE status = 'paid'") == 4
    await assert_ledger_sound(core)


async def test_a_failed_payout_returns_to_the_available_balance(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    owner = await make_account("店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    await settled_merchant(client, core, settings, clock, community, owner, merchant)
    await put_account(client, owner, merchant, FAILING_ACCOUNT_PREFIX + "123412341234")
    available = AccountRef(AccountKind.MERCHANT_AVAILABLE, merchant)

    status, requested = await withdraw(client, owner, merchant, 3_000, "f1")
    assert status == 201, requested
    assert await core.ledger.balance(available) == NET - 3_000
    await assert_ledger_sound(core)
    await run_worker(settings, core)  # submitted; the "bank" refuses; payout.failed applied
    await run_worker(settings, core)  # a second run changes nothing
    status, history = await call(client, owner, "GET", f"/merchants/{merchant}/withdrawals")
    (failed,) = history
    assert (failed["status"], failed["failure_code"]) == ("failed", "account_closed")
    assert await core.ledger.balance(available) == NET
    assert await core.ledger.balance(AccountRef(AccountKind.PAYOUTS_IN_TRANSIT)) == 0
    returned = await core.pool.fetchval(
        "SELECT count(*) FROM ledger_transactions WHERE key = $1",
        f"payout:{requested['payout_id']}:failed",
    )
    assert returned == 1
    await assert_ledger_sound(core)  # the sandbox kept the money: clearing agrees
    notices = await core.pool.fetch(
        "SELECT kind FROM notifications WHERE user_id = $1 AND kind LIKE 'withdrawal%'", owner.id
    )
    assert [n["kind"] for n in notices] == ["withdrawal_failed"]

    # A failed withdrawal does not count against the day: the whole balance can go again.
    await put_account(client, owner, merchant)
    status, again = await withdraw(client, owner, merchant, NET, "f2")
    assert (status, again["status"]) == (201, "requested"), again
    await run_worker(settings, core)
    assert await core.ledger.balance(available) == 0
    await assert_ledger_sound(core)


async def test_income_list_per_order_with_states(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    owner, other_owner = await make_account("店主"), await make_account("别家店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    await merchant_of(core, approve_merchant, other_owner)
    # Two settlements of one sale each (withdrawals take the oldest first).
    for _ in range(2):
        await settled_merchant(client, core, settings, clock, community, owner, merchant)
    # A third sale, completed now: not settled yet.
    await completed_sale(client, core, settings, community.residents[0], owner, merchant)
    await put_account(client, owner, merchant)
    assert (await withdraw(client, owner, merchant, NET, "i1"))[0] == 201
    await run_worker(settings, core)

    months = sorted(
        {
            business_day(r["captured_at"]).strftime("%Y-%m")
            for r in await core.pool.fetch("SELECT captured_at FROM payments")
        }
    )
    items: list[dict[str, Any]] = []
    for month in months:
        status, income = await call(
            client, owner, "GET", f"/merchants/{merchant}/income?month={month}"
        )
        assert status == 200, income
        items += income["items"]
        assert income["totals"]["net_fen"] == sum(i["net_fen"] for i in income["items"])
    assert len(items) == 3
    for i in items:
        # 10 % commission, of which the property company's 20 % is shown apart.
        assert (i["gross_fen"], i["commission_fen"], i["property_share_fen"], i["net_fen"]) == (
            10_000,
            800,
            200,
            NET,
        )
        assert i["net_fen"] == (
            i["gross_fen"]
            - i["merchant_discount_fen"]
            - i["refunded_fen"]
            - i["commission_fen"]
            - i["property_share_fen"]
            + i["withheld_fen"]
        )
    # The two settlements: the older withdrawn (FIFO), the newer available; the third unsettled.
    assert sorted(i["state"] for i in items) == ["available", "unsettled", "withdrawn"]
    assert (
        await call(client, other_owner, "GET", f"/merchants/{merchant}/income?month={months[0]}")
    )[0] == 403
    status, data = await call(client, owner, "GET", f"/merchants/{merchant}/income?month=2026-13")
    assert status == 422, data


async def test_property_statement_sums_to_the_ledger_and_is_paid_once(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    owner = await make_account("店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    company = await core.pool.fetchval(
        "SELECT property_company_id FROM communities WHERE id = $1", uuid.UUID(community.id)
    )
    share_account = AccountRef(AccountKind.PROPERTY_SHARE, company)
    await settled_merchant(client, core, settings, clock, community, owner, merchant, sales=2)
    owed = await core.ledger.balance(share_account)
    assert owed > 0
    settled_month = business_day(
        await core.pool.fetchval("SELECT max(created_at) FROM settlements")
    ).strftime("%Y-%m")

    staff, admin, resident = community.staff, community.admin, community.residents[0]
    path = f"/property-companies/{company}/statements"
    status, statement = await call(client, staff, "GET", f"{path}/{settled_month}")
    assert status == 200, statement
    # Every order is settled: the month's statement is the whole account.
    assert statement["share_fen"] == owed
    assert sum(c["share_fen"] for c in statement["communities"]) == owed
    assert [c["community_id"] for c in statement["communities"]] == [community.id]
    assert sum(i["share_fen"] for i in statement["items"]) == owed
    assert statement["payout"] is None
    status, summaries = await call(client, admin, "GET", f"{path}?month={settled_month}")
    assert (status, [s["share_fen"] for s in summaries]) == (200, [owed])
    assert (await call(client, resident, "GET", f"{path}/{settled_month}"))[0] == 403
    assert (await call(client, staff, "GET", f"{path}/2026-13"))[0] == 422
    assert (await call(client, staff, "GET", f"/property-companies/{uuid.uuid4()}/statements"))[
        0
    ] == 404

    # Not before the month is over; then once, however often the job runs.
    with pytest.raises(InvalidInput) as refused:
        await core.moneyout.pay_property_shares(settled_month)
    assert refused.value.code == "month_not_over"
    ahead = (SETTLEMENT_DELAY.total_seconds() + 60) + 32 * 86_400
    clock.advance(ahead)
    assert await core.moneyout.pay_property_shares(settled_month) == {"companies": 1}
    assert await core.moneyout.pay_property_shares(settled_month) == {"companies": 0}
    await asyncio.gather(*(core.moneyout.pay_property_shares(settled_month) for _ in range(3)))
    await run_worker(settings, core)
    # The last twelve months (a month on: the settlement's month is among them, whatever the day).
    year = await core.moneyout.property_statements(
        Principal(community.staff.id, uuid.uuid4()), company, None
    )
    assert len(year) == 12
    assert sum(s["share_fen"] for s in year) == owed
    clock.advance(-ahead)
    assert await core.pool.fetchval("SELECT count(*) FROM property_payouts") == 1
    assert await core.ledger.balance(share_account) == 0
    await assert_ledger_sound(core)
    status, statement = await call(client, staff, "GET", f"{path}/{settled_month}")
    assert statement["payout"]["status"] == "paid"
    assert statement["payout"]["amount_fen"] == owed
