"""Telling residents their points expire soon: by SMS today, through the notification centre
(issue 19) later — the container wires whichever :data:`TellExpiry` it builds."""

from __future__ import annotations

from lago_core.points.service import ExpiryNotice, TellExpiry
from lago_core.sms import SmsProvider

__all__ = ["expiry_text", "tell_by_sms"]


def expiry_text(notice: ExpiryNotice) -> str:
    return (
        f"【伴享】您有{notice.points}积分将于{notice.expiry_day:%Y-%m-%d}过期，"
        "请尽快在「我的积分」兑换。"
    )


def tell_by_sms(sms: SmsProvider) -> TellExpiry:
    async def tell(notice: ExpiryNotice) -> None:
        await sms.send_notice(notice.phone, expiry_text(notice))

    return tell
