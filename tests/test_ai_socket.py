"""Customer service over the socket: a resident starts a conversation and asks for a human on
``/support``, an agent sees it queued live, takes it over and the resident's next message reaches
the agent — the same rules as REST, with acknowledgements."""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from lago_core.container import Core
from lago_core.push import Pusher
from lago_core.security.roles import PlatformRole
from lago_core.settings import Settings
from lago_rt.app import create_rt_app

from .conftest import Account, CommunityWorld
from .node_server import NodeServer
from .rt_client import ChannelClient
from .test_payments import run_worker
from .test_push import push_until_received


async def test_support_over_the_socket(
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    make_account: Any,
    node_server: Any,
    clients: list[ChannelClient],
) -> None:
    resident = community.residents[0]
    agent: Account = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    rt: NodeServer = await node_server(create_rt_app(settings, core=core))
    url = f"http://127.0.0.1:{rt.port}"
    me = ChannelClient(url, resident.access_token)
    me.on_push("support:message")
    them = ChannelClient(url, agent.access_token)
    for event in ("support:queued", "support:message", "support:taken"):
        them.on_push(event, namespace="/support")
    clients.extend([me, them])
    await me.connect(namespaces=["/", "/support"])
    await them.connect(namespaces=["/support"])
    pusher = Pusher(settings)
    try:
        await push_until_received(me, lambda: pusher.to_user(resident.id, "support:message", {}))
        await push_until_received(
            them,
            lambda: pusher.to_room("support:agents", "support:taken", {}, namespace="/support"),
        )
    finally:
        await pusher.close()
    me.pushes.clear()
    them.pushes.clear()

    bad = await me.call("support:start", {"text": "x", "extra": 1}, namespace="/support")
    assert (bad["ok"], bad["error"]["code"]) == (False, "invalid_input")
    started = await me.call("support:start", {"text": "押金多少"}, namespace="/support")
    assert started["ok"] is True
    cid = started["conversation"]["id"]
    await run_worker(settings, core)
    await me.wait_until(
        lambda: any(p[1].get("message", {}).get("role") == "assistant" for p in me.pushes)
    )

    handed = await me.call("support:handover", {"conversation_id": cid}, namespace="/support")
    assert (handed["ok"], handed["conversation"]["status"]) == (True, "queued")
    await them.wait_until(lambda: any(e == "support:queued" for e, _ in them.pushes))
    refused = await me.call("support:queue", {}, namespace="/support")
    assert refused["error"]["code"] == "not_support"
    queue = await them.call("support:queue", {}, namespace="/support")
    assert [c["id"] for c in queue["items"]] == [cid]
    taken = await them.call("support:take", {"conversation_id": cid}, namespace="/support")
    assert (taken["ok"], taken["conversation"]["agent_id"]) == (True, str(agent.id))
    await me.wait_until(
        lambda: any(
            "人工客服已接入" in p[1]["message"]["body"] for p in me.pushes if "message" in p[1]
        )
    )

    sent = await me.call(
        "support:send", {"conversation_id": cid, "text": "你好，人呢"}, namespace="/support"
    )
    assert sent["ok"] is True
    await them.wait_until(
        lambda: any(
            e == "support:message" and p["message"]["body"] == "你好，人呢" for e, p in them.pushes
        )
    )
    answer = await them.call(
        "support:send", {"conversation_id": cid, "text": "在的"}, namespace="/support"
    )
    assert (answer["ok"], answer["message"]["role"]) == (True, "agent")


async def test_unauthenticated_socket_is_refused(
    core: Core, settings: Settings, node_server: Any, clients: list[ChannelClient]
) -> None:
    rt: NodeServer = await node_server(create_rt_app(settings, core=core))
    client = ChannelClient(f"http://127.0.0.1:{rt.port}", "not-a-token")
    clients.append(client)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(namespaces=["/support"])
