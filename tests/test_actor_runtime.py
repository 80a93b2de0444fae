"""The actor runtime's guarantees: fencing of stale owners, passivation and reactivation."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aioredis

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.settings import Settings
from lago_rt.app import channel_actor
from lago_rt.channel.actor import SEQ_BLOCK, ChannelActor
from lago_rt.runtime import ActorHost, Command
from lago_rt.runtime.actor import Fenced
from lago_rt.runtime.keys import ActorKeys

from .conftest import CommunityWorld


def caller(world: CommunityWorld, i: int = 0) -> dict[str, Any]:
    return {"user_id": str(world.residents[i].id), "name": f"居民{i}", "role": "member"}


@pytest.fixture
async def hosts(core: Core, settings: Settings) -> Any:
    made = []
    for name in ("a", "b"):
        host = ActorHost(
            kind="ch",
            factory=lambda ctx: channel_actor(ctx, core),
            redis=core.redis,
            pool=core.pool,
            settings=replace(settings, node_id=f"node-{name}", actor_idle_s=60),
            clock=core.clock,
        )
        await host.start()
        made.append(host)
    yield made
    for host in made:
        await host.stop()


async def send(host: ActorHost, world: CommunityWorld, text: str, cmid: str) -> dict[str, Any]:
    result: dict[str, Any] = await host.call(
        world.id, Command("chat.send", {"client_msg_id": cmid, "text": text}, caller(world))
    )
    return result


async def test_a_stale_owner_cannot_write(
    hosts: list[ActorHost], community: CommunityWorld, core: Core, settings: Settings
) -> None:
    a, b = hosts
    assert (await send(a, community, "from a", "1"))["seq"] == 1
    stale = a.actor(community.id)
    assert isinstance(stale, ChannelActor)
    # Node A pauses past its lease (we expire it by hand); node B takes the channel over.
    keys = ActorKeys(settings.redis_prefix, "ch", community.id)
    await core.redis.delete(keys.lease)
    assert (await send(b, community, "from b", "2"))["seq"] == 2
    assert isinstance(b.actor(community.id), ChannelActor)
    # A wakes up still holding its in-memory actor: every write it tries is refused.
    with pytest.raises(Fenced):
        await stale.emit("chat.message", {"user_id": "x", "client_msg_id": "z", "text": "stale"})
    with pytest.raises(Fenced):
        async with stale.ctx.fenced_transaction():
            pass
    # A command arriving at A is re-routed to B rather than served from A's stale state.
    third = await send(a, community, "via a", "3")
    assert third["seq"] == 3
    assert a.actor(community.id) is None
    entries = await core.redis.xrange(keys.events)
    texts = [e[1][b"e"] for e in entries]
    assert not any(b"stale" in t for t in texts)
    assert len(entries) == 3


async def test_idle_actor_passivates_and_comes_back_with_its_state(
    core: Core, settings: Settings, community: CommunityWorld, clock: ManualClock
) -> None:
    host = ActorHost(
        kind="ch",
        factory=lambda ctx: channel_actor(ctx, core),
        redis=core.redis,
        pool=core.pool,
        settings=replace(settings, actor_idle_s=30),
        clock=clock,
    )
    await host.start()
    try:
        for i in range(3):
            await send(host, community, f"消息{i}", f"c{i}")
        keys = ActorKeys(settings.redis_prefix, "ch", community.id)
        await host.tick_all()
        assert host.actor(community.id) is not None  # not idle long enough yet
        clock.advance(31)
        await host.tick_all()
        assert host.actor(community.id) is None
        assert await core.redis.get(keys.lease) is None
        assert await core.redis.get(keys.snapshot) is not None
        # The next command reactivates it from the snapshot: same sequence, same recent messages,
        # and a resend is still recognised.
        again = await send(host, community, "消息0", "c0")
        assert again == {"seq": 1, "duplicate": True}
        snap = await host.call(community.id, Command("channel.snapshot", caller=caller(community)))
        assert snap["seq"] == 3
        assert [m["text"] for m in snap["chat"]["recent"]] == ["消息0", "消息1", "消息2"]
        archived = await core.pool.fetchval("SELECT count(*) FROM channel_events")
        assert archived == 3
    finally:
        await host.stop()


async def test_rebuild_after_losing_redis_history_changes_the_epoch(
    hosts: list[ActorHost], community: CommunityWorld, core: Core, settings: Settings
) -> None:
    a, b = hosts
    await send(a, community, "一", "1")
    await a.tick_all()  # archived
    first = await a.call(community.id, Command("channel.snapshot", caller=caller(community)))
    await a.stop()
    # Redis loses the channel's history (but not the epoch counter).
    keys = ActorKeys(settings.redis_prefix, "ch", community.id)
    client: aioredis.Redis = core.redis
    await client.delete(keys.events, keys.meta, keys.snapshot, keys.lease)
    second = await b.call(community.id, Command("channel.snapshot", caller=caller(community)))
    assert second["epoch"] != first["epoch"]
    # Sequence numbers never reused: the new epoch starts above the block the first owner had
    # reserved in PostgreSQL (it may have given numbers it never archived), with the event that
    # tells members of the new epoch; the message the archive held is served again.
    assert second["seq"] == SEQ_BLOCK + 1
    assert [m["text"] for m in second["chat"]["recent"]] == ["一"]
    assert (await send(b, community, "二", "2"))["seq"] == SEQ_BLOCK + 2


async def test_an_append_that_clears_a_key_does_both_or_neither(
    hosts: list[ActorHost], community: CommunityWorld, core: Core, settings: Settings
) -> None:
    a, b = hosts
    assert (await send(a, community, "from a", "1"))["seq"] == 1
    owner = a.actor(community.id)
    assert isinstance(owner, ChannelActor)
    keys = ActorKeys(settings.redis_prefix, "ch", community.id)
    pending = keys.extra("presence-pending")
    await core.redis.sadd(pending, "u1")
    # Emitted concurrently (features activate together), events still take one number each.
    events = await asyncio.gather(
        owner.emit("presence.joined", {"user_id": "u1", "name": "a"}, clear=pending),
        owner.emit("presence.left", {"user_id": "u2"}),
    )
    assert sorted(e.seq for e in events) == [2, 3]
    assert await core.redis.exists(pending) == 0
    # A stale owner's announcement is refused whole: the set stays for the next owner.
    await core.redis.delete(keys.lease)
    assert (await send(b, community, "from b", "2"))["seq"] == 4
    await core.redis.sadd(pending, "u3")
    with pytest.raises(Fenced):
        await owner.emit("presence.joined", {"user_id": "u3", "name": "c"}, clear=pending)
    assert await core.redis.smembers(pending) == {b"u3"}
