"""The new features attacked the way outside testers do (conversations, events, swaps, sponsored
slots, insights): one test per class of defect found, each failing before its fix."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import REGISTRY

from lago_core.container import Core
from lago_core.settings import Settings
from lago_core.storage import LocalStorage
from lago_rt.app import RtNode

from .conftest import CommunityWorld
from .rt_client import ChannelClient
from .test_channel import start_nodes
from .test_conversations import connect, open_conversation, publish, send
from .test_listings import image_bytes, upload_form
from .test_merchants import create_merchant
from .test_orders import call, listing
from .test_sponsored import new_campaign

Client = TestClient[Any, Any]


@pytest.fixture
async def nodes(settings: Settings, core: Core, node_server: Any) -> list[tuple[str, RtNode]]:
    return await start_nodes(settings, core, node_server)


async def test_a_link_a_browser_reads_as_another_site_is_refused(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    """Class: a sponsored link that passes as "a path of the app" but that browsers resolve to
    another host (WHATWG parsing reads "\\" as "/" and drops tabs and newlines), an open
    redirect shown to every viewer of a stream."""
    admin = community.admin
    campaign = await new_campaign(client, admin, 100)
    path = f"/sponsored/campaigns/{campaign['id']}/creatives"
    for bad in (
        "/\\evil.example",
        "/\\/evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "https://evil.example\\@www.lego.com/",
        "/coupons\x01",
    ):
        status, body = await call(client, admin, "POST", path, {"title": "t", "link_url": bad})
        assert (status, body["error"]["code"]) == (422, "invalid_link"), (bad, body)
    for good in ("/coupons", "/listings/abc?x=1#y", "https://www.lego.com/zh-cn"):
        status, body = await call(client, admin, "POST", path, {"title": "t", "link_url": good})
        assert status == 201, (good, body)
    creatives = await core.pool.fetchval(
        "SELECT count(*) FROM sponsor_creatives WHERE campaign_id = $1",
        uuid.UUID(campaign["id"]),
    )
    assert creatives == 3


async def test_reports_that_raise_a_sellers_risk_are_rate_limited(
    client: Client, community: CommunityWorld
) -> None:
    """Class: a write that raises a third party's complaint risk without a per-account rate
    limit (conversation reports and sponsored reports had one; listing reports did not)."""
    seller, reporter, _ = community.residents
    item = await listing(client, seller)
    statuses = []
    for n in range(21):
        status, _ = await call(
            client, reporter, "POST", f"/listings/{item['id']}/reports", {"reason": f"r{n}"}
        )
        statuses.append(status)
    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429


async def test_a_per_account_send_limit_holds_on_the_socket_too(
    client: Client,
    core: Core,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
) -> None:
    """Class: a per-account write limit enforced on one entry point only. Conversation sends were
    limited per account on REST (120 a minute) but the socket only had each connection's token
    bucket, so five connections at once stored 125 messages in a burst (and ten, 250)."""
    seller, buyer, _ = community.residents
    listing_id = await publish(client, seller)
    cid = str((await open_conversation(client, buyer, listing_id))["id"])
    sockets: list[ChannelClient] = []
    for n in range(5):
        sockets.append(await connect(clients, nodes[n % 2][0], buyer))
    # 25 each: within every connection's burst (30), so only an account-wide limit refuses.
    acks = await asyncio.gather(*(send(s, cid, "买吗") for s in sockets for _ in range(25)))
    stored = [a for a in acks if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    assert len(stored) == 120, len(stored)
    assert {a["error"]["code"] for a in refused} == {"rate_limited"}
    assert sorted(a["seq"] for a in stored) == list(range(1, 121))
    count = await core.pool.fetchval(
        "SELECT count(*) FROM conversation_messages WHERE conversation_id = $1", uuid.UUID(cid)
    )
    assert count == 120
    # The same account's REST sends share the budget.
    response = await client.post(
        f"/api/v1/conversations/{cid}/messages",
        json={"client_msg_id": "rest-1", "text": "x"},
        headers=buyer.headers,
    )
    assert response.status == 429
    # And the connections stay usable: the refusal is an answer, not a disconnect.
    assert all(s.sio.connected for s in sockets)


async def test_a_resident_cannot_fill_the_human_queue_with_empty_conversations(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    """Class: a write that lands in a staff queue without a per-account limit. Messages to the
    agent were limited (each costs a model call), but a conversation started with no message
    was not, and each can be handed over: a script filled customer service's queue."""
    resident = community.residents[0]
    statuses = []
    for _ in range(11):
        status, body = await call(client, resident, "POST", "/support/conversations", {})
        statuses.append(status)
        if status == 201:
            handed = await call(
                client,
                resident,
                "POST",
                f"/support/conversations/{body['conversation']['id']}/handover",
            )
            assert handed[0] == 200, handed
    assert statuses == [201] * 10 + [429]
    queued = await core.pool.fetchval(
        "SELECT count(*) FROM support_conversations WHERE user_id = $1 AND status = 'queued'",
        resident.id,
    )
    assert queued == 10


# Aware times whose conversion to UTC overflows Python's calendar, and a time without a zone.
_NO_UTC_TIMES = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")


def _cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


async def test_times_at_the_ends_of_the_calendar_are_refused_not_500(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    """Class: a time the server cannot write. An aware time in year 1 east of UTC (or 9999
    west of it) parses, then overflows when converted to UTC for PostgreSQL: in a keyset
    cursor (every paged list) and in a body (a sponsored slot's window) it was a 500."""
    resident, admin = community.residents[0], community.admin
    pages = (
        ("/conversations", resident),
        ("/swaps", resident),
        ("/support/conversation-cases", admin),
        ("/orders", resident),  # an older list: the same cursor parser
    )
    for at in (*_NO_UTC_TIMES, "2026-01-01T00:00:00"):
        for path, who in pages:
            response = await client.get(
                f"/api/v1{path}",
                params={"cursor": _cursor(at, str(uuid.uuid4()))},
                headers=who.headers,
            )
            body = await response.json()
            assert (response.status, body["error"]["code"]) == (422, "invalid_cursor"), (path, at)

    campaign = await new_campaign(client, admin, 1)
    status, creative = await call(
        client,
        admin,
        "POST",
        f"/sponsored/campaigns/{campaign['id']}/creatives",
        {"title": "t", "link_url": "/coupons"},
    )
    assert status == 201, creative
    for starts, ends in (
        ("0001-01-01T00:00:00+14:00", "0001-01-02T00:00:00+14:00"),
        ("9999-12-30T00:00:00-14:00", "9999-12-31T23:00:00-14:00"),
    ):
        status, body = await call(
            client,
            admin,
            "POST",
            f"/sponsored/campaigns/{campaign['id']}/slots",
            {
                "creative_id": creative["id"],
                "starts_at": starts,
                "ends_at": ends,
                "community_ids": [community.id],
            },
        )
        assert (status, body["error"]["code"]) == (422, "invalid_input"), body
        assert body["error"]["details"][0]["type"] == "datetime_out_of_range", body
    assert await core.pool.fetchval("SELECT count(*) FROM sponsor_slots") == 0

    # A month at the calendar's ends in the money reports (business time is UTC+8).
    merchant_id = await create_merchant(client, resident)
    for path in ("income", "statements"):
        for month in ("0001-01", "9999-12"):
            status, body = await call(
                client, admin, "GET", f"/merchants/{merchant_id}/{path}?month={month}"
            )
            assert (status, body["error"]["code"]) == (422, "invalid_month"), (path, month, body)


async def test_deeply_nested_json_is_refused_and_the_connection_lives(
    client: Client,
    community: CommunityWorld,
    nodes: list[tuple[str, RtNode]],
    clients: list[ChannelClient],
) -> None:
    """Class: deeply nested JSON. Past the fast parser's depth limit (1024) it fell through to
    the standard library, whose RecursionError nobody caught: a 20 KB frame (well under the
    64 KiB frame limit) killed the socket's reader, and the same body on REST was a 500. Within
    that limit (960 levels, 2 KB) the checks of input recursed past Python's stack inside the
    request, which then hung while the error was logged."""
    seller, buyer, _ = community.residents
    listing_id = await publish(client, seller)
    cid = str((await open_conversation(client, buyer, listing_id))["id"])
    deep = "[" * 5000 + "]" * 5000
    nested = "[" * 960 + "]" * 960
    shallow = "[" * 30 + "]" * 30  # nothing of ours nests this deep, but it is refused as a type

    for body in (deep, f'{{"client_msg_id":"d","text":{nested}}}'):
        response = await asyncio.wait_for(
            client.post(
                f"/api/v1/conversations/{cid}/messages",
                data=body,
                headers={**buyer.headers, "Content-Type": "application/json"},
            ),
            10,
        )
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "malformed_json"
    response = await client.post(
        f"/api/v1/conversations/{cid}/messages",
        data=f'{{"client_msg_id":"d","text":{shallow}}}',
        headers={**buyer.headers, "Content-Type": "application/json"},
    )
    assert response.status == 422

    socket = await connect(clients, nodes[0][0], buyer)
    for frame in (
        f'["conversation:send",{deep}]',
        f'["conversation:send",{{"conversation_id":"{cid}","client_msg_id":"d","text":{deep}}}]',
        f'["conversation:send",{{"conversation_id":"{cid}","client_msg_id":"d","text":{nested}}}]',
    ):
        answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ack_id = socket.sio._generate_ack_id(
            "/", lambda *args, done=answered: done.set_result(args)
        )
        await socket.sio.eio.send(f"2{ack_id}{frame}")
        (reply,) = await asyncio.wait_for(answered, 10)
        assert reply["ok"] is False, reply
        assert reply["error"]["code"] == "invalid_json", reply
    ack = await send(socket, cid, "还在吗")
    assert (ack["ok"], ack["seq"]) == (True, 1), ack


async def test_a_file_download_is_documented_with_the_status_it_answers(
    client: Client, community: CommunityWorld
) -> None:
    """Class: the OpenAPI document said "204 No Content" for handlers that write a file (the
    sponsored report's CSV, an invoice's PDF), which answer 200 with a body: a client generated
    from the document drops the file."""
    admin = community.admin
    doc = await (await client.get("/api/v1/openapi.json")).json()
    for path in (
        "/sponsored/campaigns/{campaign_id}/report.csv",
        "/invoices/{invoice_id}/document",
    ):
        responses = doc["paths"][f"/api/v1{path}"]["get"]["responses"]
        assert set(responses) == {"200", "default"}, (path, responses)
    campaign = await new_campaign(client, admin, 1)
    response = await client.get(
        f"/api/v1/sponsored/campaigns/{campaign['id']}/report.csv", headers=admin.headers
    )
    assert response.status == 200
    assert response.content_type == "text/csv"


async def test_a_failed_storage_delete_is_counted_not_only_logged(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    """Class: a broad except that only logged. Replacing a picture deletes the old file; when
    that failed (sponsored creatives, listings, merchants) it was logged but never counted, so
    orphan files piled up unseen; an invoice's leftover upload was not even caught."""
    admin = community.admin
    campaign = await new_campaign(client, admin, 1)
    status, creative = await call(
        client,
        admin,
        "POST",
        f"/sponsored/campaigns/{campaign['id']}/creatives",
        {"title": "t", "link_url": "/coupons"},
    )
    assert status == 201, creative
    path = f"/api/v1/sponsored/creatives/{creative['id']}/image"
    first = await client.put(
        path, data=upload_form(image_bytes(), "image/png"), headers=admin.headers
    )
    assert first.status == 200, await first.text()
    key = await core.pool.fetchval(
        "SELECT image_key FROM sponsor_creatives WHERE id = $1", uuid.UUID(creative["id"])
    )
    # The old object cannot be deleted: a non-empty directory stands where its file was.
    assert isinstance(core.storage, LocalStorage)
    old = core.storage.path_for(key)
    old.unlink()
    old.mkdir()
    (old / "x").write_bytes(b"x")
    before = REGISTRY.get_sample_value("lago_storage_failures_total", {"op": "delete"}) or 0.0
    second = await client.put(
        path, data=upload_form(image_bytes(), "image/png"), headers=admin.headers
    )
    assert second.status == 200, await second.text()
    after = REGISTRY.get_sample_value("lago_storage_failures_total", {"op": "delete"}) or 0.0
    assert after == before + 1


async def test_a_report_racing_a_close_never_fails(
    client: Client, core: Core, community: CommunityWorld
) -> None:
    """The party's open case may be closed between the colliding insert and the read: the store
    inserts again instead of failing on a case that is no longer there."""
    seller, buyer, _ = community.residents
    conversation = await open_conversation(client, buyer, await publish(client, seller))
    cid = uuid.UUID(str(conversation["id"]))

    def values() -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "conversation_id": cid,
            "kind": "report",
            "opened_by": buyer.id,
            "side": "buyer",
            "reason": "骚扰",
            "seq": None,
            "created_at": core.clock.now(),
        }

    async def close_open() -> None:
        await core.pool.execute(
            "UPDATE conversation_cases SET status = 'resolved' "
            "WHERE conversation_id = $1 AND status = 'open'",
            cid,
        )

    for _ in range(40):
        await core.conversations.store.open_case(values())
        opened, _closed = await asyncio.gather(
            core.conversations.store.open_case(values()), close_open()
        )
        assert opened is not None
        assert opened[0]["conversation_id"] == cid
    still_open = await core.pool.fetchval(
        "SELECT count(*) FROM conversation_cases WHERE conversation_id = $1 AND status = 'open'",
        cid,
    )
    assert still_open <= 1
