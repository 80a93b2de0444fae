"""Who may run a merchant and which communities it serves — and the doing of it: registration
and platform review, qualification documents, store settings and the catalogue with its stock.

Permissions, in one place: the owner manages everything; staff read everything and manage the
catalogue (items and stock) but not the registration, documents, settings or staff; platform
admins review and read everything; anyone else sees an approved merchant's public profile and
active items only, and an unapproved merchant not at all (404, so its existence does not leak).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.logging import get_logger
from lago_core.merchants.rules import (
    EDITABLE,
    UNDER_REVIEW,
    DocumentKind,
    ItemKind,
    MerchantStatus,
    check_credit_code,
    check_email,
    check_opening_hours,
)
from lago_core.merchants.store import (
    OPTIONAL_REGISTRATION_FIELDS,
    REGISTRATION_FIELDS,
    MerchantStore,
)
from lago_core.phones import normalise_phone
from lago_core.security.roles import MerchantRole, Principal
from lago_core.storage import Storage, discard
from lago_core.uploads import (
    DECLARED_DOCUMENT_TYPES,
    DECLARED_IMAGE_TYPES,
    check_declared_type,
    clean_document,
    clean_image,
)

__all__ = ["DecisionHook", "MerchantService"]

# Called after a review decision (approve, reject) committed, with the merchant's row.
DecisionHook = Callable[[asyncpg.Record], Awaitable[None]]

log = get_logger(__name__)


class MerchantService:
    def __init__(
        self,
        store: MerchantStore,
        communities: CommunityService,
        storage: Storage,
        clock: Clock,
        max_upload_bytes: int,
    ) -> None:
        self.store = store
        self._communities = communities
        self._storage = storage
        self._clock = clock
        self._max_upload_bytes = max_upload_bytes
        self._decision_hooks: list[DecisionHook] = []

    def on_decided(self, hook: DecisionHook) -> None:
        """Run ``hook`` after each review decision took effect (approved or rejected), with the
        merchant as decided."""
        self._decision_hooks.append(hook)

    # --- permissions, asked by other services too ------------------------------------------------

    async def role_of(self, user_id: UUID, merchant_id: UUID) -> MerchantRole | None:
        role = await self.store.role_of(user_id, merchant_id)
        return MerchantRole(role) if role is not None else None

    async def require_member(self, actor: Principal, merchant_id: UUID) -> MerchantRole:
        """The caller's role in the merchant; Forbidden unless they are its owner or staff."""
        await self.get(merchant_id)
        role = await self.role_of(actor.user_id, merchant_id)
        if role is None:
            raise Forbidden("only this merchant's owner and staff may do this")
        return role

    async def require_owner(self, actor: Principal, merchant_id: UUID) -> None:
        """Forbidden unless the caller owns the merchant (asked before reading an upload, too)."""
        if await self.require_member(actor, merchant_id) is not MerchantRole.OWNER:
            raise Forbidden("only the merchant's owner may do this")

    async def _require_reader(self, actor: Principal, merchant_id: UUID) -> asyncpg.Record:
        """The merchant, for its owner, staff and platform admins: the back-office view."""
        row = await self.get(merchant_id)
        if not actor.is_admin:
            await self.require_member(actor, merchant_id)
        return row

    async def _sees_everything(self, actor: Principal, merchant_id: UUID) -> bool:
        return actor.is_admin or await self.role_of(actor.user_id, merchant_id) is not None

    async def is_approved(self, merchant_id: UUID) -> bool:
        """May this merchant publish listings and receive orders? Only once approved."""
        return await self.store.is_approved(merchant_id)

    # --- merchants -------------------------------------------------------------------------------

    async def create(self, actor: Principal, name: str) -> asyncpg.Record:
        return await self.store.create(name, actor.user_id)

    async def get(self, merchant_id: UUID) -> asyncpg.Record:
        row = await self.store.merchant(merchant_id)
        if row is None:
            raise NotFound("merchant not found")
        return row

    async def view(self, actor: Principal, merchant_id: UUID) -> asyncpg.Record:
        """The merchant as ``actor`` may see it: unapproved ones only for members and admins."""
        row = await self.get(merchant_id)
        if row["status"] != MerchantStatus.APPROVED and not await self._sees_everything(
            actor, merchant_id
        ):
            raise NotFound("merchant not found")
        return row

    async def communities(self, merchant_id: UUID) -> list[UUID]:
        return await self.store.communities(merchant_id)

    async def mine(self, actor: Principal) -> list[asyncpg.Record]:
        return await self.store.merchants_of_user(actor.user_id)

    # --- staff -----------------------------------------------------------------------------------

    async def add_staff(self, actor: Principal, merchant_id: UUID, user_id: UUID) -> None:
        await self.require_owner(actor, merchant_id)
        if user_id == actor.user_id:
            raise Conflict("the owner is already a member", code="already_owner")
        try:
            await self.store.add_staff(merchant_id, user_id)
        except asyncpg.ForeignKeyViolationError:
            raise NotFound("user not found") from None

    async def remove_staff(self, actor: Principal, merchant_id: UUID, user_id: UUID) -> None:
        await self.require_owner(actor, merchant_id)
        if not await self.store.remove_staff(merchant_id, user_id):
            # The owner row is never removed here: a merchant always keeps its owner.
            raise NotFound("not a staff member of this merchant")

    async def staff(self, actor: Principal, merchant_id: UUID) -> list[asyncpg.Record]:
        if not actor.is_admin:
            await self.require_member(actor, merchant_id)
        else:
            await self.get(merchant_id)
        return await self.store.members(merchant_id)

    # --- communities served ----------------------------------------------------------------------

    async def bind_community(self, actor: Principal, merchant_id: UUID, community_id: UUID) -> None:
        _require_admin(actor)
        await self.get(merchant_id)
        await self._communities.get(community_id)
        await self.store.bind_community(merchant_id, community_id)

    async def unbind_community(
        self, actor: Principal, merchant_id: UUID, community_id: UUID
    ) -> None:
        _require_admin(actor)
        await self.get(merchant_id)
        if not await self.store.unbind_community(merchant_id, community_id):
            raise NotFound("this merchant does not serve this community")

    # --- registration and review -----------------------------------------------------------------

    async def registration(self, actor: Principal, merchant_id: UUID) -> asyncpg.Record:
        return await self._require_reader(actor, merchant_id)

    async def update_registration(
        self, actor: Principal, merchant_id: UUID, fields: Mapping[str, str]
    ) -> asyncpg.Record:
        """Fill in or correct company information: the owner, as a draft or after a rejection."""
        await self.require_owner(actor, merchant_id)
        unknown = set(fields) - set(REGISTRATION_FIELDS) - set(OPTIONAL_REGISTRATION_FIELDS)
        if unknown:
            raise InvalidInput("unknown registration fields", details=sorted(unknown))
        clean = dict(fields)
        if "credit_code" in clean:
            clean["credit_code"] = check_credit_code(clean["credit_code"])
        if "contact_phone" in clean:
            clean["contact_phone"] = normalise_phone(clean["contact_phone"])
        if "contact_email" in clean:
            clean["contact_email"] = check_email(clean["contact_email"])
        try:
            row = await self.store.update_registration(
                merchant_id, clean, EDITABLE, self._clock.now()
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                "another merchant is registered with this credit code", code="credit_code_taken"
            ) from None
        if row is None:
            raise await self._not_editable(merchant_id)
        return row

    async def submit(self, actor: Principal, merchant_id: UUID) -> asyncpg.Record:
        """Send the registration to review: a draft is submitted, a rejected one resubmitted."""
        await self.require_owner(actor, merchant_id)
        row = await self.get(merchant_id)
        missing = [f for f in REGISTRATION_FIELDS if row[f] is None]
        if missing:
            raise InvalidInput(
                "complete the registration before submitting it",
                code="registration_incomplete",
                details={"missing": missing},
            )
        if not await self.store.has_document(merchant_id, DocumentKind.BUSINESS_LICENCE):
            raise InvalidInput(
                "upload the business licence (营业执照) before submitting",
                code="business_licence_missing",
            )
        # Which edge depends on where it comes from; the store re-checks under a row lock.
        if row["status"] == MerchantStatus.REJECTED:
            return await self._transition(
                actor,
                merchant_id,
                {MerchantStatus.REJECTED},
                MerchantStatus.RESUBMITTED,
                "resubmit",
                None,
            )
        return await self._transition(
            actor, merchant_id, {MerchantStatus.DRAFT}, MerchantStatus.SUBMITTED, "submit", None
        )

    async def approve(self, actor: Principal, merchant_id: UUID) -> asyncpg.Record:
        _require_admin(actor)
        return await self._transition(
            actor, merchant_id, UNDER_REVIEW, MerchantStatus.APPROVED, "approve", None
        )

    async def reject(self, actor: Principal, merchant_id: UUID, reason: str) -> asyncpg.Record:
        _require_admin(actor)
        reason = reason.strip()
        if not reason:
            # The merchant must learn what to fix; a bare "no" only brings the same submission back.
            raise InvalidInput("say why the registration is rejected", code="reason_required")
        return await self._transition(
            actor, merchant_id, UNDER_REVIEW, MerchantStatus.REJECTED, "reject", reason
        )

    async def _transition(
        self,
        actor: Principal,
        merchant_id: UUID,
        allowed_from: set[MerchantStatus] | frozenset[MerchantStatus],
        to_status: MerchantStatus,
        action: str,
        reason: str | None,
    ) -> asyncpg.Record:
        row = await self.store.transition(
            merchant_id,
            [str(s) for s in allowed_from],
            str(to_status),
            action,
            actor.user_id,
            reason,
            self._clock.now(),
        )
        if row is not None:
            if to_status in (MerchantStatus.APPROVED, MerchantStatus.REJECTED):
                for hook in self._decision_hooks:
                    await hook(row)
            return row
        status = await self.store.status(merchant_id)
        if status is None:
            raise NotFound("merchant not found")
        raise Conflict(
            f"a merchant that is {status} cannot be {to_status}",
            code="invalid_transition",
            details={"status": status, "action": action},
        )

    async def _not_editable(self, merchant_id: UUID) -> Conflict | NotFound:
        status = await self.store.status(merchant_id)
        if status is None:
            return NotFound("merchant not found")
        return Conflict(
            "the registration can change only as a draft or after a rejection",
            code="invalid_transition",
            details={"status": status},
        )

    async def reviews(self, actor: Principal, merchant_id: UUID) -> list[asyncpg.Record]:
        """The review log: every submission and decision, oldest first."""
        await self._require_reader(actor, merchant_id)
        return await self.store.reviews(merchant_id)

    async def review_queue(
        self, actor: Principal, statuses: Sequence[MerchantStatus], limit: int
    ) -> list[asyncpg.Record]:
        _require_admin(actor)
        return await self.store.merchants_by_status([str(s) for s in statuses], limit)

    # --- qualification documents -----------------------------------------------------------------

    def file_url(self, key: str) -> str:
        return self._storage.url_for(key)

    async def add_document(
        self,
        actor: Principal,
        merchant_id: UUID,
        kind: DocumentKind,
        data: bytes,
        declared_type: str | None,
    ) -> asyncpg.Record:
        """Store a scanned licence or permit (PDF or image), judged by its bytes, not its name."""
        await self.require_owner(actor, merchant_id)
        check_declared_type(
            declared_type, DECLARED_DOCUMENT_TYPES, "upload a PDF, or a JPEG, PNG or WebP image"
        )
        clean = await asyncio.to_thread(clean_document, data, self._max_upload_bytes)
        content_type, data = clean.content_type, clean.data
        key = f"md_{secrets.token_hex(16)}{clean.extension}"
        await self._storage.put(key, data, content_type)
        try:
            row = await self.store.add_document(
                merchant_id,
                kind,
                key,
                content_type,
                len(data),
                actor.user_id,
                EDITABLE,
                self._clock.now(),
            )
        except BaseException:
            await asyncio.shield(self._discard(key))
            raise
        if row is None:
            await self._discard(key)
            raise await self._not_editable(merchant_id)
        return row

    async def documents(self, actor: Principal, merchant_id: UUID) -> list[asyncpg.Record]:
        await self._require_reader(actor, merchant_id)
        return await self.store.documents(merchant_id)

    async def remove_document(self, actor: Principal, merchant_id: UUID, document_id: UUID) -> None:
        await self.require_owner(actor, merchant_id)
        key = await self.store.delete_document(merchant_id, document_id, EDITABLE)
        if key is None:
            if (await self.get(merchant_id))["status"] not in EDITABLE:
                raise await self._not_editable(merchant_id)
            raise NotFound("no such document of this merchant")
        await self._discard(key)

    async def _discard(self, key: str) -> None:
        # The database no longer points at the object, so a failure leaves only an orphan file.
        await discard(self._storage, key)

    # --- store settings --------------------------------------------------------------------------

    async def update_settings(
        self,
        actor: Principal,
        merchant_id: UUID,
        *,
        description: str | None = None,
        opening_hours: Mapping[str, Sequence[Sequence[str]]] | None = None,
        community_ids: Sequence[UUID] | None = None,
    ) -> asyncpg.Record:
        """Description, opening hours and service area; None leaves a setting as it is.

        The service area replaces the communities the merchant serves (the same set admins bind
        one by one). Only an approved merchant sets it: serving a community puts the merchant in
        front of its residents, which the platform allows only after review.
        """
        await self.require_owner(actor, merchant_id)
        hours = check_opening_hours(opening_hours) if opening_hours is not None else None
        area: list[UUID] | None = None
        if community_ids is not None:
            if not await self.is_approved(merchant_id):
                raise Conflict(
                    "only an approved merchant chooses the communities it serves",
                    code="not_approved",
                )
            area = sorted(set(community_ids))
            for community_id in area:
                await self._communities.get(community_id)
        try:
            row = await self.store.update_settings(
                merchant_id, description, hours, area, self._clock.now()
            )
        except asyncpg.ForeignKeyViolationError:
            # A community deleted between the check above and the write.
            raise NotFound("community not found") from None
        if row is None:
            raise NotFound("merchant not found")
        return row

    async def set_logo(
        self, actor: Principal, merchant_id: UUID, data: bytes, declared_type: str | None
    ) -> asyncpg.Record:
        await self.require_owner(actor, merchant_id)
        check_declared_type(declared_type, DECLARED_IMAGE_TYPES, "upload a JPEG, PNG or WebP image")
        clean = await asyncio.to_thread(clean_image, data)
        key = f"ml_{secrets.token_hex(16)}{clean.extension}"
        await self._storage.put(key, clean.data, clean.content_type)
        try:
            old = await self.store.set_logo(merchant_id, key, self._clock.now())
        except BaseException:
            await asyncio.shield(self._discard(key))
            raise
        if old is not None:
            await self._discard(old)
        return await self.get(merchant_id)

    # --- catalogue (services and products) -------------------------------------------------------

    async def create_item(
        self,
        actor: Principal,
        merchant_id: UUID,
        name: str,
        kind: ItemKind,
        price_fen: int,
        stock: int,
    ) -> asyncpg.Record:
        await self.require_member(actor, merchant_id)
        _check_item(price_fen=price_fen, stock=stock)
        return await self.store.create_item(
            merchant_id, name, kind, price_fen, stock, self._clock.now()
        )

    async def items(self, actor: Principal, merchant_id: UUID) -> list[asyncpg.Record]:
        """Members and admins see every item; anyone else an approved merchant's active ones."""
        await self.view(actor, merchant_id)  # 404 for a missing merchant, or outsiders' draft
        everything = await self._sees_everything(actor, merchant_id)
        return await self.store.items(merchant_id, only_active=not everything)

    async def update_item(
        self, actor: Principal, merchant_id: UUID, item_id: UUID, changes: Mapping[str, Any]
    ) -> asyncpg.Record:
        await self.require_member(actor, merchant_id)
        await self._item_of(merchant_id, item_id)
        _check_item(price_fen=changes.get("price_fen"))
        row = await self.store.update_item(item_id, dict(changes), self._clock.now())
        if row is None:
            raise NotFound("item not found")
        return row

    async def adjust_stock(
        self, actor: Principal, merchant_id: UUID, item_id: UUID, delta: int
    ) -> asyncpg.Record:
        """Restock (+) or write off (−) relative to the current stock, so that an adjustment and
        concurrent reservations never overwrite each other as an absolute "set" would."""
        await self.require_member(actor, merchant_id)
        await self._item_of(merchant_id, item_id)
        if await self.store.adjust_stock(item_id, delta, self._clock.now()) is None:
            raise Conflict("the stock cannot go below zero", code="insufficient_stock")
        return await self._item_of(merchant_id, item_id)

    async def _item_of(self, merchant_id: UUID, item_id: UUID) -> asyncpg.Record:
        row = await self.store.item(item_id)
        if row is None or row["merchant_id"] != merchant_id:
            raise NotFound("item not found")
        return row

    async def item(self, item_id: UUID) -> asyncpg.Record:
        """An item by id, for orders (no permission check: the caller decides who sees what)."""
        row = await self.store.item(item_id)
        if row is None:
            raise NotFound("item not found")
        return row

    async def reserve_stock(
        self, item_id: UUID, qty: int, *, conn: asyncpg.Connection | None = None
    ) -> int:
        """Take ``qty`` units for an order; the stock left. For orders, not for people.

        One guarded UPDATE, so concurrent reservations never oversell. Pass ``conn`` to make the
        reservation part of the order's own transaction (it then rolls back with it). Not
        idempotent by itself: the caller reserves once per order line and records that it did.
        """
        _check_qty(qty)
        left = await self.store.reserve_stock(item_id, qty, self._clock.now(), conn)
        if left is not None:
            return left
        row = await self.item(item_id)
        if not await self.is_approved(row["merchant_id"]):
            raise Conflict("the merchant is not approved", code="merchant_not_approved")
        if not row["active"]:
            raise Conflict("the item is not on sale", code="item_inactive")
        raise Conflict(
            "not enough stock",
            code="out_of_stock",
            details={"requested": qty, "available": row["stock"]},
        )

    async def release_stock(
        self, item_id: UUID, qty: int, *, conn: asyncpg.Connection | None = None
    ) -> int:
        """Give back what :meth:`reserve_stock` took (order cancelled or refunded); the stock now.

        Items taken off sale still get their stock back: the units exist whatever the flag says.
        """
        _check_qty(qty)
        stock = await self.store.adjust_stock(item_id, qty, self._clock.now(), conn)
        if stock is None:
            raise NotFound("item not found")
        return stock


def _require_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise Forbidden("only platform admins may do this")


# Upper bounds that catch typos (an extra zero or three) rather than encode business limits.
MAX_PRICE_FEN = 100_000_000
MAX_STOCK = 1_000_000


def _check_item(*, price_fen: int | None = None, stock: int | None = None) -> None:
    if price_fen is not None and not 0 < price_fen <= MAX_PRICE_FEN:
        raise InvalidInput("price_fen is a positive number of fen", code="invalid_price")
    if stock is not None and not 0 <= stock <= MAX_STOCK:
        raise InvalidInput(f"stock is between 0 and {MAX_STOCK}", code="invalid_stock")


def _check_qty(qty: int) -> None:
    if not 0 < qty <= MAX_STOCK:
        raise InvalidInput("the quantity is a positive number", code="invalid_quantity")
