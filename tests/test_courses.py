"""Courses: publishing rights, free and paid enrolment through the sandbox provider, refunds
before the first class, progress, ratings, favourites, and a live class end to end — published
by a real aiortc peer, watched by an enrolled viewer (a stranger refused), recorded by the node,
stored, opened with PyAV and served with HTTP Range."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from fractions import Fraction
from typing import Any

import av
import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCSessionDescription

from lago_cli.demo import seed
from lago_core.clock import ManualClock
from lago_core.container import Core
from lago_core.errors import Conflict
from lago_core.ledger import AccountKind, AccountRef
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings
from lago_core.storage import LocalStorage
from lago_rt.app import RtNode
from lago_rt.media.aiortc_backend import AiortcBackend

from .conftest import Account
from .live_support import Publisher, Viewer, node, peers
from .rt_client import ChannelClient
from .test_payments import assert_ledger_sound, pay, run_worker, webhook_target
from .waiting import until

# The fixtures, re-exported so pytest finds them here.
__all__ = ["node", "peers", "webhook_target"]

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[Account]]
API = "/api/v1"


async def call(
    client: Client,
    who: Account | None,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    response = await client.request(
        method,
        API + path,
        json=body,
        headers={**(who.headers if who else {}), **(headers or {})},
    )
    data = await response.json() if response.content_type == "application/json" else None
    return response.status, data


async def merchant_of(core: Core, approve: Any, owner: Account) -> uuid.UUID:
    row = await core.merchants.create(
        Principal(owner.id, uuid.uuid4()), f"乐高{uuid.uuid4().hex[:6]}"
    )
    await approve(owner, row["id"])
    return uuid.UUID(str(row["id"]))


def course_body(merchant_id: uuid.UUID | None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "乐高机器人入门",
        "category": "lego",
        "instructor": "李老师",
        "description": "六到十岁,每周一次",
        "price_fen": 0,
    }
    if merchant_id is not None:
        body["merchant_id"] = str(merchant_id)
    return body | overrides


async def new_course(client: Client, owner: Account, merchant_id: uuid.UUID, **kw: Any) -> str:
    status, course = await call(client, owner, "POST", "/courses", course_body(merchant_id, **kw))
    assert status == 201, course
    return str(course["id"])


async def new_lesson(
    client: Client, owner: Account, course_id: str, clock: ManualClock, hours: int = 24
) -> str:
    status, lesson = await call(
        client,
        owner,
        "POST",
        f"/courses/{course_id}/lessons",
        {
            "title": "第一课:齿轮",
            "starts_at": (clock.now() + timedelta(hours=hours)).isoformat(),
            "duration_min": 45,
        },
    )
    assert status == 201, lesson
    return str(lesson["id"])


async def enrol(client: Client, who: Account, course_id: str, key: str = "k1") -> tuple[int, Any]:
    return await call(
        client, who, "POST", f"/courses/{course_id}/enrol", headers={"Idempotency-Key": key}
    )


# --- publishing --------------------------------------------------------------------------------


async def test_who_may_publish_and_bad_input(
    client: Client, core: Core, make_account: MakeAccount, approve_merchant: Any
) -> None:
    owner = await make_account("店主")
    stranger = await make_account("路人")
    admin = await make_account("管理员", PlatformRole.ADMIN)
    merchant_id = await merchant_of(core, approve_merchant, owner)

    status, body = await call(client, stranger, "POST", "/courses", course_body(merchant_id))
    assert status == 403, body
    # A platform course: admins only, and free.
    status, body = await call(client, owner, "POST", "/courses", course_body(None))
    assert status == 403, body
    assert body["error"]["code"] == "not_admin", body
    status, body = await call(client, admin, "POST", "/courses", course_body(None, price_fen=100))
    assert status == 422, body
    assert body["error"]["code"] == "platform_course_paid", body
    status, platform = await call(
        client, admin, "POST", "/courses", course_body(None, category="stem")
    )
    assert status == 201, platform
    assert platform["owner_kind"] == "platform", platform
    # An unapproved merchant does not publish.
    fresh = await core.merchants.create(Principal(owner.id, uuid.uuid4()), "新店")
    status, body = await call(client, owner, "POST", "/courses", course_body(fresh["id"]))
    assert status == 409, body
    assert body["error"]["code"] == "merchant_not_approved", body

    for bad in (
        {"category": "cooking"},
        {"price_fen": -1},
        {"price_fen": 1.5},
        {"title": ""},
        {"title": "乐高\x00"},
        {"instructor": "x" * 61},
        {"capacity": 0},
        {"cover_url": "javascript:alert(1)"},
        {"unknown": 1},
    ):
        status, body = await call(
            client, owner, "POST", "/courses", course_body(merchant_id, **bad)
        )
        assert status in (400, 422), (bad, body)
    status, body = await call(client, None, "POST", "/courses", course_body(merchant_id))
    assert status == 401

    course_id = await new_course(client, owner, merchant_id)
    status, body = await call(
        client, stranger, "PATCH", f"/courses/{course_id}", {"title": "我的课"}
    )
    assert status == 403, body
    assert body["error"]["code"] == "not_course_manager", body
    status, body = await call(client, owner, "PATCH", f"/courses/{course_id}", {"price_fen": 500})
    assert status == 200, body
    assert body["price_fen"] == 500, body
    status, body = await call(
        client, stranger, "POST", f"/courses/{course_id}/lessons",
        {"title": "x", "starts_at": "2030-01-01T00:00:00Z", "duration_min": 30},
    )  # fmt: skip
    assert status == 403, body
    status, body = await call(client, owner, "GET", f"/courses/{uuid.uuid4()}")
    assert status == 404, body

    status, body = await call(client, owner, "PATCH", f"/courses/{course_id}", {"title": None})
    assert status == 200, body
    assert body["title"] == "乐高机器人入门"
    status, body = await call(
        client, owner, "PATCH", f"/courses/{course_id}", {"capacity": 30, "cover_url": "/c.jpg"}
    )
    assert (body["capacity"], body["cover_url"]) == (30, "/c.jpg"), body
    status, body = await call(client, owner, "PATCH", f"/courses/{course_id}", {"capacity": None})
    assert body["capacity"] is None, body
    status, page = await call(client, stranger, "GET", "/courses?category=lego")
    assert status == 200, page
    assert [c["id"] for c in page["items"]] == [course_id], page
    status, page = await call(client, stranger, "GET", "/courses?category=cooking")
    assert status == 422
    # A draft disappears from the catalogue and from strangers.
    await call(client, owner, "PATCH", f"/courses/{course_id}", {"status": "draft"})
    status, page = await call(client, stranger, "GET", "/courses?category=lego")
    assert page["items"] == []
    status, _ = await call(client, stranger, "GET", f"/courses/{course_id}")
    assert status == 404
    status, mine = await call(client, owner, "GET", f"/merchants/{merchant_id}/courses")
    assert status == 200
    assert [c["id"] for c in mine] == [course_id]


# --- enrolments ----------------------------------------------------------------------------------


async def test_free_enrolment_ratings_favourites_progress(
    client: Client,
    core: Core,
    clock: ManualClock,
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    owner = await make_account("店主")
    kid_parent = await make_account("王妈妈")
    other = await make_account("张爸爸")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    course_id = await new_course(client, owner, merchant_id, capacity=1)
    await new_lesson(client, owner, course_id, clock)

    # Only the enrolled rate.
    status, body = await call(
        client, kid_parent, "PUT", f"/courses/{course_id}/rating", {"stars": 5}
    )
    assert status == 403, body
    assert body["error"]["code"] == "not_enrolled", body
    status, body = await enrol(client, kid_parent, course_id)
    assert status == 201, body
    assert body["enrolment"]["status"] == "active"
    assert body["payment"] is None
    status, body = await enrol(client, other, course_id)
    assert status == 409, body
    assert body["error"]["code"] == "course_full", body
    status, body = await call(client, owner, "GET", f"/courses/{course_id}/enrolments")
    assert status == 200, body
    assert [e["user_id"] for e in body] == [str(kid_parent.id)], body
    status, body = await call(client, other, "GET", f"/courses/{course_id}/enrolments")
    assert status == 403

    # Once, and editable: the average follows the change, the count does not.
    for stars, comment in ((5, "孩子很喜欢"), (3, "")):
        status, body = await call(
            client, kid_parent, "PUT", f"/courses/{course_id}/rating",
            {"stars": stars, "comment": comment},
        )  # fmt: skip
        assert status == 200, body
    status, detail = await call(client, kid_parent, "GET", f"/courses/{course_id}")
    assert detail["course"]["rating_count"] == 1
    assert detail["course"]["rating_average"] == 3.0
    for bad in ({"stars": 0}, {"stars": 6}, {"stars": 4, "comment": "好" * 501}):
        status, _ = await call(client, kid_parent, "PUT", f"/courses/{course_id}/rating", bad)
        assert status in (400, 422), bad

    status, _ = await call(client, other, "PUT", f"/courses/{course_id}/favourite")
    assert status == 204
    status, _ = await call(client, other, "PUT", f"/courses/{course_id}/favourite")
    assert status == 204  # twice is once
    status, favs = await call(client, other, "GET", "/me/course-favourites")
    assert [c["id"] for c in favs] == [course_id]
    await call(client, other, "DELETE", f"/courses/{course_id}/favourite")
    status, favs = await call(client, other, "GET", "/me/course-favourites")
    assert favs == []

    status, mine = await call(client, kid_parent, "GET", "/me/courses")
    assert [(c["id"], c["lessons"], c["completed"]) for c in mine] == [(course_id, 1, 0)]
    status, progress = await call(client, kid_parent, "GET", f"/courses/{course_id}/progress")
    assert status == 200, progress
    assert (progress["total"], progress["completed"]) == (1, 0), progress
    status, _ = await call(client, other, "GET", f"/courses/{course_id}/progress")
    assert status == 403

    # A free enrolment is cancelled (no money), and the seat is free again.
    status, body = await call(client, kid_parent, "POST", f"/courses/{course_id}/cancel")
    assert status == 200, body
    assert body["status"] == "cancelled", body
    status, body = await enrol(client, other, course_id)
    assert status == 201, body
    assert body["enrolment"]["status"] == "active", body


async def test_paid_enrolment_through_the_provider(
    client: Client,
    core: Core,
    settings: Settings,
    clock: ManualClock,
    make_account: MakeAccount,
    approve_merchant: Any,
    webhook_target: None,
) -> None:
    owner = await make_account("店主")
    parent = await make_account("王妈妈")
    late = await make_account("刘女士")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    course_id = await new_course(client, owner, merchant_id, price_fen=19_900, category="stem")
    await new_lesson(client, owner, course_id, clock, hours=48)

    status, first = await enrol(client, parent, course_id, "enrol-1")
    assert status == 201, first
    assert first["enrolment"]["status"] == "pending_payment"
    payment = first["payment"]
    assert payment["amount_fen"] == 19_900
    assert payment["reference_type"] == "course_enrolment"
    # A retry with the same key is the same payment.
    status, again = await enrol(client, parent, course_id, "enrol-1")
    assert status == 201, again
    assert again["payment"]["id"] == payment["id"], again
    assert (await pay(client, payment)).status == 200
    await run_worker(settings, core)

    status, detail = await call(client, parent, "GET", f"/courses/{course_id}")
    assert detail["enrolment"]["status"] == "active", detail
    assert detail["enrolment"]["payment_id"] == payment["id"]
    assert detail["course"]["enrolled_count"] == 1
    payable = await core.ledger.balance(AccountRef(AccountKind.MERCHANT_PAYABLE, merchant_id))
    assert payable == 19_900 - payment["commission_fen"] - payment["property_share_fen"]
    await assert_ledger_sound(core)
    # Enrolled already: a second payment is never created.
    status, body = await enrol(client, parent, course_id, "enrol-2")
    assert status == 409, body
    assert body["error"]["code"] == "already_enrolled", body

    # Before the first class: leaving refunds in full, once.
    status, body = await call(client, parent, "POST", f"/courses/{course_id}/cancel")
    assert status == 200, body
    assert body["status"] == "refunded", body
    await run_worker(settings, core)
    refunds = await core.payments.refunds(None, uuid.UUID(payment["id"]))
    assert [(r.amount_fen, r.status) for r in refunds] == [(19_900, "succeeded")]
    assert await core.ledger.balance(AccountRef(AccountKind.MERCHANT_PAYABLE, merchant_id)) == 0
    status, _ = await call(client, parent, "POST", f"/courses/{course_id}/cancel")
    assert status == 404
    await assert_ledger_sound(core)

    # After the first class has begun, leaving is refused (and the money stays).
    status, second = await enrol(client, late, course_id, "late-1")
    assert (await pay(client, second["payment"])).status == 200
    await run_worker(settings, core)
    clock.advance(49 * 3600)  # (the access tokens expire meanwhile: the service is asked)
    with pytest.raises(Conflict) as refused:
        await core.courses.cancel(Principal(late.id, uuid.uuid4()), uuid.UUID(course_id))
    assert refused.value.code == "refund_window_closed"
    await assert_ledger_sound(core)

    # Seven days after the first class began, the enrolment settles like a merchant sale: its
    # net moves from the merchant's payable to its available balance, once.
    payable = await core.ledger.balance(AccountRef(AccountKind.MERCHANT_PAYABLE, merchant_id))
    assert payable > 0
    await core.settlement.settle()
    assert await core.ledger.balance(AccountRef(AccountKind.MERCHANT_AVAILABLE, merchant_id)) == 0
    clock.advance(7 * 86_400)
    await core.settlement.settle()
    await core.settlement.settle()
    assert await core.ledger.balance(AccountRef(AccountKind.MERCHANT_PAYABLE, merchant_id)) == 0
    available = AccountRef(AccountKind.MERCHANT_AVAILABLE, merchant_id)
    assert await core.ledger.balance(available) == payable
    await assert_ledger_sound(core)


async def test_enrol_bad_input(
    client: Client, core: Core, make_account: MakeAccount, approve_merchant: Any
) -> None:
    owner = await make_account("店主")
    parent = await make_account("王妈妈")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    course_id = await new_course(client, owner, merchant_id)
    status, body = await call(client, parent, "POST", f"/courses/{course_id}/enrol")
    assert status == 422, body
    assert body["error"]["code"] == "idempotency_key_required", body
    status, body = await enrol(client, parent, str(uuid.uuid4()))
    assert status == 404, body
    status, body = await call(client, parent, "POST", "/courses/not-a-uuid/enrol")
    assert status == 422, body
    status, body = await call(
        client, parent, "POST", f"/course-lessons/{uuid.uuid4()}/watched", {"watched_ms": -1}
    )
    assert status == 422, body


# --- a live class, recorded and replayed ---------------------------------------------------------


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    return replace(settings, live_ice_addresses=("127.0.0.1",), live_max_viewers_per_node=4)


async def watch_class(viewer: Viewer, client: ChannelClient, lesson_id: str) -> Any:
    reply = await client.call("class:watch", {"lesson_id": lesson_id})
    if not reply["ok"]:
        return reply
    await viewer.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], reply["type"]))
    await viewer.pc.setLocalDescription(await viewer.pc.createAnswer())
    answer = await client.call(
        "class:answer",
        {"lesson_id": lesson_id, "type": "answer", "sdp": viewer.pc.localDescription.sdp},
    )
    assert answer["ok"], answer
    return reply


async def test_live_class_recorded_and_replayed(
    client: Client,
    core: Core,
    clock: ManualClock,
    node: tuple[str, RtNode],
    clients: list[ChannelClient],
    peers: list[Publisher | Viewer],
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    url, rt = node
    owner = await make_account("李老师")
    enrolled = await make_account("王妈妈")
    stranger = await make_account("路人")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    course_id = await new_course(client, owner, merchant_id)
    lesson_id = await new_lesson(client, owner, course_id, clock, hours=0)
    status, body = await enrol(client, enrolled, course_id)
    assert status == 201, body

    teacher = await ChannelClient(url, owner.access_token).connect()
    clients.append(teacher)
    refused = await (await ChannelClient(url, stranger.access_token).connect()).call(
        "class:start", {"lesson_id": lesson_id}
    )
    assert refused["error"]["code"] == "not_a_host", refused
    started = await teacher.call("class:start", {"lesson_id": lesson_id})
    assert started["ok"], started
    again = await teacher.call("class:start", {"lesson_id": lesson_id})
    assert again["error"]["code"] == "lesson_not_scheduled", again
    # The enrolled resident is told the class is live; the stranger is not.
    status, notes = await call(client, enrolled, "GET", "/me/notifications")
    assert [n["kind"] for n in notes["items"]] == ["course_live"], notes
    status, notes = await call(client, stranger, "GET", "/me/notifications")
    assert notes["items"] == [], notes

    publisher = Publisher()
    peers.append(publisher)
    answer = await teacher.call(
        "class:publish", {"lesson_id": lesson_id, **await publisher.offer()}
    )
    assert answer["ok"], answer
    await publisher.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    # A resident who is not enrolled is refused before any connection is built.
    outsider = await ChannelClient(url, stranger.access_token).connect()
    clients.append(outsider)
    nope = await outsider.call("class:watch", {"lesson_id": lesson_id})
    assert nope["error"]["code"] == "not_enrolled", nope
    bad = await outsider.call("class:watch", {"lesson_id": "x"})
    assert bad["error"]["code"] == "invalid_input", bad

    watcher = await ChannelClient(url, enrolled.access_token).connect()
    clients.append(watcher)
    viewer = Viewer()
    peers.append(viewer)

    async def watching() -> bool:
        # The teacher's first frames may still be on their way (``stream_not_ready``).
        reply = await watch_class(viewer, watcher, lesson_id)
        assert reply["ok"] or reply["error"]["code"] == "stream_not_ready", reply
        return bool(reply["ok"])

    await until(watching, within=10, every=0.05)
    await viewer.wait_for(video=45, audio=20, within=30)
    assert viewer.sizes == {(640, 480)}
    backend = rt.live.media
    assert isinstance(backend, AiortcBackend)
    relayed = backend.frames_relayed(await _session_of(core, lesson_id))["video"]

    stopped = await teacher.call("class:stop", {"lesson_id": lesson_id})
    assert stopped["ok"], stopped
    lesson = stopped["lesson"]
    assert lesson["live_status"] == "ended", lesson
    assert lesson["recording"], lesson

    # The recording is in storage: open it and count what was recorded.
    row = await core.courses.lesson(uuid.UUID(lesson_id))
    storage = core.storage
    assert isinstance(storage, LocalStorage)
    path = storage.path_for(row["recording_key"])
    data = path.read_bytes()
    assert row["recording_bytes"] == len(data)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "vp8"
        assert (video.codec_context.width, video.codec_context.height) == (640, 480)
        times = []
        decoded = 0
        for packet in container.demux(video):
            if packet.size == 0:
                continue
            assert packet.pts is not None
            assert packet.time_base is not None
            times.append(packet.pts * packet.time_base)
            decoded += len(packet.decode())
    frames = len(times)
    assert frames == row["recording_frames"] > 0
    assert decoded == frames
    # Everything relayed after the first key frame the recorder saw: nearly all of it.
    assert relayed * 0.5 <= frames <= relayed + 5, (frames, relayed)
    duration = float(times[-1] - times[0])
    # aiortc's test source sends 30 frames a second.
    assert abs(duration - frames / 30) < 1.0, (duration, frames)
    assert abs(row["recording_ms"] / 1000 - duration) < 1.0
    assert times == sorted(times)
    assert Fraction(0) <= times[0] < 1

    # Replay: enrolled residents, with Range; strangers and anonymous callers are refused.
    status, detail = await call(client, enrolled, "GET", f"/courses/{course_id}")
    recording_url = detail["lessons"][0]["recording_url"]
    assert recording_url == f"{API}/course-lessons/{lesson_id}/recording"
    response = await client.get(recording_url, headers=enrolled.headers)
    assert response.status == 200
    assert response.headers["Content-Type"] == "video/webm"
    assert await response.read() == data
    response = await client.get(
        recording_url, headers={**enrolled.headers, "Range": "bytes=100-1099"}
    )
    assert response.status == 206
    assert response.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
    assert await response.read() == data[100:1100]
    response = await client.get(
        recording_url, headers={**enrolled.headers, "Range": f"bytes={len(data)}-"}
    )
    assert response.status == 416
    response = await client.get(recording_url, headers=stranger.headers)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "not_enrolled"
    response = await client.get(recording_url)
    assert response.status == 401
    # The key is not served as public media either.
    response = await client.get(f"/media/{row['recording_key']}")
    assert response.status == 404

    # Attending live completed the lesson; the replay's progress is kept too.
    status, progress = await call(client, enrolled, "GET", f"/courses/{course_id}/progress")
    assert (progress["total"], progress["completed"]) == (1, 1), progress
    assert progress["lessons"][0]["attended_live"] is True
    status, watched = await call(
        client, enrolled, "POST", f"/course-lessons/{lesson_id}/watched", {"watched_ms": 10**6}
    )
    assert status == 200, watched
    assert watched["watched_ms"] == row["recording_ms"], watched
    status, _ = await call(
        client, stranger, "POST", f"/course-lessons/{lesson_id}/watched", {"watched_ms": 1}
    )
    assert status == 403
    # A class is live once.
    over = await teacher.call("class:start", {"lesson_id": lesson_id})
    assert over["error"]["code"] == "lesson_not_scheduled", over


async def _session_of(core: Core, lesson_id: str) -> str:
    row = await core.courses.lesson(uuid.UUID(lesson_id))
    return str(row["live_session_id"])


async def test_replay_completes_a_lesson_at_ninety_percent(
    client: Client,
    core: Core,
    clock: ManualClock,
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    owner = await make_account("店主")
    parent = await make_account("王妈妈")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    course_id = await new_course(client, owner, merchant_id)
    lessons = [await new_lesson(client, owner, course_id, clock, hours=h) for h in (1, 2)]
    await enrol(client, parent, course_id)
    await core.storage.put(f"recordings/{lessons[0]}/x.webm", b"webm", "video/webm")
    await core.courses.attach_recording(
        uuid.UUID(lessons[0]), f"recordings/{lessons[0]}/x.webm", 4, 60_000, 1_800
    )
    status, row = await call(
        client, parent, "POST", f"/course-lessons/{lessons[0]}/watched", {"watched_ms": 53_000}
    )
    assert status == 200, row
    assert row["completed"] is False, row
    status, row = await call(
        client, parent, "POST", f"/course-lessons/{lessons[0]}/watched", {"watched_ms": 54_000}
    )
    assert row["completed"] is True, row
    status, body = await call(
        client, parent, "POST", f"/course-lessons/{lessons[1]}/watched", {"watched_ms": 1}
    )
    assert status == 404, body
    assert body["error"]["code"] == "no_recording", body
    status, progress = await call(client, parent, "GET", f"/courses/{course_id}/progress")
    assert (progress["total"], progress["completed"]) == (2, 1), progress
    # A player reports every few seconds; a flood is refused.
    statuses = set()
    for _ in range(61):
        status, _ = await call(
            client, parent, "POST", f"/course-lessons/{lessons[0]}/watched", {"watched_ms": 1}
        )
        statuses.add(status)
    assert 429 in statuses


async def test_lessons_change_until_taught_and_an_unpublished_class_ends_with_its_socket(
    client: Client,
    core: Core,
    clock: ManualClock,
    node: tuple[str, RtNode],
    clients: list[ChannelClient],
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    url, _rt = node
    owner = await make_account("李老师")
    stranger = await make_account("路人")
    merchant_id = await merchant_of(core, approve_merchant, owner)
    course_id = await new_course(client, owner, merchant_id)
    lesson_id = await new_lesson(client, owner, course_id, clock)
    later = (clock.now() + timedelta(days=3)).isoformat()
    status, body = await call(
        client, stranger, "PATCH", f"/course-lessons/{lesson_id}", {"starts_at": later}
    )
    assert status == 403, body
    status, body = await call(
        client, owner, "PATCH", f"/course-lessons/{lesson_id}",
        {"starts_at": later, "title": "第一课:滑轮", "duration_min": 60},
    )  # fmt: skip
    assert status == 200, body
    assert (body["title"], body["duration_min"]) == ("第一课:滑轮", 60)
    status, body = await call(
        client, owner, "PATCH", f"/course-lessons/{lesson_id}", {"duration_min": 0}
    )
    assert status == 422, body

    teacher = await ChannelClient(url, owner.access_token).connect()
    started = await teacher.call("class:start", {"lesson_id": lesson_id})
    assert started["ok"], started
    status, body = await call(
        client, owner, "PATCH", f"/course-lessons/{lesson_id}", {"title": "x"}
    )
    assert status == 409, body
    assert body["error"]["code"] == "lesson_not_scheduled"
    # The teacher's socket goes before anything was published: the class ends, no recording.
    await teacher.close()

    async def ended() -> bool:
        row = await core.courses.lesson(uuid.UUID(lesson_id))
        return bool(row["live_status"] == "ended")

    await until(ended, within=10, every=0.05)
    row = await core.courses.lesson(uuid.UUID(lesson_id))
    assert row["recording_key"] is None


async def test_the_demo_seeds_two_courses_once(settings: Settings, core: Core) -> None:
    await seed(settings)
    await seed(settings)
    rows = await core.pool.fetch(
        "SELECT c.title, c.price_fen, count(l.id) AS lessons FROM courses c "
        "JOIN course_lessons l ON l.course_id = c.id GROUP BY c.id ORDER BY c.title"
    )
    assert [(r["title"], r["price_fen"], r["lessons"]) for r in rows] == [
        ("乐高机器人入门", 19_900, 3),
        ("周末 STEM 小实验", 0, 2),
    ]
