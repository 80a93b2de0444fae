"""Contracts between processes, defined once (docs/architecture.md, "Cross-process contracts"):
the actor inbox command, its reply and the lease value (lago_core/actor_messages.py), and the
names of pushed socket events (lago_core/push_events.py).

The wire format must stay readable by a node of the previous release during a rolling deploy,
so the messages that release wrote are spelled out here byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from lago_core.actor_keys import ActorKeys, NodeKeys, tell_actor
from lago_core.actor_messages import InboxCommand, InboxReply, LeaseValue, MalformedMessage
from lago_core.container import Core
from lago_core.errors import InvalidInput, LagoError
from lago_core.push_events import PUSHED_EVENTS
from lago_core.redis import publish
from lago_core.settings import Settings, SettingsError
from lago_rt.runtime import ActorHost, Command
from lago_rt.runtime.actor import ActorContext

from .waiting import until

ROOT = Path(__file__).resolve().parent.parent
KIND = "contract"

# --- the wire format ---------------------------------------------------------------------------

# What the previous release published: a forwarded command (node to node), one from tell_actor
# (no reply wanted), and the two kinds of reply.
FORWARDED = orjson.dumps(
    {
        "id": "0123456789abcdef",
        "from": "node-a:1a2b3c",
        "key": "c1",
        "name": "chat.send",
        "payload": {"client_msg_id": "m1", "text": "你好"},
        "caller": {"user_id": "u1", "role": "member"},
    }
)
TOLD = orjson.dumps(
    {
        "id": "fedcba9876543210",
        "key": "c1",
        "name": "groupbuy.sync",
        "payload": {"group_id": "g1"},
        "caller": {},
    }
)
ANSWERED = orjson.dumps({"id": "0123456789abcdef", "result": {"seq": 7}, "ok": True})
REFUSED = orjson.dumps(
    {
        "id": "0123456789abcdef",
        "ok": False,
        "error": {
            "code": "not_owner",
            "message": "this node does not own that actor",
            "details": None,
        },
    }
)


def test_messages_of_the_previous_release_decode_and_encode_back_to_the_same_bytes() -> None:
    forwarded = InboxCommand.decode(FORWARDED)
    assert forwarded.reply_to == "node-a:1a2b3c"
    assert forwarded.payload == {"client_msg_id": "m1", "text": "你好"}
    told = InboxCommand.decode(TOLD)
    assert told.reply_to is None
    assert told.caller == {}
    answered = InboxReply.decode(ANSWERED)
    assert answered.ok
    assert answered.result == {"seq": 7}
    refused = InboxReply.decode(REFUSED)
    assert not refused.ok
    assert refused.error is not None
    assert refused.error["code"] == "not_owner"
    for raw, decoded in (
        (FORWARDED, forwarded),
        (TOLD, told),
        (ANSWERED, answered),
        (REFUSED, refused),
    ):
        assert decoded.encode() == raw


def test_round_trips() -> None:
    command = InboxCommand(id="r1", key="k", name="x.y", payload={"n": [1, 2]}, reply_to="n:1")
    assert InboxCommand.decode(command.encode()) == command
    assert InboxCommand.decode(command.encode().decode()) == command
    failure = InboxReply.failure("r1", InvalidInput("no", code="bad_thing", details={"f": 1}))
    assert failure.error == {"code": "bad_thing", "message": "no", "details": {"f": 1}}
    assert InboxReply.decode(failure.encode()) == failure
    success = InboxReply.success("r1", None)
    assert InboxReply.decode(success.encode()) == success
    lease = LeaseValue("node-a:1a2b3c", 42)
    assert lease.encode() == b"node-a:1a2b3c|42"
    assert str(lease) == "node-a:1a2b3c|42"
    assert LeaseValue.decode(lease.encode()) == lease
    assert LeaseValue.decode(str(lease)) == lease


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'"a string"',
        b"{}",
        b'{"key": "k", "name": "n"}',
        b'{"id": "1", "key": "k"}',
        b'{"id": 1, "key": "k", "name": "n"}',
        b'{"id": "1", "key": "", "name": "n"}',
        b'{"id": "1", "key": "k", "name": "n", "payload": []}',
        b'{"id": "1", "key": "k", "name": "n", "payload": null}',
        b'{"id": "1", "key": "k", "name": "n", "caller": "me"}',
        b'{"id": "1", "key": "k", "name": "n", "from": 7}',
    ],
)
def test_a_malformed_inbox_command_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedMessage, match="inbox command"):
        InboxCommand.decode(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"nope",
        b"{}",
        b'{"id": "1"}',
        b'{"id": "1", "ok": 1}',
        b'{"id": "1", "ok": "true"}',
        b'{"id": "1", "ok": false}',
        b'{"id": "1", "ok": false, "error": "boom"}',
        b'{"ok": true, "result": 1}',
    ],
)
def test_a_malformed_reply_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedMessage, match="inbox reply"):
        InboxReply.decode(raw)


@pytest.mark.parametrize(
    "raw", [b"", b"node-a", b"|3", b"node-a|", b"node-a|x", b"node-a|-1", "node-a|²".encode()]
)
def test_a_malformed_lease_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedMessage, match="lease"):
        LeaseValue.decode(raw)


def test_a_lease_holder_never_contains_the_separator() -> None:
    # The ACQUIRE script splits a lease at its first "|": a holder with one would be misread.
    with pytest.raises(ValueError, match="holder"):
        LeaseValue("node|a", 1)
    with pytest.raises(SettingsError, match="LAGO_NODE_ID"):
        Settings.from_env(environ={}, node_id="node|a")


# --- both sides: tell_actor and forwarding served by real actor hosts ---------------------------


class Recorder:
    """An actor that keeps what it was told and answers with it."""

    def __init__(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        self.seen: list[Command] = []

    async def activate(self) -> None:
        return None

    async def handle(self, command: Command) -> Any:
        if command.name == "refuse":
            raise InvalidInput("refused on purpose", code="refused", details={"why": "test"})
        self.seen.append(command)
        return {"name": command.name, "payload": command.payload, "caller": command.caller}

    async def tick(self) -> None:
        return None

    def idle(self) -> bool:
        return False

    async def passivate(self) -> None:
        return None


@pytest.fixture
async def hosts(core: Core, settings: Settings) -> AsyncIterator[list[ActorHost]]:
    made: list[ActorHost] = []
    for name in ("a", "b"):
        host = ActorHost(
            kind=KIND,
            factory=Recorder,
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


def recorder(host: ActorHost, key: str) -> Recorder:
    actor = host.actor(key)
    assert isinstance(actor, Recorder)
    return actor


def bad_messages() -> float:
    labels = {"kind": KIND, "work": "bad_message"}
    return REGISTRY.get_sample_value("lago_rt_actor_failures_total", labels) or 0.0


async def test_the_lease_a_host_takes_is_a_lease_value(
    hosts: list[ActorHost], core: Core, settings: Settings
) -> None:
    a, _ = hosts
    await a.call("k1", Command("hello"))
    raw = await core.redis.get(ActorKeys(settings.redis_prefix, KIND, "k1").lease)
    assert raw is not None
    lease = LeaseValue.decode(raw)
    assert lease.holder == a.instance
    assert lease.epoch >= 1
    assert lease.encode() == raw


async def test_a_forwarded_command_is_answered_through_the_contract(
    hosts: list[ActorHost],
) -> None:
    a, b = hosts
    await a.call("k1", Command("hello"))
    answer = await b.call("k1", Command("hello", {"n": 2}, {"user_id": "u1"}))
    assert answer == {"name": "hello", "payload": {"n": 2}, "caller": {"user_id": "u1"}}
    assert b.actor("k1") is None  # served where the actor lives, not here
    with pytest.raises(LagoError) as refused:
        await b.call("k1", Command("refuse"))
    assert (refused.value.code, refused.value.details) == ("refused", {"why": "test"})


async def test_what_tell_actor_sends_is_served_by_the_holder(
    hosts: list[ActorHost], core: Core, settings: Settings
) -> None:
    a, _ = hosts
    prefix = settings.redis_prefix
    assert not await tell_actor(core.redis, prefix, KIND, "k1", "wake", {"n": 3})  # nobody holds it
    await a.call("k1", Command("hello"))
    assert await tell_actor(core.redis, prefix, KIND, "k1", "wake", {"n": 3})
    seen = recorder(a, "k1").seen
    await until(lambda: any(c.name == "wake" for c in seen))
    assert [c for c in seen if c.name == "wake"] == [Command("wake", {"n": 3}, {})]


async def test_a_malformed_message_is_counted_and_the_host_keeps_serving(
    hosts: list[ActorHost], core: Core, settings: Settings
) -> None:
    a, _ = hosts
    await a.call("k1", Command("hello"))
    before = bad_messages()
    node = NodeKeys(settings.redis_prefix)
    for raw in (b"garbage", b'{"id": "x"}', b'{"id": "1", "key": "k1", "name": "n", "payload": 1}'):
        assert await publish(core.redis, node.inbox(a.instance), raw) == 1
    assert await publish(core.redis, node.replies(a.instance), b'{"id": "x", "ok": "yes"}') == 1
    await until(lambda: bad_messages() == before + 4)
    assert recorder(a, "k1").seen == [Command("hello")]
    assert await tell_actor(core.redis, settings.redis_prefix, KIND, "k1", "wake", {})
    await until(lambda: [c.name for c in recorder(a, "k1").seen] == ["hello", "wake"])


# --- nobody else speaks these formats by hand ----------------------------------------------------

SOURCE_DIRS = ("lago_core", "lago_rest", "lago_rt", "workers", "lago_bench", "lago_cli")
CONTRACT_MODULES = {"lago_core/actor_messages.py", "lago_core/push_events.py"}
HAND_BUILT = {
    # (not partition: a group buy cursor is "<time>|<id>", lago_rt/channel/groupbuys.py)
    "parses a lease": re.compile(r"""\.r?split\(\s*["']\|["']"""),
    "builds a lease": re.compile(r"\|\{[^}]*epoch[^}]*\}"),
    "builds an inbox command": re.compile(r"""["']caller["']\s*:"""),
}
NODE_CHANNELS = re.compile(r"\.(?:inbox|replies)\(")
EVENT_LITERAL = re.compile("[\"'](?:" + "|".join(map(re.escape, PUSHED_EVENTS)) + ")[\"']")
# The device simulator stands for a device, the other side of the protocol: it imports no Lago
# code by design (the load tests run it anywhere).
CLIENT_STAND_INS = {"lago_rt/devices/sim.py"}


def sources() -> list[tuple[str, str]]:
    found = []
    for top in SOURCE_DIRS:
        for path in sorted((ROOT / top).rglob("*.py")):
            found.append((path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")))
    return found


def test_the_checks_below_recognise_the_hand_built_forms() -> None:
    # The forms this code had before the contract module, so the checks are not vacuous.
    old = {
        "parses a lease": 'value.rsplit("|", 1)[0]',
        "builds a lease": 'f"{self.ctx.instance}|{self.ctx.epoch}"',
        "builds an inbox command": '{"id": i, "key": key, "name": name, "caller": {}}',
    }
    for what, line in old.items():
        assert HAND_BUILT[what].search(line), what
    assert EVENT_LITERAL.search('await self._push(row, "order:new")')


def test_no_module_builds_the_inbox_or_lease_formats_by_hand() -> None:
    offenders = [
        f"{name}: {what}"
        for name, text in sources()
        if name not in CONTRACT_MODULES
        for what, pattern in HAND_BUILT.items()
        if pattern.search(text)
    ]
    # Whoever publishes on a node's inbox or replies channel speaks through the contract.
    offenders += [
        f"{name}: uses a node's inbox/replies without lago_core.actor_messages"
        for name, text in sources()
        if NODE_CHANNELS.search(text) and "lago_core.actor_messages" not in text
    ]
    assert offenders == []


def test_pushed_event_names_come_from_push_events_and_are_documented() -> None:
    offenders = [
        f"{name}: {match.group()}"
        for name, text in sources()
        if name not in CONTRACT_MODULES | CLIENT_STAND_INS
        for match in EVENT_LITERAL.finditer(text)
    ]
    assert offenders == []
    protocol = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    assert [event for event in PUSHED_EVENTS if f"`{event}`" not in protocol] == []
