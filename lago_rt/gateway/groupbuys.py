"""Group-buy events on the ``/`` namespace (docs/protocol.md, "Group buys").

Starting, joining, leaving and listing groups are commands to the community's channel actor,
which decides seats; the member must have joined the channel. They are served by
``ChannelGateway.register_command`` (off the WebSocket without a task when the node can).
Campaign lists, group details and paying for a seat are REST (``/api/v1/...``), since they need
no channel.
"""

from __future__ import annotations

from typing import Any

from lago_rt.gateway.channels import ChannelGateway
from lago_rt.gateway.schemas import GroupBuyIn, GroupBuyListIn, GroupBuyStartIn

__all__ = ["GroupBuyGateway"]


class GroupBuyGateway:
    def __init__(self, channels: ChannelGateway) -> None:
        channels.register_command("groupbuy:start", GroupBuyStartIn, _start)
        channels.register_command("groupbuy:join", GroupBuyIn, _join)
        channels.register_command("groupbuy:leave", GroupBuyIn, _leave)
        channels.register_command("groupbuy:list", GroupBuyListIn, _list)


Route = tuple[str, str, dict[str, Any]]


def _start(body: GroupBuyStartIn) -> Route:
    request_id = str(body.request_id) if body.request_id is not None else None
    payload = {"campaign_id": str(body.campaign_id), "request_id": request_id}
    return str(body.community_id), "groupbuy.start", payload


# The group id stays a UUID: the actor takes it as it is here, and as a string when forwarded.
def _join(body: GroupBuyIn) -> Route:
    return str(body.community_id), "groupbuy.join", {"group_id": body.group_id}


def _leave(body: GroupBuyIn) -> Route:
    return str(body.community_id), "groupbuy.leave", {"group_id": body.group_id}


def _list(body: GroupBuyListIn) -> Route:
    return str(body.community_id), "groupbuy.state", {"cursor": body.cursor, "limit": body.limit}
