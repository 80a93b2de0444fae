"""Channel roles (``lago_rt/gateway/access.py``): right for every kind of caller, and a rush of
lookups that miss the cache together costs one query, not one (or three) per caller."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.security.roles import PlatformRole, Principal
from lago_rt.gateway.access import REFRESH_AFTER_S, TTL_S, ChannelAccess, ChannelRole

from .conftest import Account, CommunityWorld
from .groupbuy_support import bulk_residents
from .waiting import until


def _principal(who: Any, role: PlatformRole | None = None) -> Principal:
    return Principal(user_id=who.id, session_id=uuid.uuid4(), platform_role=role)


def _count_lookups(core: Core) -> list[int]:
    """The size of every lookup query from now on (the real query still runs)."""
    store = core.communities.store
    real = store.channel_people
    queries: list[int] = []

    async def counted(pairs: list[tuple[uuid.UUID, uuid.UUID]]) -> Any:
        queries.append(len(pairs))
        return await real(pairs)

    store.channel_people = counted  # type: ignore[method-assign]
    return queries


async def test_a_rush_of_lookups_is_one_query_with_the_right_roles(
    core: Core, clock: ManualClock, community: CommunityWorld, make_account: Any
) -> None:
    service: Account = await make_account("客服小周", PlatformRole.CUSTOMER_SERVICE)
    residents = await bulk_residents(core, community.id, 200)
    queries = _count_lookups(core)
    access = ChannelAccess(core)
    callers = [
        *(_principal(r) for r in residents),
        _principal(community.staff),
        _principal(community.outsider),
        _principal(service, PlatformRole.CUSTOMER_SERVICE),
        _principal(community.admin, PlatformRole.ADMIN),
    ]
    roles = await asyncio.gather(*(access.role(p, community.id) for p in callers))
    assert roles[:200] == [ChannelRole.MEMBER] * 200
    assert roles[200:] == [ChannelRole.STAFF, None, ChannelRole.SERVICE, ChannelRole.ADMIN]
    # Everyone but the admin (known from the token) in one query.
    assert queries == [203]
    # Names came with it: the channel's caller needs no query of its own.
    assert await access.display_name(residents[7].id) == "邻居7"
    assert queries == [203]

    # Cached, then looked up again once the entries are older than TTL_S.
    await access.role(callers[0], community.id)
    assert queries == [203]
    clock.advance(TTL_S + 1)
    await asyncio.gather(*(access.role(p, community.id) for p in callers[:3]))
    assert queries == [203, 3]
    await access.close()


async def test_a_failed_lookup_fails_its_callers_and_the_next_one_starts_afresh(
    core: Core, community: CommunityWorld
) -> None:
    store = core.communities.store
    real = store.channel_people
    failing = True

    async def flaky(pairs: list[tuple[uuid.UUID, uuid.UUID]]) -> Any:
        if failing:
            raise ConnectionError("database went away")
        return await real(pairs)

    store.channel_people = flaky  # type: ignore[method-assign]
    access = ChannelAccess(core)
    who = _principal(community.residents[0])
    results = await asyncio.gather(
        access.role(who, community.id), access.role(who, community.id), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results), results
    failing = False
    assert await access.role(who, community.id) == ChannelRole.MEMBER
    await access.close()


async def test_a_decision_in_use_is_looked_up_again_before_it_expires(
    core: Core, clock: ManualClock, community: CommunityWorld
) -> None:
    residents = await bulk_residents(core, community.id, 3)
    queries = _count_lookups(core)
    access = ChannelAccess(core)
    callers = [_principal(r) for r in residents]
    await asyncio.gather(*(access.role(p, community.id) for p in callers))
    assert queries == [3]
    # Past half the lifetime the cached decisions still answer, and are looked up again behind
    # them — the three together, once.
    clock.advance(REFRESH_AFTER_S + 1)
    assert [access.cached_role(p, community.id) for p in callers] == [(ChannelRole.MEMBER,)] * 3
    assert [access.cached_role(p, community.id) for p in callers] == [(ChannelRole.MEMBER,)] * 3
    await until(lambda: len(queries) == 2)
    assert queries == [3, 3]
    # Past the first decisions' lifetime (not yet half of the new ones'): answered from the
    # refreshed ones, with no query.
    clock.advance(TTL_S - REFRESH_AFTER_S - 0.5)
    assert [access.cached_role(p, community.id) for p in callers] == [(ChannelRole.MEMBER,)] * 3
    assert not access._refreshing
    # A decision nobody uses is not refreshed: it expires, and the next use waits for a lookup.
    clock.advance(TTL_S + 1)
    assert access.cached_role(callers[0], community.id) is None
    await access.close()


async def test_lookups_in_several_communities_at_once_are_one_query(
    core: Core, community: CommunityWorld, make_account: Any
) -> None:
    """A join storm spreads over many channels: whoever waits, in any community, is looked up
    together, and each gets the role of the community they asked about."""
    from decimal import Decimal

    from lago_core.security.roles import MemberStatus

    admin = _principal(community.admin, PlatformRole.ADMIN)
    company = await core.communities.create_company(admin, f"物业{uuid.uuid4().hex[:6]}")
    other = await core.communities.create(
        admin,
        "枫林苑",
        f"枫林路{uuid.uuid4().hex[:6]}",
        Decimal("39.98"),
        Decimal("116.30"),
        company["id"],
    )
    other_id = str(other["id"])
    # The first community's staff member is a resident of the other one.
    staff = community.staff
    await core.communities.add_company_staff(admin, company["id"], community.residents[0].id)
    await core.communities.request_to_join(_principal(staff), other["id"], None, None)
    await core.communities.decide(
        _principal(community.residents[0]), other["id"], staff.id, MemberStatus.VERIFIED, None
    )
    queries = _count_lookups(core)
    access = ChannelAccess(core)
    asked = [
        (staff, community.id),
        (staff, other_id),
        (community.residents[0], community.id),
        (community.residents[0], other_id),
        (community.residents[1], other_id),
    ]
    roles = await asyncio.gather(*(access.role(_principal(who), c) for who, c in asked))
    assert roles == [
        ChannelRole.STAFF,
        ChannelRole.MEMBER,
        ChannelRole.MEMBER,
        ChannelRole.STAFF,
        None,
    ]
    assert queries == [5]
    await access.close()
