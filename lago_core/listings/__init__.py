"""Listings (闲置): toys and game consoles offered for sale, rent or consignment, and their images."""

from lago_core.listings.service import (
    MAX_IMAGES,
    Category,
    Condition,
    ListingDraft,
    ListingKind,
    ListingService,
    ListingStatus,
)
from lago_core.listings.store import ListingStore

__all__ = [
    "MAX_IMAGES",
    "Category",
    "Condition",
    "ListingDraft",
    "ListingKind",
    "ListingService",
    "ListingStatus",
    "ListingStore",
]
