"""Publishing and finding listings, who may change them, and their images."""

from __future__ import annotations

import asyncio
import enum
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from lago_core.clock import Clock
from lago_core.communities import CommunityService
from lago_core.errors import Conflict, Forbidden, InvalidInput, NotFound
from lago_core.listings.store import ListingStore
from lago_core.logging import get_logger
from lago_core.merchants import MerchantService
from lago_core.security.roles import MemberStatus, Principal
from lago_core.storage import Storage, discard
from lago_core.uploads import DECLARED_IMAGE_TYPES, check_declared_type, clean_image

__all__ = [
    "DECLARED_IMAGE_TYPES",
    "MAX_IMAGES",
    "Category",
    "Condition",
    "ListingDraft",
    "ListingKind",
    "ListingService",
    "ListingStatus",
    "check_money",
]

log = get_logger(__name__)

MAX_IMAGES = 9
# Fields a PATCH may not clear.
_REQUIRED = frozenset({"title", "description", "category", "condition", "kind"})


class Category(enum.StrEnum):
    TOY = "toy"
    BUILDING_BLOCKS = "building_blocks"  # LEGO and other bricks (积木)
    GAME_CONSOLE = "game_console"
    VIDEO_GAME = "video_game"
    DOLL = "doll"
    PLUSH = "plush"
    FIGURE = "figure"  # figures, models, blind boxes (手办, 盲盒)
    OUTDOOR = "outdoor"
    EDUCATIONAL = "educational"
    OTHER = "other"


class Condition(enum.StrEnum):
    NEW = "new"
    LIKE_NEW = "like_new"  # 九成新
    GOOD = "good"
    FAIR = "fair"
    FOR_PARTS = "for_parts"


class ListingKind(enum.StrEnum):
    SALE = "sale"
    RENT = "rent"
    CONSIGNMENT = "consignment"  # 寄卖: a merchant sells on the owner's behalf


class ListingStatus(enum.StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    SOLD = "sold"
    RENTED = "rented"
    SWAPPED = "swapped"  # exchanged in a completed swap (置换, docs/swaps.md)


@dataclass(frozen=True, slots=True)
class ListingDraft:
    """A new listing as the seller describes it; money in integer fen."""

    title: str
    description: str
    category: Category
    condition: Condition
    kind: ListingKind
    brand: str | None = None
    price_fen: int | None = None
    rent_per_day_fen: int | None = None
    deposit_fen: int | None = None
    merchant_id: UUID | None = None


def check_money(
    kind: str, price_fen: int | None, rent_per_day_fen: int | None, deposit_fen: int | None
) -> None:
    """Each kind carries exactly its own money fields (the table's CHECK says the same)."""
    problems: list[dict[str, str]] = []

    def need(name: str, value: int | None, minimum: int) -> None:
        if value is None:
            problems.append({"field": name, "problem": f"required for a {kind} listing"})
        elif value < minimum:
            problems.append({"field": name, "problem": f"must be an integer ≥ {minimum} (fen)"})

    def forbid(name: str, value: int | None) -> None:
        if value is not None:
            problems.append({"field": name, "problem": f"not allowed on a {kind} listing"})

    if kind == ListingKind.RENT:
        need("rent_per_day_fen", rent_per_day_fen, 1)
        need("deposit_fen", deposit_fen, 0)
        forbid("price_fen", price_fen)
    else:
        need("price_fen", price_fen, 1)
        forbid("rent_per_day_fen", rent_per_day_fen)
        forbid("deposit_fen", deposit_fen)
    if problems:
        raise InvalidInput(
            "the prices do not fit the listing kind", code="invalid_price", details=problems
        )


# Called after a listing is created, with its row. A registry rather than an import keeps
# listings independent of who watches them.
CreatedHook = Callable[[asyncpg.Record], Awaitable[None]]


class ListingService:
    def __init__(
        self,
        store: ListingStore,
        merchants: MerchantService,
        communities: CommunityService,
        storage: Storage,
        clock: Clock,
        *,
        active_cap: int | None = None,
    ) -> None:
        self.store = store
        self._merchants = merchants
        self._communities = communities
        self._storage = storage
        self._clock = clock
        # Active listings a resident who is not a member (会员) may have at once; members and
        # merchants have no cap (docs/subscriptions.md). None: no cap for anyone.
        self._active_cap = active_cap
        self._created_hooks: list[CreatedHook] = []

    def on_created(self, hook: CreatedHook) -> None:
        """Run ``hook`` with every listing once it is created (after its commit; points for
        publishing)."""
        self._created_hooks.append(hook)

    # --- permissions -----------------------------------------------------------------------------

    async def can_manage(self, actor: Principal, row: asyncpg.Record) -> bool:
        """The seller of a resident's listing; any owner or staff of a merchant's listing.

        A merchant listing belongs to the merchant, not to the staff member who typed it in, so a
        colleague may fix it and a removed staff member no longer can.
        """
        if row["merchant_id"] is not None:
            return await self._merchants.role_of(actor.user_id, row["merchant_id"]) is not None
        return bool(row["seller_id"] == actor.user_id)

    async def visible(self, actor: Principal, row: asyncpg.Record) -> bool:
        """Whether the caller may see this listing at all: its managers, admins and customer
        service; otherwise the verified residents and property staff of a community where it is
        on offer — the rule of search, so a market is seen only by its neighbourhood. Reading a
        listing and ordering it (``get``) both go through here."""
        if actor.is_admin or actor.is_customer_service or await self.can_manage(actor, row):
            return True
        return await self.store.visible_to(row["id"], actor.user_id)

    async def _readable(self, actor: Principal, listing_id: UUID) -> asyncpg.Record:
        """The listing, unless it is gone from the market and the caller may not manage it."""
        row = await self.store.listing(listing_id)
        if row is None:
            raise NotFound("listing not found")
        if row["status"] == ListingStatus.WITHDRAWN and not (
            actor.is_admin or await self.can_manage(actor, row)
        ):
            raise NotFound("listing not found")
        return row

    async def editable(self, actor: Principal, listing_id: UUID) -> asyncpg.Record:
        """The listing if the caller may change it now; admins may withdraw but not edit."""
        row = await self._readable(actor, listing_id)
        if not await self.can_manage(actor, row):
            raise Forbidden(
                "only the seller (or the merchant's owner and staff) may change this listing"
            )
        if row["status"] != ListingStatus.ACTIVE:
            raise Conflict(f"the listing is {row['status']}", code="listing_not_active")
        return row

    # --- publishing ------------------------------------------------------------------------------

    async def create(self, actor: Principal, draft: ListingDraft) -> asyncpg.Record:
        if draft.merchant_id is not None:
            await self._merchants.require_member(actor, draft.merchant_id)
            # A merchant sells only after the platform reviewed its registration (004 §2).
            if not await self._merchants.is_approved(draft.merchant_id):
                raise Forbidden(
                    "this merchant is not approved yet: submit the registration for review",
                    code="merchant_not_approved",
                )
        check_money(draft.kind, draft.price_fen, draft.rent_per_day_fen, draft.deposit_fen)
        fields = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in asdict(draft).items()}
        if draft.merchant_id is not None:
            row = await self.store.create(actor.user_id, fields, self._clock.now())
        else:
            capped = await self.store.create_capped(
                actor.user_id, fields, self._clock.now(), self._active_cap
            )
            if capped is None:
                raise self._cap_reached()
            row = capped
        for hook in self._created_hooks:
            await hook(row)
        return row

    def _cap_reached(self) -> Conflict:
        return Conflict(
            f"non-members may have {self._active_cap} active listings at once: withdraw one, "
            "or become a member (会员) for no cap",
            code="listing_cap_reached",
            details={"cap": self._active_cap},
        )

    async def reactivate(self, actor: Principal, listing_id: UUID) -> asyncpg.Record:
        """Put a withdrawn listing back on the market (its managers); the cap applies as on
        publishing. Idempotent for an active listing."""
        row = await self._readable(actor, listing_id)
        if not await self.can_manage(actor, row):
            raise Forbidden("only the seller (or the merchant's owner and staff) may reactivate")
        if row["status"] == ListingStatus.ACTIVE:
            return row
        if row["status"] != ListingStatus.WITHDRAWN:
            raise Conflict(f"the listing is {row['status']}", code="listing_not_withdrawn")
        cap = None if row["merchant_id"] is not None else self._active_cap
        updated, capped = await self.store.reactivate(
            listing_id, row["seller_id"], self._clock.now(), cap
        )
        if capped:
            raise self._cap_reached()
        if updated is None:
            raise Conflict("the listing changed meanwhile", code="listing_not_withdrawn")
        return updated

    async def get(self, actor: Principal, listing_id: UUID) -> asyncpg.Record:
        """A listing as a reader sees it — and as a buyer orders it (orders call this): not
        found when the caller may not see it (:meth:`visible`), as if it did not exist."""
        row = await self._readable(actor, listing_id)
        if not await self.visible(actor, row):
            raise NotFound("listing not found")
        return row

    async def update(
        self, actor: Principal, listing_id: UUID, changes: dict[str, Any]
    ) -> asyncpg.Record:
        row = await self.editable(actor, listing_id)
        cleared = sorted(k for k in _REQUIRED if k in changes and changes[k] is None)
        if cleared:
            raise InvalidInput(
                "these fields cannot be cleared",
                details=[{"field": k, "problem": "may not be null"} for k in cleared],
            )
        merged = {**dict(row), **changes}
        check_money(
            merged["kind"], merged["price_fen"], merged["rent_per_day_fen"], merged["deposit_fen"]
        )
        values = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in changes.items()}
        if not values:
            return row
        updated = await self.store.update(listing_id, values, self._clock.now())
        if updated is None:
            raise Conflict("the listing was withdrawn meanwhile", code="listing_not_active")
        return updated

    async def withdraw(self, actor: Principal, listing_id: UUID) -> asyncpg.Record:
        """Take a listing off the market. Its managers, and admins (moderation), may; idempotent."""
        row = await self._readable(actor, listing_id)
        if not (actor.is_admin or await self.can_manage(actor, row)):
            raise Forbidden(
                "only the seller, the merchant's owner and staff, or an admin may withdraw"
            )
        if row["status"] == ListingStatus.WITHDRAWN:
            return row
        updated = await self.store.withdraw(listing_id, self._clock.now())
        if updated is None:
            current = await self.store.listing(listing_id)
            if current is not None and current["status"] == ListingStatus.WITHDRAWN:
                return current
            raise Conflict("only an active listing can be withdrawn", code="listing_not_active")
        return updated

    async def mine(
        self, actor: Principal, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        return await self.store.by_seller(actor.user_id, after, limit)

    async def of_merchant(
        self,
        actor: Principal,
        merchant_id: UUID,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """A merchant's listings in every status (withdrawn, sold…): its owner, staff and admins.

        Outsiders search a community instead, where only the active ones show."""
        if actor.is_admin:
            await self._merchants.get(merchant_id)
        else:
            await self._merchants.require_member(actor, merchant_id)
        return await self.store.by_merchant(merchant_id, after, limit)

    # --- search ----------------------------------------------------------------------------------

    async def search(
        self,
        actor: Principal,
        community_id: UUID | None,
        category: Category | None,
        kind: ListingKind | None,
        min_price_fen: int | None,
        max_price_fen: int | None,
        text: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        """Active listings visible in a community, or in all of the caller's communities.

        Searching one community is for its verified residents, its property staff and admins. A
        community's market is a neighbourhood's: what is on offer there says who owns what behind
        which door, so people outside it (pending residents included) do not browse it. Without a
        ``community_id`` the search covers every community where the caller is a verified
        resident or property staff; for an admin, the whole platform.
        """
        communities: list[UUID] | None
        if community_id is not None:
            await self._communities.get(community_id)
            if not (
                actor.is_admin
                or await self._communities.is_verified_member(actor.user_id, community_id)
                or await self._communities.is_staff(actor, community_id)
            ):
                raise Forbidden(
                    "only verified residents, property staff and admins search a community",
                    code="not_a_member",
                )
            communities = [community_id]
        elif actor.is_admin:
            communities = None
        else:
            communities = [
                r["id"]
                for r in await self._communities.mine(actor)
                if r["status"] == MemberStatus.VERIFIED
            ]
            if not communities:
                return []
        if (
            min_price_fen is not None
            and max_price_fen is not None
            and min_price_fen > max_price_fen
        ):
            raise InvalidInput("min_price_fen is above max_price_fen")
        return await self.store.search(
            communities,
            category.value if category else None,
            kind.value if kind else None,
            min_price_fen,
            max_price_fen,
            text,
            after,
            limit,
        )

    # --- images ----------------------------------------------------------------------------------

    def image_url(self, key: str) -> str:
        return self._storage.url_for(key)

    async def add_image(
        self, actor: Principal, listing_id: UUID, data: bytes, declared_type: str | None
    ) -> asyncpg.Record:
        """Store an uploaded JPEG, PNG or WebP and append it to the listing's images.

        The declared type is only a first filter; the bytes are decoded to learn the real format,
        and the stored name's extension comes from that, never from the client.
        """
        row = await self.editable(actor, listing_id)
        if len(row["images"]) >= MAX_IMAGES:
            raise Conflict(f"a listing has at most {MAX_IMAGES} images", code="too_many_images")
        check_declared_type(declared_type, DECLARED_IMAGE_TYPES, "upload a JPEG, PNG or WebP image")
        # Stored re-encoded, never as uploaded: no metadata, nothing after the pixels.
        clean = await asyncio.to_thread(clean_image, data)
        key = f"li_{secrets.token_hex(16)}{clean.extension}"
        await self._storage.put(key, clean.data, clean.content_type)
        try:
            updated = await self.store.append_image(listing_id, key, MAX_IMAGES, self._clock.now())
        except BaseException:
            await asyncio.shield(self._discard(key))
            raise
        if updated is None:
            # A concurrent upload took the last slot, or the listing was withdrawn meanwhile.
            await self._discard(key)
            raise Conflict(
                f"a listing has at most {MAX_IMAGES} images and must be active",
                code="too_many_images",
            )
        return updated

    async def remove_image(self, actor: Principal, listing_id: UUID, ref: str) -> asyncpg.Record:
        """Remove an image by its position (0-based) or its key."""
        row = await self.editable(actor, listing_id)
        images: list[str] = list(row["images"])
        if ref.isdecimal():
            index = int(ref)
            if index >= len(images):
                raise NotFound("no image at this position")
            key = images[index]
        elif ref in images:
            key = ref
        else:
            raise NotFound("no such image on this listing")
        updated = await self.store.remove_image(listing_id, key, self._clock.now())
        if updated is None:
            raise NotFound("no such image on this listing")
        await self._discard(key)
        return updated

    async def _discard(self, key: str) -> None:
        # The database no longer points at the object, so a failure here leaves only an orphan
        # file; the caller's request has succeeded (or failed for its own reason) regardless.
        await discard(self._storage, key)
