"""Live streams: who may go live, signalling over socket.io, the encoded relay with real aiortc
peers on loopback, the viewer count and limit, pinned items, grants and announcements."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCSessionDescription

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.security.roles import Principal
from lago_core.settings import Settings
from lago_rt.app import RtNode
from lago_rt.media.aiortc_backend import AiortcBackend
from lago_rt.runtime import Command

from .conftest import CommunityWorld
from .live_support import Publisher, Viewer, node, peers
from .rt_client import ChannelClient
from .waiting import until

# The fixtures, re-exported so pytest finds them here.
__all__ = ["node", "peers"]

Client = TestClient[Any, Any]


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    return replace(settings, live_ice_addresses=("127.0.0.1",), live_max_viewers_per_node=2)


async def joined(clients: list[ChannelClient], url: str, token: str, cid: str) -> ChannelClient:
    client = await ChannelClient(url, token).connect()
    clients.append(client)
    reply = await client.join(cid)
    assert reply["ok"], reply
    return client


async def start_stream(host: ChannelClient, cid: str, title: str = "周末亲子活动") -> str:
    reply = await host.call("live:start", {"community_id": cid, "title": title})
    assert reply["ok"], reply
    return str(reply["session"]["session_id"])


async def test_publisher_frames_reach_both_viewers(
    node: tuple[str, RtNode],
    community: CommunityWorld,
    clients: list[ChannelClient],
    peers: list[Publisher | Viewer],
) -> None:
    url, rt = node
    cid = community.id
    host = await joined(clients, url, community.staff.access_token, cid)
    session_id = await start_stream(host, cid)
    publisher = Publisher()
    peers.append(publisher)
    answer = await publisher.publish(host, cid, session_id)
    assert answer["ok"], answer
    assert answer["type"] == "answer"
    viewers = []
    for resident in community.residents[:2]:
        client = await joined(clients, url, resident.access_token, cid)
        viewer = Viewer()
        peers.append(viewer)
        reply = await viewer.watch(client, cid, session_id)
        assert reply["ok"], reply
        viewers.append(viewer)
    for viewer in viewers:
        await viewer.wait_for(video=10, audio=10)
        # Decoded at the viewer from the publisher's own encoding: the source's size.
        assert viewer.sizes == {(640, 480)}
    backend = rt.live.media
    assert isinstance(backend, AiortcBackend)
    assert backend.viewer_count() == 2
    # The channel counts viewers (across nodes) and announces the count at the next tick.
    await rt.host.tick_all()
    await host.wait_until(
        lambda: any(e["type"] == "live.viewers" and e["data"]["count"] == 2 for e in host.events)
    )
    # A viewer's browser closes its connection without a word on the socket: the node notices
    # (DTLS close) and the channel's count follows.
    await viewers[0].close()

    async def one_viewer_left() -> bool:
        status = await rt.host.call(cid, Command("live.status"))
        return bool(status["session"]["viewers"] == 1)

    await until(one_viewer_left, within=5, every=0.05)
    assert backend.viewer_count() == 1
    await rt.host.tick_all()
    await host.wait_until(
        lambda: any(e["type"] == "live.viewers" and e["data"]["count"] == 1 for e in host.events)
    )
    stopped = await host.call("live:stop", {"community_id": cid, "session_id": session_id})
    assert stopped["ok"], stopped
    assert backend.viewer_count() == 0
    await host.wait_until(lambda: any(e["type"] == "live.stopped" for e in host.events))


async def test_publisher_ice_restart_keeps_its_viewers(
    node: tuple[str, RtNode],
    community: CommunityWorld,
    clients: list[ChannelClient],
    peers: list[Publisher | Viewer],
) -> None:
    url, rt = node
    cid = community.id
    host = await joined(clients, url, community.staff.access_token, cid)
    session_id = await start_stream(host, cid)
    first = Publisher()
    peers.append(first)
    assert (await first.publish(host, cid, session_id))["ok"]
    member = await joined(clients, url, community.residents[0].access_token, cid)
    viewer = Viewer()
    peers.append(viewer)
    assert (await viewer.watch(member, cid, session_id))["ok"]
    await viewer.wait_for(video=5, audio=5)
    # The host's network changed: a new connection with an ICE restart replaces the old one...
    second = Publisher()
    peers.append(second)
    offer = await second.offer()
    reply = await host.call(
        "live:publish",
        {"community_id": cid, "session_id": session_id, "ice_restart": True, **offer},
    )
    assert reply["ok"], reply
    await second.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], reply["type"]))
    await first.close()
    # ...and the viewer, without doing anything, keeps getting pictures from the new one.
    seen = viewer.frames["video"]
    await viewer.wait_for(video=seen + 10, audio=0)
    # Renegotiating on the same connection (no restart) is answered on that connection.
    again = await second.pc.createOffer()
    await second.pc.setLocalDescription(again)
    renegotiated = await host.call(
        "live:publish",
        {
            "community_id": cid,
            "session_id": session_id,
            "type": "offer",
            "sdp": second.pc.localDescription.sdp,
        },
    )
    assert renegotiated["ok"], renegotiated
    # A trickled candidate that cannot be read is refused with a clear code.
    bad = await host.call(
        "live:candidate",
        {
            "community_id": cid,
            "session_id": session_id,
            "role": "publisher",
            "candidate": {"candidate": "candidate:garbage", "sdpMid": "0", "sdpMLineIndex": 0},
        },
    )
    assert bad["error"]["code"] == "invalid_candidate"
    assert rt.live.media.viewer_count() == 1


async def test_member_without_permission_cannot_publish(
    node: tuple[str, RtNode],
    community: CommunityWorld,
    clients: list[ChannelClient],
    peers: list[Publisher | Viewer],
) -> None:
    url, rt = node
    cid = community.id
    host = await joined(clients, url, community.staff.access_token, cid)
    session_id = await start_stream(host, cid)
    intruder = await joined(clients, url, community.residents[0].access_token, cid)
    # Neither starting a stream of their own nor offering tracks to the staff's stream.
    refused = await intruder.call("live:start", {"community_id": cid, "title": "我的直播"})
    assert refused["error"]["code"] == "not_a_host"
    publisher = Publisher()
    peers.append(publisher)
    reply = await publisher.publish(intruder, cid, session_id)
    assert reply["ok"] is False
    assert reply["error"]["code"] == "not_a_host"
    assert not rt.live.media.has_session(session_id)
    # With nothing published yet, there is nothing to watch: the stream is on this node, so
    # the viewer is told to try again rather than to go elsewhere.
    viewer_client = await joined(clients, url, community.residents[1].access_token, cid)
    watch = await viewer_client.call("live:watch", {"community_id": cid, "session_id": session_id})
    assert watch["error"]["code"] == "stream_not_ready"
    assert rt.live.media.viewer_count() == 0


async def test_granted_resident_goes_live_and_outsider_cannot_watch(
    node: tuple[str, RtNode],
    community: CommunityWorld,
    client: Client,
    clients: list[ChannelClient],
) -> None:
    url, _ = node
    cid = community.id
    resident = community.residents[0]
    me = await client.get(f"/api/v1/communities/{cid}/live/me", headers=resident.headers)
    assert (await me.json()) == {"may_go_live": False, "role": None}
    # A resident cannot grant; staff can, and only to verified residents.
    denied = await client.post(
        f"/api/v1/communities/{cid}/live/grants",
        json={"user_id": str(resident.id)},
        headers=community.residents[1].headers,
    )
    assert denied.status == 403
    outsider_grant = await client.post(
        f"/api/v1/communities/{cid}/live/grants",
        json={"user_id": str(community.outsider.id)},
        headers=community.staff.headers,
    )
    assert outsider_grant.status == 422
    granted = await client.post(
        f"/api/v1/communities/{cid}/live/grants",
        json={"user_id": str(resident.id)},
        headers=community.staff.headers,
    )
    assert (await granted.json()) == {"created": True}
    me = await client.get(f"/api/v1/communities/{cid}/live/me", headers=resident.headers)
    assert (await me.json()) == {"may_go_live": True, "role": "granted"}
    host = await joined(clients, url, resident.access_token, cid)
    session_id = await start_stream(host, cid, "二手玩具交换")
    outsider = await ChannelClient(url, community.outsider.access_token).connect()
    clients.append(outsider)
    watch = await outsider.call("live:watch", {"community_id": cid, "session_id": session_id})
    assert watch["error"]["code"] == "not_a_member"
    # A second stream in the same channel waits for the first.
    second = await joined(clients, url, community.staff.access_token, cid)
    busy = await second.call("live:start", {"community_id": cid, "title": "另一场"})
    assert busy["error"]["code"] == "live_in_progress"
    revoked = await client.delete(
        f"/api/v1/communities/{cid}/live/grants/{resident.id}", headers=community.staff.headers
    )
    assert revoked.status == 204
    me = await client.get(f"/api/v1/communities/{cid}/live/me", headers=resident.headers)
    assert (await me.json())["may_go_live"] is False


async def test_viewer_limit_per_node(
    node: tuple[str, RtNode],
    community: CommunityWorld,
    clients: list[ChannelClient],
    peers: list[Publisher | Viewer],
) -> None:
    url, _ = node
    cid = community.id
    host = await joined(clients, url, community.staff.access_token, cid)
    session_id = await start_stream(host, cid)
    publisher = Publisher()
    peers.append(publisher)
    assert (await publisher.publish(host, cid, session_id))["ok"]
    replies = []
    for account in (*community.residents, community.admin):
        member = await joined(clients, url, account.access_token, cid)
        viewer = Viewer()
        peers.append(viewer)
        replies.append(await viewer.watch(member, cid, session_id))
    assert [r["ok"] for r in replies] == [True, True, False, False]
    assert replies[2]["error"]["code"] == "viewer_limit"
    assert replies[2]["error"]["details"] == {"limit": 2}


async def test_pinned_items_are_checked(
    node: tuple[str, RtNode],
    community: CommunityWorld,
    clients: list[ChannelClient],
    core: Core,
) -> None:
    url, _ = node
    cid = community.id
    host = await joined(clients, url, community.staff.access_token, cid)
    session_id = await start_stream(host, cid)
    listing_id = await core.pool.fetchval(
        """INSERT INTO listings (seller_id, title, category, condition, kind, price_fen)
           VALUES ($1, '乐高城市系列', 'building_blocks', 'like_new', 'sale', 12000) RETURNING id""",
        community.residents[0].id,
    )
    missing = str(uuid4())
    bad = await host.call(
        "live:pin",
        {
            "community_id": cid,
            "session_id": session_id,
            "items": [{"kind": "listing", "id": missing}],
        },
    )
    assert bad["error"]["code"] == "listing_not_pinnable"
    assert bad["error"]["details"] == {"listing_ids": [missing]}
    stranger = str(uuid4())
    bad = await host.call(
        "live:pin",
        {
            "community_id": cid,
            "session_id": session_id,
            "items": [{"kind": "group_buy", "id": stranger}],
        },
    )
    assert bad["error"]["code"] == "group_buy_not_pinnable"
    assert bad["error"]["details"] == {"group_ids": [stranger]}
    group_buy = str(await open_group_buy(core, cid, community.residents[0].id))
    items = [{"kind": "listing", "id": str(listing_id)}, {"kind": "group_buy", "id": group_buy}]
    good = await host.call(
        "live:pin", {"community_id": cid, "session_id": session_id, "items": items}
    )
    assert good["ok"], good
    await host.wait_until(
        lambda: any(e["type"] == "live.pinned" and e["data"]["items"] == items for e in host.events)
    )
    member = await joined(clients, url, community.residents[1].access_token, cid)
    not_host = await member.call(
        "live:pin", {"community_id": cid, "session_id": session_id, "items": []}
    )
    assert not_host["error"]["code"] == "not_a_host"
    # A joining member sees the stream with its pins in the channel snapshot.
    late = await ChannelClient(url, community.residents[2].access_token).connect()
    clients.append(late)
    snap = await late.join(cid)
    assert snap["snapshot"]["live"]["session"]["pinned"] == items


async def test_announcements(community: CommunityWorld, client: Client, clock: ManualClock) -> None:
    cid = community.id
    starts = (clock.now() + timedelta(days=2)).isoformat()
    body = {"title": "周六跳蚤市场直播", "description": "玩具专场", "starts_at": starts}
    refused = await client.post(
        f"/api/v1/communities/{cid}/live/announcements",
        json=body,
        headers=community.residents[0].headers,
    )
    assert refused.status == 403
    made = await client.post(
        f"/api/v1/communities/{cid}/live/announcements", json=body, headers=community.staff.headers
    )
    assert made.status == 201, await made.text()
    announcement = await made.json()
    past = await client.post(
        f"/api/v1/communities/{cid}/live/announcements",
        json={**body, "starts_at": (clock.now() - timedelta(days=1)).isoformat()},
        headers=community.staff.headers,
    )
    assert past.status == 422
    listed = await client.get(
        f"/api/v1/communities/{cid}/live/announcements", headers=community.residents[0].headers
    )
    assert [a["title"] for a in await listed.json()] == ["周六跳蚤市场直播"]
    hidden = await client.get(
        f"/api/v1/communities/{cid}/live/announcements", headers=community.outsider.headers
    )
    assert hidden.status == 403
    cancelled = await client.post(
        f"/api/v1/live/announcements/{announcement['id']}/cancel",
        headers=community.staff.headers,
    )
    assert (await cancelled.json())["cancelled_at"] is not None
    listed = await client.get(
        f"/api/v1/communities/{cid}/live/announcements", headers=community.residents[0].headers
    )
    assert await listed.json() == []


async def test_announcement_reaches_the_channel_and_a_stream_fulfils_it(
    node: tuple[str, RtNode],
    community: CommunityWorld,
    clients: list[ChannelClient],
    core: Core,
    clock: ManualClock,
) -> None:
    url, _ = node
    cid = community.id
    member = await joined(clients, url, community.residents[0].access_token, cid)
    member.on_push("live:announcement")
    staff = Principal(community.staff.id, uuid4())
    made = []
    # Pub/sub reaches only subscribers: announce again until the node's listener is up.
    for i in range(20):
        row = await core.live.announce(
            staff, UUID(cid), f"周末活动{i}", "", clock.now() + timedelta(hours=1)
        )
        made.append(str(row["id"]))
        with contextlib.suppress(TimeoutError):
            await member.wait_until(lambda: bool(member.pushes), within=0.25)
            break
    event, data = member.pushes[0]
    assert event == "live:announcement"
    assert data["id"] in made
    assert data["community_id"] == cid
    host = await joined(clients, url, community.staff.access_token, cid)
    unknown = await host.call(
        "live:start", {"community_id": cid, "title": "x", "announcement_id": str(uuid4())}
    )
    assert unknown["error"]["code"] == "announcement_not_found"
    started = await host.call(
        "live:start", {"community_id": cid, "title": "周末活动", "announcement_id": data["id"]}
    )
    assert started["session"]["announcement_id"] == data["id"]


async def open_group_buy(core: Core, community_id: str, leader: Any) -> Any:
    """An open group buy in the community (rows as the group-buy feature writes them)."""
    now = core.clock.now()
    async with core.pool.acquire() as conn, conn.transaction():
        merchant = await conn.fetchval("INSERT INTO merchants (name) VALUES ('店') RETURNING id")
        item = await conn.fetchval(
            "INSERT INTO merchant_items (merchant_id, name, kind, price_fen) "
            "VALUES ($1, '乐高课', 'service', 20000) RETURNING id",
            merchant,
        )
        campaign = uuid4()
        await conn.execute(
            "INSERT INTO group_buy_campaigns (id, merchant_id, organiser, created_by, title, "
            "item_id, group_price_fen, original_price_fen, min_members, max_members, "
            "payment_window_s, created_at, updated_at) "
            "VALUES ($1, $2, 'platform', $3, '三人团', $4, 9900, 15000, 3, 5, 900, $5, $5)",
            campaign,
            merchant,
            leader,
            item,
            now,
        )
        group = uuid4()
        await conn.execute(
            "INSERT INTO group_buys (id, campaign_id, community_id, leader_id, min_members, "
            "max_members, expires_at, created_at) VALUES ($1, $2, $3, $4, 3, 5, $5, $6)",
            group,
            campaign,
            UUID(community_id),
            leader,
            now + timedelta(hours=24),
            now,
        )
    return group
