"""Every change of an order reaches its parties' sockets on `/` as `order:updated` (issue 17):
real REST, real worker (the payment webhook, the unpaid-order job), real socket clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.jobs import CANCEL_UNPAID_ORDERS
from lago_core.push import Pusher
from lago_core.push_events import ORDER_UPDATED
from lago_core.settings import Settings
from lago_rt.app import create_rt_app

from .conftest import Account, CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient
from .test_orders import act, listing, merchant_of, order, pay_order
from .test_payments import run_worker, webhook_target
from .test_push import push_until_received

Client = TestClient[Any, Any]
__all__ = ["webhook_target"]  # the fixture, re-exported so pytest finds it here


async def listening(
    rt: TestServer, settings: Settings, clients: list[ChannelClient], *accounts: Account
) -> list[ChannelClient]:
    """A socket on `/` per account, recording `order:updated`, once the node hears pushes."""
    sockets = []
    for account in accounts:
        socket = ChannelClient(f"http://127.0.0.1:{rt.port}", account.access_token)
        socket.on_push(ORDER_UPDATED)
        socket.on_push("probe")
        clients.append(socket)
        await socket.connect()
        sockets.append(socket)
    # Pub/sub reaches only a subscribed node: probe until its listener is up, then forget probes.
    pusher = Pusher(settings)
    try:

        async def probe() -> None:
            await pusher.to_user(accounts[0].id, "probe", {})

        await push_until_received(sockets[0], probe)
    finally:
        await pusher.close()
    sockets[0].pushes.clear()
    return sockets


async def until_status(socket: ChannelClient, order_id: str, status: str) -> dict[str, Any]:
    def seen() -> bool:
        return any(
            event == ORDER_UPDATED and data["order_id"] == order_id and data["status"] == status
            for event, data in socket.pushes
        )

    await socket.wait_until(seen, within=5)
    update = next(data for event, data in socket.pushes if data["status"] == status)
    assert set(update) == {"order_id", "status", "updated_at"}
    return dict(update)


async def test_buyer_and_seller_hear_each_move(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    community: CommunityWorld,
    node_server: Any,
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    buyer, seller, _ = community.residents
    rt: NodeServer = await node_server(create_rt_app(settings, core=core))
    buyer_socket, seller_socket = await listening(rt, settings, clients, buyer, seller)

    item = await listing(client, seller)
    placed = await order(client, buyer, item["id"])
    for socket in (buyer_socket, seller_socket):
        await until_status(socket, placed["id"], "created")

    # The payment webhook (delivered by the worker) marks it paid.
    await pay_order(client, core, settings, buyer, placed)
    for socket in (buyer_socket, seller_socket):
        await until_status(socket, placed["id"], "paid")

    status, handed = await act(client, seller, placed, "hand-over")
    assert status == 200, handed
    for socket in (buyer_socket, seller_socket):
        update = await until_status(socket, placed["id"], "handed_over")
        at = datetime.fromisoformat(update["updated_at"])
        assert at == datetime.fromisoformat(handed["updated_at"])

    # Cancelled by a party, and by the unpaid-order job.
    other = await listing(client, seller, title="毛绒小熊", category="plush", price_fen=2_000)
    cancelling = await order(client, buyer, other["id"])
    assert (await act(client, seller, cancelling, "cancel"))[0] == 200
    for socket in (buyer_socket, seller_socket):
        await until_status(socket, cancelling["id"], "cancelled")

    unpaid = await order(client, buyer, other["id"])
    clock.advance(settings.unpaid_order_ttl_s + 10)
    await core.jobs.enqueue(CANCEL_UNPAID_ORDERS)
    await run_worker(settings, core)
    for socket in (buyer_socket, seller_socket):
        await until_status(socket, unpaid["id"], "cancelled")


async def test_a_merchant_order_goes_to_the_buyer_not_the_listing_owner(
    approve_merchant: Any,
    client: Client,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    node_server: Any,
    clients: list[ChannelClient],
    webhook_target: None,
) -> None:
    """A merchant's order is its staff's (on /merchant): the account that listed it hears nothing
    on `/`, as it cannot read the order either."""
    buyer, owner, neighbour = community.residents
    merchant = await merchant_of(core, approve_merchant, owner)
    item = await listing(
        client,
        owner,
        kind="consignment",
        category="game_console",
        price_fen=200_000,
        merchant_id=str(merchant),
    )
    rt: NodeServer = await node_server(create_rt_app(settings, core=core))
    buyer_socket, owner_socket = await listening(rt, settings, clients, buyer, owner)

    placed = await order(client, buyer, item["id"], fulfilment="self_pickup")
    await until_status(buyer_socket, placed["id"], "created")
    # Pushes on one channel arrive in order: once the owner hears its own C2C sale's order, the
    # merchant order's push would have come before it.
    mine = await listing(client, owner, title="旧毛绒兔", category="plush", price_fen=5_000)
    own_sale = await order(client, neighbour, mine["id"])
    await until_status(owner_socket, own_sale["id"], "created")
    assert [data["order_id"] for _, data in owner_socket.pushes] == [own_sale["id"]]
