"""Payments through a provider (the local sandbox by default), refunds, deposits and payouts."""

from lago_core.jobs import JobQueue
from lago_core.payments.provider import (
    EventType,
    PaymentProvider,
    ProviderAgreement,
    ProviderCharge,
    ProviderError,
    ProviderEvent,
    ProviderIntent,
)
from lago_core.payments.sandbox import SandboxProvider, SandboxStore
from lago_core.payments.service import (
    AfterCommit,
    CaptureHook,
    Demand,
    DemandOf,
    DepositRelease,
    EventHandler,
    PaymentService,
    PaymentSpec,
    PaymentView,
    PayoutView,
    RefundView,
    Refuse,
    WebhookReceipt,
)
from lago_core.payments.signing import SIGNATURE_HEADER, InvalidSignature, StaleWebhook
from lago_core.payments.store import PaymentStore

__all__ = [
    "SIGNATURE_HEADER",
    "AfterCommit",
    "CaptureHook",
    "Demand",
    "DemandOf",
    "DepositRelease",
    "EventHandler",
    "EventType",
    "InvalidSignature",
    "JobQueue",
    "PaymentProvider",
    "PaymentService",
    "PaymentSpec",
    "PaymentStore",
    "PaymentView",
    "PayoutView",
    "ProviderAgreement",
    "ProviderCharge",
    "ProviderError",
    "ProviderEvent",
    "ProviderIntent",
    "RefundView",
    "Refuse",
    "SandboxProvider",
    "SandboxStore",
    "StaleWebhook",
    "WebhookReceipt",
]
