"""Sending SMS: an interface, and the default provider that writes the message to the log."""

from __future__ import annotations

from typing import Protocol

from lago_core.logging import get_logger

__all__ = ["LogSmsProvider", "SmsProvider", "create_sms_provider"]

log = get_logger(__name__)


class SmsProvider(Protocol):
    async def send_code(self, phone: str, code: str, purpose: str) -> None:
        """Deliver a verification code to ``phone`` (E.164)."""

    async def send_notice(self, phone: str, text: str) -> None:
        """Deliver a notification's text to ``phone`` (E.164); raise when the provider did not
        accept it (the notification centre retries, docs/notifications.md)."""


class LogSmsProvider:
    """Development provider: codes and notices appear in the structured log (events ``sms.code``,
    ``sms.notice``) and the last hundred of each are kept."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.notices: list[tuple[str, str]] = []

    async def send_code(self, phone: str, code: str, purpose: str) -> None:
        # Keep the last few for the seed-demo command and local debugging; bounded.
        self.sent.append((phone, code, purpose))
        del self.sent[:-100]
        log.info("sms.code", phone=phone, purpose=purpose, code=code)

    async def send_notice(self, phone: str, text: str) -> None:
        self.notices.append((phone, text))
        del self.notices[:-100]
        log.info("sms.notice", phone=phone, text=text)


def create_sms_provider(name: str) -> SmsProvider:
    if name == "log":
        return LogSmsProvider()
    raise ValueError(f"unknown SMS provider {name!r}")
