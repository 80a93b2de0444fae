"""No single event, batch or feature failure stops a channel or its activation (issue 16, item 1).

The text below is unstorable on purpose and reaches the actor directly, past the entry points'
validation (which refuses it first in production): the channel must survive whatever gets through.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
import structlog
from prometheus_client import REGISTRY

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.settings import Settings
from lago_rt.channel.actor import ChannelActor, FeatureBase
from lago_rt.channel.archive import is_transient
from lago_rt.runtime import Command
from lago_rt.runtime.keys import ActorKeys

from .conftest import Account, CommunityWorld
from .groupbuy_support import Client, campaign, merchant_with_item
from .rt_client import ChannelClient
from .test_channel import start_nodes

POISON = "坏\x00消息"


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def archived_texts(core: Core, cid: str) -> list[str]:
    rows = await core.pool.fetch(
        "SELECT data FROM channel_events WHERE community_id = $1 AND type = 'chat.message' "
        "ORDER BY seq",
        uuid.UUID(cid),
    )
    return [r["data"]["text"] for r in rows]


async def reserved_seats(core: Core, group_id: str) -> int:
    return int(
        await core.pool.fetchval(
            "SELECT count(*) FROM group_buy_seats WHERE group_id = $1 AND status = 'reserved'",
            uuid.UUID(group_id),
        )
    )


async def member(clients: list[ChannelClient], url: str, who: Account, cid: str) -> ChannelClient:
    client = await ChannelClient(url, who.access_token).connect()
    clients.append(client)
    assert (await client.join(cid))["ok"]
    return client


async def test_an_event_postgresql_refuses_stops_neither_the_channel_nor_its_activation(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    approve_merchant: Any,
    make_account: Any,
    community: CommunityWorld,
    node_server: Any,
    clients: list[ChannelClient],
) -> None:
    (url_a, node_a), (url_b, node_b) = await start_nodes(settings, core, node_server)
    owner = await make_account("乐园老板")
    merchant_id, item_id = await merchant_with_item(core, approve_merchant, owner, community)
    offer = await campaign(client, owner, merchant_id, item_id, community, payment_window_s=120)
    alice, bob, _ = community.residents
    cid = community.id
    sa = await member(clients, url_a, alice, cid)  # node A owns the channel
    assert node_a.host.actor(cid) is not None
    sb = await member(clients, url_b, bob, cid)
    group = await sa.call("groupbuy:start", {"community_id": cid, "campaign_id": offer["id"]})
    group_id = group["group"]["group_id"]
    assert (await sb.call("groupbuy:join", {"community_id": cid, "group_id": group_id}))["ok"]
    assert await reserved_seats(core, group_id) == 2
    rejects_before = sample("lago_rt_archive_rejects_total", {"type": "chat.message"})

    # Text PostgreSQL cannot store, straight into the actor's command path.
    caller = {"user_id": str(alice.id), "name": "alice", "role": "member"}
    with structlog.testing.capture_logs() as logs:
        poisoned = await node_a.host.call(
            cid, Command("chat.send", {"client_msg_id": "poison-1", "text": POISON}, caller)
        )
        assert poisoned["seq"] > 0
        after = await sa.send(cid, "之后的消息")
        assert after["ok"], after
        # The payment window ends: the tick must still archive and release the unpaid seats.
        clock.advance(121)
        await node_a.host.tick_all()
    assert "之后的消息" in await archived_texts(core, cid)
    assert await reserved_seats(core, group_id) == 0
    assert sample("lago_rt_archive_rejects_total", {"type": "chat.message"}) == rejects_before + 1
    assert any(
        e["event"] == "channel.archive_rejected" and e["seq"] == poisoned["seq"] for e in logs
    )
    rejected = await core.pool.fetchrow(
        "SELECT raw, error FROM channel_archive_rejects WHERE community_id = $1 AND seq = $2",
        uuid.UUID(cid),
        poisoned["seq"],
    )
    assert rejected is not None
    assert orjson.loads(bytes(rejected["raw"]))["data"]["text"] == POISON

    # Another poisonous event reaches the stream (not through the actor), then the owner dies:
    # the next owner must archive around it while it activates, and serve commands.
    keys = ActorKeys(settings.redis_prefix, "ch", cid)
    await core.redis.delete(keys.lease)
    actor = node_a.host.actor(cid)
    assert isinstance(actor, ChannelActor)
    await node_a.host.stop(graceful=False)
    last = await core.redis.xrevrange(keys.events, count=1)
    seq = int(last[0][0].decode().split("-")[1]) + 1
    event = {
        "community_id": cid,
        "seq": seq,
        "type": "chat.message",
        "data": {
            "user_id": str(bob.id),
            "name": "bob",
            "client_msg_id": "poison-2",
            "text": POISON,
        },
        "at": clock.now().isoformat(),
        "epoch": actor.stream_epoch,
    }
    await core.redis.xadd(keys.events, {"e": orjson.dumps(event)}, id=f"0-{seq}")
    served = await sb.send(cid, "新主人")
    assert served["ok"], served
    assert served["seq"] > seq
    assert node_b.host.actor(cid) is not None
    await node_b.host.tick_all()
    assert (await archived_texts(core, cid))[-1] == "新主人"
    assert sample("lago_rt_archive_rejects_total", {"type": "chat.message"}) == rejects_before + 2


class _Broken(FeatureBase):
    """A feature whose every hook fails: it must not take the channel's other features with it."""

    name = "broken"

    def apply(self, event: Any) -> None:
        raise RuntimeError("apply")

    async def on_activate(self) -> None:
        raise RuntimeError("on_activate")

    async def on_tick(self) -> None:
        raise RuntimeError("on_tick")


@pytest.fixture
def broken_feature(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every channel actor built by the nodes of this test gets a broken feature first."""
    from lago_rt import app as rt_app

    original = rt_app.channel_actor

    def with_broken(ctx: Any, core: Core) -> ChannelActor:
        actor = original(ctx, core)
        broken = _Broken()
        broken.bind(actor)
        actor.features.insert(0, broken)
        return actor

    monkeypatch.setattr(rt_app, "channel_actor", with_broken)


async def test_a_failing_feature_is_logged_and_counted_and_the_others_go_on(
    broken_feature: None,
    core: Core,
    settings: Settings,
    community: CommunityWorld,
    node_server: Any,
    clients: list[ChannelClient],
) -> None:
    before = {
        stage: sample("lago_rt_channel_failures_total", {"feature": "broken", "stage": stage})
        for stage in ("activate", "apply", "tick")
    }
    (url_a, node_a), _ = await start_nodes(settings, core, node_server)
    alice = community.residents[0]
    with structlog.testing.capture_logs() as logs:
        sa = await member(clients, url_a, alice, community.id)
        sent = await sa.send(community.id, "照常")
        assert sent["ok"], sent
        await sa.wait_until(lambda: "chat.message" in {e["type"] for e in sa.events})
        await node_a.host.tick_all()
    assert "照常" in await archived_texts(core, community.id)
    for stage in ("activate", "apply", "tick"):
        now = sample("lago_rt_channel_failures_total", {"feature": "broken", "stage": stage})
        assert now > before[stage], stage
    failed = {e["stage"] for e in logs if e["event"] == "channel.feature_failed"}
    assert failed >= {"activate", "apply", "tick"}


def test_only_failures_that_say_nothing_about_the_rows_are_retried_as_they_are() -> None:
    from asyncpg import exceptions as pg

    assert is_transient(pg.ConnectionDoesNotExistError("gone"))
    assert is_transient(pg.AdminShutdownError("restarting"))
    assert is_transient(pg.SerializationError("retry"))
    assert is_transient(ConnectionResetError())
    # Refused rows: bisected and set aside, never retried for ever.
    assert not is_transient(pg.UntranslatableCharacterError("unsupported Unicode escape"))
    assert not is_transient(pg.CharacterNotInRepertoireError("invalid byte sequence"))
    assert not is_transient(pg.DataError("bad uuid"))
    assert not is_transient(pg.ForeignKeyViolationError("no such community"))
    assert not is_transient(ValueError("not a timestamp"))
