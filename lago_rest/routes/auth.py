"""Sign-up, log-in, token refresh, log-out and the caller's own account."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from aiohttp import web
from pydantic import Field

from lago_core.client_address import client_address
from lago_core.identity import TokenPair
from lago_core.security.roles import PlatformRole, Principal
from lago_rest.api import Api
from lago_rest.context import Services
from lago_rest.schemas import Schema

api = Api()
TAGS = ("auth",)

Phone = Field(
    min_length=5, max_length=20, description="mobile number; +86 assumed when no country code"
)
Password = Field(min_length=8, max_length=128)


class CodeRequest(Schema):
    phone: str = Phone
    purpose: Literal["signup", "reset_password", "login"] = "signup"


class CodeSent(Schema):
    expires_in_s: int


class SignUp(Schema):
    phone: str = Phone
    code: str = Field(pattern=r"^\d{6}$")
    password: str = Password
    display_name: str = Field(min_length=1, max_length=40)


class LogIn(Schema):
    phone: str = Phone
    password: str = Field(min_length=1, max_length=128)
    code: str | None = Field(
        default=None,
        pattern=r"^\d{6}$",
        description="an SMS code (purpose login): needed only after a `verification_required` answer",
    )


class RefreshIn(Schema):
    refresh_token: str = Field(min_length=10, max_length=200)


class ResetPassword(Schema):
    phone: str = Phone
    code: str = Field(pattern=r"^\d{6}$")
    new_password: str = Password


class Tokens(Schema):
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    token_type: Literal["Bearer"] = "Bearer"
    user_id: UUID

    @classmethod
    def of(cls, pair: TokenPair) -> Tokens:
        return cls(
            access_token=pair.access_token,
            access_expires_at=pair.access_expires_at,
            refresh_token=pair.refresh_token,
            refresh_expires_at=pair.refresh_expires_at,
            user_id=pair.user_id,
        )


class Me(Schema):
    id: UUID
    phone: str
    display_name: str
    platform_role: PlatformRole | None
    created_at: datetime


class RoleGrant(Schema):
    platform_role: PlatformRole | None


def _client(request: web.Request, svc: Services) -> str:
    return client_address(request, svc.settings.trusted_proxies)


@api.post("/auth/codes", status=202, tags=TAGS)
async def request_code(body: CodeRequest, request: web.Request, svc: Services) -> CodeSent:
    """Send a 6-digit verification code by SMS (at most one a minute per phone; budgets per
    client address and overall)."""
    ttl = await svc.identity.request_code(body.phone, body.purpose, client=_client(request, svc))
    return CodeSent(expires_in_s=ttl)


@api.post("/auth/signup", status=201, tags=TAGS)
async def sign_up(body: SignUp, request: web.Request, svc: Services) -> Tokens:
    """Create an account with a verified phone; returns a first session's tokens."""
    pair = await svc.identity.sign_up(
        body.phone,
        body.code,
        body.password,
        body.display_name,
        request.headers.get("User-Agent"),
        client=_client(request, svc),
    )
    return Tokens.of(pair)


@api.post("/auth/login", tags=TAGS)
async def log_in(body: LogIn, request: web.Request, svc: Services) -> Tokens:
    """Log in with phone and password; opens a new session.

    After many failed log-ins on the phone the answer is 401 `verification_required`: request a
    code with purpose `login` and log in again with it."""
    pair = await svc.identity.log_in(
        body.phone,
        body.password,
        request.headers.get("User-Agent"),
        client=_client(request, svc),
        code=body.code,
    )
    return Tokens.of(pair)


@api.post("/auth/refresh", tags=TAGS)
async def refresh(body: RefreshIn, svc: Services) -> Tokens:
    """Swap a refresh token for new tokens; the old refresh token stops working."""
    return Tokens.of(await svc.identity.refresh(body.refresh_token))


@api.post("/auth/logout", tags=TAGS)
async def log_out(user: Principal, svc: Services) -> None:
    """End the current session: its refresh token and access tokens stop working."""
    await svc.identity.log_out(user)


@api.post("/auth/logout-all", tags=TAGS)
async def log_out_everywhere(user: Principal, svc: Services) -> None:
    """End every session of the caller."""
    await svc.identity.log_out_all(user)


@api.post("/auth/password/reset", tags=TAGS)
async def reset_password(body: ResetPassword, request: web.Request, svc: Services) -> None:
    """Set a new password with a verification code; ends every session."""
    await svc.identity.reset_password(
        body.phone, body.code, body.new_password, client=_client(request, svc)
    )


@api.get("/me", tags=TAGS)
async def me(user: Principal, svc: Services) -> Me:
    """The caller's account."""
    view = await svc.identity.me(user)
    return Me(
        id=view.id,
        phone=view.phone,
        display_name=view.display_name,
        platform_role=PlatformRole(view.platform_role) if view.platform_role else None,
        created_at=view.created_at,
    )


@api.put("/users/{user_id}/platform-role", tags=("admin",))
async def set_platform_role(user_id: UUID, body: RoleGrant, user: Principal, svc: Services) -> None:
    """Grant or remove a platform role (admin, customer_service). Admins only."""
    await svc.identity.set_platform_role(user, user_id, body.platform_role)
