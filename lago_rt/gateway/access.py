"""Who may join a community channel and who may moderate it, checked in PostgreSQL and cached.

Decisions are cached per (user, community) for ``TTL_S`` seconds on each node, so a join storm
does not become a query storm; a revoked membership takes effect within that time. A decision
still in use after half of that is looked up again in the background.

Lookups that miss the cache at the same time are answered together: one query names the role
and display name of every (user, community) waiting — in any community, and, while earlier
lookups are still running, everyone who arrived meanwhile (``lago_core/coalesce.py``): a storm
of joins spread over fifty channels was one query per join. A rush of members whose entries
expired together — everyone in a busy channel tapping "join" on a group buy announced a minute
ago — was three queries each, and they held the node's pooled connections long enough to make
the channel actor's writes wait behind them.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.coalesce import STORM_BATCH_INTERVAL_S, Coalescer
from lago_core.container import Core
from lago_core.errors import Forbidden
from lago_core.logging import get_logger
from lago_core.security.roles import Principal

__all__ = ["ChannelAccess", "ChannelRole"]

log = get_logger(__name__)

TTL_S = 30.0
# A decision used when older than this is looked up again in the background, while the cached
# one still answers: entries made together (a channel's join storm) would otherwise expire
# together, and every member's next action would wait for the lookup at the same moment.
REFRESH_AFTER_S = TTL_S / 2
# At most this many users in one lookup query.
BATCH_MAX = 500
# Cached decisions kept before the cache is emptied (a bound on memory, not an eviction policy).
CACHE_MAX = 100_000


class ChannelRole(enum.StrEnum):
    MEMBER = "member"  # verified resident
    STAFF = "staff"  # property staff of the community's company
    ADMIN = "admin"  # platform admin
    SERVICE = "service"  # platform customer service

    @property
    def moderates(self) -> bool:
        return self in (ChannelRole.STAFF, ChannelRole.ADMIN)


@dataclass(frozen=True, slots=True)
class _Person:
    name: str
    staff: bool
    verified: bool


class ChannelAccess:
    def __init__(self, core: Core) -> None:
        self._core = core
        self._roles: dict[tuple[UUID, str], tuple[float, ChannelRole | None]] = {}
        self._names: dict[UUID, tuple[float, str]] = {}
        # Whoever is waiting, in any community: one query (see the module's docstring).
        self._people: Coalescer[tuple[UUID, UUID], asyncpg.Record] = Coalescer(
            core.communities.store.channel_people,
            max_batch=BATCH_MAX,
            min_interval_s=STORM_BATCH_INTERVAL_S,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refreshing: set[tuple[UUID, str]] = set()

    async def role(self, principal: Principal, community_id: str) -> ChannelRole | None:
        cached = self.cached_role(principal, community_id)
        if cached is not None:
            return cached[0]
        now = self._core.clock.monotonic()
        role = await self._lookup(principal, community_id)
        if len(self._roles) > CACHE_MAX:
            self._roles.clear()
        self._roles[(principal.user_id, community_id)] = (now, role)
        return role

    def cached_role(
        self, principal: Principal, community_id: str
    ) -> tuple[ChannelRole | None] | None:
        """``(role,)`` if this node decided it within ``TTL_S`` (``(None,)``: no access), else
        None: ask :meth:`role`."""
        key = (principal.user_id, community_id)
        cached = self._roles.get(key)
        if cached is None:
            return None
        age = self._core.clock.monotonic() - cached[0]
        if age >= TTL_S:
            return None
        if age >= REFRESH_AFTER_S and key not in self._refreshing:
            self._refreshing.add(key)
            task = asyncio.get_running_loop().create_task(self._refresh(principal, community_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return (cached[1],)

    def cached_name(self, user_id: UUID) -> str | None:
        """The display name if looked up within ``TTL_S``, else None: ask :meth:`display_name`."""
        cached = self._names.get(user_id)
        if cached is not None and self._core.clock.monotonic() - cached[0] < TTL_S:
            return cached[1]
        return None

    async def _refresh(self, principal: Principal, community_id: str) -> None:
        now = self._core.clock.monotonic()
        try:
            role = await self._lookup(principal, community_id)
        except Exception:
            log.warning("channel.access_refresh_failed", community_id=community_id)
            return  # the cached decision expires at its time; the next use looks it up
        finally:
            self._refreshing.discard((principal.user_id, community_id))
        self._roles[(principal.user_id, community_id)] = (now, role)

    async def require(self, principal: Principal, community_id: str) -> ChannelRole:
        return self.required(await self.role(principal, community_id))

    @staticmethod
    def required(role: ChannelRole | None) -> ChannelRole:
        """``role``, or the refusal of someone with no access."""
        if role is None:
            raise Forbidden(
                "only verified members of this community may do this", code="not_a_member"
            )
        return role

    async def require_moderator(self, principal: Principal, community_id: str) -> ChannelRole:
        role = await self.require(principal, community_id)
        if not role.moderates:
            raise Forbidden("only property staff and admins moderate", code="forbidden")
        return role

    async def display_name(self, user_id: UUID) -> str:
        cached = self.cached_name(user_id)
        if cached is not None:
            return cached
        name = (await self._core.identity.user(user_id)).display_name
        self._remember_name(user_id, name, self._core.clock.monotonic())
        return name

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._people.close()

    # --- lookups -------------------------------------------------------------------------------------

    async def _lookup(self, principal: Principal, community_id: str) -> ChannelRole | None:
        if principal.is_admin:
            return ChannelRole.ADMIN
        person = await self._person(principal.user_id, community_id)
        if person is not None and person.staff:
            return ChannelRole.STAFF
        if person is not None and person.verified:
            return ChannelRole.MEMBER
        if principal.is_customer_service:
            return ChannelRole.SERVICE
        return None

    async def _person(self, user_id: UUID, community_id: str) -> _Person | None:
        """The user as the community sees them, from the next batched query (None: no user)."""
        row = await self._people.get((UUID(community_id), user_id))
        if row is None:
            return None
        person = _Person(row["display_name"], row["staff"], row["verified"])
        self._remember_name(user_id, person.name, self._core.clock.monotonic())
        return person

    def _remember_name(self, user_id: UUID, name: str, now: float) -> None:
        if len(self._names) > CACHE_MAX:
            self._names.clear()
        self._names[user_id] = (now, name)
