"""Helpers for loadtests/locustfile.py: configuration, accounts, and timed socket.io calls.

Imported by the locustfile only (after Locust has monkey-patched with gevent), never by pytest.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import socketio  # python-socketio's sync client: under gevent's monkey-patching it runs on greenlets

HERE = Path(__file__).resolve().parent
DEMO_RESIDENTS = ("13900000011", "13900000012", "13900000013")
DEMO_MERCHANT = "13900000004"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _phones_from_file(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Config:
    rest_url: str
    rt_url: str
    residents: list[str]
    merchants: list[str]
    password: str
    community_id: str | None
    community_name: str
    fanout_sample: float
    ack_timeout: float
    allow_remote: bool
    search_terms: list[str] = field(default_factory=list)

    @classmethod
    def from_env(cls, host: str | None = None) -> Config:
        env = os.environ
        rest = env.get("LAGO_LOAD_REST_URL") or host or "http://127.0.0.1:8080"
        if phones := env.get("LAGO_LOAD_PHONES"):
            residents = _csv(phones)
        else:
            users_file = Path(env.get("LAGO_LOAD_USERS_FILE") or HERE / "users.txt")
            residents = _phones_from_file(users_file) if users_file.exists() else []
            residents = residents or list(DEMO_RESIDENTS)
        return cls(
            rest_url=rest.rstrip("/"),
            rt_url=(env.get("LAGO_LOAD_RT_URL") or "http://127.0.0.1:8081").rstrip("/"),
            residents=residents,
            merchants=_csv(env.get("LAGO_LOAD_MERCHANT_PHONES", DEMO_MERCHANT)),
            password=env.get("LAGO_LOAD_PASSWORD", "lago-demo-2026"),
            community_id=env.get("LAGO_LOAD_COMMUNITY_ID") or None,
            community_name=env.get("LAGO_LOAD_COMMUNITY", "翠湖花园"),
            fanout_sample=float(env.get("LAGO_LOAD_FANOUT_SAMPLE", "0.2")),
            ack_timeout=float(env.get("LAGO_LOAD_ACK_TIMEOUT", "10")),
            allow_remote=env.get("LAGO_LOAD_ALLOW_REMOTE") == "1",
            search_terms=_csv(env.get("LAGO_LOAD_SEARCH", "乐高,Switch,PS5,手办,滑板车,小熊")),
        )

    def check_targets(self) -> None:
        """Refuse anything but loopback unless LAGO_LOAD_ALLOW_REMOTE=1."""
        if self.allow_remote:
            return
        for url in (self.rest_url, self.rt_url):
            if urlsplit(url).hostname not in LOOPBACK:
                raise SystemExit(
                    f"loadtests: {url} is not a loopback address; "
                    "set LAGO_LOAD_ALLOW_REMOTE=1 to load a deployment you are responsible for"
                )


class RoundRobin:
    """Hands out phones in turn to the users of this Locust process (shared across users)."""

    def __init__(self, phones: list[str]) -> None:
        if not phones:
            raise SystemExit("loadtests: no phones configured")
        self._cycle = itertools.cycle(phones)

    def next(self) -> str:
        return next(self._cycle)


class AckError(Exception):
    """A socket.io acknowledgement with ``ok: false`` (its error code is the message)."""


class Timer:
    """Report socket.io work to Locust as requests of type ``socketio``."""

    def __init__(self, environment: Any) -> None:
        self.events = environment.events

    def fire(
        self,
        name: str,
        millis: float,
        length: int = 0,
        exception: BaseException | None = None,
        request_type: str = "socketio",
    ) -> None:
        self.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=millis,
            response_length=length,
            exception=exception,
            context={},
        )

    def call(
        self,
        sio: socketio.Client,
        event: str,
        data: Any = None,
        namespace: str = "/",
        timeout: float = 10.0,
    ) -> dict[str, Any] | None:
        """Emit with an acknowledgement; report its latency, and a failure unless ``ok``."""
        start = time.perf_counter()
        ack: Any = None
        error: BaseException | None = None
        try:
            ack = sio.call(event, data, namespace=namespace, timeout=timeout)
            if not isinstance(ack, dict):
                error = AckError(f"unexpected acknowledgement {ack!r}")
            elif not ack.get("ok"):
                error = AckError((ack.get("error") or {}).get("code", "error"))
        except Exception as exc:  # timeouts, disconnects
            error = exc
        millis = (time.perf_counter() - start) * 1000
        length = len(json.dumps(ack, ensure_ascii=False).encode()) if ack is not None else 0
        self.fire(event, millis, length, error)
        return ack if error is None else None

    def connect(
        self, sio: socketio.Client, url: str, token: str, namespace: str, timeout: float
    ) -> bool:
        start = time.perf_counter()
        error: BaseException | None = None
        try:
            sio.connect(
                url,
                auth={"token": token},
                transports=["websocket"],
                namespaces=[namespace],
                wait_timeout=timeout,
            )
        except Exception as exc:
            error = exc
        self.fire(f"connect {namespace}", (time.perf_counter() - start) * 1000, 0, error)
        return error is None


def new_client() -> socketio.Client:
    """A sync socket.io client, WebSocket only.

    No automatic reconnection: a dropped connection shows up as a failure, and the user's next
    task reconnects. websocket-client would send the server's own URL as ``Origin``, which the
    real-time node refuses (``LAGO_ALLOWED_ORIGINS``); like any non-browser client we send no
    ``Origin``, or ``LAGO_LOAD_ORIGIN`` when it is set (to exercise the allow-list).
    """
    origin = os.environ.get("LAGO_LOAD_ORIGIN")
    extra: dict[str, Any] = {"header": {"Origin": origin}} if origin else {"suppress_origin": True}
    return socketio.Client(reconnection=False, handle_sigint=False, websocket_extra_options=extra)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000
