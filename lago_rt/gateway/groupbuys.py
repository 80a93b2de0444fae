"""Group-buy events on the ``/`` namespace (docs/protocol.md, "Group buys").

Starting, joining and leaving a group are commands to the community's channel actor, which
decides seats; the member must have joined the channel. Campaign lists, group details and
paying for a seat are REST (``/api/v1/...``), since they need no channel.
"""

from __future__ import annotations

from typing import Any

from lago_core.security.roles import Principal
from lago_rt.gateway.channels import ChannelGateway
from lago_rt.gateway.schemas import GroupBuyIn, GroupBuyListIn, GroupBuyStartIn

__all__ = ["GroupBuyGateway"]

Ack = dict[str, Any]


class GroupBuyGateway:
    def __init__(self, channels: ChannelGateway) -> None:
        self._channels = channels
        channels.register("groupbuy:start", GroupBuyStartIn, self.start)
        channels.register("groupbuy:join", GroupBuyIn, self.join)
        channels.register("groupbuy:leave", GroupBuyIn, self.leave)
        channels.register("groupbuy:list", GroupBuyListIn, self.list)

    async def start(self, sid: str, principal: Principal, body: GroupBuyStartIn) -> Ack:
        result = await self._channels.command(
            sid,
            principal,
            str(body.community_id),
            "groupbuy.start",
            {"campaign_id": str(body.campaign_id)},
        )
        return {"ok": True, **result}

    async def join(self, sid: str, principal: Principal, body: GroupBuyIn) -> Ack:
        result = await self._channels.command(
            sid,
            principal,
            str(body.community_id),
            "groupbuy.join",
            {"group_id": str(body.group_id)},
        )
        return {"ok": True, **result}

    async def leave(self, sid: str, principal: Principal, body: GroupBuyIn) -> Ack:
        result = await self._channels.command(
            sid,
            principal,
            str(body.community_id),
            "groupbuy.leave",
            {"group_id": str(body.group_id)},
        )
        return {"ok": True, **result}

    async def list(self, sid: str, principal: Principal, body: GroupBuyListIn) -> Ack:
        result = await self._channels.command(
            sid,
            principal,
            str(body.community_id),
            "groupbuy.state",
            {"cursor": body.cursor, "limit": body.limit},
        )
        return {"ok": True, **result}
