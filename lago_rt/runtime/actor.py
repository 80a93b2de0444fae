"""What an actor is, what it is given, and the errors of ownership."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias, TypeVar

import asyncpg
import redis.asyncio as aioredis
from asyncpg.pool import PoolConnectionProxy
from redis.exceptions import ResponseError

from lago_core.clock import Clock
from lago_core.errors import LagoError
from lago_core.settings import Settings
from lago_rt.runtime import fencing
from lago_rt.runtime.keys import ActorKeys

__all__ = ["Actor", "ActorContext", "Command", "Fenced", "NotOwner"]

T = TypeVar("T")
# What a single fenced statement runs on: the pool, or a connection taken from it.
Executor: TypeAlias = "asyncpg.Pool | PoolConnectionProxy[asyncpg.Record]"


class NotOwner(LagoError):
    """This node does not (or no longer) own the actor; the caller routes the command again."""

    status = 503
    default_code = "not_owner"


class Fenced(NotOwner):
    """A write was refused because a newer owner exists: this instance must stop at once."""

    default_code = "fenced"


@dataclass(frozen=True, slots=True)
class Command:
    """A request to an actor. ``caller`` is who asked (already authenticated by the gateway)."""

    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    caller: dict[str, Any] = field(default_factory=dict)


class Actor(Protocol):
    async def activate(self) -> None:
        """Rebuild state (from Redis and PostgreSQL) before the first command."""

    async def handle(self, command: Command) -> Any:
        """Process one command; the host never runs two at once for one actor."""

    # Optional: an actor with a ``batchable: frozenset[str]`` attribute and an
    # ``async handle_batch(commands) -> list[result | exception]`` method gets the commands of
    # those names that queued up together in one call (one result per command, in order), so it
    # can serve many with one database transaction.

    async def tick(self) -> None:
        """Periodic work inside the mailbox (flushes, pruning); called every heartbeat."""

    def idle(self) -> bool:
        """True when the actor may be passivated (nobody online, nothing running)."""

    async def passivate(self) -> None:
        """Save what must outlive this activation; the lease is released afterwards."""


@dataclass(slots=True)
class ActorContext:
    """Everything an actor may use, with its fencing epoch built into each write."""

    kind: str
    key: str
    epoch: int
    instance: str
    keys: ActorKeys
    redis: aioredis.Redis
    pool: asyncpg.Pool
    settings: Settings
    clock: Clock
    # How the `live` channel is published: SPUBLISH on a cluster that shards pub/sub.
    publish_command: str = "PUBLISH"
    lost: bool = False
    _script: Any = None
    # A pooled connection kept while statements keep coming (see fenced_statement).
    _held: PoolConnectionProxy[asyncpg.Record] | None = None
    _held_used: float = 0.0
    # Set by the host: post a command to this actor's own mailbox after a delay (timers).
    post_later: Callable[[float, Command], None] | None = None

    async def fenced(self, op: str, keys: list[str], *args: str | int | bytes) -> Any:
        """Run one fenced Redis write (see :data:`fencing.FENCED`)."""
        if self.lost:
            raise Fenced("this actor instance lost its lease")
        if self._script is None:
            self._script = self.redis.register_script(fencing.FENCED)
        try:
            return await self._script(keys=[self.keys.epoch, *keys], args=[self.epoch, op, *args])
        except ResponseError as exc:
            if str(exc).startswith("FENCED"):
                self.lost = True
                raise Fenced("a newer owner holds this actor") from None
            raise

    async def fenced_statement(
        self, run: Callable[[Executor, str, str, int], Awaitable[T | None]]
    ) -> T:
        """Run one statement that checks the fence itself (see ``fenced_transaction``).

        ``run(executor, kind, key, epoch)`` returns None when PostgreSQL holds a newer epoch than
        ours: a single statement (a function such as ``group_buy_take_seats``) saves the round
        trips of BEGIN, the check and COMMIT.

        The executor is a connection this actor keeps from the pool while its statements keep
        coming (given back by :meth:`release_idle`), when at least half of the pool is free;
        otherwise the pool. Taking and returning a pooled connection costs turns of the event
        loop (asyncpg returns it in a task of its own), and under load each turn is several
        milliseconds — on the one path that every join of a rush waits for.
        """
        if self.lost:
            raise Fenced("this actor instance lost its lease")
        conn = self._held
        if conn is None and self._pool_mostly_free():
            conn = self._held = await self.pool.acquire()
        self._held_used = self.clock.monotonic()
        try:
            result = await run(
                conn if conn is not None else self.pool, self.kind, self.key, self.epoch
            )
        except BaseException:
            # The connection may be broken or mid-statement: the pool decides what to do with it.
            await self.release_held()
            raise
        if result is None:
            self.lost = True
            raise Fenced("a newer owner claimed this actor in PostgreSQL")
        return result

    def _pool_mostly_free(self) -> bool:
        in_use = self.pool.get_size() - self.pool.get_idle_size()
        return in_use < self.pool.get_max_size() // 2

    async def release_idle(self, idle_s: float) -> None:
        """Give the kept connection back once no statement used it for ``idle_s`` seconds."""
        if self._held is not None and self.clock.monotonic() - self._held_used >= idle_s:
            await self.release_held()

    async def release_held(self) -> None:
        conn, self._held = self._held, None
        if conn is not None:
            await self.pool.release(conn)

    @asynccontextmanager
    async def fenced_transaction(self) -> AsyncIterator[PoolConnectionProxy[asyncpg.Record]]:
        """A PostgreSQL transaction that commits only while this epoch is the newest claimed.

        ``FOR SHARE`` on the claim row makes a concurrent claim by a newer owner wait for this
        transaction, and a claim committed before it makes the check fail — so two owners never
        both write.
        """
        if self.lost:
            raise Fenced("this actor instance lost its lease")
        async with self.pool.acquire() as conn, conn.transaction():
            current = await conn.fetchval(
                "SELECT epoch FROM actor_epochs WHERE kind = $1 AND key = $2 FOR SHARE",
                self.kind,
                self.key,
            )
            if current != self.epoch:
                self.lost = True
                raise Fenced("a newer owner claimed this actor in PostgreSQL")
            yield conn
