"""Invitations (邀请新用户): each resident's code, sign-ups with a code, and 50 points to the
inviter once the invitee is verified in a community (cap 200 a day).

Refused at sign-up: an unknown code, inviting oneself or one's own phone number, and rings — a
code whose owner was (transitively) invited by the new account. A new account has invited nobody,
so a ring can only form if invitations are ever recorded for existing accounts; the check is made
on every recording all the same, since it is what keeps two accounts from farming each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from lago_core.clock import Clock
from lago_core.errors import Conflict, InvalidInput
from lago_core.ledger.store import Conn
from lago_core.points.catalogue import new_code
from lago_core.points.rules import RuleName
from lago_core.points.service import PointsService
from lago_core.points.store import PointsStore
from lago_core.security.roles import Principal

__all__ = ["InvitationService", "Invitations", "Invited", "mask_phone"]

_CODE_LENGTH = 8


@dataclass(frozen=True, slots=True)
class Invited:
    phone: str
    status: str  # pending | verified | credited
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Invitations:
    code: str
    invited: list[Invited]
    earned: int


def mask_phone(phone: str) -> str:
    """+8613912345678 → +86139****5678: enough for the inviter to recognise a neighbour."""
    return phone[:-8] + "****" + phone[-4:] if len(phone) > 8 else "****"


def normalise_code(code: str) -> str:
    return code.strip().upper()


class InvitationService:
    def __init__(self, store: PointsStore, points: PointsService, clock: Clock) -> None:
        self.store = store
        self._points = points
        self._clock = clock

    async def code_of(self, user_id: UUID) -> str:
        """The user's code, made on first use."""
        for _ in range(5):
            code = await self.store.invitation_code(user_id)
            if code is not None:
                return code
            await self.store.insert_invitation_code(
                user_id, new_code(_CODE_LENGTH), self._clock.now()
            )
        raise Conflict("could not make an invitation code; try again", code="try_again")

    async def mine(self, actor: Principal) -> Invitations:
        code = await self.code_of(actor.user_id)
        invited = [
            Invited(
                mask_phone(row["phone"]),
                "credited"
                if row["delta"] is not None and row["delta"] > 0
                else "verified"
                if row["verified_at"] is not None
                else "pending",
                row["created_at"],
            )
            for row in await self.store.invited_by(actor.user_id)
        ]
        earned = await self.store.earned_by_rule(actor.user_id, RuleName.INVITATION.value)
        return Invitations(code, invited, earned)

    # --- at sign-up (IdentityService's sign-up hooks) --------------------------------------------

    async def check_code(self, phone: str, code: str | None) -> None:
        """Before the sign-up spends its SMS code: the invitation code exists and is not the
        new phone's own."""
        if code is None:
            return
        async with self.store.pool.acquire() as conn:
            inviter = await self.store.inviter_of_code(conn, normalise_code(code))
        if inviter is None:
            raise InvalidInput("no such invitation code", code="invalid_invite_code")
        if inviter["phone"] == phone:
            raise Conflict("you cannot invite yourself", code="invite_refused")

    async def record_in(self, conn: Conn, invitee: asyncpg.Record, code: str | None) -> None:
        """In the sign-up's transaction: remember who invited the new account."""
        if code is None:
            return
        inviter = await self.store.inviter_of_code(conn, normalise_code(code))
        if inviter is None:
            raise InvalidInput("no such invitation code", code="invalid_invite_code")
        await self.record_invitation_in(conn, invitee["id"], invitee["phone"], inviter)

    async def record_invitation_in(
        self, conn: Conn, invitee_id: UUID, invitee_phone: str, inviter: asyncpg.Record
    ) -> None:
        if inviter["id"] == invitee_id or inviter["phone"] == invitee_phone:
            raise Conflict("you cannot invite yourself", code="invite_refused")
        if await self.store.invites_up_the_chain(conn, inviter["id"], invitee_id):
            raise Conflict(
                "this code belongs to someone you invited",
                code="invite_refused",
                details={"reason": "ring"},
            )
        if not await self.store.insert_invitation(
            conn, invitee_id, inviter["id"], self._clock.now()
        ):
            raise Conflict("this account was invited already", code="already_invited")

    # --- crediting -------------------------------------------------------------------------------

    async def credit(self, invitee_id: UUID) -> int:
        """Credit the inviter once the invitee is verified somewhere; 0 when not (yet), or
        credited before. Safe to repeat (the membership hook and the scan both call it)."""
        async with self.store.pool.acquire() as conn, conn.transaction():
            invitation = await self.store.mark_invitee_verified(conn, invitee_id, self._clock.now())
            if invitation is None:
                invitation = await self.store.verified_invitation(conn, invitee_id)
            if invitation is None:
                return 0
            earned = await self._points.earn_in(
                conn,
                invitation["inviter_id"],
                RuleName.INVITATION,
                f"invitation:{invitee_id}",
                at=invitation["verified_at"],
            )
        return 0 if earned.duplicate else earned.points
