"""Merchants (商家): owner and staff, communities served, registration and review,
qualification documents, store settings and the catalogue."""

from lago_core.merchants.rules import (
    DocumentKind,
    ItemKind,
    MerchantStatus,
    Weekday,
    check_credit_code,
    credit_code_check_char,
)
from lago_core.merchants.service import MerchantService
from lago_core.merchants.store import MerchantStore

__all__ = [
    "DocumentKind",
    "ItemKind",
    "MerchantService",
    "MerchantStatus",
    "MerchantStore",
    "Weekday",
    "check_credit_code",
    "credit_code_check_char",
]
