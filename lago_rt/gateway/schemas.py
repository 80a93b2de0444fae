"""Payloads of the channel protocol (docs/protocol.md), validated with pydantic.

Every socket payload model of every namespace derives from :class:`Payload`, and the gateways'
validation helpers accept only such models (their type variable is bound to it): text and
integers PostgreSQL cannot store are refused at the socket, ``invalid_text`` naming the field,
before a command reaches a channel actor whose archive would then fail on them.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import ConfigDict, Field, ValidationError

from lago_core.errors import InvalidInput
from lago_core.text import StorableInput, input_error

__all__ = [
    "DeleteIn",
    "GroupBuyIn",
    "GroupBuyListIn",
    "GroupBuyStartIn",
    "HistoryIn",
    "JoinIn",
    "LeaveIn",
    "MuteIn",
    "Payload",
    "PresenceIn",
    "RecoverIn",
    "ReportIn",
    "SendIn",
    "SinceIn",
    "UnmuteIn",
    "payload_error",
]


class Payload(StorableInput):
    """The base of every socket payload model (lago_core.text.StorableInput)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def payload_error(exc: ValidationError) -> InvalidInput:
    """The acknowledgement error of a payload that failed validation."""
    return input_error(exc, "invalid payload")


_In = Payload


class SinceIn(_In):
    seq: int = Field(ge=0)
    epoch: str = Field(min_length=1, max_length=64)


class JoinIn(_In):
    community_id: UUID
    since: SinceIn | None = None


class RecoverIn(_In):
    """The next page of a recovery (``channel:recover``)."""

    community_id: UUID
    since: SinceIn


class GroupBuyStartIn(_In):
    community_id: UUID
    campaign_id: UUID
    # Chosen by the app once per start the resident asks for, and sent again on a retry: the
    # same (member, channel, campaign, request_id) starts one group, however often it arrives.
    request_id: UUID | None = None


class GroupBuyIn(_In):
    """Join or leave a group."""

    community_id: UUID
    group_id: UUID


class GroupBuyListIn(_In):
    community_id: UUID
    cursor: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=50, ge=1, le=100)


class LeaveIn(_In):
    community_id: UUID


class PresenceIn(_In):
    community_id: UUID
    after_user_id: UUID | None = None
    limit: int = Field(default=100, ge=1, le=500)


class SendIn(_In):
    community_id: UUID
    client_msg_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    text: str = Field(min_length=1, max_length=2_000)


class HistoryIn(_In):
    community_id: UUID
    before_seq: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=100)


class DeleteIn(_In):
    community_id: UUID
    seq: int = Field(ge=1)
    reason: str | None = Field(default=None, max_length=200)


class MuteIn(_In):
    community_id: UUID
    user_id: UUID
    minutes: int = Field(ge=1, le=43_200)
    reason: str | None = Field(default=None, max_length=200)


class UnmuteIn(_In):
    community_id: UUID
    user_id: UUID


class ReportIn(_In):
    community_id: UUID
    seq: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=200)
