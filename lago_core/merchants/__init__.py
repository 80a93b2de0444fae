"""Merchants (商家): owner and staff, and the communities each one serves."""

from lago_core.merchants.service import MerchantService
from lago_core.merchants.store import MerchantStore

__all__ = ["MerchantService", "MerchantStore"]
