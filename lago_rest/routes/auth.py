"""Sign-up, log-in, token refresh, log-out and the caller's own account."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from aiohttp import web
from pydantic import Field, model_validator

from lago_core.client_address import client_address
from lago_core.errors import InvalidInput, Unauthenticated
from lago_core.identity import TokenPair
from lago_core.security.cookies import COOKIE_SESSION, SESSION_MODE_HEADER
from lago_core.security.roles import PlatformRole, Principal
from lago_rest import web_session
from lago_rest.api import Api, Header
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
    invite_code: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z2-9]{8}$",
        description="a neighbour's invitation code (积分: 50 to them once you are verified)",
    )


class LogIn(Schema):
    phone: str = Phone
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="omit to log in with an SMS code alone",
    )
    code: str | None = Field(
        default=None,
        pattern=r"^\d{6}$",
        description="an SMS code (purpose login): alone, or beside the password after a "
        "`verification_required` answer",
    )

    @model_validator(mode="after")
    def _password_or_code(self) -> LogIn:
        if self.password is None and self.code is None:
            raise ValueError("send a password, an SMS code (purpose login), or both")
        return self


class RefreshIn(Schema):
    refresh_token: str | None = Field(
        default=None,
        min_length=10,
        max_length=200,
        description="required, unless X-Lago-Session: cookie sends the refresh cookie instead",
    )


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


class CookieSession(Schema):
    """A session whose tokens travel in HttpOnly cookies (``X-Lago-Session: cookie``)."""

    session: Literal["cookie"] = "cookie"
    user_id: UUID
    access_expires_at: datetime
    refresh_expires_at: datetime


def _check_session_mode(value: str) -> None:
    if value != COOKIE_SESSION:
        raise InvalidInput(
            f"{SESSION_MODE_HEADER} takes one value, {COOKIE_SESSION!r}",
            code="invalid_session_mode",
        )


# Browsers ask for a cookie session with this header (a header rather than a body field: refresh
# may have no body to speak of, and a custom header also keeps cross-site pages from sending the
# request without a CORS preflight, which this API never grants).
SessionMode = Annotated[
    str | None,
    Header(
        SESSION_MODE_HEADER,
        description="`cookie`: set the access token in the HttpOnly cookie `lago_access` "
        "(Path=/) and the refresh token in `lago_refresh` (Path=/api/v1/auth), both "
        "SameSite=Strict and Secure over HTTPS, and answer without tokens (user_id and expiries "
        "only). The request's Origin must be this site's own or in LAGO_ALLOWED_ORIGINS, as must "
        "that of every later POST, PUT, PATCH or DELETE the cookie authenticates (else 403 "
        "`csrf_origin`). Absent: tokens in the body, for Authorization: Bearer.",
        max_length=len(COOKIE_SESSION),
        missing_code="invalid_session_mode",
        check=_check_session_mode,
        required=False,
        values=(COOKIE_SESSION,),
    ),
]


def _issued(
    pair: TokenPair, session_mode: str | None, request: web.Request, svc: Services
) -> Tokens | CookieSession:
    """The answer to a new token pair: the tokens, or a cookie session."""
    if session_mode is None:
        return Tokens.of(pair)
    web_session.open_session(request, pair, svc.clock.now())
    return CookieSession(
        user_id=pair.user_id,
        access_expires_at=pair.access_expires_at,
        refresh_expires_at=pair.refresh_expires_at,
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
async def sign_up(
    body: SignUp, session_mode: SessionMode, request: web.Request, svc: Services
) -> Tokens | CookieSession:
    """Create an account with a verified phone; returns a first session's tokens (or, with
    `X-Lago-Session: cookie`, sets them as cookies)."""
    if session_mode is not None:
        web_session.check_origin(request, svc.settings)
    pair = await svc.identity.sign_up(
        body.phone,
        body.code,
        body.password,
        body.display_name,
        request.headers.get("User-Agent"),
        client=_client(request, svc),
        invite_code=body.invite_code,
    )
    return _issued(pair, session_mode, request, svc)


@api.post("/auth/login", tags=TAGS)
async def log_in(
    body: LogIn, session_mode: SessionMode, request: web.Request, svc: Services
) -> Tokens | CookieSession:
    """Log in with phone and password, or with an SMS code alone; opens a new session.

    With an SMS code alone (`{phone, code}`, a code of purpose `login` from `POST /auth/codes`):
    a phone without an account is answered 404 `account_not_found` (sign up instead); a wrong,
    used or expired code 422 `code_invalid`. With a password: after many failed log-ins on the
    phone the answer is 401 `verification_required`: request a code with purpose `login` and
    log in again with it. Both count against the same log-in budgets.

    With `X-Lago-Session: cookie` the tokens are set as HttpOnly cookies instead of returned."""
    if session_mode is not None:
        web_session.check_origin(request, svc.settings)
    user_agent = request.headers.get("User-Agent")
    client = _client(request, svc)
    if body.password is None:
        assert body.code is not None  # LogIn refuses neither
        pair = await svc.identity.log_in_with_code(body.phone, body.code, user_agent, client=client)
    else:
        pair = await svc.identity.log_in(
            body.phone, body.password, user_agent, client=client, code=body.code
        )
    return _issued(pair, session_mode, request, svc)


@api.post("/auth/refresh", tags=TAGS)
async def refresh(
    body: RefreshIn, session_mode: SessionMode, request: web.Request, svc: Services
) -> Tokens | CookieSession:
    """Swap a refresh token for new tokens; the old refresh token stops working.

    With `X-Lago-Session: cookie` the refresh token may come from the `lago_refresh` cookie
    (send `{}`), and the new tokens are set as cookies; a refused cookie is cleared."""
    token = body.refresh_token
    if session_mode is None:
        if token is None:
            raise InvalidInput("send refresh_token", code="invalid_input")
        return Tokens.of(await svc.identity.refresh(token))
    web_session.check_origin(request, svc.settings)
    token = token or web_session.refresh_cookie(request)
    if token is None:
        # Nothing to clear: a browser with no session must not answer with cleared cookies,
        # which would land after (and undo) a log-in in another tab.
        raise Unauthenticated("no refresh token or cookie: log in", code="unauthenticated")
    try:
        pair = await svc.identity.refresh(token)
    except Unauthenticated:
        web_session.end_session(request)
        raise
    return _issued(pair, session_mode, request, svc)


@api.post("/auth/logout", tags=TAGS)
async def log_out(user: Principal, request: web.Request, svc: Services) -> None:
    """End the current session: its refresh token and access tokens stop working, and the
    session cookies are cleared."""
    await svc.identity.log_out(user)
    web_session.end_session(request)


@api.post("/auth/logout-all", tags=TAGS)
async def log_out_everywhere(user: Principal, request: web.Request, svc: Services) -> None:
    """End every session of the caller (and clear this browser's session cookies)."""
    await svc.identity.log_out_all(user)
    web_session.end_session(request)


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
