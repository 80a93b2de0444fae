"""Sign-up and log-in by phone and password, verification codes, sessions and token rotation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis
from prometheus_client import Counter

from lago_core.clock import Clock
from lago_core.coalesce import STORM_BATCH_INTERVAL_S, Coalescer
from lago_core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from lago_core.identity.budgets import AuthBudgets
from lago_core.identity.ended import NOTICES_LOST, SessionsEnded, sessions_ended_channel
from lago_core.identity.store import IdentityStore
from lago_core.ledger.store import Conn
from lago_core.logging import get_logger
from lago_core.phones import normalise_phone
from lago_core.ratelimit import RateLimiter
from lago_core.redis import pubsub_client
from lago_core.security.passwords import hash_password, verify_password
from lago_core.security.roles import PlatformRole, Principal
from lago_core.security.tokens import TokenCodec, hash_refresh_token, new_refresh_token
from lago_core.settings import Settings
from lago_core.sms import SmsProvider

__all__ = [
    "CODE_PURPOSES",
    "IdentityService",
    "SignUpCheck",
    "SignUpHook",
    "TokenPair",
    "UserView",
]

log = get_logger(__name__)

CODE_PURPOSES = ("signup", "reset_password", "login")

# Sign-up followers (points: the invitation code). A check runs before the SMS code is spent, with
# the normalised phone and the invitation code, and refuses by raising; a hook runs in the
# transaction that creates the user, so a refusal there creates no account.
SignUpCheck = Callable[[str, str | None], Awaitable[None]]
SignUpHook = Callable[[Conn, asyncpg.Record, str | None], Awaitable[None]]
_CODE_COOLDOWN_S = 60


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    user_id: UUID


@dataclass(frozen=True, slots=True)
class UserView:
    id: UUID
    phone: str
    display_name: str
    platform_role: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> UserView:
        return cls(
            id=row["id"],
            phone=row["phone"],
            display_name=row["display_name"],
            platform_role=row["platform_role"],
            created_at=row["created_at"],
        )


# Called with the new user's id after a sign-up commits.
SignedUpHook = Callable[[UUID], Awaitable[object]]
SIGNED_UP_HOOK_FAILURES = Counter(
    "lago_signed_up_hook_failures_total", "sign-up follow-ups (new-user coupons) that failed"
)


class IdentityService:
    def __init__(
        self,
        store: IdentityStore,
        redis: aioredis.Redis,
        settings: Settings,
        tokens: TokenCodec,
        sms: SmsProvider,
        limiter: RateLimiter,
        clock: Clock,
    ) -> None:
        self._store = store
        self._redis = redis
        self._settings = settings
        self._tokens = tokens
        self._sms = sms
        self._limiter = limiter
        self._budgets = AuthBudgets(limiter, settings)
        self._clock = clock
        # Handshake storms ask for thousands of sessions at once: one query per loop turn.
        self._principals: Coalescer[tuple[UUID, UUID], asyncpg.Record] = Coalescer(
            lambda keys: self._store.active_principals(keys, self._clock.now()),
            min_interval_s=STORM_BATCH_INTERVAL_S,
        )
        self._refresh_ttl = timedelta(seconds=settings.refresh_token_ttl_s)
        self._sign_up_checks: list[SignUpCheck] = []
        self._sign_up_hooks: list[SignUpHook] = []
        self._signed_up: list[SignedUpHook] = []

    def on_sign_up(self, check: SignUpCheck, hook: SignUpHook) -> None:
        """Check every sign-up before its code is spent, and follow it in its transaction."""
        self._sign_up_checks.append(check)
        self._sign_up_hooks.append(hook)

    def on_signed_up(self, hook: SignedUpHook) -> None:
        """Run ``hook`` with the new user's id after each sign-up commits (the new-user coupon).
        Hooks must be idempotent; one that fails is logged and counted, the sign-up stands."""
        self._signed_up.append(hook)

    # --- verification codes --------------------------------------------------------------------

    def _code_key(self, purpose: str, phone: str) -> str:
        return self._settings.key("vcode", purpose, phone)

    def _code_digest(self, phone: str, code: str) -> str:
        # Keyed so a leaked Redis dump does not reveal codes by brute force over 10^6 values.
        key = self._settings.signing_secret.encode()
        return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()

    async def request_code(self, raw_phone: str, purpose: str, *, client: str | None = None) -> int:
        """Send a 6-digit code; returns its lifetime in seconds.

        At most one code a minute and ten a day per phone, so the endpoint cannot be used to
        flood a number with messages; and budgets per client address and overall, so it cannot
        be used to send messages to many numbers (SMS pumping).
        """
        if purpose not in CODE_PURPOSES:
            raise InvalidInput(f"purpose must be one of {', '.join(CODE_PURPOSES)}")
        await self._budgets.code_requested(client)
        phone = normalise_phone(raw_phone)
        user = await self._store.user_by_phone(phone)
        if purpose == "signup" and user is not None:
            raise Conflict("this phone number is already registered", code="phone_taken")
        cooldown = self._settings.key("vcode-cooldown", phone)
        if not await self._redis.set(cooldown, "1", nx=True, ex=_CODE_COOLDOWN_S):
            raise RateLimited(
                "wait a minute before asking for another code",
                details={"retry_after_s": _CODE_COOLDOWN_S},
            )
        await self._limiter.hit_or_raise("10/day", "sms", phone)
        if purpose != "signup" and user is None:
            # Answer as if sent: do not reveal which numbers have accounts.
            return self._settings.verification_code_ttl_s
        await self._budgets.code_sending()
        code = f"{secrets.randbelow(1_000_000):06d}"
        ttl = self._settings.verification_code_ttl_s
        key = self._code_key(purpose, phone)
        await self._redis.delete(key)
        digest = self._code_digest(phone, code)
        await self._redis.hset(key, mapping={"digest": digest, "tries": 0})  # type: ignore[misc]
        await self._redis.expire(key, ttl)
        await self._sms.send_code(phone, code, purpose)
        return ttl

    async def _consume_code(self, phone: str, purpose: str, code: str) -> None:
        key = self._code_key(purpose, phone)
        stored = await self._redis.hget(key, "digest")  # type: ignore[misc]
        if stored is None:
            raise InvalidInput(
                "no valid code for this phone: request a new one", code="code_invalid"
            )
        # redis-py types its commands as sync-or-async unions; the ignores below are that.
        tries = await self._redis.hincrby(key, "tries", 1)  # type: ignore[misc]
        if tries > self._settings.verification_max_attempts:
            await self._redis.delete(key)
            raise InvalidInput("too many wrong codes: request a new one", code="code_invalid")
        expected = stored.decode() if isinstance(stored, bytes) else str(stored)
        if not hmac.compare_digest(expected, self._code_digest(phone, code)):
            raise InvalidInput("wrong verification code", code="code_invalid")
        # Single use: only the caller whose DELETE removed the key may proceed.
        if not await self._redis.delete(key):
            raise InvalidInput("code already used", code="code_invalid")

    # --- accounts --------------------------------------------------------------------------------

    async def sign_up(
        self,
        raw_phone: str,
        code: str,
        password: str,
        display_name: str,
        user_agent: str | None,
        *,
        client: str | None = None,
        invite_code: str | None = None,
    ) -> TokenPair:
        await self._budgets.sign_up(client)
        phone = normalise_phone(raw_phone)
        for check in self._sign_up_checks:
            await check(phone, invite_code)
        await self._consume_code(phone, "signup", code)
        password_hash = await hash_password(password)
        async with self._store.pool.acquire() as conn, conn.transaction():
            row = await self._store.create_user(
                phone, password_hash, display_name, self._clock.now(), conn=conn
            )
            if row is None:
                raise Conflict("this phone number is already registered", code="phone_taken")
            for follow in self._sign_up_hooks:
                await follow(conn, row, invite_code)
        log.info("user.signed_up", user_id=str(row["id"]))
        for hook in self._signed_up:
            try:
                await hook(row["id"])
            except Exception:
                SIGNED_UP_HOOK_FAILURES.inc()
                log.exception("user.signed_up_hook_failed", user_id=str(row["id"]))
        return await self._open_session(row["id"], user_agent)

    async def create_user(
        self, raw_phone: str, password: str, display_name: str, platform_role: PlatformRole | None
    ) -> UserView:
        """Create an account without a code: for `lago seed-demo` and admin bootstrap."""
        phone = normalise_phone(raw_phone)
        row = await self._store.create_user(
            phone,
            await hash_password(password),
            display_name,
            self._clock.now(),
            platform_role.value if platform_role else None,
        )
        if row is None:
            raise Conflict("this phone number is already registered", code="phone_taken")
        return UserView.from_row(row)

    async def log_in(
        self,
        raw_phone: str,
        password: str,
        user_agent: str | None,
        *,
        client: str | None = None,
        code: str | None = None,
    ) -> TokenPair:
        """Log in with the password; past the phone's failure budget, also with an SMS code
        (lago_core/identity/budgets.py says why the owner is never locked out)."""
        phone = normalise_phone(raw_phone)
        if await self._budgets.log_in(phone, client, has_code=code is not None):
            assert code is not None
            await self._consume_code(phone, "login", code)
        row = await self._store.user_by_phone(phone)
        ok = await verify_password(row["password_hash"] if row else None, password)
        if row is None or not ok:
            await self._budgets.log_in_failed(phone, client)
            raise Unauthenticated("wrong phone number or password", code="bad_credentials")
        if row["status"] != "active":
            raise Forbidden("this account is disabled", code="account_disabled")
        return await self._open_session(row["id"], user_agent)

    async def log_in_with_code(
        self,
        raw_phone: str,
        code: str,
        user_agent: str | None,
        *,
        client: str | None = None,
    ) -> TokenPair:
        """Log in with an SMS code (purpose ``login``) alone, residents' usual way.

        The log-in budgets apply as to a password (per address, overall), and a wrong code or a
        phone without an account counts as a failed log-in against the address: a phone's codes
        are bounded anyway (one a minute, ten a day, a few tries each), so what this adds is that
        one address cannot spray guesses, or ask which phones have accounts, for long.
        """
        phone = normalise_phone(raw_phone)
        await self._budgets.log_in(phone, client, has_code=True)
        row = await self._store.user_by_phone(phone)
        if row is None:
            await self._budgets.log_in_failed(phone, client)
            raise NotFound(
                "no account has this phone number: sign up first", code="account_not_found"
            )
        try:
            await self._consume_code(phone, "login", code)
        except InvalidInput:
            await self._budgets.log_in_failed(phone, client)
            raise
        if row["status"] != "active":
            raise Forbidden("this account is disabled", code="account_disabled")
        return await self._open_session(row["id"], user_agent)

    async def reset_password(
        self, raw_phone: str, code: str, new_password: str, *, client: str | None = None
    ) -> None:
        await self._budgets.password_reset(client)
        phone = normalise_phone(raw_phone)
        await self._consume_code(phone, "reset_password", code)
        row = await self._store.user_by_phone(phone)
        if row is None:
            raise InvalidInput(
                "no valid code for this phone: request a new one", code="code_invalid"
            )
        await self._store.set_password(row["id"], await hash_password(new_password))
        # A reset means the old password may be known to someone else: end every session.
        await self._store.revoke_all_sessions(row["id"], self._clock.now())
        await self._announce_ended(SessionsEnded(row["id"]))

    async def _open_session(self, user_id: UUID, user_agent: str | None) -> TokenPair:
        now = self._clock.now()
        refresh = new_refresh_token()
        expires = now + self._refresh_ttl
        session_id = await self._store.create_session(
            user_id, hash_refresh_token(refresh), now, expires, (user_agent or "")[:200] or None
        )
        access, access_expires = self._tokens.issue_access(user_id, session_id, now)
        return TokenPair(access, access_expires, refresh, expires, user_id)

    async def refresh(self, refresh_token: str) -> TokenPair:
        now = self._clock.now()
        new = new_refresh_token()
        outcome, row = await self._store.rotate_refresh_token(
            hash_refresh_token(refresh_token), hash_refresh_token(new), now
        )
        if outcome == "reused":
            log.warning("session.refresh_reuse", session_id=str(row["session_id"]))
            await self._announce_ended(SessionsEnded(row["user_id"], row["session_id"]))
            raise Unauthenticated(
                "refresh token reused; the session is revoked", code="token_reused"
            )
        if outcome != "ok":
            raise Unauthenticated(f"refresh token {outcome}", code="invalid_token")
        access, access_expires = self._tokens.issue_access(row["user_id"], row["session_id"], now)
        return TokenPair(access, access_expires, new, row["expires_at"], row["user_id"])

    async def log_out(self, principal: Principal) -> None:
        await self._store.revoke_session(principal.session_id, self._clock.now())
        await self._announce_ended(SessionsEnded(principal.user_id, principal.session_id))

    async def log_out_all(self, principal: Principal) -> None:
        await self._store.revoke_all_sessions(principal.user_id, self._clock.now())
        await self._announce_ended(SessionsEnded(principal.user_id))

    async def _announce_ended(self, ended: SessionsEnded) -> None:
        """Tell the real-time nodes, so sockets of ended sessions close now (identity/ended.py).
        The session is ended already; a notice that fails to go out only makes that slower."""
        try:
            await pubsub_client(self._redis).publish(
                sessions_ended_channel(self._settings), ended.encode()
            )
        except Exception:
            NOTICES_LOST.inc()
            log.exception("session.ended_notice_failed", user_id=str(ended.user_id))

    async def active_sessions(self, session_ids: list[UUID]) -> set[UUID]:
        """Which of these sessions are still live (not revoked or expired, account active)."""
        return await self._store.active_sessions(session_ids, self._clock.now())

    async def authenticate(self, access_token: str) -> Principal:
        """Verify an access token and that its session is still live; used by REST and RT."""
        now = self._clock.now()
        claims = self._tokens.decode_access(access_token, now)
        row = await self._principals.get((claims.session_id, claims.user_id))
        if row is None:
            raise Unauthenticated("session ended: sign in again", code="session_revoked")
        role = PlatformRole(row["platform_role"]) if row["platform_role"] else None
        return Principal(user_id=claims.user_id, session_id=claims.session_id, platform_role=role)

    async def me(self, principal: Principal) -> UserView:
        return await self.user(principal.user_id)

    async def user_by_phone(self, raw_phone: str) -> UserView | None:
        row = await self._store.user_by_phone(normalise_phone(raw_phone))
        return UserView.from_row(row) if row else None

    async def user(self, user_id: UUID) -> UserView:
        row = await self._store.user_by_id(user_id)
        if row is None:
            raise NotFound("user not found")
        return UserView.from_row(row)

    async def purge_ended_sessions(self, ended_before: datetime) -> int:
        return await self._store.delete_expired_sessions(ended_before)

    async def set_platform_role(
        self, actor: Principal, user_id: UUID, role: PlatformRole | None
    ) -> None:
        if not actor.is_admin:
            raise Forbidden("only platform admins grant platform roles")
        if not await self._store.set_platform_role(user_id, role.value if role else None):
            raise NotFound("user not found")
