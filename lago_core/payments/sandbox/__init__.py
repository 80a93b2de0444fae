"""The local sandbox payment provider and its own tables."""

from lago_core.payments.sandbox.provider import SandboxProvider
from lago_core.payments.sandbox.store import SandboxStore

__all__ = ["SandboxProvider", "SandboxStore"]
