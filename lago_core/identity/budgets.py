"""Abuse budgets of the account endpoints: per client address, per phone, and overall.

Limits per phone alone let one address send codes to any number of phones (SMS pumping) and spray
log-ins over many phones, while ten wrong passwords from anyone locked the phone's owner out.
So (docs/running.md, "Abuse limits"):

- every endpoint has a budget per client address and a global one;
- log-in failures are counted per (phone, address) and per address: that is what refuses an
  attacker, and the owner, from another address, is not refused by it;
- failures per phone from anywhere (many addresses guessing one password) do not lock the phone
  either: past that budget the password alone is no longer enough, and a log-in there also needs
  an SMS code (purpose ``login``) sent to the phone, which the owner has and a guesser does not.

``client=None`` is an in-process caller (demo seeding, admin tools, tests), not a network client:
the per-address budgets do not apply to it; the per-phone and global ones do.
"""

from __future__ import annotations

from lago_core.errors import Unauthenticated
from lago_core.ratelimit import RateLimiter
from lago_core.settings import Settings

__all__ = ["AuthBudgets"]


class AuthBudgets:
    def __init__(self, limiter: RateLimiter, settings: Settings) -> None:
        self._limiter = limiter
        self._s = settings

    async def _per_address(self, limit: str, name: str, client: str | None) -> None:
        if client is not None:
            await self._limiter.hit_or_raise(limit, name, client)

    async def code_requested(self, client: str | None) -> None:
        """Before anything else: every request for a code counts against its address."""
        await self._per_address(self._s.limit_sms_per_address, "sms-address", client)

    async def code_sending(self) -> None:
        """Just before a message goes out: only codes really sent count against the global budget."""
        await self._limiter.hit_or_raise(self._s.limit_sms_global, "sms-global")

    async def sign_up(self, client: str | None) -> None:
        await self._per_address(self._s.limit_signup_per_address, "signup-address", client)
        await self._limiter.hit_or_raise(self._s.limit_signup_global, "signup-global")

    async def password_reset(self, client: str | None) -> None:
        await self._per_address(self._s.limit_reset_per_address, "reset-address", client)
        await self._limiter.hit_or_raise(self._s.limit_reset_global, "reset-global")

    async def log_in(self, phone: str, client: str | None, *, has_code: bool) -> bool:
        """Refuse an attempt past a budget; True when this phone now also needs an SMS code."""
        s = self._s
        await self._per_address(s.limit_login_per_address, "login-address", client)
        await self._limiter.hit_or_raise(s.limit_login_global, "login-global")
        if client is not None:
            await self._limiter.check_or_raise(
                s.limit_login_failures_per_address, "login-fail-address", client
            )
            await self._limiter.check_or_raise(
                s.limit_login_failures_per_phone_address, "login-fail-phone-address", phone, client
            )
        if await self._limiter.allows(s.limit_login_failures_per_phone, "login-fail-phone", phone):
            return False
        if not has_code:
            RateLimiter.count_refusal("login-fail-phone")
            raise Unauthenticated(
                "too many failed log-ins on this phone: request a code (purpose login) and "
                "log in with it",
                code="verification_required",
                details={"purpose": "login"},
            )
        return True

    async def log_in_failed(self, phone: str, client: str | None) -> None:
        s = self._s
        await self._limiter.hit(s.limit_login_failures_per_phone, "login-fail-phone", phone)
        if client is not None:
            await self._limiter.hit(
                s.limit_login_failures_per_address, "login-fail-address", client
            )
            await self._limiter.hit(
                s.limit_login_failures_per_phone_address, "login-fail-phone-address", phone, client
            )
