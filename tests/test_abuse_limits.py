"""Abuse budgets of the account endpoints: per client address, per phone and overall, an attacker
who cannot lock the owner out, X-Forwarded-For believed only from trusted proxies, and a metric
for every refusal (issue 16, item 13)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import REGISTRY

from lago_core.client_address import client_address_from
from lago_core.clock import ManualClock
from lago_core.container import Core, build_core
from lago_core.settings import Settings, SettingsError
from lago_core.sms import LogSmsProvider
from lago_rest.app import create_app

Client = TestClient[Any, Any]
PASSWORD = "correct horse battery"


def refusals(limit: str) -> float:
    return REGISTRY.get_sample_value("lago_rate_limit_refusals_total", {"limit": limit}) or 0.0


async def log_in(
    client: Client, phone: str, password: str, *, via: str | None = None, code: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"X-Forwarded-For": via} if via else {}
    body: dict[str, Any] = {"phone": phone, "password": password}
    if code is not None:
        body["code"] = code
    resp = await client.post("/api/v1/auth/login", json=body, headers=headers)
    return resp.status, await resp.json()


@dataclasses.dataclass
class Proxied:
    """The REST app behind a trusted proxy (127.0.0.1, the test client's address)."""

    client: Client
    core: Core

    async def account(self, phone: str) -> str:
        await self.core.identity.create_user(phone, PASSWORD, "业主", None)
        return phone


@pytest.fixture
async def proxied(
    settings: Settings,
    clock: ManualClock,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> AsyncIterator[Proxied]:
    behind_proxy = dataclasses.replace(settings, trusted_proxies=("127.0.0.1/32", "10.0.0.0/8"))
    core = await build_core(behind_proxy, clock=clock)
    try:
        yield Proxied(await aiohttp_client(create_app(behind_proxy, core=core)), core)
    finally:
        await core.close()


async def test_codes_to_many_numbers_from_one_address_are_refused(
    client: Client, core: Core, settings: Settings
) -> None:
    assert settings.limit_sms_per_address == "10/hour"
    before = refusals("sms-address")
    statuses = []
    for n in range(30):
        resp = await client.post("/api/v1/auth/codes", json={"phone": f"1380013{n:04d}"})
        statuses.append(resp.status)
        if resp.status == 429:
            error = (await resp.json())["error"]
            assert error["code"] == "rate_limited"
            assert error["details"]["scope"] == "sms-address"
    assert statuses == [202] * 10 + [429] * 20
    assert isinstance(core.sms, LogSmsProvider)
    assert len(core.sms.sent) == 10
    assert refusals("sms-address") - before == 20


async def test_global_sms_budget_caps_codes_from_many_addresses(
    settings: Settings,
    clock: ManualClock,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    tight = dataclasses.replace(
        settings, trusted_proxies=("127.0.0.1/32",), limit_sms_global="5/minute"
    )
    core = await build_core(tight, clock=clock)
    try:
        client = await aiohttp_client(create_app(tight, core=core))
        before = refusals("sms-global")
        statuses = []
        for n in range(8):
            resp = await client.post(
                "/api/v1/auth/codes",
                json={"phone": f"1380014{n:04d}"},
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            statuses.append(resp.status)
        assert statuses == [202] * 5 + [429] * 3
        assert refusals("sms-global") - before == 3
    finally:
        await core.close()


async def test_log_in_spray_over_many_numbers_is_limited(client: Client) -> None:
    before = refusals("login-fail-address")
    statuses = [(await log_in(client, f"1390013{n:04d}", "guess-123"))[0] for n in range(25)]
    # Twenty failures per address in 15 minutes, whichever phones they were for.
    assert statuses == [401] * 20 + [429] * 5
    assert refusals("login-fail-address") - before == 5


async def test_attacker_failures_do_not_lock_the_owner_out(proxied: Proxied) -> None:
    phone = await proxied.account("+8613900139000")
    attacker, owner = "203.0.113.7", "198.51.100.20"
    statuses = [
        (await log_in(proxied.client, phone, "guess-123", via=attacker))[0] for _ in range(12)
    ]
    assert statuses == [401] * 10 + [429] * 2
    # The attacker stays refused for this phone, even with the right password...
    status, body = await log_in(proxied.client, phone, PASSWORD, via=attacker)
    assert status == 429
    assert body["error"]["details"]["scope"] == "login-fail-phone-address"
    # ...while the owner, from their own address, logs in.
    status, body = await log_in(proxied.client, phone, PASSWORD, via=owner)
    assert status == 200, body
    assert body["access_token"]


async def test_guessing_from_many_addresses_needs_a_code_the_owner_can_get(
    proxied: Proxied, settings: Settings
) -> None:
    assert settings.limit_login_failures_per_phone == "30/hour"
    phone = await proxied.account("+8613900139001")
    for n in range(30):
        status, _ = await log_in(proxied.client, phone, "guess-123", via=f"203.0.113.{n + 1}")
        assert status == 401
    before = refusals("login-fail-phone")
    # A correct password alone no longer opens the phone, from any address...
    status, body = await log_in(proxied.client, phone, PASSWORD, via="198.51.100.20")
    assert status == 401
    assert body["error"]["code"] == "verification_required"
    assert refusals("login-fail-phone") - before == 1
    # ...but with a code sent to the phone the owner logs in, and a guessed code does not.
    resp = await proxied.client.post(
        "/api/v1/auth/codes",
        json={"phone": phone, "purpose": "login"},
        headers={"X-Forwarded-For": "198.51.100.20"},
    )
    assert resp.status == 202
    assert isinstance(proxied.core.sms, LogSmsProvider)
    code = proxied.core.sms.sent[-1][1]
    wrong = "000000" if code != "000000" else "111111"
    status, body = await log_in(proxied.client, phone, PASSWORD, via="203.0.113.99", code=wrong)
    assert body["error"]["code"] == "code_invalid"
    status, body = await log_in(proxied.client, phone, PASSWORD, via="198.51.100.20", code=code)
    assert status == 200, body


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    client: Client, make_account: Any
) -> None:
    acct = await make_account()
    # No trusted proxies: every made-up X-Forwarded-For is still the one peer, 127.0.0.1.
    statuses = [
        (await log_in(client, acct.phone, "guess-123", via=f"203.0.113.{n + 1}"))[0]
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429]


def test_client_address_takes_the_right_most_untrusted_hop() -> None:
    trusted = ("127.0.0.1/32", "10.0.0.0/8")
    # Not from a trusted proxy: the header is the client's own words.
    assert client_address_from("192.0.2.1", ["203.0.113.7"], trusted) == "192.0.2.1"
    assert client_address_from("127.0.0.1", [], trusted) == "127.0.0.1"
    # Through two trusted proxies; whatever the client prepended is ignored.
    assert (
        client_address_from("127.0.0.1", ["6.6.6.6, 198.51.100.4, 10.1.2.3"], trusted)
        == "198.51.100.4"
    )
    # Several headers count as one list, in order.
    assert client_address_from("10.0.0.1", ["6.6.6.6", "198.51.100.4"], trusted) == "198.51.100.4"
    # A hop that is no address: stop at the last one a trusted proxy vouched for.
    assert client_address_from("127.0.0.1", ["198.51.100.4, junk"], trusted) == "127.0.0.1"
    assert client_address_from("127.0.0.1", ["[2001:db8::7]:443"], trusted) == "2001:db8::7"
    assert client_address_from("::ffff:10.0.0.1", ["198.51.100.4"], trusted) == "198.51.100.4"
    assert client_address_from(None, ["198.51.100.4"], trusted) == "unknown"


def test_trusted_proxies_and_limits_are_checked_at_start_up() -> None:
    with pytest.raises(SettingsError, match="LAGO_TRUSTED_PROXIES"):
        Settings.from_env({"LAGO_TRUSTED_PROXIES": "10.0.0.0/8,not-a-network"})
    with pytest.raises(SettingsError, match="LAGO_LIMIT_SMS_PER_ADDRESS"):
        Settings.from_env({"LAGO_LIMIT_SMS_PER_ADDRESS": "ten an hour"})
    parsed = Settings.from_env({"LAGO_TRUSTED_PROXIES": "10.0.0.0/8, 172.16.0.0/12"})
    assert parsed.trusted_proxies == ("10.0.0.0/8", "172.16.0.0/12")
