"""Write budgets of the whole REST API (lago_rest/budgets.py): every mutating request is counted
per account, per client address when it has no account, and overall; reads are not. Payments
opened at the provider have a tighter budget per payer, whatever they pay for."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from lago_core.clock import ManualClock
from lago_core.container import Core, build_core
from lago_core.settings import Settings, SettingsError
from lago_rest.app import create_app

from .conftest import Account, CommunityWorld
from .test_orders import call, listing

Client = TestClient[Any, Any]
MakeApp = Callable[..., Awaitable[tuple[Client, Core]]]
# A cheap write every account may make, answered 200.
WRITE = "/api/v1/me/notifications/read-all"


def refusals(scope: str) -> float:
    return REGISTRY.get_sample_value("lago_rate_limit_refusals_total", {"limit": scope}) or 0.0


@pytest.fixture
async def make_app(
    settings: Settings, clock: ManualClock, aiohttp_client: Callable[..., Awaitable[Client]]
) -> AsyncIterator[MakeApp]:
    """The REST app with some settings changed (behind a trusted proxy at 127.0.0.1, so that
    X-Forwarded-For names the client)."""
    cores: list[Core] = []

    async def make(**changes: Any) -> tuple[Client, Core]:
        changed = dataclasses.replace(settings, trusted_proxies=("127.0.0.1/32",), **changes)
        core = await build_core(changed, clock=clock)
        cores.append(core)
        return await aiohttp_client(create_app(changed, core=core)), core

    yield make
    for core in cores:
        await core.close()


async def write(client: Client, account: Account | None, via: str = "198.51.100.1") -> Any:
    if account is None:
        # A write without an account: a refresh with a token that is not one.
        return await client.post(
            "/api/v1/auth/refresh",
            json={"refresh_token": "not-a-token"},
            headers={"X-Forwarded-For": via},
        )
    return await client.post(WRITE, headers=account.headers | {"X-Forwarded-For": via})


async def assert_refused(response: Any, scope: str) -> dict[str, Any]:
    assert response.status == 429, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["scope"] == scope
    assert isinstance(error["details"]["reset_at"], int)
    return dict(error["details"])


async def test_an_account_past_its_write_budget_is_refused_while_others_write(
    make_app: MakeApp, community: CommunityWorld
) -> None:
    client, _ = await make_app(limit_writes_per_account="5/minute")
    one, other = community.residents[0], community.residents[1]
    before = refusals("writes-account")
    for _ in range(5):
        assert (await write(client, one)).status == 200
    await assert_refused(await write(client, one), "writes-account")
    # Refused before its handler: a create does not happen either.
    response = await client.post(
        "/api/v1/listings",
        json={
            "title": "积木",
            "category": "building_blocks",
            "condition": "good",
            "kind": "sale",
            "price_fen": 100,
        },
        headers=one.headers,
    )
    await assert_refused(response, "writes-account")
    assert (await write(client, other)).status == 200
    assert refusals("writes-account") - before == 2


async def test_reads_are_not_counted(make_app: MakeApp, community: CommunityWorld) -> None:
    client, _ = await make_app(limit_writes_per_account="3/minute", limit_writes_global="3/minute")
    resident = community.residents[0]
    for _ in range(10):
        response = await client.get("/api/v1/me/notifications", headers=resident.headers)
        assert response.status == 200, await response.text()
    assert [(await write(client, resident)).status for _ in range(4)] == [200, 200, 200, 429]


async def test_the_overall_budget_caps_writes_from_many_accounts(
    make_app: MakeApp, community: CommunityWorld
) -> None:
    client, _ = await make_app(limit_writes_global="4/minute")
    before = refusals("writes-global")
    callers = [*community.residents, community.staff]
    statuses = [
        (await write(client, caller, via=f"203.0.113.{n}")).status
        for n, caller in enumerate([*callers, community.admin])
    ]
    assert statuses == [200] * 4 + [429]
    await assert_refused(await write(client, community.outsider), "writes-global")
    assert refusals("writes-global") - before == 2


async def test_writes_without_an_account_are_counted_per_address_and_accounts_are_not(
    make_app: MakeApp, community: CommunityWorld
) -> None:
    client, _ = await make_app(
        limit_writes_per_address="3/minute", limit_writes_per_account="3/minute"
    )
    nat = "198.51.100.7"
    assert [(await write(client, None, via=nat)).status for _ in range(3)] == [401] * 3
    await assert_refused(await write(client, None, via=nat), "writes-address")
    # Another address writes; and the residents behind the NAT, signed in, are counted each
    # on their own account, not on the address they share.
    assert (await write(client, None, via="198.51.100.8")).status == 401
    for resident in community.residents:
        assert [(await write(client, resident, via=nat)).status for _ in range(3)] == [200] * 3


async def test_provider_webhooks_are_not_budgeted(make_app: MakeApp) -> None:
    client, _ = await make_app(limit_writes_per_address="1/minute", limit_writes_global="1/minute")
    assert (await write(client, None)).status == 401
    await assert_refused(await write(client, None), "writes-address")
    for path in ("/api/v1/payments/webhooks/sandbox", "/api/v1/virtual-numbers/webhooks/sandbox"):
        for _ in range(3):
            response = await client.post(
                path, data=b"{}", headers={"Content-Type": "application/json"}
            )
            # Refused for its missing signature, never for a budget.
            assert response.status != 429, await response.text()


async def test_a_write_is_let_through_unchecked_when_the_budgets_redis_fails(
    make_app: MakeApp, community: CommunityWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, core = await make_app(limit_writes_per_account="1/minute")
    resident = community.residents[0]
    assert (await write(client, resident)).status == 200
    await assert_refused(await write(client, resident), "writes-account")

    async def down(*_: Any) -> bool:
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(core.limiter, "hit", down)
    unchecked = REGISTRY.get_sample_value("lago_write_budget_unchecked_total") or 0.0
    assert (await write(client, resident)).status == 200
    assert REGISTRY.get_sample_value("lago_write_budget_unchecked_total") == unchecked + 1


async def test_payments_per_payer_are_budgeted_across_kinds_of_payment(
    make_app: MakeApp, community: CommunityWorld
) -> None:
    client, _ = await make_app(limit_payments_per_payer="3/minute", max_unpaid_orders=10)
    seller, buyer, other = community.residents
    items = [await listing(client, seller, title=f"积木 {n}") for n in range(3)]
    before = refusals("payments-payer")

    async def place(who: Account, item: dict[str, Any]) -> tuple[int, Any]:
        body = {"listing_id": item["id"], "fulfilment": "face_to_face"}
        return await call(client, who, "POST", "/orders", body)

    for item in items[:2]:
        status, placed = await place(buyer, item)
        assert status == 201, placed
    headers = buyer.headers | {"Idempotency-Key": uuid.uuid4().hex}

    async def subscribe() -> Any:
        return await client.post("/api/v1/subscriptions", json={"plan": "member"}, headers=headers)

    response = await subscribe()  # an agreement at the provider: the third
    assert response.status == 201, await response.text()
    status, refused = await place(buyer, items[2])
    assert status == 429, refused
    assert refused["error"]["details"]["scope"] == "payments-payer"
    # A replay opens nothing at the provider, so it is answered, budget or not.
    assert (await subscribe()).status == 201
    # The refused order let go of its listing; another payer has a budget of their own.
    status, placed = await place(other, items[2])
    assert status == 201, placed
    assert refusals("payments-payer") - before == 1


async def test_payments_per_payer_have_a_daily_budget(
    make_app: MakeApp, community: CommunityWorld
) -> None:
    client, _ = await make_app(limit_payments_per_payer_daily="1/day")
    seller, buyer, _ = community.residents
    first, second = [await listing(client, seller, title=f"拼图 {n}") for n in range(2)]
    body = {"fulfilment": "face_to_face"}
    assert (await call(client, buyer, "POST", "/orders", body | {"listing_id": first["id"]}))[
        0
    ] == 201
    status, refused = await call(
        client, buyer, "POST", "/orders", body | {"listing_id": second["id"]}
    )
    assert status == 429, refused
    assert refused["error"]["details"]["scope"] == "payments-payer-daily"


async def test_budgets_are_read_from_the_environment_and_checked_at_start_up(
    make_app: MakeApp, community: CommunityWorld
) -> None:
    variables = {
        "LAGO_LIMIT_WRITES_PER_ACCOUNT": "2/minute",
        "LAGO_LIMIT_WRITES_PER_ADDRESS": "3/hour",
        "LAGO_LIMIT_WRITES_GLOBAL": "50/second",
        "LAGO_LIMIT_PAYMENTS_PER_PAYER": "4/minute",
        "LAGO_LIMIT_PAYMENTS_PER_PAYER_DAILY": "40/day",
    }
    read = Settings.from_env(variables)
    assert (
        read.limit_writes_per_account,
        read.limit_writes_per_address,
        read.limit_writes_global,
        read.limit_payments_per_payer,
        read.limit_payments_per_payer_daily,
    ) == tuple(variables.values())
    for variable in variables:
        with pytest.raises(SettingsError, match=variable):
            Settings.from_env({variable: "many a minute"})
    client, _ = await make_app(limit_writes_per_account=read.limit_writes_per_account)
    resident = community.residents[0]
    assert [(await write(client, resident)).status for _ in range(3)] == [200, 200, 429]
