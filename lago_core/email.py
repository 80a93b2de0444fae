"""Sending e-mail: an interface, and the default provider that records the message and logs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lago_core.logging import get_logger

__all__ = ["EmailMessage", "EmailProvider", "LogEmailProvider", "create_email_provider"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class EmailMessage:
    to: str
    subject: str
    body: str


class EmailProvider(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message``; raise when the provider did not accept it (the caller retries)."""


class LogEmailProvider:
    """Development and sandbox provider: messages appear in the structured log (event
    ``email.sent``) and the last hundred are kept in :attr:`sent`, like the log SMS provider."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
        del self.sent[:-100]
        log.info("email.sent", to=message.to, subject=message.subject)


def create_email_provider(name: str) -> EmailProvider:
    if name == "log":
        return LogEmailProvider()
    raise ValueError(f"unknown e-mail provider {name!r}")
