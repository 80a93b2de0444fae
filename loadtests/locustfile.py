"""Locust load test for Lago: residents on the community channel, merchants on /merchant, REST users.

    locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 60s --host http://127.0.0.1:8080

Users (see README "Load tests" for the environment variables):

- ``ResidentUser``: logs in over REST, connects a socket.io client to the real-time node,
  ``channel:join``s the community, then sends chat (``chat:send`` with its own ``client_msg_id``),
  pages history (``chat:history``) and presence (``channel:presence``).
- ``MerchantUser``: logs in as merchant staff and holds a ``/merchant`` connection, counting the
  order pushes it receives (``LAGO_LOAD_MERCHANTS`` of them, default 1).
- ``RestUser``: browses and searches listings (``GET /api/v1/listings?q=``), opens one, and
  places an order (``POST /api/v1/orders``) that it cancels at once so the listing is free again.

socket.io work shows in Locust's statistics with type ``socketio``: each acknowledged event
(its ack latency), each connection, ``chat echo`` (send → the sender's own ``chat.message``) and
``chat fan-out`` (send → another member's receipt, by wall clock, sampled). Merchant pushes are
counted with type ``push``, and ``order:new latency`` times ``POST /orders`` → the push.
"""

from __future__ import annotations

import os
import random
import secrets
import time
import uuid
from typing import Any

from lago_load import HERE, AckError, Config, RoundRobin, Timer, new_client, wall_ms
from locust import HttpUser, between, events, task
from locust.env import Environment

CONFIG = Config.from_env()
RESIDENTS = RoundRobin(CONFIG.residents)
MERCHANTS = RoundRobin(CONFIG.merchants)
_community: dict[str, str] = {}


@events.test_start.add_listener
def _check_targets(environment: Environment, **_: Any) -> None:
    config = Config.from_env(environment.host)
    config.check_targets()


def _log_in(user: HttpUser, phone: str) -> tuple[str, str] | None:
    """POST /auth/login → (access token, user id), or None (reported as a failure)."""
    with user.client.post(
        "/api/v1/auth/login",
        json={"phone": phone, "password": CONFIG.password},
        name="/api/v1/auth/login",
        catch_response=True,
    ) as response:
        if response.status_code != 200:
            response.failure(f"{response.status_code} {response.text[:200]}")
            return None
        body = response.json()
        return body["access_token"], body["user_id"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _community_id(user: HttpUser, token: str) -> str | None:
    """LAGO_LOAD_COMMUNITY_ID, or the community named LAGO_LOAD_COMMUNITY (looked up once)."""
    if CONFIG.community_id:
        return CONFIG.community_id
    if "id" not in _community:
        response = user.client.get(
            "/api/v1/communities",
            params={"q": CONFIG.community_name, "limit": 5},
            headers=_auth(token),
            name="/api/v1/communities?q=[name]",
        )
        items = response.json().get("items", []) if response.ok else []
        match = [c for c in items if c.get("name") == CONFIG.community_name] or items
        if not match:
            return None
        _community["id"] = match[0]["id"]
    return _community["id"]


class _Orders:
    """Matches `POST /orders` with the merchants' `order:new` pushes (whichever comes first)."""

    def __init__(self) -> None:
        self.posted: dict[str, float] = {}
        self.pushed: dict[str, list[float]] = {}

    def post_done(self, timer: Timer, order_id: str, started: float) -> None:
        arrivals = self.pushed.pop(order_id, None)
        if arrivals is None:
            self.posted[order_id] = started
            if len(self.posted) > 10_000:  # orders no merchant is told about
                self.posted.pop(next(iter(self.posted)))
            return
        for at in arrivals:
            timer.fire("order:new latency", (at - started) * 1000)

    def push(self, timer: Timer, order_id: str, at: float) -> None:
        started = self.posted.get(order_id)
        if started is None:
            self.pushed.setdefault(order_id, []).append(at)
            if len(self.pushed) > 10_000:
                self.pushed.pop(next(iter(self.pushed)))
        else:
            timer.fire("order:new latency", (at - started) * 1000)


ORDERS = _Orders()


class ResidentUser(HttpUser):
    """A verified resident in the community channel: chat, history, presence."""

    weight = 6
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.timer = Timer(self.environment)
        self.sio: Any = None
        self.token: str | None = None
        self.user_id = ""
        self.pending: dict[str, float] = {}
        self.counter = 0
        self.prefix = secrets.token_hex(3)
        self._connect()

    def on_stop(self) -> None:
        if self.sio is not None:
            self.sio.disconnect()

    def _connect(self) -> bool:
        if self.token is None:
            logged_in = _log_in(self, RESIDENTS.next())
            if logged_in is None:
                return False
            self.token, self.user_id = logged_in
        self.community_id = _community_id(self, self.token)
        if self.community_id is None:
            return False
        sio = new_client()
        sio.on("channel:event", self._on_event)
        if not self.timer.connect(sio, CONFIG.rt_url, self.token, "/", CONFIG.ack_timeout):
            return False
        self.sio = sio
        ack = self.timer.call(
            sio, "channel:join", {"community_id": self.community_id}, timeout=CONFIG.ack_timeout
        )
        if ack is None:
            sio.disconnect()
            self.sio = None
            return False
        return True

    def _ready(self) -> bool:
        if self.sio is not None and self.sio.connected:
            return True
        self.sio = None
        return self._connect()

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") != "chat.message":
            return
        data = event.get("data") or {}
        client_msg_id = str(data.get("client_msg_id", ""))
        now = time.perf_counter()
        started = self.pending.pop(client_msg_id, None)
        if started is not None and data.get("user_id") == self.user_id:
            self.timer.fire("chat echo (send→receive)", (now - started) * 1000)
            return
        # Another member's message: "lt-<wall ms>-…" carries its send time.
        parts = client_msg_id.split("-")
        if len(parts) >= 3 and parts[0] == "lt" and random.random() < CONFIG.fanout_sample:
            sent = int(parts[1])
            self.timer.fire("chat fan-out (send→other member)", max(0, wall_ms() - sent))

    @task(6)
    def chat(self) -> None:
        if not self._ready():
            return
        self.counter += 1
        client_msg_id = f"lt-{wall_ms()}-{self.prefix}{self.counter}"
        self.pending[client_msg_id] = time.perf_counter()
        if len(self.pending) > 1000:
            self.pending.pop(next(iter(self.pending)))
        text = random.choice(("有人要乐高吗？", "周末换 Switch 游戏", "滑板车还在吗", "load test"))
        ack = self.timer.call(
            self.sio,
            "chat:send",
            {"community_id": self.community_id, "client_msg_id": client_msg_id, "text": text},
            timeout=CONFIG.ack_timeout,
        )
        if ack is None:
            self.pending.pop(client_msg_id, None)

    @task(2)
    def history(self) -> None:
        if not self._ready():
            return
        before: int | None = None
        for _ in range(3):  # up to three pages, newest first
            payload: dict[str, Any] = {"community_id": self.community_id, "limit": 50}
            if before is not None:
                payload["before_seq"] = before
            ack = self.timer.call(self.sio, "chat:history", payload, timeout=CONFIG.ack_timeout)
            if ack is None or ack.get("next_before_seq") is None:
                return
            before = ack["next_before_seq"]

    @task(1)
    def presence(self) -> None:
        if not self._ready():
            return
        self.timer.call(
            self.sio,
            "channel:presence",
            {"community_id": self.community_id, "limit": 100},
            timeout=CONFIG.ack_timeout,
        )


# Answers of group-buy commands that are the normal outcome of contention, not failures.
GROUPBUY_CONTENTION = {
    "group_full",
    "group_ended",
    "group_not_found",
    "limit_reached",
    "sold_out",
    "duplicate_join",
    "retry",
}


class GroupBuyerUser(ResidentUser):
    """A resident who starts, joins and leaves group buys (拼团) in the channel, competing with
    the others for seats. Needs an active campaign in the community (``lago seed-demo`` makes
    one). Contention answers (``group_full``, ``limit_reached``, …) count as successes and are
    also reported by name, so the share of each shows in the statistics."""

    weight = 3

    def on_start(self) -> None:
        super().on_start()
        self.campaigns: list[str] = []
        self.campaigns_at = 0.0

    def _campaign_ids(self) -> list[str]:
        if time.monotonic() - self.campaigns_at < 60 or self.token is None:
            return self.campaigns
        self.campaigns_at = time.monotonic()
        with self.client.get(
            f"/api/v1/communities/{self.community_id}/group-buy-campaigns",
            headers=_auth(self.token),
            name="/api/v1/communities/{id}/group-buy-campaigns",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return self.campaigns
            self.campaigns = [c["id"] for c in response.json()["items"]]
        return self.campaigns

    def _contended(self, event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        start = time.perf_counter()
        try:
            ack = self.sio.call(event, payload, timeout=CONFIG.ack_timeout)
        except Exception as exc:
            self.timer.fire(event, (time.perf_counter() - start) * 1000, exception=exc)
            return None
        millis = (time.perf_counter() - start) * 1000
        code = "ok" if ack.get("ok") else (ack.get("error") or {}).get("code", "error")
        failed = code != "ok" and code not in GROUPBUY_CONTENTION
        self.timer.fire(event, millis, exception=AckError(code) if failed else None)
        self.timer.fire(f"{event} → {code}", millis, exception=AckError(code) if failed else None)
        return ack if code == "ok" else None

    @task(6)
    def group_buy(self) -> None:
        if not self._ready():
            return
        campaigns = self._campaign_ids()
        if not campaigns:
            return
        listed = self.timer.call(
            self.sio,
            "groupbuy:list",
            {"community_id": self.community_id},
            timeout=CONFIG.ack_timeout,
        )
        if listed is None:
            return
        groups = listed.get("groups") or []
        mine = [g for g in groups if any(s["user_id"] == self.user_id for s in g["seats"])]
        if mine:
            # Leave again (unpaid seats), so that seats keep turning over during the run.
            self._contended(
                "groupbuy:leave",
                {"community_id": self.community_id, "group_id": mine[0]["group_id"]},
            )
            return
        joinable = [g for g in groups if g["members"] < g["max_members"]]
        if joinable:
            group = random.choice(joinable)
            self._contended(
                "groupbuy:join", {"community_id": self.community_id, "group_id": group["group_id"]}
            )
        else:
            # A request id per start, as the app sends it (a retry would send the same one).
            self._contended(
                "groupbuy:start",
                {
                    "community_id": self.community_id,
                    "campaign_id": random.choice(campaigns),
                    "request_id": str(uuid.uuid4()),
                },
            )


class MerchantUser(HttpUser):
    """Merchant staff holding a /merchant connection and counting order pushes."""

    fixed_count = int(os.environ.get("LAGO_LOAD_MERCHANTS", "1"))
    wait_time = between(5, 10)

    def on_start(self) -> None:
        self.timer = Timer(self.environment)
        self.sio: Any = None
        self.token: str | None = None
        self.pushes = 0

    def on_stop(self) -> None:
        if self.sio is not None:
            self.sio.disconnect()

    def _push(self, event: str) -> Any:
        def handler(payload: dict[str, Any]) -> None:
            now = time.perf_counter()
            self.pushes += 1
            self.timer.fire(event, 0, request_type="push")
            if event == "order:new" and payload.get("order_id"):
                ORDERS.push(self.timer, str(payload["order_id"]), now)

        return handler

    def _ready(self) -> bool:
        if self.sio is not None and self.sio.connected:
            return True
        if self.token is None:
            logged_in = _log_in(self, MERCHANTS.next())
            if logged_in is None:
                return False
            self.token = logged_in[0]
        sio = new_client()
        for event in (
            "order:new",
            "order:paid",
            "order:cancelled",
            "order:refund_requested",
            "review:new",
        ):
            sio.on(event, self._push(event), namespace="/merchant")
        if not self.timer.connect(sio, CONFIG.rt_url, self.token, "/merchant", CONFIG.ack_timeout):
            self.sio = None
            return False
        self.sio = sio
        return True

    @task
    def hold(self) -> None:
        if self._ready():
            self.timer.call(
                self.sio, "merchant:rooms", None, namespace="/merchant", timeout=CONFIG.ack_timeout
            )


class RestUser(HttpUser):
    """Browses and searches listings and places (then cancels) orders over REST."""

    weight = 3
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.token: str | None = None
        self.user_id = ""
        self.seen: list[dict[str, Any]] = []

    def _headers(self) -> dict[str, str] | None:
        if self.token is None:
            logged_in = _log_in(self, RESIDENTS.next())
            if logged_in is None:
                return None
            self.token, self.user_id = logged_in
        return _auth(self.token)

    def _listings(self, params: dict[str, Any], name: str) -> dict[str, Any] | None:
        headers = self._headers()
        if headers is None:
            return None
        response = self.client.get("/api/v1/listings", params=params, headers=headers, name=name)
        if not response.ok:
            return None
        body: dict[str, Any] = response.json()
        self.seen = (body.get("items", []) + self.seen)[:50]
        return body

    @task(4)
    def browse(self) -> None:
        page = self._listings({"limit": 20}, "/api/v1/listings")
        if page and page.get("next_cursor"):
            self._listings({"limit": 20, "cursor": page["next_cursor"]}, "/api/v1/listings?cursor")

    @task(4)
    def search(self) -> None:
        term = random.choice(CONFIG.search_terms)
        self._listings({"q": term, "limit": 20}, "/api/v1/listings?q=[term]")

    @task(2)
    def open_listing(self) -> None:
        headers = self._headers()
        if headers is None or not self.seen:
            return
        listing = random.choice(self.seen)
        self.client.get(
            f"/api/v1/listings/{listing['id']}", headers=headers, name="/api/v1/listings/[id]"
        )

    @task(2)
    def order(self) -> None:
        headers = self._headers()
        if headers is None:
            return
        if not self.seen:
            self._listings({"limit": 20}, "/api/v1/listings")
        choices = [item for item in self.seen if item.get("seller_id") != self.user_id]
        if not choices:
            return
        # Half the orders go to merchant listings, so that /merchant connections get pushes.
        merchant = [item for item in choices if item.get("merchant_id")]
        listing = random.choice(merchant if merchant and random.random() < 0.5 else choices)
        body: dict[str, Any] = {"listing_id": listing["id"], "fulfilment": "self_pickup"}
        if listing.get("kind") == "rent":
            body["days"] = 1
        started = time.perf_counter()
        with self.client.post(
            "/api/v1/orders", json=body, headers=headers, name="/api/v1/orders", catch_response=True
        ) as response:
            if response.status_code == 409:
                # Another load user holds an open order for this listing: expected contention.
                response.success()
                code = (response.json().get("error") or {}).get("code", "conflict")
                Timer(self.environment).fire(f"order refused: {code}", 0, request_type="rest")
                return
            if response.status_code != 201:
                response.failure(f"{response.status_code} {response.text[:200]}")
                return
            order = response.json()
        if order.get("merchant_id"):
            ORDERS.post_done(Timer(self.environment), order["id"], started)
        # Cancel at once so the listing is free for the next order.
        self.client.post(
            f"/api/v1/orders/{order['id']}/cancel",
            headers=headers,
            name="/api/v1/orders/[id]/cancel",
        )


# Toy locker devices and staff commanding them (loadtests/lockers.py), when lockers are configured.
if os.environ.get("LAGO_LOAD_LOCKERS") or (HERE / "lockers.txt").exists():
    # Locust runs every User class it finds in this module's namespace.
    from lockers import LockerDeviceUser, LockerStaffUser  # noqa: F401
