"""Buyer–seller conversations: REST and the socket on two real-time nodes — sequence numbers and
acknowledgements, idempotent resends, recovery after a reconnect, unread counts, images, blocks,
reports and customer service's view, merchants answering, the call request, bad input."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.errors import InvalidInput, NotFound
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings
from lago_rt.app import RtNode

from .conftest import Account, CommunityWorld
from .jobs_support import run_job
from .rt_client import ChannelClient
from .test_channel import start_nodes

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[Account]]
MESSAGE = "conversation:message"
READ = "conversation:read"
LISTING = {
    "title": "乐高 城市系列 消防局",
    "description": "盒子齐全",
    "category": "building_blocks",
    "condition": "like_new",
    "kind": "sale",
    "price_fen": 29_900,
}


@pytest.fixture
async def nodes(settings: Settings, core: Core, node_server: Any) -> list[tuple[str, RtNode]]:
    return await start_nodes(settings, core, node_server)


async def publish(client: Client, seller: Account, **extra: Any) -> str:
    response = await client.post(
        "/api/v1/listings", json={**LISTING, **extra}, headers=seller.headers
    )
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def open_conversation(client: Client, buyer: Account, listing_id: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/listings/{listing_id}/conversation", headers=buyer.headers
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def connect(
    clients: list[ChannelClient], url: str, account: Account, *events: str
) -> ChannelClient:
    client = ChannelClient(url, account.access_token)
    for event in events or (MESSAGE, READ):
        client.on_push(event)
    await client.connect()
    clients.append(client)
    return client


async def send(
    client: ChannelClient, conversation_id: str, text: str, client_msg_id: str | None = None
) -> dict[str, Any]:
    return await client.call(
        "conversation:send",
        {
            "conversation_id": conversation_id,
            "client_msg_id": client_msg_id or f"c-{uuid.uuid4().hex}",
            "text": text,
        },
    )


def pushed_seqs(client: ChannelClient, conversation_id: str) -> list[int]:
    return [
        data["message"]["seq"]
        for event, data in client.pushes
        if event == MESSAGE and data["conversation_id"] == conversation_id
    ]


async def get(client: Client, who: Account, path: str, **params: Any) -> tuple[int, Any]:
    response = await client.get(f"/api/v1{path}", params=params, headers=who.headers)
    return response.status, await response.json()


async def post(client: Client, who: Account, path: str, body: Any = None) -> tuple[int, Any]:
    response = await client.post(f"/api/v1{path}", json=body, headers=who.headers)
    return response.status, await response.json()


@pytest.fixture
async def chat(client: Client, community: CommunityWorld) -> tuple[Account, Account, str, str]:
    """(seller, buyer, listing id, conversation id) of two verified neighbours."""
    seller, buyer, _ = community.residents
    listing_id = await publish(client, seller)
    conversation = await open_conversation(client, buyer, listing_id)
    return seller, buyer, listing_id, str(conversation["id"])


# --- the socket ----------------------------------------------------------------------------------


async def test_live_between_nodes_with_acks_unread_and_read_state(
    client: Client,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    chat: tuple[Account, Account, str, str],
    clients: list[ChannelClient],
) -> None:
    seller, buyer, listing_id, cid = chat
    (url_a, _), (url_b, _) = nodes
    neighbour_socket = await connect(clients, url_b, community.residents[2])
    buyer_socket = await connect(clients, url_a, buyer)
    seller_socket = await connect(clients, url_b, seller)

    ack = await send(buyer_socket, cid, "你好，还在吗？")
    assert ack["ok"], ack
    assert ack["seq"] == 1
    assert ack["duplicate"] is False
    assert ack["message"]["side"] == "buyer"
    await seller_socket.wait_until(lambda: pushed_seqs(seller_socket, cid) == [1])
    # The sender's own sockets hear it too (another tab, another device).
    await buyer_socket.wait_until(lambda: pushed_seqs(buyer_socket, cid) == [1])

    status, listed = await get(client, seller, "/conversations")
    assert status == 200
    assert listed["unread"] == 1
    (item,) = listed["items"]
    assert item["unread"] == 1
    assert item["my_side"] == "seller"
    assert item["last_message"]["text"] == "你好，还在吗？"
    assert item["listing"]["id"] == listing_id
    status, badge = await get(client, seller, "/conversations/unread")
    assert badge == {"unread": 1}

    reply = await send(seller_socket, cid, "在的，可以小区门口看货")
    assert reply["seq"] == 2
    await buyer_socket.wait_until(lambda: pushed_seqs(buyer_socket, cid) == [1, 2])
    # Replying reads what came before: the seller has nothing unread, the buyer one.
    _, listed = await get(client, seller, "/conversations")
    assert listed["unread"] == 0
    _, listed = await get(client, buyer, "/conversations")
    assert listed["items"][0]["unread"] == 1

    read = await buyer_socket.call("conversation:mark_read", {"conversation_id": cid, "seq": 2})
    assert read == {"ok": True, "read_seq": 2, "unread": 0}
    await seller_socket.wait_until(
        lambda: any(
            e == READ and d["side"] == "buyer" and d["seq"] == 2 for e, d in seller_socket.pushes
        )
    )
    _, view = await get(client, seller, f"/conversations/{cid}")
    assert view["other_read_seq"] == 2
    # Pushed to the parties' own rooms only: a neighbour on the same node heard none of it.
    assert neighbour_socket.pushes == []
    # Reading backwards or past the end changes nothing.
    status, state = await post(client, buyer, f"/conversations/{cid}/read", {"seq": 1})
    assert status == 200
    assert state["read_seq"] == 2
    status, state = await post(client, buyer, f"/conversations/{cid}/read", {"seq": 99})
    assert status == 200
    assert state["read_seq"] == 2


async def test_a_resend_answers_the_first_seq(
    client: Client,
    core: Core,
    nodes: list[tuple[str, RtNode]],
    chat: tuple[Account, Account, str, str],
    clients: list[ChannelClient],
) -> None:
    seller, buyer, _, cid = chat
    buyer_socket = await connect(clients, nodes[0][0], buyer)
    first = await send(buyer_socket, cid, "能便宜点吗", "ask-1")
    again = await send(buyer_socket, cid, "能便宜点吗（重发）", "ask-1")
    assert again["ok"]
    assert again["seq"] == first["seq"]
    assert again["duplicate"] is True
    assert again["message"]["text"] == "能便宜点吗"
    # Through REST the same id is the same message too.
    status, rest = await post(
        client, buyer, f"/conversations/{cid}/messages", {"client_msg_id": "ask-1", "text": "x"}
    )
    assert status == 200
    assert rest["seq"] == first["seq"]
    assert rest["duplicate"] is True
    count = await core.pool.fetchval("SELECT count(*) FROM conversation_messages")
    assert count == 1
    # The other side may not take over the buyer's id.
    status, taken = await post(
        client, seller, f"/conversations/{cid}/messages", {"client_msg_id": "ask-1", "text": "好"}
    )
    assert status == 409
    assert taken["error"]["code"] == "client_msg_id_taken"


async def test_recovery_after_a_reconnect_in_pages(
    client: Client,
    nodes: list[tuple[str, RtNode]],
    chat: tuple[Account, Account, str, str],
    clients: list[ChannelClient],
) -> None:
    seller, buyer, _, cid = chat
    (url_a, _), (url_b, _) = nodes
    buyer_socket = await connect(clients, url_a, buyer)
    seller_socket = await connect(clients, url_b, seller)
    assert (await send(buyer_socket, cid, "第一条"))["seq"] == 1
    await buyer_socket.close()
    for i in range(5):
        assert (await send(seller_socket, cid, f"离线时的第{i}条"))["seq"] == i + 2

    back = await connect(clients, url_b, buyer)
    page = await back.call(
        "conversation:recover", {"conversation_id": cid, "since_seq": 1, "limit": 3}
    )
    assert page["ok"]
    assert page["more"] is True
    assert [m["seq"] for m in page["messages"]] == [2, 3, 4]
    rest = await back.call("conversation:recover", {"conversation_id": cid, "since_seq": 4})
    assert [m["seq"] for m in rest["messages"]] == [5, 6]
    assert rest["more"] is False
    assert rest["last_seq"] == 6
    assert rest["messages"][-1]["text"] == "离线时的第4条"
    # Live again after recovering.
    await send(seller_socket, cid, "回来了？")
    await back.wait_until(lambda: pushed_seqs(back, cid) == [7])
    # History pages backwards.
    history = await back.call(
        "conversation:history", {"conversation_id": cid, "before_seq": 7, "limit": 4}
    )
    assert [m["seq"] for m in history["messages"]] == [6, 5, 4, 3]
    assert history["next_before_seq"] == 3
    status, older = await get(
        client, buyer, f"/conversations/{cid}/messages", before_seq=3, limit=10
    )
    assert status == 200
    assert [m["seq"] for m in older["messages"]] == [2, 1]
    assert older["next_before_seq"] is None


async def test_concurrent_sends_get_contiguous_seqs(
    client: Client,
    core: Core,
    nodes: list[tuple[str, RtNode]],
    chat: tuple[Account, Account, str, str],
    clients: list[ChannelClient],
) -> None:
    seller, buyer, _, cid = chat
    (url_a, _), (url_b, _) = nodes
    buyer_socket = await connect(clients, url_a, buyer)
    seller_socket = await connect(clients, url_b, seller)
    acks = await asyncio.gather(
        *(send(s, cid, f"{i}") for i in range(8) for s in (buyer_socket, seller_socket)),
        *(
            post(
                client,
                buyer,
                f"/conversations/{cid}/messages",
                {"client_msg_id": f"rest-{i}", "text": "rest"},
            )
            for i in range(4)
        ),
    )
    seqs = sorted(a["seq"] if isinstance(a, dict) else a[1]["seq"] for a in acks)
    assert seqs == list(range(1, 21))
    stored = await core.pool.fetch(
        "SELECT seq FROM conversation_messages WHERE conversation_id = $1 ORDER BY seq",
        uuid.UUID(cid),
    )
    assert [r["seq"] for r in stored] == seqs
    # Every push reaches the other side; a client orders them by seq.
    await seller_socket.wait_until(lambda: len(pushed_seqs(seller_socket, cid)) == 20)
    assert sorted(pushed_seqs(seller_socket, cid)) == seqs


# --- blocks, reports, customer service, outsiders ---------------------------------------------


async def test_block_refuses_sends_both_ways_and_across_listings(
    client: Client, chat: tuple[Account, Account, str, str]
) -> None:
    seller, buyer, _, cid = chat

    async def say(who: Account, conversation_id: str) -> tuple[int, Any]:
        return await post(
            client,
            who,
            f"/conversations/{conversation_id}/messages",
            {"client_msg_id": uuid.uuid4().hex, "text": "在吗"},
        )

    status, view = await post(client, buyer, f"/conversations/{cid}/block")
    assert status == 200
    assert view["blocked_by_me"] is True
    _, seller_view = await get(client, seller, f"/conversations/{cid}")
    assert seller_view["blocked_by_other"] is True
    status, refused = await say(seller, cid)
    assert status == 403
    assert refused["error"]["code"] == "blocked"
    status, refused = await say(buyer, cid)
    assert status == 403
    assert refused["error"]["code"] == "you_blocked"
    # A block is of the person: the seller's other listing is blocked too.
    other_listing = await publish(client, seller, title="Switch 游戏卡带")
    other = await open_conversation(client, buyer, other_listing)
    status, refused = await say(seller, str(other["id"]))
    assert status == 403
    assert refused["error"]["code"] == "blocked"
    status, again = await post(client, buyer, f"/conversations/{cid}/block")
    assert status == 200
    assert again["blocked_by_me"] is True

    status, view = await post(client, buyer, f"/conversations/{cid}/unblock")
    assert status == 200
    assert view["blocked_by_me"] is False
    status, sent = await say(seller, cid)
    assert status == 200
    assert sent["seq"] == 1
    status, sent = await say(seller, str(other["id"]))
    assert status == 200


async def test_customer_service_sees_only_reported_or_escalated(
    client: Client,
    community: CommunityWorld,
    make_account: MakeAccount,
    chat: tuple[Account, Account, str, str],
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
) -> None:
    seller, buyer, listing_id, cid = chat
    agent = await make_account("客服小美", PlatformRole.CUSTOMER_SERVICE)
    desk = ChannelClient(nodes[1][0], agent.access_token)
    desk.on_push("conversation:case", namespace="/support")
    await desk.connect(namespaces=["/support"])
    clients.append(desk)
    outsider = community.residents[2]
    await post(
        client, buyer, f"/conversations/{cid}/messages", {"client_msg_id": "m1", "text": "加微信吗"}
    )
    quiet_listing = await publish(client, seller, title="奥特曼")
    quiet = str((await open_conversation(client, outsider, quiet_listing))["id"])

    for who in (agent, community.admin, outsider, community.staff):
        for path in (f"/conversations/{cid}", f"/conversations/{cid}/messages"):
            status, body = await get(client, who, path)
            assert status == 404, (who, path, body)
        status, body = await get(client, who, f"/support/listing-conversations/{cid}")
        assert status in (403, 404)
    status, cases = await get(client, agent, "/support/conversation-cases")
    assert status == 200
    assert cases["items"] == []
    status, _ = await get(client, buyer, "/support/conversation-cases")
    assert status == 403
    # Outsiders cannot report, send, block or read.
    status, _ = await post(client, outsider, f"/conversations/{cid}/report", {"reason": "x"})
    assert status == 404
    status, _ = await post(
        client, outsider, f"/conversations/{cid}/messages", {"client_msg_id": "o", "text": "hi"}
    )
    assert status == 404

    status, case = await post(
        client, seller, f"/conversations/{cid}/report", {"reason": "要求站外交易", "seq": 1}
    )
    assert status == 201
    assert case["kind"] == "report"
    assert case["side"] == "seller"
    # Customer service hears of it live on /support (once: the repeat below is the same case).
    await desk.wait_until(lambda: len(desk.pushes) == 1)
    assert desk.pushes[0][1] == {"case_id": case["id"], "conversation_id": cid, "kind": "report"}
    status, repeat = await post(
        client, seller, f"/conversations/{cid}/report", {"reason": "再次举报"}
    )
    assert status == 201
    assert repeat["id"] == case["id"]
    status, _ = await post(
        client, seller, f"/conversations/{cid}/report", {"reason": "no such", "seq": 9}
    )
    assert status == 404

    status, cases = await get(client, agent, "/support/conversation-cases")
    (row,) = cases["items"]
    assert row["conversation_id"] == cid
    assert row["listing_id"] == listing_id
    status, messages = await get(client, agent, f"/conversations/{cid}/messages")
    assert status == 200
    assert [m["text"] for m in messages["messages"]] == ["加微信吗"]
    status, view = await get(client, agent, f"/support/listing-conversations/{cid}")
    assert status == 200
    assert view["my_side"] is None
    # Still nobody else, and customer service does not see the conversation nobody reported.
    status, _ = await get(client, outsider, f"/conversations/{cid}/messages")
    assert status == 404
    status, _ = await get(client, agent, f"/conversations/{quiet}/messages")
    assert status == 404
    # Customer service reads, it does not write as a party.
    status, _ = await post(
        client, agent, f"/conversations/{cid}/messages", {"client_msg_id": "cs", "text": "hi"}
    )
    assert status == 404

    status, escalation = await post(
        client, outsider, f"/conversations/{quiet}/escalate", {"reason": "卖家不回复"}
    )
    assert status == 201
    assert escalation["kind"] == "escalation"
    # The repeated report was not pushed again: the next push is the escalation.
    await desk.wait_until(lambda: len(desk.pushes) == 2)
    assert desk.pushes[1][1]["kind"] == "escalation"
    status, view = await get(client, agent, f"/support/listing-conversations/{quiet}")
    assert status == 200

    status, closed = await post(
        client,
        agent,
        f"/support/conversation-cases/{case['id']}/close",
        {"status": "resolved", "note": "已提醒"},
    )
    assert status == 200
    assert closed["status"] == "resolved"
    status, _ = await post(
        client, buyer, f"/support/conversation-cases/{case['id']}/close", {"status": "dismissed"}
    )
    assert status == 403
    status, open_cases = await get(client, agent, "/support/conversation-cases")
    assert [c["kind"] for c in open_cases["items"]] == ["escalation"]


async def test_outsiders_and_bad_input_on_the_socket(
    client: Client,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    chat: tuple[Account, Account, str, str],
    clients: list[ChannelClient],
) -> None:
    seller, buyer, listing_id, cid = chat
    outsider_socket = await connect(clients, nodes[0][0], community.residents[2])
    refused = await send(outsider_socket, cid, "hi")
    assert refused["ok"] is False
    assert refused["error"]["code"] == "conversation_not_found"
    recovered = await outsider_socket.call(
        "conversation:recover", {"conversation_id": cid, "since_seq": 0}
    )
    assert recovered["error"]["code"] == "conversation_not_found"

    socket = await connect(clients, nodes[0][0], buyer)
    for payload, code in (
        ({"conversation_id": cid, "client_msg_id": "a", "text": "x" * 2001}, None),
        ({"conversation_id": cid, "client_msg_id": "a", "text": "a\x00b"}, "invalid_text"),
        ({"conversation_id": cid, "client_msg_id": "a b", "text": "x"}, None),
        ({"conversation_id": "nope", "client_msg_id": "a", "text": "x"}, None),
        ({"conversation_id": cid, "client_msg_id": "a", "text": "   "}, "invalid_text"),
        ({"conversation_id": cid, "client_msg_id": "a", "text": "x", "extra": 1}, None),
        (
            {
                "conversation_id": cid,
                "client_msg_id": "a",
                "image_key": f"cv_{uuid.uuid4().hex}_{uuid.uuid4().hex}.png",
            },
            "invalid_image_key",
        ),
    ):
        ack = await socket.call("conversation:send", payload)
        assert ack["ok"] is False, payload
        if code is not None:
            assert ack["error"]["code"] == code, ack
    ack = await socket.call("conversation:mark_read", {"conversation_id": cid, "seq": "1"})
    assert ack["ok"] is False

    status, body = await post(
        client,
        buyer,
        f"/conversations/{cid}/messages",
        {"client_msg_id": "a", "text": "x" * 2001},
    )
    assert status == 422, body
    status, body = await post(client, seller, f"/listings/{listing_id}/conversation")
    assert status == 422
    assert body["error"]["code"] == "cannot_message_yourself"
    status, _ = await post(client, buyer, f"/listings/{uuid.uuid4()}/conversation")
    assert status == 404
    status, _ = await get(client, buyer, f"/conversations/{uuid.uuid4()}")
    assert status == 404
    response = await client.get(f"/api/v1/conversations/{cid}")
    assert response.status == 401
    status, body = await get(client, buyer, "/conversations", merchant_id=str(uuid.uuid4()))
    assert status in (403, 404)


def png(colour: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buf, "PNG")
    return buf.getvalue()


async def upload_image(
    client: Client, who: Account, cid: str, data: bytes | None = None
) -> aiohttp.ClientResponse:
    """POST an image (a PNG unless ``data``) to the conversation as ``who``."""
    form = aiohttp.FormData()
    form.add_field("file", data or png(), filename="photo.png", content_type="image/png")
    return await client.post(f"/api/v1/conversations/{cid}/images", data=form, headers=who.headers)


async def test_images_are_uploaded_then_sent(
    client: Client, core: Core, chat: tuple[Account, Account, str, str], community: CommunityWorld
) -> None:
    seller, buyer, _, cid = chat
    response = await upload_image(client, buyer, cid)
    assert response.status == 201, await response.text()
    uploaded = await response.json()
    assert uploaded["image_key"].startswith(f"cv_{uuid.UUID(cid).hex}_")
    status, sent = await post(
        client,
        buyer,
        f"/conversations/{cid}/messages",
        {"client_msg_id": "img-1", "image_key": uploaded["image_key"]},
    )
    assert status == 200, sent
    assert sent["message"]["image_url"] == uploaded["image_url"]
    assert sent["message"]["text"] == ""
    _, listed = await get(client, seller, "/conversations")
    assert listed["items"][0]["last_message"]["has_image"] is True

    response = await upload_image(client, buyer, cid, b"not an image")
    assert response.status == 415
    response = await upload_image(client, community.residents[2], cid)
    assert response.status == 404


async def test_images_never_sent_are_deleted_after_a_day_and_only_they(
    settings: Settings,
    client: Client,
    core: Core,
    clock: ManualClock,
    chat: tuple[Account, Account, str, str],
) -> None:
    """An upload is recorded; sending takes it; the arq job deletes the files of uploads not
    sent within a day (twice: nothing more the second time) and keeps sent ones; a key never
    uploaded, or swept, is refused at send; a sent image may be sent again."""
    _, buyer, _, cid = chat

    async def upload() -> str:
        response = await upload_image(client, buyer, cid)
        assert response.status == 201, await response.text()
        return str((await response.json())["image_key"])

    async def send(key: str) -> tuple[int, Any]:
        return await post(
            client,
            buyer,
            f"/conversations/{cid}/messages",
            {"client_msg_id": uuid.uuid4().hex, "image_key": key},
        )

    forged = f"cv_{uuid.UUID(cid).hex}_{uuid.uuid4().hex}.png"
    status, body = await send(forged)
    assert (status, body["error"]["code"]) == (422, "invalid_image_key")
    sent, unsent, late = await upload(), await upload(), await upload()
    assert (await send(sent))[0] == 200
    assert (await send(sent))[0] == 200  # the same image again, in a new message
    clock.advance(23 * 3600)
    # Through the service from here: hours on, the HTTP client's access token has expired.
    resident = Principal(user_id=buyer.id, session_id=uuid.uuid4())
    uploaded = await core.conversations.upload_image(
        resident, uuid.UUID(cid), png((30, 200, 30)), "image/png"
    )
    fresh = uploaded["image_key"]
    clock.advance(2 * 3600)
    for _ in range(2):  # at-least-once delivery: the rerun finds nothing
        await run_job(settings, core, "sweep_unsent_images")
        for key in (unsent, late):
            with pytest.raises(NotFound):
                await core.storage.get(key)
        assert await core.storage.get(sent)
        assert await core.storage.get(fresh)
    remaining = await core.pool.fetch("SELECT image_key FROM conversation_uploads")
    assert [r["image_key"] for r in remaining] == [fresh]
    # The resident comes back to the composer a day later: told to upload again.
    with pytest.raises(InvalidInput) as refused:
        await core.conversations.send(resident, uuid.UUID(cid), "late-1", "", late)
    assert refused.value.code == "invalid_image_key"
    assert (await core.conversations.send(resident, uuid.UUID(cid), "fresh-1", "", fresh))["seq"]


async def test_first_unread_message_notifies_once_per_streak(
    client: Client, core: Core, chat: tuple[Account, Account, str, str]
) -> None:
    seller, buyer, _, cid = chat

    async def say(who: Account, text: str) -> int:
        status, sent = await post(
            client,
            who,
            f"/conversations/{cid}/messages",
            {"client_msg_id": uuid.uuid4().hex, "text": text},
        )
        assert status == 200, sent
        seq: int = sent["seq"]
        return seq

    async def notices(who: Account) -> list[str]:
        rows = await core.pool.fetch(
            "SELECT body FROM notifications WHERE user_id = $1 AND kind = 'conversation_message'",
            who.id,
        )
        return [r["body"] for r in rows]

    await say(buyer, "第一条")
    await say(buyer, "第二条")
    assert len(await notices(seller)) == 1
    await post(client, seller, f"/conversations/{cid}/read", {"seq": 2})
    await say(buyer, "第三条")
    assert len(await notices(seller)) == 2
    assert "第三条" in (await notices(seller))[-1] or "第一条" in (await notices(seller))[0]


async def test_call_request_with_and_without_a_plan(
    client: Client, community: CommunityWorld, chat: tuple[Account, Account, str, str]
) -> None:
    seller, buyer, _, cid = chat
    _, view = await get(client, buyer, f"/conversations/{cid}")
    assert view["can_request_call"] is False
    status, answer = await post(client, buyer, f"/conversations/{cid}/call")
    assert status == 200
    assert answer["mode"] == "guidance"

    granted = await client.post(
        "/api/v1/subscriptions/grants",
        json={"user_id": str(seller.id), "plan": "vn_basic"},
        headers=community.admin.headers,
    )
    assert granted.status == 201, await granted.text()
    _, view = await get(client, buyer, f"/conversations/{cid}")
    assert view["can_request_call"] is True
    _, seller_view = await get(client, seller, f"/conversations/{cid}")
    assert seller_view["can_request_call"] is False
    status, answer = await post(client, buyer, f"/conversations/{cid}/call")
    assert status == 200
    assert answer["mode"] == "number"
    assert answer["number"]
    status, refused = await post(client, seller, f"/conversations/{cid}/call")
    assert status == 403
    assert refused["error"]["code"] == "not_the_buyer"


async def test_merchant_staff_answer_as_one_party(
    client: Client,
    core: Core,
    make_account: MakeAccount,
    approve_merchant: Any,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
) -> None:
    owner = await make_account("店主")
    staff = await make_account("店员")
    response = await client.post(
        "/api/v1/merchants", json={"name": "小明玩具店"}, headers=owner.headers
    )
    mid = (await response.json())["id"]
    await approve_merchant(owner, mid)
    await client.post(
        f"/api/v1/merchants/{mid}/staff", json={"user_id": str(staff.id)}, headers=owner.headers
    )
    bound = await client.put(
        f"/api/v1/merchants/{mid}/communities/{community.id}", headers=community.admin.headers
    )
    assert bound.status == 204
    listing_id = await publish(client, owner, merchant_id=mid)
    buyer = community.residents[0]
    cid = str((await open_conversation(client, buyer, listing_id))["id"])

    office = ChannelClient(nodes[1][0], staff.access_token)
    office.on_push(MESSAGE, namespace="/merchant")
    await office.connect(namespaces=["/", "/merchant"])
    clients.append(office)
    buyer_socket = await connect(clients, nodes[0][0], buyer)
    await send(buyer_socket, cid, "请问有发票吗？")
    await office.wait_until(lambda: pushed_seqs(office, cid) == [1])

    status, listed = await get(client, staff, "/conversations", merchant_id=mid)
    assert status == 200
    assert listed["items"][0]["unread"] == 1
    assert listed["items"][0]["seller"]["merchant_id"] == mid
    assert listed["unread"] == 1
    ack = await send(office, cid, "有的，可以开电子发票")
    assert ack["ok"]
    assert ack["message"]["side"] == "seller"
    await buyer_socket.wait_until(lambda: pushed_seqs(buyer_socket, cid) == [1, 2])
    # A colleague sees the same conversation, read by the merchant as one party.
    _, listed = await get(client, owner, "/conversations", merchant_id=mid)
    assert listed["items"][0]["unread"] == 0
    assert listed["unread"] == 0
    status, _ = await get(client, buyer, "/conversations", merchant_id=mid)
    assert status == 403


async def test_a_buyers_report_counts_against_the_seller_in_insights(
    client: Client,
    core: Core,
    community: CommunityWorld,
    chat: tuple[Account, Account, str, str],
) -> None:
    from lago_core.clock import ManualClock
    from lago_core.security.roles import Principal

    seller, buyer, _, cid = chat
    status, _ = await post(
        client, buyer, f"/conversations/{cid}/report", {"reason": "要求站外交易"}
    )
    assert status in (200, 201)
    # The seller reporting the buyer scores nobody: buyers are not scored.
    status, _ = await post(client, seller, f"/conversations/{cid}/report", {"reason": "骚扰"})
    assert status in (200, 201)
    assert isinstance(core.clock, ManualClock)
    core.clock.advance(600)
    await core.insights.roll_up()
    await core.insights.roll_up()  # a second run counts nothing twice
    staff = Principal(user_id=community.staff.id, session_id=uuid.uuid4())
    risky = await core.insights.risk(staff, community_id=uuid.UUID(community.id))
    assert [(r["subject_kind"], str(r["subject_id"]), r["reported_messages"]) for r in risky] == [
        ("seller", str(seller.id), 1)
    ]
