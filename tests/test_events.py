"""Weekend events (docs/events.md): who may organise and sign up, bad input, seats under
concurrency, the waiting list, cancellation, QR check-in and its points, privileges, links."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.errors import Conflict, Forbidden, InvalidInput
from lago_core.events import new_nonce, sign_ticket, verify_ticket
from lago_core.points import ProductSpec, RuleName
from lago_core.security.roles import MemberStatus, PlatformRole, Principal
from lago_core.settings import Settings, SettingsError
from tests.conftest import Account, CommunityWorld
from tests.groupbuy_support import bulk_residents, campaign, merchant_with_item
from tests.jobs_support import run_job

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[Account]]


def who(account: Account, role: PlatformRole | None = None) -> Principal:
    return Principal(user_id=account.id, session_id=uuid.uuid4(), platform_role=role)


def event_body(clock: ManualClock, **over: Any) -> dict[str, Any]:
    start = clock.now() + timedelta(hours=1)
    body = {
        "title": "玩具回收节",
        "place": "小区中心广场",
        "programme": "10:00 开场\n10:30 旧玩具换新",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "capacity": 2,
        "publish": True,
    }
    body.update(over)
    return body


async def create_event(
    client: Client, world: CommunityWorld, clock: ManualClock, **over: Any
) -> dict[str, Any]:
    resp = await client.post(
        f"/api/v1/communities/{world.id}/events",
        json=event_body(clock, **over),
        headers=world.staff.headers,
    )
    assert resp.status == 201, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def sign_up(client: Client, account: Account, event_id: str, **body: Any) -> Any:
    resp = await client.post(
        f"/api/v1/events/{event_id}/registrations", json=body, headers=account.headers
    )
    return resp.status, await resp.json()


async def detail(client: Client, account: Account, event_id: str) -> Any:
    resp = await client.get(f"/api/v1/events/{event_id}", headers=account.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def give_privilege(core: Core, community: CommunityWorld, account: Account, tag: str) -> None:
    """``account`` redeems points for one priority sign-up (a product made for the purpose)."""
    product = await core.points.catalogue.create(
        who(community.admin, PlatformRole.ADMIN),
        ProductSpec("privilege", "活动优先报名", "", 10, None, None, None),
    )
    await core.points.service.earn(
        account.id, RuleName.SPENDING, f"spending:order:{tag}", amount=50
    )
    await core.points.catalogue.redeem(who(account), product["id"], f"privilege-{tag}")


async def notices(core: Core, user_id: uuid.UUID, kind: str) -> list[Any]:
    return await core.pool.fetch(  # type: ignore[no-any-return]
        "SELECT * FROM notifications WHERE user_id = $1 AND kind = $2", user_id, kind
    )


# --- who may do what -------------------------------------------------------------------------


async def test_only_organisers_create_and_residents_see_only_published(
    client: Client,
    core: Core,
    community: CommunityWorld,
    clock: ManualClock,
    make_account: MakeAccount,
) -> None:
    url = f"/api/v1/communities/{community.id}/events"
    resident, outsider = community.residents[0], community.outsider
    for account, expected in ((resident, 403), (outsider, 403)):
        resp = await client.post(url, json=event_body(clock), headers=account.headers)
        assert resp.status == expected
        assert (await resp.json())["error"]["code"] == "not_an_organiser"
    service = await make_account("客服", PlatformRole.CUSTOMER_SERVICE)
    for account in (community.staff, community.admin, service):
        resp = await client.post(url, json=event_body(clock), headers=account.headers)
        assert resp.status == 201, await resp.text()
    draft = await create_event(client, community, clock, publish=False, title="租赁日")
    assert draft["status"] == "draft"
    # A draft is invisible to residents and cannot be signed up for.
    resp = await client.get(f"/api/v1/events/{draft['id']}", headers=resident.headers)
    assert resp.status == 404
    listed = await (await client.get(url, headers=resident.headers)).json()
    assert draft["id"] not in [e["id"] for e in listed["items"]]
    staff_list = await (await client.get(url, headers=community.staff.headers)).json()
    assert draft["id"] in [e["id"] for e in staff_list["items"]]
    # Residents do not publish, cancel, edit or read the registrations.
    for method, path, body in (
        ("POST", "publish", None),
        ("POST", "cancel", {}),
        ("PATCH", "", {"title": "x"}),
        ("GET", "registrations", None),
    ):
        resp = await client.request(
            method,
            f"/api/v1/events/{draft['id']}/{path}".rstrip("/"),
            json=body,
            headers=resident.headers,
        )
        assert resp.status in (403, 404), (method, path, resp.status)
    resp = await client.post(
        f"/api/v1/events/{draft['id']}/publish", headers=community.staff.headers
    )
    assert resp.status == 200
    assert (await resp.json())["status"] == "published"
    assert (await detail(client, resident, draft["id"]))["event"]["title"] == "租赁日"
    # Outsiders see neither the list nor the event, nor may they sign up.
    assert (await client.get(url, headers=outsider.headers)).status == 403
    status, body = await sign_up(client, outsider, draft["id"])
    assert status == 404
    assert body["error"]["code"] == "event_not_found"
    # Platform staff who are no resident cannot take a seat.
    status, body = await sign_up(client, community.admin, draft["id"])
    assert status == 403
    assert body["error"]["code"] == "not_a_member"


async def test_staff_of_another_company_cannot_organise(
    client: Client,
    core: Core,
    community: CommunityWorld,
    clock: ManualClock,
    make_account: MakeAccount,
) -> None:
    other_staff = await make_account("别家物业")
    company = await core.communities.create_company(
        who(community.admin, PlatformRole.ADMIN), f"别家{uuid.uuid4().hex[:6]}"
    )
    await core.communities.add_company_staff(
        who(community.admin, PlatformRole.ADMIN), company["id"], other_staff.id
    )
    resp = await client.post(
        f"/api/v1/communities/{community.id}/events",
        json=event_body(clock),
        headers=other_staff.headers,
    )
    assert resp.status == 403
    event = await create_event(client, community, clock)
    resp = await client.post(
        f"/api/v1/events/{event['id']}/cancel", json={}, headers=other_staff.headers
    )
    assert resp.status == 403


async def test_bad_input_is_refused(
    client: Client, community: CommunityWorld, clock: ManualClock
) -> None:
    url = f"/api/v1/communities/{community.id}/events"
    start = clock.now() + timedelta(days=1)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ends_at": (start - timedelta(days=2)).isoformat()}, "invalid_times"),
        ({"starts_at": (clock.now() - timedelta(hours=1)).isoformat()}, "invalid_times"),
        ({"capacity": 0}, "invalid_input"),
        ({"capacity": -5}, "invalid_input"),
        ({"capacity": "50"}, "invalid_input"),
        ({"title": "玩具\x00回收"}, "invalid_text"),
        ({"place": "\ud800"}, "invalid_text"),
        ({"title": ""}, "invalid_input"),
        ({"title": "长" * 101}, "invalid_input"),
        ({"starts_at": "2027-01-01T10:00:00"}, "invalid_input"),  # no time zone
        ({"signup_closes_at": (clock.now() + timedelta(days=30)).isoformat()}, "invalid_times"),
        (
            {
                "signup_opens_at": (clock.now() + timedelta(minutes=30)).isoformat(),
                "signup_closes_at": (clock.now() + timedelta(minutes=10)).isoformat(),
            },
            "invalid_times",
        ),
        ({"surprise": 1}, "invalid_input"),
    ]
    for over, code in cases:
        resp = await client.post(
            url, json=event_body(clock, **over), headers=community.staff.headers
        )
        body = await resp.json()
        assert resp.status == 422, (over, body)
        assert body["error"]["code"] == code, (over, body)
    event = await create_event(client, community, clock)
    resp = await client.patch(
        f"/api/v1/events/{event['id']}", json={"title": None}, headers=community.staff.headers
    )
    assert resp.status == 422
    resp = await client.post(
        f"/api/v1/events/{event['id']}/check-ins",
        json={"token": "x" * 201},
        headers=community.staff.headers,
    )
    assert resp.status == 422
    resp = await client.get("/api/v1/events/not-a-uuid", headers=community.staff.headers)
    assert resp.status == 422


# --- seats and the waiting list ----------------------------------------------------------------


async def test_signing_up_twice_answers_with_the_same_registration(
    client: Client, community: CommunityWorld, clock: ManualClock
) -> None:
    event = await create_event(client, community, clock, capacity=1)
    first_status, first = await sign_up(client, community.residents[0], event["id"])
    again_status, again = await sign_up(client, community.residents[0], event["id"])
    assert first_status == again_status == 200
    assert first["id"] == again["id"]
    assert again["status"] == "confirmed"
    assert first["ticket"] == again["ticket"]
    assert first["ticket"].startswith("LE1.")
    _, waiting = await sign_up(client, community.residents[1], event["id"])
    _, waiting_again = await sign_up(client, community.residents[1], event["id"])
    assert waiting["status"] == "waitlisted"
    assert waiting["ticket"] is None
    assert waiting["waitlist_position"] == waiting_again["waitlist_position"] == 1
    assert waiting["id"] == waiting_again["id"]
    seen = await detail(client, community.residents[1], event["id"])
    assert seen["event"]["seats_left"] == 0
    assert seen["event"]["waitlist_count"] == 1
    assert seen["my_registration"]["waitlist_position"] == 1


async def test_200_concurrent_sign_ups_fill_50_seats_exactly(
    client: Client, core: Core, community: CommunityWorld, clock: ManualClock
) -> None:
    event = await create_event(client, community, clock, capacity=50)
    residents = await bulk_residents(core, community.id, 200)
    url = f"/api/v1/events/{event['id']}/registrations"

    async def one(resident: Any) -> Any:
        resp = await client.post(url, json={}, headers=resident.headers)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    rows = await asyncio.gather(*(one(r) for r in residents))
    statuses = [r["status"] for r in rows]
    assert statuses.count("confirmed") == 50
    assert statuses.count("waitlisted") == 150
    stored = await core.pool.fetch(
        "SELECT id, status, seq FROM event_registrations WHERE event_id = $1 ORDER BY seq",
        uuid.UUID(event["id"]),
    )
    # Seats went to the first 50 to arrive (under the event's lock), the queue is the rest.
    assert [r["status"] for r in stored] == ["confirmed"] * 50 + ["waitlisted"] * 150
    fresh = await core.events.store.get(uuid.UUID(event["id"]))
    assert fresh is not None
    assert fresh["confirmed_count"] == 50
    listed = await (await client.get(f"{url}", headers=community.staff.headers)).json()
    queue = [r for r in listed["items"] if r["status"] == "waitlisted"]
    assert [r["waitlist_position"] for r in queue] == list(range(1, 151))
    assert [r["id"] for r in queue] == [str(r["id"]) for r in stored[50:]]
    # Each resident's answer gave the position they hold.
    by_id = {r["id"]: r for r in rows}
    assert [by_id[r["id"]]["waitlist_position"] for r in queue] == list(range(1, 151))
    # The same 200 again, at once: the same registrations, still 50 seats.
    again = await asyncio.gather(*(one(r) for r in residents))
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in rows)
    fresh = await core.events.store.get(uuid.UUID(event["id"]))
    assert fresh is not None
    assert fresh["confirmed_count"] == 50
    # Ten seat holders cancel at once: the ten first in the queue get the seats, in order.
    holders = {str(r["id"]) for r in stored[:10]}
    leaving = [r for r, row in zip(residents, rows, strict=True) if row["id"] in holders]

    async def cancel(resident: Any) -> None:
        resp = await client.post(f"{url}/me/cancel", headers=resident.headers)
        assert resp.status == 200, await resp.text()

    await asyncio.gather(*(cancel(r) for r in leaving))
    after = await core.pool.fetch(
        "SELECT id, status FROM event_registrations WHERE event_id = $1 ORDER BY seq",
        uuid.UUID(event["id"]),
    )
    assert [r["status"] for r in after] == (
        ["cancelled"] * 10 + ["confirmed"] * 50 + ["waitlisted"] * 140
    )
    fresh = await core.events.store.get(uuid.UUID(event["id"]))
    assert fresh is not None
    assert fresh["confirmed_count"] == 50
    promoted = await core.pool.fetchval(
        "SELECT count(*) FROM notifications WHERE kind = 'event_promoted'"
    )
    assert promoted == 10


async def test_a_freed_seat_goes_to_the_head_of_the_queue_who_is_told(
    client: Client,
    core: Core,
    community: CommunityWorld,
    clock: ManualClock,
    make_account: MakeAccount,
) -> None:
    a, b, c = community.residents
    d = await make_account("赵大爷")
    await core.communities.request_to_join(who(d), uuid.UUID(community.id), None, None)
    await core.communities.decide(
        who(community.staff), uuid.UUID(community.id), d.id, MemberStatus.VERIFIED, None
    )
    event = await create_event(client, community, clock, capacity=1)
    for account in (a, b, c, d):
        await sign_up(client, account, event["id"])
    resp = await client.post(
        f"/api/v1/events/{event['id']}/registrations/me/cancel", headers=a.headers
    )
    assert resp.status == 200
    assert (await resp.json())["status"] == "cancelled"
    mine_b = (await detail(client, b, event["id"]))["my_registration"]
    assert mine_b["status"] == "confirmed"
    assert mine_b["ticket"]
    assert len(await notices(core, b.id, "event_promoted")) == 1
    assert not await notices(core, c.id, "event_promoted")
    assert (await detail(client, c, event["id"]))["my_registration"]["waitlist_position"] == 1
    assert (await detail(client, d, event["id"]))["my_registration"]["waitlist_position"] == 2
    # Cancelling a place in the queue promotes nobody; the next seat goes to d.
    await client.post(f"/api/v1/events/{event['id']}/registrations/me/cancel", headers=c.headers)
    assert (await detail(client, d, event["id"]))["my_registration"]["waitlist_position"] == 1
    # a signs up again: at the back of the queue, behind d.
    _, back = await sign_up(client, a, event["id"])
    assert back["status"] == "waitlisted"
    assert back["waitlist_position"] == 2
    # More seats: the queue's head in order, each told.
    resp = await client.patch(
        f"/api/v1/events/{event['id']}", json={"capacity": 3}, headers=community.staff.headers
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["confirmed_count"] == 3
    assert len(await notices(core, d.id, "event_promoted")) == 1
    assert len(await notices(core, a.id, "event_promoted")) == 1
    resp = await client.patch(
        f"/api/v1/events/{event['id']}", json={"capacity": 2}, headers=community.staff.headers
    )
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "capacity_below_confirmed"
    # Nobody cancels what they do not hold.
    resp = await client.post(
        f"/api/v1/events/{event['id']}/registrations/me/cancel", headers=c.headers
    )
    assert resp.status == 404


async def test_cancelling_the_event_tells_everyone_and_closes_sign_up(
    client: Client, core: Core, community: CommunityWorld, clock: ManualClock
) -> None:
    a, b, c = community.residents
    event = await create_event(client, community, clock, capacity=1)
    for account in (a, b):
        await sign_up(client, account, event["id"])
    resp = await client.post(
        f"/api/v1/events/{event['id']}/cancel", json={"reason": "暴雨"}, headers=a.headers
    )
    assert resp.status == 403
    resp = await client.post(
        f"/api/v1/events/{event['id']}/cancel",
        json={"reason": "暴雨"},
        headers=community.staff.headers,
    )
    assert resp.status == 200
    assert (await resp.json())["status"] == "cancelled"
    for account in (a, b):
        told = await notices(core, account.id, "event_cancelled")
        assert len(told) == 1
        assert "暴雨" in told[0]["body"]
    assert not await notices(core, c.id, "event_cancelled")
    status, body = await sign_up(client, c, event["id"])
    assert status == 409
    assert body["error"]["code"] == "event_not_open"
    resp = await client.post(
        f"/api/v1/events/{event['id']}/cancel", json={}, headers=community.staff.headers
    )
    assert resp.status == 409


async def test_the_sign_up_window_is_kept(
    client: Client, core: Core, community: CommunityWorld, clock: ManualClock
) -> None:
    event = await create_event(
        client,
        community,
        clock,
        signup_opens_at=(clock.now() + timedelta(minutes=10)).isoformat(),
        signup_closes_at=(clock.now() + timedelta(minutes=30)).isoformat(),
    )
    status, body = await sign_up(client, community.residents[0], event["id"])
    assert status == 409
    assert body["error"]["code"] == "sign_up_not_open"
    # Moving the clock expires the access tokens: the service directly from here.
    event_id = uuid.UUID(event["id"])
    clock.advance(15 * 60)
    row = await core.events.sign_up(who(community.residents[0]), event_id)
    assert row["status"] == "confirmed"
    clock.advance(20 * 60)
    with pytest.raises(Conflict) as refused:
        await core.events.sign_up(who(community.residents[1]), event_id)
    assert refused.value.code == "sign_up_closed"


# --- check-in -----------------------------------------------------------------------------------


async def test_check_in_once_with_a_signed_ticket_and_points_once(
    client: Client, core: Core, community: CommunityWorld, clock: ManualClock, settings: Any
) -> None:
    a, b, _ = community.residents
    event = await create_event(client, community, clock)
    other = await create_event(client, community, clock, title="另一场")
    _, mine = await sign_up(client, a, event["id"])
    _, elsewhere = await sign_up(client, a, other["id"])
    url = f"/api/v1/events/{event['id']}/check-ins"
    staff = community.staff.headers
    # Residents do not check people in, not even themselves.
    resp = await client.post(url, json={"token": mine["ticket"]}, headers=a.headers)
    assert resp.status == 403
    # Forged: one character changed, or signed with another key.
    forged = mine["ticket"][:-2] + ("A" if mine["ticket"][-2] != "A" else "B") + mine["ticket"][-1]
    foreign = sign_ticket(b"k" * 32, uuid.UUID(event["id"]), uuid.UUID(mine["id"]), "AAAAAAAAAAA")
    for token in (forged, foreign, "hello", "LE1." + "A" * 75):
        resp = await client.post(url, json={"token": token}, headers=staff)
        assert resp.status == 422, token
        assert (await resp.json())["error"]["code"] == "invalid_ticket"
    # Another event's ticket.
    resp = await client.post(url, json={"token": elsewhere["ticket"]}, headers=staff)
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "wrong_event"
    # The real one, with spaces a scanner may add.
    resp = await client.post(url, json={"token": f" {mine['ticket']}\n"}, headers=staff)
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert done["registration"]["user_id"] == str(a.id)
    assert done["points"] > 0
    # Replayed: 409 with who and when.
    resp = await client.post(url, json={"token": mine["ticket"]}, headers=community.admin.headers)
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert error["code"] == "already_checked_in"
    assert error["details"]["checked_in_by"] == str(community.staff.id)
    assert error["details"]["checked_in_by_name"] == "物业小李"
    assert error["details"]["resident"] == "王阿姨"
    credits = await core.pool.fetchval(
        "SELECT count(*) FROM points_journal WHERE source_key = $1",
        f"activity:event:{event['id']}:{a.id}",
    )
    assert credits == 1
    seen = await detail(client, a, event["id"])
    assert seen["my_registration"]["checked_in_at"] is not None
    # A checked-in seat is not given up.
    resp = await client.post(
        f"/api/v1/events/{event['id']}/registrations/me/cancel", headers=a.headers
    )
    assert resp.status == 409
    # A ticket of a cancelled registration no longer opens the door, nor after signing up again.
    _, b_first = await sign_up(client, b, event["id"])
    await client.post(f"/api/v1/events/{event['id']}/registrations/me/cancel", headers=b.headers)
    resp = await client.post(url, json={"token": b_first["ticket"]}, headers=staff)
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "ticket_revoked"
    _, b_again = await sign_up(client, b, event["id"])
    assert b_again["ticket"] != b_first["ticket"]
    resp = await client.post(url, json={"token": b_first["ticket"]}, headers=staff)
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "ticket_revoked"
    resp = await client.post(url, json={"token": b_again["ticket"]}, headers=staff)
    assert resp.status == 200


async def test_check_in_is_open_only_around_the_event(
    client: Client, core: Core, community: CommunityWorld, clock: ManualClock
) -> None:
    start = clock.now() + timedelta(days=1)
    event = await create_event(
        client,
        community,
        clock,
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(hours=1)).isoformat(),
    )
    _, mine = await sign_up(client, community.residents[0], event["id"])
    url = f"/api/v1/events/{event['id']}/check-ins"
    resp = await client.post(url, json={"token": mine["ticket"]}, headers=community.staff.headers)
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "check_in_closed"
    clock.advance(23 * 3600)
    done = await core.events.check_in(who(community.staff), uuid.UUID(event["id"]), mine["ticket"])
    assert done.registration["checked_in_at"] == clock.now()
    clock.advance(5 * 3600)  # three hours after the end: closed
    with pytest.raises(Conflict) as refused:
        await core.events.check_in(who(community.staff), uuid.UUID(event["id"]), mine["ticket"])
    assert refused.value.code == "check_in_closed"


# --- points privileges ---------------------------------------------------------------------------


async def test_a_points_privilege_jumps_the_queue_and_is_given_back_when_unused(
    client: Client, core: Core, community: CommunityWorld, clock: ManualClock
) -> None:
    a, b, c = community.residents
    await give_privilege(core, community, c, "ev")
    event = await create_event(client, community, clock, capacity=1)
    await sign_up(client, a, event["id"])
    _, b_reg = await sign_up(client, b, event["id"])
    # Without a privilege there is nothing to spend.
    status, body = await sign_up(client, a, event["id"])
    assert status == 200  # a already holds the seat: the same registration
    assert (await detail(client, c, event["id"]))["privileges"] == 1
    _, c_reg = await sign_up(client, c, event["id"], use_privilege=True)
    assert c_reg["priority"]
    assert c_reg["waitlist_position"] == 1
    assert (await detail(client, c, event["id"]))["privileges"] == 0
    assert (await detail(client, b, event["id"]))["my_registration"]["waitlist_position"] == 2
    # c gives the place up while waiting: the privilege is c's again.
    await client.post(f"/api/v1/events/{event['id']}/registrations/me/cancel", headers=c.headers)
    assert (await detail(client, c, event["id"]))["privileges"] == 1
    # No privilege left for b to spend.
    await client.post(f"/api/v1/events/{event['id']}/registrations/me/cancel", headers=b.headers)
    status, body = await sign_up(client, b, event["id"], use_privilege=True)
    assert status == 409
    assert body["error"]["code"] == "no_privilege"
    del b_reg


# --- links ----------------------------------------------------------------------------------------


async def test_an_event_links_live_streams_draws_and_group_buys_of_its_community(
    client: Client, core: Core, community: CommunityWorld, clock: ManualClock
) -> None:
    staff = who(community.staff)
    cid = uuid.UUID(community.id)
    announcement = await core.live.announce(
        staff, cid, "回收节直播", "", clock.now() + timedelta(hours=1)
    )
    draw_id = uuid.uuid4()
    await core.pool.execute(
        """INSERT INTO lottery_draws (id, community_id, organiser_id, prize, winner_count,
               eligibility, commitment, seed, opened_at, draw_at)
           VALUES ($1, $2, $3, '乐高一套', 1, 'members', $4, $4, now(), now())""",
        draw_id,
        cid,
        community.staff.id,
        "0" * 64,
    )
    event = await create_event(client, community, clock)
    url = f"/api/v1/events/{event['id']}/links"
    staff_h = community.staff.headers
    for kind, target in (("live", announcement["id"]), ("draw", draw_id)):
        resp = await client.post(
            url, json={"kind": kind, "target_id": str(target)}, headers=staff_h
        )
        assert resp.status == 204, await resp.text()
    # Again: no change. Unknown or another community's: 404. Residents: 403.
    resp = await client.post(url, json={"kind": "draw", "target_id": str(draw_id)}, headers=staff_h)
    assert resp.status == 204
    resp = await client.post(
        url, json={"kind": "group_buy", "target_id": str(uuid.uuid4())}, headers=staff_h
    )
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "link_target_not_found"
    resp = await client.post(
        url, json={"kind": "draw", "target_id": str(announcement["id"])}, headers=staff_h
    )
    assert resp.status == 404
    resp = await client.post(
        url, json={"kind": "video", "target_id": str(draw_id)}, headers=staff_h
    )
    assert resp.status == 422
    resp = await client.post(
        url,
        json={"kind": "draw", "target_id": str(draw_id)},
        headers=community.residents[0].headers,
    )
    assert resp.status == 403
    links = (await detail(client, community.residents[0], event["id"]))["links"]
    assert {(x["kind"], x["title"]) for x in links} == {
        ("live", "回收节直播"),
        ("draw", "乐高一套"),
    }
    resp = await client.delete(f"{url}/draw/{draw_id}", headers=staff_h)
    assert resp.status == 204
    resp = await client.delete(f"{url}/draw/{draw_id}", headers=staff_h)
    assert resp.status == 404
    links = (await detail(client, community.residents[0], event["id"]))["links"]
    assert [x["kind"] for x in links] == ["live"]


async def test_a_group_buy_of_the_community_can_be_linked(
    client: Client,
    core: Core,
    community: CommunityWorld,
    clock: ManualClock,
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    owner = await make_account("商家")
    merchant_id, item_id = await merchant_with_item(core, approve_merchant, owner, community)
    offer = await campaign(client, owner, merchant_id, item_id, community)
    group_id = uuid.uuid4()
    await core.pool.execute(
        """INSERT INTO group_buys (id, campaign_id, community_id, leader_id, min_members,
               max_members, expires_at, created_at)
           VALUES ($1, $2, $3, $4, 3, 5, $5, $6)""",
        group_id,
        uuid.UUID(offer["id"]),
        uuid.UUID(community.id),
        community.residents[0].id,
        clock.now() + timedelta(days=1),
        clock.now(),
    )
    event = await create_event(client, community, clock)
    resp = await client.post(
        f"/api/v1/events/{event['id']}/links",
        json={"kind": "group_buy", "target_id": str(group_id)},
        headers=community.staff.headers,
    )
    assert resp.status == 204, await resp.text()
    (link,) = (await detail(client, community.residents[1], event["id"]))["links"]
    assert link["kind"] == "group_buy"
    assert link["title"] == "乐高课三人团"
    assert link["status"] == "open"


# --- finishing ------------------------------------------------------------------------------------


async def test_finishing_gives_back_the_privileges_of_those_still_waiting(
    client: Client, core: Core, community: CommunityWorld, clock: ManualClock
) -> None:
    a, b, _ = community.residents
    await give_privilege(core, community, b, "fin")
    event = await create_event(client, community, clock, capacity=1)
    await sign_up(client, a, event["id"])
    _, waiting = await sign_up(client, b, event["id"], use_privilege=True)
    assert waiting["priority"]
    assert await core.events.privileges(who(b)) == 0
    event_id = uuid.UUID(event["id"])
    with pytest.raises(Conflict) as early:
        await core.events.finish(who(community.staff), event_id)
    assert early.value.code == "not_started"
    with pytest.raises(Forbidden):
        await core.events.finish(who(a), event_id)
    clock.advance(3 * 3600)
    finished = await core.events.finish(who(community.staff), event_id)
    assert finished["status"] == "finished"
    assert await core.events.privileges(who(b)) == 1
    with pytest.raises(Conflict) as closed:
        await core.events.update(who(community.staff), event_id, {"title": "再来一次"})
    assert closed.value.code == "event_closed"


async def test_the_job_finishes_events_whose_check_in_has_closed_once(
    settings: Settings, client: Client, core: Core, community: CommunityWorld, clock: ManualClock
) -> None:
    """Staff who never press 结束活动: the arq job finishes the event once check-in has closed
    (two hours after the end) and gives the waiting resident's privilege back; an event still
    within its door and a cancelled one are left; a second run changes nothing."""
    a, b, _ = community.residents
    await give_privilege(core, community, b, "job")
    ended = await create_event(client, community, clock, capacity=1)
    await sign_up(client, a, ended["id"])
    await sign_up(client, b, ended["id"], use_privilege=True)
    later = await create_event(client, community, clock, title="晚场", capacity=1)
    cancelled = await create_event(client, community, clock, title="取消场")
    await core.events.cancel(who(community.staff), uuid.UUID(cancelled["id"]), "下雨")
    # ``ended`` runs 1 h → 3 h from now; its door closes at 5 h. ``later`` is moved to end at 6 h.
    resp = await client.patch(
        f"/api/v1/events/{later['id']}",
        json={"ends_at": (clock.now() + timedelta(hours=6)).isoformat()},
        headers=community.staff.headers,
    )
    assert resp.status == 200, await resp.text()

    async def status(event: dict[str, Any]) -> str:
        # Through the service: hours later the HTTP client's access tokens have expired.
        row, _ = await core.events.get(who(community.staff), uuid.UUID(event["id"]))
        return str(row["status"])

    clock.advance(5 * 3600 - 60)  # a minute before the door closes: nothing yet
    await run_job(settings, core, "finish_ended_events")
    assert await status(ended) == "published"
    assert await core.events.privileges(who(b)) == 0
    clock.advance(120)
    for _ in range(2):  # at-least-once delivery: the rerun finds nothing left
        await run_job(settings, core, "finish_ended_events")
        assert await status(ended) == "finished"
        assert await core.events.privileges(who(b)) == 1
        assert await status(later) == "published"
        assert await status(cancelled) == "cancelled"
    clock.advance(3 * 3600)
    await run_job(settings, core, "finish_ended_events")
    assert await status(later) == "finished"


async def test_cancelling_the_event_gives_every_privilege_back(
    client: Client, core: Core, community: CommunityWorld, clock: ManualClock
) -> None:
    a, b, _ = community.residents
    await give_privilege(core, community, b, "cxl")
    event = await create_event(client, community, clock, capacity=1)
    await sign_up(client, a, event["id"])
    await sign_up(client, b, event["id"], use_privilege=True)
    # a leaves: b (privileged) is promoted and keeps the seat the privilege bought.
    await client.post(f"/api/v1/events/{event['id']}/registrations/me/cancel", headers=a.headers)
    mine = (await detail(client, b, event["id"]))["my_registration"]
    assert mine["status"] == "confirmed"
    assert await core.events.privileges(who(b)) == 0
    await core.events.cancel(who(community.staff), uuid.UUID(event["id"]), "")
    assert await core.events.privileges(who(b)) == 1


# --- tickets ---------------------------------------------------------------------------------------


def test_a_ticket_is_short_and_any_change_to_it_is_refused() -> None:
    key = b"k" * 32
    event_id, registration_id = uuid.uuid4(), uuid.uuid4()
    nonce = new_nonce()
    token = sign_ticket(key, event_id, registration_id, nonce)
    assert len(token) == 79
    ticket = verify_ticket(key, token)
    assert (ticket.event_id, ticket.registration_id, ticket.nonce) == (
        event_id,
        registration_id,
        nonce,
    )
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i in range(4, len(token) - 1):  # the last character carries padding bits only in part
        swapped = alphabet[(alphabet.index(token[i]) + 1) % 64]
        with pytest.raises(InvalidInput):
            verify_ticket(key, token[:i] + swapped + token[i + 1 :])
    with pytest.raises(InvalidInput):
        verify_ticket(b"j" * 32, token)


def test_the_ticket_secret_is_checked_and_separate_from_the_jwt_secret() -> None:
    base = {"LAGO_JWT_SECRET": "s" * 40}
    with pytest.raises(SettingsError):
        Settings.from_env(environ={**base, "LAGO_EVENT_TICKET_SECRET": "short"})
    derived = Settings.from_env(environ=base).event_ticket_key
    assert derived not in (b"s" * 40, b"")
    given = Settings.from_env(environ={**base, "LAGO_EVENT_TICKET_SECRET": "t" * 32})
    assert given.event_ticket_key == b"t" * 32
