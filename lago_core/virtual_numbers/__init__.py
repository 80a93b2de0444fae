"""Virtual numbers (虚拟号): privacy-number bindings between buyers and sellers with a plan."""

from lago_core.virtual_numbers.provider import (
    CALL_COMPLETED,
    PrivacyNumberProvider,
    ProviderBinding,
)
from lago_core.virtual_numbers.sandbox import SandboxNumbers
from lago_core.virtual_numbers.service import GUIDANCE, VirtualNumberService
from lago_core.virtual_numbers.store import VirtualNumberStore

__all__ = [
    "CALL_COMPLETED",
    "GUIDANCE",
    "PrivacyNumberProvider",
    "ProviderBinding",
    "SandboxNumbers",
    "VirtualNumberService",
    "VirtualNumberStore",
]
