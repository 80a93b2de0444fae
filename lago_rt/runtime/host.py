"""Runs actors on one node: activation, mailboxes, forwarding, lease renewal and passivation.

Placement is by lease: the first node to ``SET NX`` an actor's lease owns it and every other node
forwards commands to the owner over Redis pub/sub (its ``inbox`` channel, answered on the
caller's ``replies`` channel). When the owner dies its lease expires and the next command
activates the actor wherever it arrives. Commands may be delivered more than once around a
failover (a reply can be lost after the work was done), so actor commands are idempotent.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from lago_core.actor_messages import InboxCommand, InboxReply, LeaseValue, MalformedMessage
from lago_core.clock import Clock
from lago_core.errors import LagoError, Unavailable
from lago_core.logging import get_logger
from lago_core.redis import count_subscribers, is_cluster, open_pubsub, publish, publish_command
from lago_core.settings import Settings
from lago_rt.metrics import ACTOR_FAILURES, ACTOR_WORK, labelled
from lago_rt.runtime import fencing
from lago_rt.runtime.actor import Actor, ActorContext, Command, Fenced, NotOwner
from lago_rt.runtime.keys import ActorKeys, NodeKeys

__all__ = ["ActorFactory", "ActorHost"]

log = get_logger(__name__)

ActorFactory = Callable[[ActorContext], Actor]
_STOP = object()
_PASSIVATE = "__passivate__"
_TICK = object()
# At most this many commands in one batch (see Actor.batchable).
MAX_BATCH = 256
# An actor keeps a pooled connection for its statements until they stop for this long.
HOLD_IDLE_S = 1.0
# Pauses between attempts to read the node's inbox again after its connection failed.
_LISTEN_RETRY_FIRST_S = 0.05
_LISTEN_RETRY_MAX_S = 2.0


class _OwnerUnreachable(Exception):
    pass


def _unobserved(fut: asyncio.Future[Any], kind: str, key: str, work: str) -> None:
    """The end of work nobody waits for (a timer's command, a passivation): take its exception,
    so asyncio does not report it as never retrieved. A newer owner (Fenced) or a stopped actor
    is expected there; anything else is worth a line in the log."""
    exc = None if fut.cancelled() else fut.exception()
    if exc is not None and not isinstance(exc, (Fenced, NotOwner)):
        log.warning("actors.unobserved_work_failed", kind=kind, key=key, work=work, error=repr(exc))


def _too_late(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(Unavailable("the channel is busy", code="channel_unavailable"))


@dataclass(eq=False)
class _Running:
    ctx: ActorContext
    actor: Actor
    mailbox: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    last_used: float = 0.0
    tick_pending: bool = False
    stopping: bool = False

    @property
    def lease_value(self) -> str:
        return str(LeaseValue(self.ctx.instance, self.ctx.epoch))


class ActorHost:
    """One node's share of the actors of one kind (``"ch"`` for community channels)."""

    def __init__(
        self,
        *,
        kind: str,
        factory: ActorFactory,
        redis: aioredis.Redis,
        pool: asyncpg.Pool,
        settings: Settings,
        clock: Clock,
        instance: str | None = None,
    ) -> None:
        self.kind = kind
        self._factory = factory
        self._redis = redis
        # On a cluster, inboxes and replies are shard channels (lago_core/redis.py).
        self._cluster = is_cluster(redis)
        self._publish_command = "PUBLISH"
        self._pool = pool
        self._settings = settings
        self._clock = clock
        # A fresh instance id per process: a restarted node never mistakes an old lease for its own.
        self.instance = instance or f"{settings.node_id}:{secrets.token_hex(3)}"
        self._node_keys = NodeKeys(settings.redis_prefix)
        self._actors: dict[str, _Running] = {}
        self._activation_locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._acquire = redis.register_script(fencing.ACQUIRE)
        self._renew = redis.register_script(fencing.RENEW)
        self._release = redis.register_script(fencing.RELEASE)
        self._lease_ms = settings.actor_lease_ms
        self._beat_s = settings.node_heartbeat_ms / 1000
        self._closed = False
        # Set by stop(): the heartbeat ends between beats rather than being cancelled inside a
        # Redis command (a connection cancelled while it connects is left open by the client).
        self._stop_beating = asyncio.Event()

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._mark_alive()
        self._publish_command = await publish_command(self._redis)
        self._pubsub = await open_pubsub(self._redis)
        await self._pubsub.subscribe(
            self._node_keys.inbox(self.instance), self._node_keys.replies(self.instance)
        )
        self._listener = asyncio.create_task(self._listen(), name=f"actor-host-listen-{self.kind}")
        self._heartbeat = asyncio.create_task(self._beat(), name=f"actor-host-beat-{self.kind}")
        log.info("actors.host_started", kind=self.kind, instance=self.instance)

    async def stop(self, *, graceful: bool = True) -> None:
        """Passivate local actors and release their leases (graceful), then stop listening."""
        self._closed = True
        self._stop_beating.set()
        if self._heartbeat is not None:
            # A beat in flight finishes (bounded: a Redis that does not answer is cut off).
            _, late = await asyncio.wait({self._heartbeat}, timeout=max(1.0, self._beat_s))
            for task in late:
                task.cancel()
            await self._finish("stop_task", self._heartbeat)
        if self._listener is not None:
            self._listener.cancel()
            await self._finish("stop_task", self._listener)
        for key in list(self._actors):
            await self._deactivate(key, passivate=graceful)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            await self._finish("stop_task", task)
        if self._pubsub is not None:
            await self._finish("close_pubsub", self._pubsub.aclose())
        await self._finish("mark_dead", self._redis.delete(self._node_keys.alive(self.instance)))
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(Unavailable("node shutting down", code="channel_unavailable"))

    async def _finish(self, work: str, awaitable: Awaitable[Any]) -> None:
        """Await clean-up whose failure must not stop the rest of the clean-up — logged and
        counted, never swallowed. A cancelled task awaited here is what stopping it meant."""
        try:
            await awaitable
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except Exception as exc:
            labelled(ACTOR_FAILURES, self.kind, work).inc()
            log.warning("actors.cleanup_failed", kind=self.kind, work=work, error=repr(exc))

    def local_keys(self) -> list[str]:
        return list(self._actors)

    def actor(self, key: str) -> Actor | None:
        """The local actor for ``key`` if this node runs it (for tests and diagnostics)."""
        running = self._actors.get(key)
        return running.actor if running else None

    # --- calling -------------------------------------------------------------------------------------

    async def call(self, key: str, command: Command, *, within: float | None = None) -> Any:
        """Run ``command`` on the actor for ``key`` wherever it lives; activate it if nobody does."""
        loop = asyncio.get_running_loop()
        budget = within if within is not None else self._settings.forward_timeout_ms / 1000
        deadline = loop.time() + budget
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closed:
                raise Unavailable("the channel did not answer in time", code="channel_unavailable")
            running = self._actors.get(key)
            try:
                if running is not None and not running.stopping:
                    return await self._submit(running, command, remaining)
                if running is not None:
                    # Still being deactivated here: let that finish before routing again.
                    await asyncio.sleep(min(self._beat_s / 10, max(remaining, 0)))
                    continue
                holder = await self._holder(key)
                if holder is None or holder == self.instance:
                    await self._activate(key)
                    continue
                return await self._forward(holder, key, command, remaining)
            except (NotOwner, _OwnerUnreachable) as exc:
                if running is not None and isinstance(exc, Fenced):
                    await self._deactivate(key, passivate=False)
                # The owner is gone or moving: its lease expires within the lease time. Poll at
                # the heartbeat rate rather than spinning.
                await asyncio.sleep(min(self._beat_s / 2, max(deadline - loop.time(), 0)))

    def submit_local(self, key: str, command: Command) -> asyncio.Future[Any] | None:
        """Queue ``command`` for ``key``'s actor if it runs here; None means use :meth:`call`.

        For callers that cannot afford a task per command (gateway/inbound.py): the future gets
        the actor's answer, or ``channel_unavailable`` after the forwarding budget, or a
        ``NotOwner`` when the actor stopped or moved meanwhile — then the caller routes the
        command again with :meth:`call`, as ``call`` itself would.
        """
        running = self._actors.get(key)
        if running is None or running.stopping or self._closed:
            return None
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        running.mailbox.put_nowait((command, fut))
        running.last_used = self._clock.monotonic()
        # The actor skips a command whose future is already done, so a late one is not run.
        timer = loop.call_later(self._settings.forward_timeout_ms / 1000, _too_late, fut)
        fut.add_done_callback(lambda _: timer.cancel())
        return fut

    async def _submit(self, running: _Running, command: Command, within: float) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        running.mailbox.put_nowait((command, fut))
        running.last_used = self._clock.monotonic()
        try:
            return await asyncio.wait_for(asyncio.shield(fut), within)
        except TimeoutError:
            raise Unavailable("the channel is busy", code="channel_unavailable") from None

    async def _holder(self, key: str) -> str | None:
        raw = await self._redis.get(self._keys(key).lease)
        return None if raw is None else LeaseValue.decode(raw).holder

    def _keys(self, key: str) -> ActorKeys:
        return ActorKeys(self._settings.redis_prefix, self.kind, key)

    # --- forwarding ----------------------------------------------------------------------------------

    async def _forward(self, holder: str, key: str, command: Command, remaining: float) -> Any:
        request_id = secrets.token_hex(8)
        fut: asyncio.Future[InboxReply] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = fut
        message = InboxCommand(
            id=request_id,
            key=key,
            name=command.name,
            payload=command.payload,
            caller=command.caller,
            reply_to=self.instance,
        )
        try:
            receivers = await publish(self._redis, self._node_keys.inbox(holder), message.encode())
            if receivers == 0:
                raise _OwnerUnreachable(holder)
            # Wait in heartbeat-sized slices so a holder that dies mid-request is noticed early:
            # its inbox loses its subscriber as soon as Redis sees the connection drop, well
            # before its liveness key expires.
            slice_s = max(self._beat_s, 0.05)
            while True:
                try:
                    reply = await asyncio.wait_for(asyncio.shield(fut), min(slice_s, remaining))
                    break
                except TimeoutError:
                    remaining -= slice_s
                    if remaining <= 0:
                        raise Unavailable(
                            "the channel did not answer in time", code="channel_unavailable"
                        ) from None
                    if not await self._holder_listening(holder):
                        raise _OwnerUnreachable(holder) from None
        finally:
            self._waiting.pop(request_id, None)
        if reply.ok:
            return reply.result
        error = reply.error or {}
        if error.get("code") in ("not_owner", "fenced"):
            raise NotOwner(error.get("message", "not the owner"))
        raise LagoError(
            error.get("message", "error"), code=error.get("code"), details=error.get("details")
        )

    async def _holder_listening(self, holder: str) -> bool:
        if self._cluster:
            # The liveness key and the inbox's subscribers live on different nodes.
            alive = await self._redis.exists(self._node_keys.alive(holder))
            return (
                bool(alive)
                and await count_subscribers(self._redis, self._node_keys.inbox(holder)) > 0
            )
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(self._node_keys.alive(holder))
            pipe.pubsub_numsub(self._node_keys.inbox(holder))
            alive, numsub = await pipe.execute()
        subscribers = int(numsub[0][1]) if numsub else 0
        return bool(alive) and subscribers > 0

    async def _listen(self) -> None:
        inbox = self._node_keys.inbox(self.instance).encode()
        pause = _LISTEN_RETRY_FIRST_S
        while True:
            try:
                async for message in self._pubsub.listen():
                    pause = _LISTEN_RETRY_FIRST_S
                    if message.get("type") != "message":
                        continue
                    try:
                        if message["channel"] == inbox:
                            self._spawn(self._serve_forwarded(InboxCommand.decode(message["data"])))
                            continue
                        reply = InboxReply.decode(message["data"])
                    except MalformedMessage as exc:
                        # Anyone can publish on these channels: what is not a message of ours
                        # is dropped (its sender, if any, times out and retries) — not a crash.
                        labelled(ACTOR_FAILURES, self.kind, "bad_message").inc()
                        log.warning(
                            "actors.bad_message", channel=message.get("channel"), error=str(exc)
                        )
                        continue
                    fut = self._waiting.get(reply.id)
                    if fut is not None and not fut.done():
                        fut.set_result(reply)
            except asyncio.CancelledError:
                raise
            except Exception:
                labelled(ACTOR_FAILURES, self.kind, "listen").inc()
                log.exception("actors.listen_failed", retry_in_s=pause)
                # redis-py reconnects and subscribes again on the next read; soon, since no
                # forwarded command reaches this node meanwhile (not a heartbeat later).
                await asyncio.sleep(pause)
                pause = min(pause * 2, _LISTEN_RETRY_MAX_S)

    async def _serve_forwarded(self, request: InboxCommand) -> None:
        running = self._actors.get(request.key)
        try:
            if running is None or running.stopping:
                raise NotOwner("this node does not own that actor")
            command = Command(name=request.name, payload=request.payload, caller=request.caller)
            result = await self._submit(running, command, self._settings.forward_timeout_ms / 1000)
            reply = InboxReply.success(request.id, result)
        except LagoError as exc:
            reply = InboxReply.failure(request.id, exc)
        except Exception:
            log.exception("actors.forwarded_failed", name=request.name)
            reply = InboxReply.failure(request.id, LagoError("internal error", code="internal"))
        if request.reply_to is not None:
            # The caller retries (its budget) when the reply is lost; the loss is still counted.
            await self._finish(
                "reply",
                publish(self._redis, self._node_keys.replies(request.reply_to), reply.encode()),
            )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- activation ----------------------------------------------------------------------------------

    async def _activate(self, key: str) -> None:
        lock = self._activation_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._actors:
                return
            keys = self._keys(key)
            floor = await self._pool.fetchval(
                "SELECT epoch FROM actor_epochs WHERE kind = $1 AND key = $2", self.kind, key
            )
            acquired = await self._acquire(
                keys=[keys.lease, keys.epoch],
                args=[self.instance, self._lease_ms, (floor or 0) + 1],
            )
            if int(acquired[0]) != 1:
                return  # another node won; the caller forwards to it
            epoch = int(acquired[1])
            claimed = await self._pool.fetchval(
                """
                INSERT INTO actor_epochs (kind, key, epoch, instance) VALUES ($1, $2, $3, $4)
                ON CONFLICT (kind, key) DO UPDATE
                    SET epoch = EXCLUDED.epoch, instance = EXCLUDED.instance, claimed_at = now()
                    WHERE actor_epochs.epoch < EXCLUDED.epoch
                RETURNING epoch
                """,
                self.kind,
                key,
                epoch,
                self.instance,
            )
            if claimed is None:
                # PostgreSQL already saw a newer epoch (Redis lost its counter): give this lease up.
                await self._release(
                    keys=[keys.lease], args=[LeaseValue(self.instance, epoch).encode()]
                )
                raise NotOwner("a newer epoch is already claimed")
            ctx = ActorContext(
                kind=self.kind,
                key=key,
                epoch=epoch,
                instance=self.instance,
                keys=keys,
                redis=self._redis,
                pool=self._pool,
                settings=self._settings,
                clock=self._clock,
                publish_command=self._publish_command,
            )
            running = _Running(ctx=ctx, actor=self._factory(ctx))
            ctx.post_later = lambda delay, command, r=running: self._post_later(r, delay, command)
            running.last_used = self._clock.monotonic()
            self._actors[key] = running
            running.task = asyncio.create_task(self._run(running), name=f"actor-{self.kind}-{key}")
            await running.ready.wait()
            if running.stopping:
                raise NotOwner("activation failed")
            log.info("actors.activated", kind=self.kind, key=key, epoch=epoch)

    async def _run(self, running: _Running) -> None:
        try:
            await running.actor.activate()
        except Exception as exc:
            labelled(ACTOR_FAILURES, self.kind, "activate").inc()
            log.exception("actors.activation_failed", key=running.ctx.key)
            running.stopping = True
            running.ready.set()
            self._actors.pop(running.ctx.key, None)
            await self._finish(
                "release_lease",
                self._release(keys=[running.ctx.keys.lease], args=[running.lease_value]),
            )
            self._fail_pending(running, exc)
            return
        running.ready.set()
        batchable: frozenset[str] = getattr(running.actor, "batchable", frozenset())
        backlog: deque[Any] = deque()
        while True:
            item = backlog.popleft() if backlog else await running.mailbox.get()
            if item is _STOP:
                break
            command, fut = item
            if command is not _TICK and command.name in batchable:
                batch = [item]
                # Take every command of the same name already waiting (up to a bound), so one
                # database transaction and one event serve all of them; anything else waits in
                # the backlog, in order.
                while len(batch) < MAX_BATCH and not running.mailbox.empty():
                    queued = running.mailbox.get_nowait()
                    if (
                        queued is not _STOP
                        and queued[0] is not _TICK
                        and queued[0].name == command.name
                    ):
                        batch.append(queued)
                        continue
                    backlog.append(queued)
                    break
                started = time.perf_counter()
                await self._run_batch(running, batch)
                self._timed(command.name, started)
                continue
            if command is _TICK:
                running.tick_pending = False
                started = time.perf_counter()
                try:
                    await self._guard(running, running.actor.tick())
                    await running.ctx.release_idle(HOLD_IDLE_S)
                except Fenced:
                    pass  # _guard stopped the actor: a newer owner has it
                except Exception:
                    # The actor isolates its own parts (a channel's features); what still gets
                    # here must not stop the mailbox either, but is never silent.
                    labelled(ACTOR_FAILURES, self.kind, "tick").inc()
                    log.exception("actors.tick_failed", kind=self.kind, key=running.ctx.key)
                self._timed("tick", started)
                if fut is not None and not fut.done():
                    fut.set_result(None)
                continue
            if fut.done():
                continue
            work = (
                running.actor.passivate()
                if command.name == _PASSIVATE
                else running.actor.handle(command)
            )
            started = time.perf_counter()
            try:
                fut.set_result(await self._guard(running, work))
            except Exception as exc:
                if not fut.done():
                    fut.set_exception(exc)
            self._timed(command.name, started)
        await self._finish("release_held", running.ctx.release_held())
        self._fail_pending(running, NotOwner("actor stopped"))

    def _timed(self, work: str, started: float) -> None:
        labelled(ACTOR_WORK, self.kind, work).observe(time.perf_counter() - started)

    def _post_later(self, running: _Running, delay: float, command: Command) -> None:
        """Put ``command`` in the actor's own mailbox after ``delay`` seconds (no reply)."""

        def post() -> None:
            if running.stopping or self._actors.get(running.ctx.key) is not running:
                return
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            done.add_done_callback(
                functools.partial(
                    _unobserved, kind=self.kind, key=running.ctx.key, work=command.name
                )
            )
            running.mailbox.put_nowait((command, done))

        asyncio.get_running_loop().call_later(delay, post)

    async def _run_batch(self, running: _Running, batch: list[Any]) -> None:
        live = [(command, fut) for command, fut in batch if not fut.done()]
        if not live:
            return
        try:
            handle_batch = running.actor.handle_batch  # type: ignore[attr-defined]
            results = await self._guard(running, handle_batch([command for command, _ in live]))
        except Exception as exc:
            results = [exc] * len(live)
        for (_, fut), result in zip(live, results, strict=True):
            if fut.done():
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    async def _guard(self, running: _Running, work: Any) -> Any:
        try:
            return await work
        except Fenced:
            # A newer owner exists: stop taking commands here; callers re-route.
            running.stopping = True
            self._spawn(self._deactivate(running.ctx.key, passivate=False))
            raise

    def _fail_pending(self, running: _Running, exc: Exception) -> None:
        while not running.mailbox.empty():
            item = running.mailbox.get_nowait()
            if item is _STOP:
                continue
            _, fut = item
            if fut is not None and not fut.done():
                fut.set_exception(NotOwner(str(exc)) if not isinstance(exc, LagoError) else exc)

    async def _deactivate(self, key: str, *, passivate: bool) -> None:
        running = self._actors.get(key)
        if running is None:
            return
        running.stopping = True
        if passivate and not running.ctx.lost:
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            done.add_done_callback(
                functools.partial(_unobserved, kind=self.kind, key=key, work=_PASSIVATE)
            )
            running.mailbox.put_nowait((Command(_PASSIVATE), done))
        running.mailbox.put_nowait(_STOP)
        if running.task is not None:
            await self._finish("stop_actor", asyncio.wait_for(asyncio.shield(running.task), 5))
        await self._finish("release_held", running.ctx.release_held())  # if the task did not
        self._actors.pop(key, None)
        await self._finish(
            "release_lease",
            self._release(keys=[running.ctx.keys.lease], args=[running.lease_value]),
        )
        log.info("actors.deactivated", kind=self.kind, key=key, passivated=passivate)

    # --- heartbeat: liveness, lease renewal, ticks, passivation --------------------------------------

    async def _mark_alive(self) -> None:
        await self._redis.set(
            self._node_keys.alive(self.instance), "1", px=int(self._settings.node_heartbeat_ms * 3)
        )

    async def _beat(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._stop_beating.wait(), self._beat_s)
                return
            except TimeoutError:
                pass
            try:
                await self._beat_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                labelled(ACTOR_FAILURES, self.kind, "heartbeat").inc()
                log.exception("actors.heartbeat_failed")

    async def _beat_once(self) -> None:
        await self._mark_alive()
        running_now = list(self._actors.values())
        if not running_now:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for running in running_now:
                if self._cluster:
                    # A cluster pipeline does not load scripts before EVALSHA as a plain one
                    # does, and a node restarted empty would answer NOSCRIPT to every renewal:
                    # the script text is sent instead (a few hundred bytes per lease).
                    pipe.eval(
                        fencing.RENEW,
                        1,
                        running.ctx.keys.lease,
                        running.lease_value,
                        str(self._lease_ms),
                    )
                    continue
                await self._renew(
                    keys=[running.ctx.keys.lease],
                    args=[running.lease_value, self._lease_ms],
                    client=pipe,
                )
            renewed = await pipe.execute()
        now = self._clock.monotonic()
        stopping: list[Any] = []
        for running, ok in zip(running_now, renewed, strict=True):
            if running.stopping:
                continue
            if int(ok) != 1:
                log.warning("actors.lease_lost", key=running.ctx.key, epoch=running.ctx.epoch)
                running.ctx.lost = True
                stopping.append(self._deactivate(running.ctx.key, passivate=False))
                continue
            if running.actor.idle() and now - running.last_used > self._settings.actor_idle_s:
                stopping.append(self._deactivate(running.ctx.key, passivate=True))
                continue
            if not running.tick_pending:
                running.tick_pending = True
                running.mailbox.put_nowait((_TICK, None))
        if stopping:
            await asyncio.gather(*stopping, return_exceptions=True)

    async def tick_all(self) -> None:
        """Renew leases and run every local actor's tick now, and wait for the ticks.

        Tests call this instead of waiting for the heartbeat timer.
        """
        await self._beat_once()
        waits = []
        for running in list(self._actors.values()):
            if running.stopping:
                continue
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            running.mailbox.put_nowait((_TICK, fut))
            waits.append(fut)
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
