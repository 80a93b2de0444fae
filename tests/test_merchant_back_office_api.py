"""What the merchant back office reads and does beyond the catalogue and orders tests: the
merchant's own listings in every status, and a rejection that tells the buyer why."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.errors import InvalidInput
from lago_core.orders import Action
from lago_core.security.roles import Principal
from lago_core.settings import Settings

from .conftest import CommunityWorld
from .test_orders import Client, MakeAccount, call, listing, merchant_of, order, pay_order
from .test_payments import webhook_target

__all__ = ["webhook_target"]  # the fixture, re-exported so pytest finds it here


async def test_merchant_listings_in_every_status_for_members_and_admins_only(
    approve_merchant: Any,
    client: Client,
    core: Core,
    community: CommunityWorld,
    make_account: MakeAccount,
    clock: ManualClock,
) -> None:
    owner, staff = await make_account("店主"), await make_account("店员")
    merchant = await merchant_of(core, approve_merchant, owner, staff)
    first = await listing(client, owner, title="任天堂 Switch", merchant_id=str(merchant))
    clock.advance(1)
    second = await listing(client, staff, title="乐高 机械组", merchant_id=str(merchant))
    clock.advance(1)
    third = await listing(client, owner, title="毛绒熊", merchant_id=str(merchant))
    await listing(client, owner, title="我自己的闲置")  # the owner's own, not the store's
    status, _ = await call(client, owner, "POST", f"/listings/{second['id']}/withdraw")
    assert status == 200

    path = f"/merchants/{merchant}/listings"
    for reader in (owner, staff, community.admin):
        status, page = await call(client, reader, "GET", path)
        assert status == 200, page
        # Newest first; a staff member's listing and a withdrawn one are the store's too.
        assert [i["id"] for i in page["items"]] == [third["id"], second["id"], first["id"]]
        assert [i["status"] for i in page["items"]] == ["active", "withdrawn", "active"]

    status, page = await call(client, owner, "GET", f"{path}?limit=2")
    assert (status, len(page["items"])) == (200, 2)
    status, rest = await call(client, owner, "GET", f"{path}?limit=2&cursor={page['next_cursor']}")
    assert [i["id"] for i in rest["items"]] == [first["id"]]
    assert rest["next_cursor"] is None

    # A resident (who may see the active listings in a community search) is not the store.
    assert (await call(client, community.residents[0], "GET", path))[0] == 403
    assert (await call(client, community.outsider, "GET", path))[0] == 403
    assert (await call(client, owner, "GET", f"/merchants/{uuid.uuid4()}/listings"))[0] == 404
    assert (await call(client, owner, "GET", f"{path}?limit=0"))[0] == 422


async def test_a_rejection_tells_the_buyer_why(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: MakeAccount,
    webhook_target: None,
) -> None:
    buyer = community.residents[0]
    owner = await make_account("店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    item = await listing(client, owner, merchant_id=str(merchant))
    placed = await order(client, buyer, item["id"])
    paid = await pay_order(client, core, settings, buyer, placed)
    assert (paid["status"], paid["reject_reason"]) == ("paid", None)

    base = f"/orders/{placed['id']}/reject"
    status, body = await call(client, owner, "POST", f"{base}?reason={'长' * 501}")
    assert status == 422, body
    status, body = await call(client, owner, "POST", f"{base}?reason=")
    assert status == 422, body
    status, rejected = await call(
        client, owner, "POST", f"{base}?reason=%E5%B7%B2%E5%94%AE%E5%AE%8C"
    )
    assert status == 200, rejected
    assert (rejected["status"], rejected["reject_reason"]) == ("refunded", "已售完")
    status, seen = await call(client, buyer, "GET", f"/orders/{placed['id']}")
    assert (status, seen["reject_reason"]) == (200, "已售完")


async def test_a_reason_goes_with_a_rejection_only(
    approve_merchant: Any,
    client: Client,
    core: Core,
    community: CommunityWorld,
    make_account: MakeAccount,
) -> None:
    buyer = community.residents[0]
    owner = await make_account("店主")
    merchant = await merchant_of(core, approve_merchant, owner)
    item = await listing(client, owner, merchant_id=str(merchant))
    placed = await order(client, buyer, item["id"])
    as_buyer = Principal(buyer.id, uuid.uuid4())
    with pytest.raises(InvalidInput) as refused:
        await core.orders.act(as_buyer, uuid.UUID(placed["id"]), Action.CANCEL, reason="不想要了")
    assert refused.value.code == "reason_not_allowed"
    status, still = await call(client, buyer, "GET", f"/orders/{placed['id']}")
    assert (status, still["status"]) == (200, "created")
