"""Payloads of live streams, WebRTC signalling and lottery draws (docs/protocol.md)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from lago_rt.gateway.schemas import Payload

__all__ = [
    "AnswerIn",
    "CandidateIn",
    "DrawIn",
    "LiveLeaveIn",
    "LiveSessionIn",
    "LiveStartIn",
    "OpenDrawIn",
    "PinIn",
    "PinnedIn",
    "PublishIn",
    "WatchIn",
]

# A generous bound for one SDP (a few tracks and candidates are ≈5 KB); the socket's own message
# limit (LAGO_MAX_MESSAGE_BYTES) applies as well.
MAX_SDP = 32_000
SessionId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


_In = Payload


class LiveStartIn(_In):
    community_id: UUID
    title: str = Field(min_length=1, max_length=100)
    announcement_id: UUID | None = None


class LiveSessionIn(_In):
    community_id: UUID
    session_id: str = SessionId


class PinnedIn(_In):
    kind: Literal["listing", "group_buy"]
    id: UUID


class PinIn(_In):
    community_id: UUID
    session_id: str = SessionId
    items: list[PinnedIn] = Field(max_length=20)


class PublishIn(_In):
    community_id: UUID
    session_id: str = SessionId
    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP)
    # Replace the publisher's connection (aiortc has no in-place ICE restart); viewers stay.
    ice_restart: bool = False


class WatchIn(_In):
    community_id: UUID
    session_id: str = SessionId
    ice_restart: bool = False


class AnswerIn(_In):
    community_id: UUID
    session_id: str = SessionId
    type: Literal["answer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP)


class IceCandidateIn(_In):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    candidate: str = Field(max_length=1_000)
    sdpMid: str | None = Field(default=None, max_length=32)  # the browser's field names
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)
    usernameFragment: str | None = Field(default=None, max_length=256)


class CandidateIn(_In):
    community_id: UUID
    session_id: str = SessionId
    role: Literal["publisher", "viewer"]
    # None: end of candidates.
    candidate: IceCandidateIn | None


class LiveLeaveIn(_In):
    community_id: UUID
    session_id: str = SessionId


class OpenDrawIn(_In):
    community_id: UUID
    prize: str = Field(min_length=1, max_length=200)
    winner_count: int = Field(ge=1, le=1_000)
    eligibility: Literal["viewers", "keyword", "members"]
    keyword: str | None = Field(default=None, min_length=1, max_length=50)
    countdown_s: int = Field(ge=0, le=3_600)
    live_session: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )


class DrawIn(_In):
    community_id: UUID
    draw_id: UUID
